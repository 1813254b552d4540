// softmax, log_softmax, the cross-entropy losses and L2 normalization. All of them work on rows:
// the dimension in question is moved last (cpu::as_rows), each row is processed independently,
// and the result is moved back.
#include <cmath>
#include "engine/cpu/rows.h"
#include "engine/ops.h"

namespace slimssl {
namespace {

// Row-wise softmax (log_out = false) or log-softmax (log_out = true). The row maximum is
// subtracted first so exp never overflows; the sum is accumulated in double.
template <class T>
void softmax_rows(const T* p, T* o, int64_t rows, int64_t cols, bool log_out) {
#pragma omp parallel for if (rows * cols > (1 << 15))
  for (int64_t i = 0; i < rows; ++i) {
    const T* r = p + i * cols;
    T* y = o + i * cols;
    T m = r[0];
    for (int64_t j = 1; j < cols; ++j) m = std::max(m, r[j]);
    double z = 0;
    for (int64_t j = 0; j < cols; ++j) z += std::exp(static_cast<double>(r[j] - m));
    if (log_out) {
      T lse = static_cast<T>(std::log(z));
      for (int64_t j = 0; j < cols; ++j) y[j] = r[j] - m - lse;
    } else {
      for (int64_t j = 0; j < cols; ++j) y[j] = static_cast<T>(std::exp(static_cast<double>(r[j] - m)) / z);
    }
  }
}


// (log-)softmax of the detached x along dim, contiguous, x's shape; records nothing.
Tensor softmax_forward(const char* op, const Tensor& x, int64_t dim, bool log_out) {
  require_cpu(op, x);
  SLIMSSL_CHECK(x.dim() >= 1, op, ": expected a tensor of rank >= 1, got a scalar");
  dim = wrap_dim(dim, x.dim(), op);
  if (x.numel() == 0) return Tensor::empty(x.shape(), x.dtype());
  cpu::Rows r = cpu::as_rows(x, {dim});
  Tensor out = Tensor::empty({r.rows, r.cols}, x.dtype());
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), op, [&] {
    softmax_rows(r.matrix.data<scalar_t>(), out.data<scalar_t>(), r.rows, r.cols, log_out);
  });
  return cpu::rows_back(out, x.shape(), dim);
}

void check_logits(const char* op, const Tensor& logits) {
  require_cpu(op, logits);
  SLIMSSL_CHECK(logits.dim() == 2, op, ": logits must be [N, C], got ", shape_str(logits.shape()));
  SLIMSSL_CHECK(logits.size(0) > 0, op, ": empty batch (logits ", shape_str(logits.shape()),
                "); the mean over zero samples is undefined");
  SLIMSSL_CHECK(logits.size(1) > 0, op, ": logits ", shape_str(logits.shape()), " have no classes");
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  Tensor y = softmax_forward("softmax", x.detach(), dim, false);
  int64_t d = wrap_dim(dim, x.dim(), "softmax");
  return record("softmax", y, {x}, [y_ = y.detach(), d](const Tensor& g, GradSink& s) {
    // dx = y * (g - <g, y>) along d
    s.add(0, mul(y_, sub(g, sum(mul(g, y_), {d}, true))));
  });
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  Tensor y = softmax_forward("log_softmax", x.detach(), dim, true);
  int64_t d = wrap_dim(dim, x.dim(), "log_softmax");
  return record("log_softmax", y, {x}, [y_ = y.detach(), d](const Tensor& g, GradSink& s) {
    // dx = g - softmax * sum(g) along d
    s.add(0, sub(g, mul(exp(y_), sum(g, {d}, true))));
  });
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets) {
  check_logits("cross_entropy", logits);
  SLIMSSL_CHECK(targets.defined() && targets.dtype() == DType::I64, "cross_entropy: targets must be int64 class ",
                "indices, got ", targets.defined() ? dtype_name(targets.dtype()) : "an undefined tensor");
  check_same("cross_entropy", logits, targets, false);
  int64_t n = logits.size(0), c = logits.size(1);
  SLIMSSL_CHECK(targets.dim() == 1 && targets.size(0) == n, "cross_entropy: targets ",
                shape_str(targets.shape()), " do not match logits ", shape_str(logits.shape()),
                " (expected [", n, "])");
  std::vector<int64_t> labels = targets.to_vector<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    SLIMSSL_CHECK(labels[i] >= 0 && labels[i] < c, "cross_entropy: target ", labels[i], " at position ", i,
                  " is out of range for ", c, " classes (logits ", shape_str(logits.shape()), ")");

  Tensor logp = softmax_forward("cross_entropy", logits.detach(), 1, true);
  double total = 0;
  SLIMSSL_DISPATCH_FLOAT(logp.dtype(), "cross_entropy", [&] {
    const scalar_t* lp = logp.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) total -= lp[i * c + labels[i]];
  });
  Tensor out = Tensor::scalar(total / static_cast<double>(n), logits.dtype());
  return record("cross_entropy", out, {logits}, [logp, labels, n, c](const Tensor& g, GradSink& s) {
    // d loss / d logits = (softmax - onehot(target)) / N, times the incoming scalar gradient.
    Tensor grad = exp(logp);
    SLIMSSL_DISPATCH_FLOAT(grad.dtype(), "cross_entropy backward", [&] {
      scalar_t* p = grad.data<scalar_t>();
      for (int64_t i = 0; i < n; ++i) p[i * c + labels[i]] -= scalar_t(1);
    });
    s.add(0, mul(grad, mul(g, 1.0 / static_cast<double>(n))));
  });
}

