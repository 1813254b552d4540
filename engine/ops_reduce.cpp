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

}  // namespace slimssl
