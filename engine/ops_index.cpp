// Joining (concat, stack) and indexing (index_select, gather). index_select is a gather whose
// index is broadcast along every other dimension, so both share the backend's gather and its
// scatter-add adjoint.
#include "engine/layout.h"
#include "engine/ops.h"

namespace slimssl {
namespace {

void check_index(const char* op, const Tensor& x, const Tensor& index) {
  SLIMSSL_CHECK(index.defined(), op, ": undefined index tensor");
  SLIMSSL_CHECK(index.dtype() == DType::I64, op, ": index must be int64, got ", dtype_name(index.dtype()),
                " (input ", shape_str(x.shape()), ", index ", shape_str(index.shape()), ")");
  check_same(op, x, index, false);
}

// Every index value must address dimension d of x (the backend checks; the message names the
// first offender, read back only when there is one).
void check_index_range(const char* op, const Tensor& x, int64_t d, const Tensor& index) {
  if (backend_of(index).index_in_range(index, x.size(d))) return;
  for (int64_t v : index.to_vector<int64_t>())
    SLIMSSL_CHECK(v >= 0 && v < x.size(d), op, ": index ", v, " is out of range for dimension ", d, " of size ",
                  x.size(d), " (input ", shape_str(x.shape()), ", index ", shape_str(index.shape()), ")");
}

Tensor record_gather(const char* name, const Tensor& x, int64_t d, const Tensor& index) {
  // index_select keeps x's layout (its index spans x's shape but one dimension).
  Tensor out = index.dim() == x.dim() ? empty_like_layout(x, index.shape(), x.dtype())
                                      : Tensor::empty(index.shape(), x.dtype(), x.device());
  backend_of(x).gather(x.detach(), d, index, out);
  return record(name, out, {x}, [shape = x.shape(), d, index](const Tensor& g, GradSink& s) {
    // The adjoint: scatter-add the gradient back; repeated indices add up.
    Tensor gx = Tensor::zeros(shape, g.dtype(), g.device());
    backend_of(g).scatter_add(gx, d, index, g);
    s.add(0, gx);
  });
}

}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  SLIMSSL_CHECK(!xs.empty(), "concat: no tensors given");
  const Tensor& first = xs[0];
  SLIMSSL_CHECK(first.defined(), "concat: undefined tensor argument");
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
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
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
  SLIMSSL_CHECK(x.defined(), "index_select: undefined tensor argument");
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

Permutation random_permutation(int64_t n, uint64_t seed, const Tensor& counter, uint32_t tag) {
  SLIMSSL_CHECK(counter.defined() && counter.dtype() == DType::I64 && counter.numel() == 1,
                "random_permutation: the counter must be one int64");
  SLIMSSL_CHECK(n >= 0, "random_permutation: n = ", n, " must not be negative");
  Permutation p{Tensor::empty({n}, DType::I64, counter.device()), Tensor::empty({n}, DType::I64, counter.device())};
  backend_of(counter).permutation(p.order, p.inverse, seed, counter.detach(), tag);
  return p;
}

Tensor permute_rows(const Tensor& x, const Tensor& order) {
  SLIMSSL_CHECK(x.defined() && x.dim() >= 1, "permute_rows: expected a tensor of rank >= 1");
  check_index("permute_rows", x, order);
  SLIMSSL_CHECK(order.dim() == 1 && order.size(0) == x.size(0), "permute_rows: order ", shape_str(order.shape()),
                " must be [", x.size(0), "]");
  Shape along(x.dim(), 1);
  along[0] = x.size(0);
  return record_gather("permute_rows", x, 0, order.detach().reshape(along).expand(x.shape()));
}

void write_block(const Tensor& dst, const Tensor& block, const Tensor& src) {
  SLIMSSL_CHECK(dst.defined() && src.defined() && dst.dim() >= 1 && dst.is_contiguous() && src.dim() + 1 == dst.dim(),
                "write_block: dst must be contiguous [B, ...] and src one dimension less");
  for (int64_t k = 0; k < src.dim(); ++k)
    SLIMSSL_CHECK(src.size(k) == dst.size(k + 1), "write_block: src ", shape_str(src.shape()),
                  " is not a block of dst ", shape_str(dst.shape()));
  check_index("write_block", dst, block);
  SLIMSSL_CHECK(block.numel() == 1, "write_block: block must be one int64");
  check_same("write_block", dst, src);
  NoGradGuard ng;
  Shape one = dst.shape(), ones(dst.dim(), 1);
  one[0] = 1;
  Tensor index = block.detach().reshape(ones).expand(one);
  Tensor old = Tensor::empty(one, dst.dtype(), dst.device());
  Backend& b = backend_of(dst);
  b.gather(dst.detach(), 0, index, old);
  b.scatter_add(dst.detach(), 0, index, neg(old));
  b.scatter_add(dst.detach(), 0, index, src.detach().reshape(one));
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  SLIMSSL_CHECK(x.defined(), "gather: undefined tensor argument");
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
