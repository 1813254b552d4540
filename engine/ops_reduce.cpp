// Reductions: sum, mean, var, amax, argmax over any set of dimensions. The reduced dimensions are
// moved last (engine/rows.h) and the backend reduces the rows of the resulting matrix.
#include "engine/ops.h"
#include "engine/rows.h"

namespace slimssl {
namespace {

// The backend's row reduction of x over `dims`, shaped with the dims kept or dropped.
Tensor reduce(const char* op, ReduceOp kind, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
              double denom = 0) {
  Rows r = as_rows(x, dims);
  Tensor out = Tensor::empty({r.rows}, kind == ReduceOp::ArgMax ? DType::I64 : x.dtype(), x.device());
  if (r.rows > 0) backend_of(x).reduce_rows(kind, r.matrix, out, denom);
  return out.reshape(keepdim ? r.keep_shape : r.drop_shape);
}

std::vector<int64_t> one_dim(const char* op, const Tensor& x, int64_t dim) {
  check_float(op, x);
  SLIMSSL_CHECK(x.dim() >= 1, op, ": expected a tensor of rank >= 1, got a scalar");
  int64_t d = wrap_dim(dim, x.dim(), op);
  SLIMSSL_CHECK(x.size(d) > 0, op, ": dimension ", d, " of shape ", shape_str(x.shape()),
                " is empty; the maximum of nothing is undefined");
  return {d};
}

}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> dims_in, bool keepdim) {
  check_float("sum", x);
  auto dims = normalize_dims(dims_in, x.dim(), "sum");
  Tensor out = reduce("sum", ReduceOp::Sum, x, dims, keepdim);
  return record("sum", out, {x}, [shape = x.shape(), keep = as_rows_shapes(x, dims).first](const Tensor& g,
                                                                                           GradSink& s) {
    s.add(0, g.reshape(keep).expand(shape).contiguous());
  });
}

Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  auto nd = normalize_dims(dims, x.dim(), "mean");
  int64_t count = 1;
  for (auto d : nd) count *= x.size(d);
  SLIMSSL_CHECK(count > 0, "mean: reducing over zero elements of shape ", shape_str(x.shape()));
  return mul(sum(x, nd, keepdim), 1.0 / static_cast<double>(count));
}

Tensor var(const Tensor& x, std::vector<int64_t> dims_in, bool unbiased, bool keepdim) {
  check_float("var", x);
  auto dims = normalize_dims(dims_in, x.dim(), "var");
  int64_t cols = 1;
  for (auto d : dims) cols *= x.size(d);
  SLIMSSL_CHECK(cols > 0, "var: reducing over zero elements of shape ", shape_str(x.shape()));
  // With one element and the unbiased estimator the denominator is 0 and the result NaN, as in
  // PyTorch: the caller asked for a quantity that does not exist.
  double denom = static_cast<double>(cols - (unbiased ? 1 : 0));
  Tensor out = reduce("var", ReduceOp::Var, x, dims, keepdim, denom);
  return record("var", out, {x}, [x_ = x.detach(), dims, keep = as_rows_shapes(x, dims).first,
                                  denom](const Tensor& g, GradSink& s) {
    // d var / d x_i = 2 (x_i - mean) / denom
    Tensor centered = sub(x_, mean(x_, dims, true));
    s.add(0, mul(centered, mul(g.reshape(keep), 2.0 / denom)));
  });
}

Tensor amax(const Tensor& x, int64_t dim, bool keepdim) {
  auto dims = one_dim("amax", x, dim);
  Tensor index = reduce("amax", ReduceOp::ArgMax, x, dims, true);
  Tensor out = reduce("amax", ReduceOp::Max, x, dims, keepdim);
  return record("amax", out, {x}, [index, shape = x.shape(), d = dims[0]](const Tensor& g, GradSink& s) {
    // The whole gradient goes to the first maximum: scatter it along d at the argmax.
    Tensor gx = Tensor::zeros(shape, g.dtype(), g.device());
    Shape keep = index.shape();
    backend_of(g).scatter_add(gx, d, index, g.reshape(keep));
    s.add(0, gx);
  });
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  auto dims = one_dim("argmax", x, dim);
  return reduce("argmax", ReduceOp::ArgMax, x, dims, keepdim);
}

}  // namespace slimssl
