// matmul and linear: fronts over the backend's gemm. Operands are passed with their strides
// whenever one of their two matrix strides is 1, so transposes and channel slices cost no copy.
#include "engine/autocast.h"
#include "engine/ops.h"

namespace slimssl {
namespace {

// The matrix operand as gemm takes it: the view itself when one of its two matrix strides is 1,
// else a contiguous copy.
Tensor gemm_operand(const Tensor& m) {
  const int64_t d = m.dim(), rs = m.stride(d - 2), cs = m.stride(d - 1);
  const int64_t r = m.size(d - 2), c = m.size(d - 1);
  if (cs == 1 || c <= 1 || rs == 1 || r <= 1) return m;
  return m.contiguous();
}

// out [m, n] (fresh) = a [m, k] @ b [k, n] for detached 2-d operands.
Tensor mm(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty({a.size(0), b.size(1)}, a.dtype(), a.device());
  backend_of(a).gemm(gemm_operand(a), gemm_operand(b), out, 1.0, 0.0);
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_same("matmul", a_in, b_in);
  check_float("matmul", a_in);
  SLIMSSL_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: operands must have rank >= 1, got ",
                shape_str(a_in.shape()), " and ", shape_str(b_in.shape()));
  // Promote 1-d operands as NumPy does, and undo it on the result.
  Tensor a = a_in.dim() == 1 ? a_in.unsqueeze(0) : a_in;
  Tensor b = b_in.dim() == 1 ? b_in.unsqueeze(1) : b_in;
  SLIMSSL_CHECK(a.size(-1) == b.size(-2), "matmul: inner dimensions differ, ", shape_str(a_in.shape()), " @ ",
                shape_str(b_in.shape()));
  Tensor out;
  if (a.dim() == 2 && b.dim() == 2) {
    out = mm(a.detach(), b.detach());
  } else {
    Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
    Shape batch = broadcast_shapes(ba, bb, "matmul");
    const int64_t n = a.size(-2), k = a.size(-1), m = b.size(-1), nb = numel_of(batch);
    Shape sa = batch, sb = batch, so = batch;
    sa.insert(sa.end(), {n, k});
    sb.insert(sb.end(), {k, m});
    so.insert(so.end(), {n, m});
    // One batch dimension: a broadcast operand keeps stride 0 there when its batch dims collapse
    // into one (always for a single batch dim), else it is materialized.
    auto batched = [&](const Tensor& t, const Shape& full, int64_t r, int64_t c) {
      Tensor e = t.detach().expand(full);
      return gemm_operand(e.dim() == 3 ? e : e.reshape({nb, r, c}));
    };
    Tensor fa = batched(a, sa, n, k), fb = batched(b, sb, k, m);
    out = Tensor::empty({nb, n, m}, a.dtype(), a.device());
    backend_of(a).gemm(fa, fb, out, 1.0, 0.0);
    out = out.reshape(so);
  }
  out = record("matmul", out, {a, b}, [a_ = a.detach(), b_ = b.detach()](const Tensor& g, GradSink& s) {
    if (s.needs(0)) s.add(0, sum_to(matmul(g, b_.transpose(-1, -2)), a_.shape()));
    if (s.needs(1)) s.add(1, sum_to(matmul(a_.transpose(-1, -2), g), b_.shape()));
  });
  if (a_in.dim() == 1) out = out.squeeze(-2);
  if (b_in.dim() == 1) out = out.squeeze(-1);
  return out;
}

Tensor linear(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in) {
  check_same("linear", x_in, w_in, false);
  check_float("linear", x_in);
  SLIMSSL_CHECK(w_in.dim() == 2, "linear: weight must be [out, in], got ", shape_str(w_in.shape()));
  SLIMSSL_CHECK(x_in.dim() >= 1 && x_in.size(-1) == w_in.size(1), "linear: input ", shape_str(x_in.shape()),
                " does not match weight ", shape_str(w_in.shape()), " (last dim must be ", w_in.size(1), ")");
  if (bias_in.defined()) {
    check_same("linear", x_in, bias_in, false);
    SLIMSSL_CHECK(bias_in.dim() == 1 && bias_in.size(0) == w_in.size(0), "linear: bias ",
                  shape_str(bias_in.shape()), " does not match weight ", shape_str(w_in.shape()));
  }
  // Under autocast the product runs in bfloat16 (the weight cast is differentiable: its float32
  // master gets a float32 gradient); otherwise the operands must share a dtype.
  const DType ct = autocast_dtype(x_in);
  const bool cast = ct != x_in.dtype() || (autocast_enabled() && ct == DType::BF16);
  Tensor x = x_in, w = w_in, bias = bias_in;
  if (cast) x = x.to(ct), w = w.to(ct), bias = bias.defined() ? bias.to(ct) : Tensor();
  check_same("linear", x, w);
  if (bias.defined()) check_same("linear", x, bias);
  Shape out_shape = x.shape();
  out_shape.back() = w.size(0);
  Tensor x2 = x.detach().reshape({-1, x.size(-1)});
  Tensor out = Tensor::empty({x2.size(0), w.size(0)}, ct, x.device());
  if (bias.defined()) out.copy_(bias.detach());  // beta = 1 below adds the product onto the bias
  else out.zero_();
  if (x2.size(1) > 0 && out.numel() > 0)
    backend_of(x).gemm(gemm_operand(x2), gemm_operand(w.detach().t()), out, 1.0, 1.0);
  out = out.reshape(out_shape);
  return record("linear", out, {x, w, bias},
                [x_ = x.detach(), w_ = w.detach(), has_bias = bias.defined()](const Tensor& g, GradSink& s) {
                  Tensor g2 = g.reshape({-1, g.size(-1)});
                  if (s.needs(0)) s.add(0, mm(g2, w_).reshape(x_.shape()));
                  if (s.needs(1)) {
                    Tensor x2 = x_.reshape({-1, x_.size(-1)});
                    // dW = g2^T x2, accumulated straight into the weight's gradient region when
                    // the weight is a parameter (or a slice of one) and the sink offers it.
                    Tensor dst = s.destination(1);
                    if (dst.defined()) backend_of(g2).gemm(gemm_operand(g2.t()), gemm_operand(x2), dst, 1.0, 1.0);
                    else s.add(1, mm(g2.t(), x2));
                  }
                  if (has_bias && s.needs(2)) s.add(2, sum(g2, {0}));
                });
}

}  // namespace slimssl
