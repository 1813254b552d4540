// The CPU backend's row primitives: reductions and (log-)softmax over the rows of a contiguous
// [rows, cols] matrix (the fronts move the reduced dimensions last). Sums accumulate in double:
// the reference should not be the noisy side.
#include <cmath>
#include <cstdint>
#include <cstring>
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/widen.h"

namespace slimssl::cpu {
namespace {
// (OpenMP pragmas cannot sit inside the dispatch macro's argument, so kernels are templates.)
template <class T>
void sum_rows(const T* p, T* o, int64_t rows, int64_t cols) {
#pragma omp parallel for if (rows * cols > (1 << 16))
  for (int64_t i = 0; i < rows; ++i) {
    double acc = 0;
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
int64_t argmax_row(const T* r, int64_t cols) {
  int64_t best = 0;
  for (int64_t j = 1; j < cols && !std::isnan(r[best]); ++j)
    if (r[j] > r[best] || std::isnan(r[j])) best = j;
  return best;
}

template <class T>
void argmax_rows(const T* p, int64_t* idx, T* maxv, int64_t rows, int64_t cols) {
#pragma omp parallel for if (rows * cols > (1 << 16))
  for (int64_t i = 0; i < rows; ++i) {
    int64_t a = argmax_row(p + i * cols, cols);
    if (idx) idx[i] = a;
    if (maxv) maxv[i] = p[i * cols + a];
  }
}

// e^x for the float32 softmax, whose arguments are x - max <= 0: straight-line arithmetic that
// vectorizes (a libm call per element was 10x PyTorch's softmax time on the loss's [128, 4097]
// logits). x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, so n ln2 is exact), e^r by its
// Taylor series to r^7 (truncation under 6e-9 relative, below float's 6e-8 epsilon), times 2^n
// built in the exponent bits. Arguments below -87 give e^-87 (1.6e-38) instead of smaller
// values or 0; NaN stays NaN.
inline float exp_nonpositive(float x) {
  // A NaN fails both comparisons: it stays NaN in xc (and so in r and the result) and becomes -87
  // in xn, so that n, converted to an integer below, is always a small integer.
  const float xc = x < -87.f ? -87.f : x, xn = x >= -87.f ? x : -87.f;
  const float n = std::floor(xn * 1.44269504088896341f + 0.5f);
  const float r = (xc - n * 0.693145751953125f) - n * 1.428606765330187e-06f;
  float e = 1.f / 5040;
  e = e * r + 1.f / 720;
  e = e * r + 1.f / 120;
  e = e * r + 1.f / 24;
  e = e * r + 1.f / 6;
  e = e * r + 0.5f;
  e = e * r + 1.f;
  e = e * r + 1.f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return e * scale;
}

// e^(x - m) in the row's precision: float32 through exp_nonpositive, float64 through libm.
inline double exp_shifted(float x, float m) { return exp_nonpositive(x - m); }
inline double exp_shifted(double x, double m) { return std::exp(x - m); }

// Row-wise softmax (log_out = false) or log-softmax (log_out = true). The row maximum is
// subtracted first so exp never overflows; the sum is accumulated in double.
template <class T>
void softmax_rows_impl(const T* p, T* o, int64_t rows, int64_t cols, bool log_out) {
#pragma omp parallel for if (rows * cols > (1 << 15))
  for (int64_t i = 0; i < rows; ++i) {
    const T* r = p + i * cols;
    T* y = o + i * cols;
    T m = r[0];
    for (int64_t j = 1; j < cols; ++j) m = std::max(m, r[j]);
    double z = 0;
#pragma omp simd reduction(+ : z)
    for (int64_t j = 0; j < cols; ++j) z += exp_shifted(r[j], m);
    if (log_out) {
      T lse = static_cast<T>(std::log(z));
      for (int64_t j = 0; j < cols; ++j) y[j] = r[j] - m - lse;
    } else {
      const double inv = 1.0 / z;
#pragma omp simd
      for (int64_t j = 0; j < cols; ++j) y[j] = static_cast<T>(exp_shifted(r[j], m) * inv);
    }
  }
}

void check_rows(const char* op, const Tensor& x) {
  SLIMSSL_CHECK(x.dim() == 2 && x.is_contiguous(), op, ": expected a contiguous [rows, cols] matrix, got ",
                shape_str(x.shape()));
}
}  // namespace

void CpuBackend::reduce_rows(ReduceOp op, const Tensor& x_in, const Tensor& out_in, double denom) {
  check_rows("reduce_rows", x_in);
  Tensor x = widened(x_in);
  const int64_t rows = x.size(0), cols = x.size(1);
  if (op == ReduceOp::ArgMax) {
    SLIMSSL_CHECK(out_in.dtype() == DType::I64, "reduce_rows: argmax writes int64");
    SLIMSSL_DISPATCH_FLOAT(x.dtype(), "argmax", [&] {
      argmax_rows<scalar_t>(x.data<scalar_t>(), out_in.data<int64_t>(), nullptr, rows, cols);
    });
    return;
  }
  Tensor out = widened_output(out_in);
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "reduce_rows", [&] {
    const scalar_t* p = x.data<scalar_t>();
    scalar_t* o = out.data<scalar_t>();
    switch (op) {
      case ReduceOp::Sum: sum_rows(p, o, rows, cols); break;
      case ReduceOp::Var: var_rows(p, o, rows, cols, denom); break;
      case ReduceOp::Max: argmax_rows<scalar_t>(p, nullptr, o, rows, cols); break;
      case ReduceOp::ArgMax: break;
    }
  });
  narrow_back(out, out_in);
}

void CpuBackend::softmax_rows(const Tensor& x_in, const Tensor& out_in, bool log) {
  check_rows("softmax_rows", x_in);
  Tensor x = widened(x_in), out = widened_output(out_in);
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "softmax_rows", [&] {
    softmax_rows_impl(x.data<scalar_t>(), out.data<scalar_t>(), x.size(0), x.size(1), log);
  });
  narrow_back(out, out_in);
}

}  // namespace slimssl::cpu
