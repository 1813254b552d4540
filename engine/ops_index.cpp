// Joining (concat, stack) and indexing (index_select, gather). index_select is a gather whose
// index is broadcast along every other dimension, so both share one forward kernel and one
// scatter-add backward.
#include <cstddef>  // engine/cpu/strided.h uses size_t without including it
#include "engine/cpu/strided.h"
#include "engine/ops.h"

namespace slimssl {
namespace {

void check_index(const char* op, const Tensor& x, const Tensor& index) {
  SLIMSSL_CHECK(index.defined(), op, ": undefined index tensor");
  SLIMSSL_CHECK(index.dtype() == DType::I64, op, ": index must be int64, got ", dtype_name(index.dtype()),
                " (input ", shape_str(x.shape()), ", index ", shape_str(index.shape()), ")");
  check_same(op, x, index, false);
}

// Every index value must address dimension d of x.
void check_index_range(const char* op, const Tensor& x, int64_t d, const Tensor& index) {
  for (int64_t v : index.to_vector<int64_t>())
    SLIMSSL_CHECK(v >= 0 && v < x.size(d), op, ": index ", v, " is out of range for dimension ", d, " of size ",
                  x.size(d), " (input ", shape_str(x.shape()), ", index ", shape_str(index.shape()), ")");
}

// out[p] = x[p with coordinate d replaced by index[p]], over index's shape (x's rank). Writes go to
// distinct elements, so the iteration may run in parallel.
Tensor gather_forward(const Tensor& x, int64_t d, const Tensor& index) {
  Tensor out = Tensor::empty(index.shape(), x.dtype());
  Shape xs = x.strides();
  const int64_t step = xs[d];
  xs[d] = 0;  // the coordinate along d comes from the index instead
  const int64_t* ip = static_cast<const int64_t*>(index.storage()->data);
  Shape os = out.strides();
  SLIMSSL_DISPATCH_ALL(x.dtype(), "gather", [&] {
    const scalar_t* xp = static_cast<const scalar_t*>(x.storage()->data);
    scalar_t* op = out.data<scalar_t>();
    cpu::for_each_offset<3>(index.shape(), {os.data(), xs.data(), index.strides().data()},
                            {0, x.offset(), index.offset()},
                            [&](const std::array<int64_t, 3>& o) { op[o[0]] = xp[o[1] + ip[o[2]] * step]; });
  });
  return out;
}

// The adjoint of gather_forward: grad_x[p with d replaced by index[p]] += g[p]. Repeated indices
// add up. Two positions can only hit the same element if they differ in coordinate d alone, so d
// is iterated innermost: such positions then share a row, and for_each_offset never splits a row
// across threads.
Tensor gather_backward(const Shape& x_shape, int64_t d, const Tensor& index, const Tensor& g) {
  Tensor gx = Tensor::zeros(x_shape, g.dtype());
  Shape xs = gx.strides();
  const int64_t step = xs[d];
  xs[d] = 0;
  Shape shape, s_gx, s_g, s_i;
  auto take = [&](int64_t k) {
    shape.push_back(index.size(k));
    s_gx.push_back(xs[k]);
    s_g.push_back(g.stride(k));
    s_i.push_back(index.stride(k));
  };
  for (int64_t k = 0; k < index.dim(); ++k)
    if (k != d) take(k);
  take(d);
  const int64_t* ip = static_cast<const int64_t*>(index.storage()->data);
  SLIMSSL_DISPATCH_FLOAT(g.dtype(), "gather backward", [&] {
    const scalar_t* gp = static_cast<const scalar_t*>(g.storage()->data);
    scalar_t* dst = gx.data<scalar_t>();
    cpu::for_each_offset<3>(shape, {s_gx.data(), s_g.data(), s_i.data()}, {0, g.offset(), index.offset()},
                            [&](const std::array<int64_t, 3>& o) { dst[o[0] + ip[o[2]] * step] += gp[o[1]]; });
  });
  return gx;
}

Tensor record_gather(const char* name, const Tensor& x, int64_t d, const Tensor& index) {
  Tensor out = gather_forward(x.detach(), d, index);
  return record(name, out, {x}, [shape = x.shape(), d, index](const Tensor& g, GradSink& s) {
    s.add(0, gather_backward(shape, d, index, g));
  });
}

}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  SLIMSSL_CHECK(!xs.empty(), "concat: no tensors given");
  const Tensor& first = xs[0];
  require_cpu("concat", first);
  SLIMSSL_CHECK(first.dim() >= 1, "concat: cannot concatenate scalars (tensor 0 has shape []); use stack");
  int64_t d = wrap_dim(dim, first.dim(), "concat");
  Shape out_shape = first.shape();
  out_shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    check_same("concat", first, xs[i]);
    bool fits = xs[i].dim() == first.dim();
    for (int64_t k = 0; fits && k < first.dim(); ++k) fits = k == d || xs[i].size(k) == first.size(k);
    SLIMSSL_CHECK(fits, "concat: tensor ", i, " has shape ", shape_str(xs[i].shape()), " but tensor 0 has ",
                  shape_str(first.shape()), "; all dimensions except ", d, " must match");
    out_shape[d] += xs[i].size(d);
  }
  Tensor out = Tensor::empty(out_shape, first.dtype());
  std::vector<int64_t> starts, lengths;
  int64_t at = 0;
  for (const Tensor& x : xs) {
    starts.push_back(at);
    lengths.push_back(x.size(d));
    out.narrow(d, at, x.size(d)).copy_(x.detach());
    at += x.size(d);
  }
  return record("concat", out, xs, [d, starts, lengths](const Tensor& g, GradSink& s) {
    for (size_t i = 0; i < starts.size(); ++i)
      if (s.needs(i)) s.add(i, g.narrow(d, starts[i], lengths[i]));
  });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  SLIMSSL_CHECK(!xs.empty(), "stack: no tensors given");
  int64_t d = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> lifted;
  for (size_t i = 0; i < xs.size(); ++i) {
    check_same("stack", xs[0], xs[i]);
    SLIMSSL_CHECK(xs[i].shape() == xs[0].shape(), "stack: tensor ", i, " has shape ", shape_str(xs[i].shape()),
                  " but tensor 0 has ", shape_str(xs[0].shape()), "; all must match");
    lifted.push_back(xs[i].unsqueeze(d));
  }
  return concat(lifted, d);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  require_cpu("index_select", x);
  check_index("index_select", x, index);
  SLIMSSL_CHECK(x.dim() >= 1, "index_select: expected an input of rank >= 1, got a scalar");
  SLIMSSL_CHECK(index.dim() == 1, "index_select: index must be 1-d, got ", shape_str(index.shape()));
  int64_t d = wrap_dim(dim, x.dim(), "index_select");
  check_index_range("index_select", x, d, index);
  // The 1-d index, laid along d and broadcast (stride 0) over every other dimension.
  Shape along(x.dim(), 1), out_shape = x.shape();
  along[d] = out_shape[d] = index.size(0);
  Tensor full_index = index.detach().reshape(along).expand(out_shape);
  return record_gather("index_select", x, d, full_index);
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  require_cpu("gather", x);
  check_index("gather", x, index);
  SLIMSSL_CHECK(x.dim() >= 1, "gather: expected an input of rank >= 1, got a scalar");
  SLIMSSL_CHECK(index.dim() == x.dim(), "gather: index ", shape_str(index.shape()), " must have the rank of input ",
                shape_str(x.shape()));
  int64_t d = wrap_dim(dim, x.dim(), "gather");
  for (int64_t k = 0; k < x.dim(); ++k)
    SLIMSSL_CHECK(k == d || index.size(k) <= x.size(k), "gather: index ", shape_str(index.shape()),
                  " is larger than input ", shape_str(x.shape()), " in dimension ", k);
  check_index_range("gather", x, d, index);
  return record_gather("gather", x, d, index.detach());
}

}  // namespace slimssl
