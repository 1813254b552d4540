// batch_norm, layer_norm and dropout: fronts over the backend's normalization primitives and the
// counter-based random fill. Statistics are float32 tensors (float64 for float64 inputs) on the
// input's device; nothing is read back to the host.
#include <cmath>
#include "engine/layout.h"
#include "engine/ops.h"
#include "engine/pointwise.h"

namespace slimssl {
namespace {

void check_channel_param(const char* what, const Tensor& x, const Tensor& p) {
  if (!p.defined()) return;
  check_same("batch_norm", x, p, false);
  SLIMSSL_CHECK(p.dim() == 1 && p.size(0) == x.size(1), "batch_norm: ", what, " ", shape_str(p.shape()),
                " does not match the ", x.size(1), " channels of input ", shape_str(x.shape()));
}

// The dtype statistics and affine parameters are computed in for activations of dtype t.
DType stats_dtype(DType t) { return t == DType::F64 ? DType::F64 : DType::F32; }

// A parameter in the statistics dtype, detached (undefined stays undefined).
Tensor as_stats(const Tensor& p, DType t) { return p.defined() ? p.detach().to(t) : Tensor(); }

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum, double eps) {
  check_float("batch_norm", x);
  SLIMSSL_CHECK(x.dim() == 2 || x.dim() == 4, "batch_norm: expected input [N, C] or [N, C, H, W], got ",
                shape_str(x.shape()));
  check_channel_param("weight", x, weight);
  check_channel_param("bias", x, bias);
  check_channel_param("running_mean", x, running_mean);
  check_channel_param("running_var", x, running_var);
  SLIMSSL_CHECK(running_mean.defined() == running_var.defined(),
                "batch_norm: running_mean and running_var must be given together");
  SLIMSSL_CHECK(training || running_mean.defined(), "batch_norm: eval mode needs running statistics (input ",
                shape_str(x.shape()), ")");
  SLIMSSL_CHECK(eps > 0, "batch_norm: eps must be positive, got ", eps);
  const int64_t count = x.numel() / std::max<int64_t>(x.size(1), 1);
  SLIMSSL_CHECK(!training || count > 1, "batch_norm: training needs more than one value per channel, input ",
                shape_str(x.shape()));

  Backend& be = backend_of(x);
  const DType st = stats_dtype(x.dtype());
  const int64_t C = x.size(1);
  Tensor xd = x.detach(), mean, var;
  if (training) {
    mean = Tensor::empty({C}, st, x.device()), var = Tensor::empty({C}, st, x.device());
    be.batch_norm_stats(xd, mean, var);
    if (running_mean.defined()) {  // buffers, updated in place and never recorded
      NoGradGuard ng;
      const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
      Tensor rm = running_mean.detach(), rv = running_var.detach();
      rm.mul_(1.0 - momentum).add_(mean, momentum);
      rv.mul_(1.0 - momentum).add_(var, momentum * unbias);
    }
  } else {
    mean = as_stats(running_mean, st), var = as_stats(running_var, st);
  }
  Tensor invstd = map_unary(UnaryOp::Rsqrt, map_unary(UnaryOp::AddScalar, var, eps));
  Tensor w = as_stats(weight, st), b = as_stats(bias, st);
  Tensor out = empty_like_layout(x);
  be.batch_norm_forward(xd, mean, invstd, w, b, out);
  return record("batch_norm", out, {x, weight, bias},
                [xd, mean, invstd, w, training, wdtype = weight.defined() ? weight.dtype() : st,
                 bdtype = bias.defined() ? bias.dtype() : st, has_w = weight.defined(),
                 has_b = bias.defined()](const Tensor& gy, GradSink& s) {
                  const bool need_x = s.needs(0), need_w = has_w && s.needs(1), need_b = has_b && s.needs(2);
                  const int64_t C = mean.numel();
                  Tensor dx = need_x ? empty_like_layout(xd) : Tensor();
                  Tensor dw = need_w ? Tensor::empty({C}, mean.dtype(), gy.device()) : Tensor();
                  Tensor db = need_b ? Tensor::empty({C}, mean.dtype(), gy.device()) : Tensor();
                  backend_of(gy).batch_norm_backward(gy, xd, mean, invstd, w, training, dx, dw, db);
                  if (need_x) s.add(0, dx);
                  if (need_w) s.add(1, dw.to(wdtype));
                  if (need_b) s.add(2, db.to(bdtype));
                });
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t normalized_dims, double eps) {
  check_float("layer_norm", x);
  SLIMSSL_CHECK(normalized_dims >= 1 && normalized_dims <= x.dim(), "layer_norm: cannot normalize over the last ",
                normalized_dims, " dims of input ", shape_str(x.shape()));
  SLIMSSL_CHECK(eps > 0, "layer_norm: eps must be positive, got ", eps);
  Shape norm_shape(x.shape().end() - normalized_dims, x.shape().end());
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    check_same("layer_norm", x, *p, false);
    SLIMSSL_CHECK(p->shape() == norm_shape, "layer_norm: weight/bias ", shape_str(p->shape()),
                  " must match the normalized shape ", shape_str(norm_shape), " of input ", shape_str(x.shape()));
  }
  const int64_t cols = numel_of(norm_shape), rows = cols == 0 ? 0 : x.numel() / cols;
  SLIMSSL_CHECK(cols > 0, "layer_norm: empty normalized shape ", shape_str(norm_shape));
  const DType st = stats_dtype(x.dtype());
  Tensor x2 = x.detach().contiguous().reshape({rows, cols});
  Tensor w = as_stats(weight, st), b = as_stats(bias, st);
  if (w.defined()) w = w.reshape({cols});
  if (b.defined()) b = b.reshape({cols});
  Tensor out = Tensor::empty({rows, cols}, x.dtype(), x.device());
  Tensor mean = Tensor::empty({rows}, st, x.device()), invstd = Tensor::empty({rows}, st, x.device());
  if (rows > 0) backend_of(x).layer_norm_forward(x2, w, b, eps, out, mean, invstd);
  return record("layer_norm", out.reshape(x.shape()), {x, weight, bias},
                [x2, mean, invstd, w, norm_shape, shape = x.shape(), has_w = weight.defined(),
                 has_b = bias.defined()](const Tensor& gy_in, GradSink& s) {
                  const bool need_x = s.needs(0), need_w = has_w && s.needs(1), need_b = has_b && s.needs(2);
                  Tensor gy = gy_in.contiguous().reshape(x2.shape());
                  const int64_t cols = x2.size(1);
                  Tensor dx = need_x ? Tensor::empty(x2.shape(), x2.dtype(), x2.device()) : Tensor();
                  Tensor dw = need_w ? Tensor::empty({cols}, mean.dtype(), x2.device()) : Tensor();
                  Tensor db = need_b ? Tensor::empty({cols}, mean.dtype(), x2.device()) : Tensor();
                  if (x2.size(0) > 0) backend_of(gy).layer_norm_backward(gy, x2, mean, invstd, w, dx, dw, db);
                  else for (Tensor* t : {&dw, &db}) if (t->defined()) t->zero_();
                  if (need_x) s.add(0, dx.reshape(shape));
                  if (need_w) s.add(1, dw.reshape(norm_shape));
                  if (need_b) s.add(2, db.reshape(norm_shape));
                });
}

Tensor dropout(const Tensor& x, double p, bool training, uint64_t seed, uint64_t counter) {
  check_float("dropout", x);
  SLIMSSL_CHECK(p >= 0.0 && p < 1.0, "dropout: probability must be in [0, 1), got ", p, " (input ",
                shape_str(x.shape()), ")");
  if (!training || p == 0.0) return x;
  // Element e (logical order) is kept iff its uniform (base/rng.h: element_uniform(seed, counter,
  // e)) is >= p; kept elements are scaled by 1 / (1 - p). The same on every device.
  Tensor u = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_of(x).uniform(u, seed, counter);
  Tensor mask = map_unary(UnaryOp::MulScalar, map_unary(UnaryOp::GreaterEq, u, p), 1.0 / (1.0 - p));
  Tensor out = mul(x.detach(), mask);
  return record("dropout", out, {x}, [mask](const Tensor& g, GradSink& s) { s.add(0, mul(g, mask)); });
}

}  // namespace slimssl