Tensor soft_cross_entropy(const Tensor& logits, const Tensor& target_probs) {
  check_logits("soft_cross_entropy", logits);
  check_same("soft_cross_entropy", logits, target_probs);
  SLIMSSL_CHECK(target_probs.shape() == logits.shape(), "soft_cross_entropy: target probabilities ",
                shape_str(target_probs.shape()), " do not match logits ", shape_str(logits.shape()));
  int64_t n = logits.size(0);
  Tensor logp = softmax_forward("soft_cross_entropy", logits.detach(), 1, true);
  Tensor p = target_probs.detach();
  Tensor out = mul(sum(mul(p, logp)), -1.0 / static_cast<double>(n));
  return record("soft_cross_entropy", out, {logits}, [logp, p, n](const Tensor& g, GradSink& s) {
    // -sum_c p_c log softmax_c has gradient softmax * sum_c p_c - p per row (sum_c p_c is 1 for a
    // proper distribution, but the general form costs nothing).
    Tensor grad = sub(mul(exp(logp), sum(p, {1}, true)), p);
    s.add(0, mul(grad, mul(g, 1.0 / static_cast<double>(n))));
  });
}

Tensor normalize(const Tensor& x, int64_t dim, double eps) {
  require_cpu("normalize", x);
  SLIMSSL_CHECK(x.dim() >= 1, "normalize: expected a tensor of rank >= 1, got a scalar");
  SLIMSSL_CHECK(eps >= 0, "normalize: eps must be non-negative, got ", eps);
  int64_t d = wrap_dim(dim, x.dim(), "normalize");
  cpu::Rows r = cpu::as_rows(x, {d});
  // Per row: the divisor max(||x||, eps), and the coefficient of x in the backward's projection,
  // 1 / (divisor^2 * ||x||) where the norm is above eps (and the divisor depends on x), else 0.
  Tensor divisor = Tensor::empty({r.rows}, x.dtype()), coef = Tensor::empty({r.rows}, x.dtype());
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "normalize", [&] {
    const scalar_t* p = r.matrix.data<scalar_t>();
    scalar_t* dv = divisor.data<scalar_t>();
    scalar_t* cf = coef.data<scalar_t>();
    for (int64_t i = 0; i < r.rows; ++i) {
      double ss = 0;
      for (int64_t j = 0; j < r.cols; ++j) ss += static_cast<double>(p[i * r.cols + j]) * p[i * r.cols + j];
      double norm = std::sqrt(ss);
      bool above = norm > eps;
      dv[i] = static_cast<scalar_t>(above ? norm : eps);
      cf[i] = static_cast<scalar_t>(above ? 1.0 / (norm * norm * norm) : 0.0);
    }
  });
  divisor = divisor.reshape(r.keep_shape);
  coef = coef.reshape(r.keep_shape);
  Tensor out = div(x.detach(), divisor);
  return record("normalize", out, {x}, [x_ = x.detach(), divisor, coef, d](const Tensor& g, GradSink& s) {
    // y = x / max(|x|, eps): dx = g / divisor - x <x, g> / |x|^3 (second term only above eps)
    s.add(0, sub(div(g, divisor), mul(x_, mul(sum(mul(x_, g), {d}, true), coef))));
  });
}

}  // namespace slimssl
