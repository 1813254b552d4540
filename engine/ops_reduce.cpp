// Reductions: sum, mean, var, amax, argmax over any set of dimensions.
#include <cmath>
#include "engine/cpu/rows.h"
#include "engine/ops.h"

namespace slimssl {
namespace {
// (OpenMP pragmas cannot sit inside the dispatch macro's argument, so kernels are templates.)
template <class T>
void sum_rows(const T* p, T* o, int64_t rows, int64_t cols) {
#pragma omp parallel for if (rows * cols > (1 << 16))
  for (int64_t i = 0; i < rows; ++i) {
    double acc = 0;  // double accumulation: the reference should not be the noisy side
    for (int64_t j = 0; j < cols; ++j) acc += p[i * cols + j];
    o[i] = static_cast<T>(acc);
  }
}

// Two passes (mean, then squared deviations) in double: one pass of sum(x^2) - n mean^2 cancels
// catastrophically when the mean is large against the spread.
template <class T>
void var_rows(const T* p, T* o, int64_t rows, int64_t cols, double denom) {
#pragma omp parallel for if (rows * cols > (1 << 16))
  for (int64_t i = 0; i < rows; ++i) {
    const T* r = p + i * cols;
    double m = 0;
    for (int64_t j = 0; j < cols; ++j) m += r[j];
    m /= static_cast<double>(cols);
    double ss = 0;
    for (int64_t j = 0; j < cols; ++j) ss += (r[j] - m) * (r[j] - m);
    o[i] = static_cast<T>(ss / denom);
  }
}

// The index of the first maximum of each row; a NaN counts as the maximum (as in PyTorch), so the
// NaN propagates to amax instead of being skipped.
template <class T>
void argmax_rows(const T* p, int64_t* idx, int64_t rows, int64_t cols) {
#pragma omp parallel for if (rows * cols > (1 << 16))
  for (int64_t i = 0; i < rows; ++i) {
    const T* r = p + i * cols;
    int64_t best = 0;
    for (int64_t j = 1; j < cols && !std::isnan(r[best]); ++j)
      if (r[j] > r[best] || std::isnan(r[j])) best = j;
    idx[i] = best;
  }
}

// Row-wise argmax along one dimension: the [rows] indices and the Rows geometry they refer to.
struct RowArgmax {
  cpu::Rows rows;
  Tensor index;  // int64 [rows]
};

RowArgmax row_argmax(const char* op, const Tensor& x, int64_t dim) {
  require_cpu(op, x);
  SLIMSSL_CHECK(x.dim() >= 1, op, ": expected a tensor of rank >= 1, got a scalar");
  dim = wrap_dim(dim, x.dim(), op);
  SLIMSSL_CHECK(x.size(dim) > 0, op, ": dimension ", dim, " of shape ", shape_str(x.shape()),
                " is empty; the maximum of nothing is undefined");
  RowArgmax r{cpu::as_rows(x, {dim}), Tensor()};
  r.index = Tensor::empty({r.rows.rows}, DType::I64);
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), op, [&] {
    argmax_rows(r.rows.matrix.data<scalar_t>(), r.index.data<int64_t>(), r.rows.rows, r.rows.cols);
  });
  return r;
}
}  // namespace

Tensor sum(const Tensor& x, std::vector<int64_t> dims_in, bool keepdim) {
  require_cpu("sum", x);
  auto dims = cpu::normalize_dims(dims_in, x.dim(), "sum");
  cpu::Rows r = cpu::as_rows(x, dims);
  Tensor out = Tensor::empty(keepdim ? r.keep_shape : r.drop_shape, x.dtype());
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "sum", [&] {
    sum_rows(r.matrix.data<scalar_t>(), out.data<scalar_t>(), r.rows, r.cols);
  });
  return record("sum", out, {x}, [shape = x.shape(), keep = r.keep_shape](const Tensor& g, GradSink& s) {
    s.add(0, g.reshape(keep).expand(shape).contiguous());
  });
}

Tensor mean(const Tensor& x, std::vector<int64_t> dims, bool keepdim) {
  auto nd = cpu::normalize_dims(dims, x.dim(), "mean");
  int64_t count = 1;
  for (auto d : nd) count *= x.size(d);
  SLIMSSL_CHECK(count > 0, "mean: reducing over zero elements of shape ", shape_str(x.shape()));
  return mul(sum(x, nd, keepdim), 1.0 / static_cast<double>(count));
}

Tensor var(const Tensor& x, std::vector<int64_t> dims_in, bool unbiased, bool keepdim) {
  require_cpu("var", x);
  auto dims = cpu::normalize_dims(dims_in, x.dim(), "var");
  cpu::Rows r = cpu::as_rows(x, dims);
  SLIMSSL_CHECK(r.cols > 0, "var: reducing over zero elements of shape ", shape_str(x.shape()));
  // With one element and the unbiased estimator the denominator is 0 and the result NaN, as in
  // PyTorch: the caller asked for a quantity that does not exist.
  double denom = static_cast<double>(r.cols - (unbiased ? 1 : 0));
  Tensor out = Tensor::empty(keepdim ? r.keep_shape : r.drop_shape, x.dtype());
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "var", [&] {
    var_rows(r.matrix.data<scalar_t>(), out.data<scalar_t>(), r.rows, r.cols, denom);
  });
  return record("var", out, {x}, [x_ = x.detach(), dims, keep = r.keep_shape, denom](const Tensor& g, GradSink& s) {
    // d var / d x_i = 2 (x_i - mean) / denom
    Tensor centered = sub(x_, mean(x_, dims, true));
    s.add(0, mul(centered, mul(g.reshape(keep), 2.0 / denom)));
  });
}

Tensor amax(const Tensor& x, int64_t dim, bool keepdim) {
  RowArgmax a = row_argmax("amax", x, dim);
  const cpu::Rows& r = a.rows;
  Tensor out = Tensor::empty({r.rows}, x.dtype());
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "amax", [&] {
    const scalar_t* p = r.matrix.data<scalar_t>();
    const int64_t* idx = a.index.data<int64_t>();
    scalar_t* o = out.data<scalar_t>();
    for (int64_t i = 0; i < r.rows; ++i) o[i] = p[i * r.cols + idx[i]];
  });
  out = out.reshape(keepdim ? r.keep_shape : r.drop_shape);
  int64_t d = wrap_dim(dim, x.dim(), "amax");
  return record("amax", out, {x}, [index = a.index, shape = x.shape(), d, cols = r.cols](const Tensor& g, GradSink& s) {
    // The whole gradient goes to the first maximum: build it in the [rows, cols] layout of
    // as_rows (reduced dimension last), then move that dimension back into place.
    int64_t rows = index.numel();
    Tensor gm = Tensor::zeros({rows, cols}, g.dtype());
    Tensor gc = g.contiguous();
    SLIMSSL_DISPATCH_FLOAT(g.dtype(), "amax backward", [&] {
      const scalar_t* gp = gc.data<scalar_t>();
      const int64_t* idx = index.data<int64_t>();
      scalar_t* o = gm.data<scalar_t>();
      for (int64_t i = 0; i < rows; ++i) o[i * cols + idx[i]] = gp[i];
    });
    s.add(0, cpu::rows_back(gm, shape, d));
  });
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  RowArgmax a = row_argmax("argmax", x, dim);
  return a.index.reshape(keepdim ? a.rows.keep_shape : a.rows.drop_shape);
}

}  // namespace slimssl
