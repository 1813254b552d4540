// softmax, log_softmax, the cross-entropy losses and L2 normalization. (Log-)softmax works on
// rows: the dimension in question is moved last (engine/rows.h), the backend processes each row,
// and the result is moved back. The losses are compositions of ops, so their gradients follow.
#include <cmath>
#include <limits>
#include "engine/ops.h"
#include "engine/pointwise.h"
#include "engine/rows.h"

namespace slimssl {
namespace {

// (log-)softmax of the detached x along dim, contiguous, x's shape; records nothing.
Tensor softmax_forward(const char* op, const Tensor& x, int64_t dim, bool log_out) {
  check_float(op, x);
  SLIMSSL_CHECK(x.dim() >= 1, op, ": expected a tensor of rank >= 1, got a scalar");
  dim = wrap_dim(dim, x.dim(), op);
  if (x.numel() == 0) return Tensor::empty(x.shape(), x.dtype(), x.device());
  Rows r = as_rows(x, {dim});
  Tensor out = Tensor::empty({r.rows, r.cols}, x.dtype(), x.device());
  backend_of(x).softmax_rows(r.matrix, out, log_out);
  return rows_back(out, x.shape(), dim);
}

void check_logits(const char* op, const Tensor& logits) {
  check_float(op, logits);
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
  const int64_t n = logits.size(0), c = logits.size(1);
  SLIMSSL_CHECK(targets.dim() == 1 && targets.size(0) == n, "cross_entropy: targets ",
                shape_str(targets.shape()), " do not match logits ", shape_str(logits.shape()),
                " (expected [", n, "])");
  if (!backend_of(targets).index_in_range(targets, c)) {
    std::vector<int64_t> labels = targets.to_vector<int64_t>();
    for (int64_t i = 0; i < n; ++i)
      SLIMSSL_CHECK(labels[i] >= 0 && labels[i] < c, "cross_entropy: target ", labels[i], " at position ", i,
                    " is out of range for ", c, " classes (logits ", shape_str(logits.shape()), ")");
  }
  // -mean_i log_softmax(logits)_i,target_i
  Tensor picked = gather(log_softmax(logits, 1), 1, targets.detach().reshape({n, 1}));
  return neg(mean(picked));
}

Tensor soft_cross_entropy(const Tensor& logits, const Tensor& target_probs) {
  check_logits("soft_cross_entropy", logits);
  check_same("soft_cross_entropy", logits, target_probs);
  SLIMSSL_CHECK(target_probs.shape() == logits.shape(), "soft_cross_entropy: target probabilities ",
                shape_str(target_probs.shape()), " do not match logits ", shape_str(logits.shape()));
  // -sum_c p_c log softmax_c, mean over rows; the target is not differentiated.
  const double n = static_cast<double>(logits.size(0));
  return mul(sum(mul(target_probs.detach(), log_softmax(logits, 1))), -1.0 / n);
}

Tensor normalize(const Tensor& x, int64_t dim, double eps) {
  check_float("normalize", x);
  SLIMSSL_CHECK(x.dim() >= 1, "normalize: expected a tensor of rank >= 1, got a scalar");
  SLIMSSL_CHECK(eps >= 0, "normalize: eps must be non-negative, got ", eps);
  const int64_t d = wrap_dim(dim, x.dim(), "normalize");
  Tensor xd = x.detach();
  // Per row: the divisor max(||x||, eps), and the coefficient of x in the backward's projection,
  // 1 / ||x||^3 where the norm is above eps (and the divisor depends on x), else 0.
  Tensor norm = map_unary(UnaryOp::Sqrt, sum(mul(xd, xd), {d}, true));
  Tensor divisor = map_unary(UnaryOp::Clamp, norm, eps, std::numeric_limits<double>::infinity());
  Tensor above = map_unary(UnaryOp::Greater, norm, eps);
  Tensor coef = div(above, pow(divisor, 3.0));
  Tensor out = div(xd, divisor);
  return record("normalize", out, {x}, [x_ = xd, divisor, coef, d](const Tensor& g, GradSink& s) {
    // y = x / max(|x|, eps): dx = g / divisor - x <x, g> / |x|^3 (second term only above eps)
    s.add(0, sub(div(g, divisor), mul(x_, mul(sum(mul(x_, g), {d}, true), coef))));
  });
}

}  // namespace slimssl
