// matmul and linear on top of cpu::gemm. Operands are passed with their strides whenever one of
// their two matrix strides is 1, so transposes and channel slices cost no copy.
#include "engine/cpu/gemm.h"
#include "engine/ops.h"

namespace slimssl {
namespace {

// How a 2-d (strided) matrix is handed to gemm: the pointer offset, transpose flag, leading dim.
struct GemmOperand {
  Tensor keep;  // keeps a contiguous copy alive if one was needed
  bool trans = false;
  int64_t ld = 0;
};

GemmOperand as_operand(const Tensor& m2) {
  GemmOperand op;
  int64_t rs = m2.stride(0), cs = m2.stride(1);
  if (cs == 1 && rs >= std::max<int64_t>(m2.size(1), 1)) {
    op.keep = m2, op.trans = false, op.ld = rs;
  } else if (rs == 1 && cs >= std::max<int64_t>(m2.size(0), 1)) {
    op.keep = m2, op.trans = true, op.ld = cs;
  } else {
    op.keep = m2.contiguous(), op.trans = false, op.ld = std::max<int64_t>(m2.size(1), 1);
  }
  return op;
}

// out[m, n] (contiguous) = a[m, k] @ b[k, n], any strides.
void mm_into(const Tensor& a, const Tensor& b, Tensor& out, double beta = 0.0) {
  GemmOperand oa = as_operand(a), ob = as_operand(b);
  SLIMSSL_DISPATCH_FLOAT(a.dtype(), "matmul", [&] {
    cpu::gemm(oa.trans, ob.trans, a.size(0), b.size(1), a.size(1), scalar_t(1), oa.keep.data<scalar_t>(),
              oa.ld, ob.keep.data<scalar_t>(), ob.ld, scalar_t(beta), out.data<scalar_t>(), out.stride(0));
  });
}

Tensor mm(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty({a.size(0), b.size(1)}, a.dtype());
  if (a.size(0) * b.size(1) > 0) {
    if (a.size(1) == 0) out.zero_();
    else mm_into(a, b, out);
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_same("matmul", a_in, b_in);
  require_cpu("matmul", a_in);
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
    int64_t n = a.size(-2), k = a.size(-1), m = b.size(-1);
    Shape sa = batch, sb = batch, so = batch;
    sa.insert(sa.end(), {n, k});
    sb.insert(sb.end(), {k, m});
    so.insert(so.end(), {n, m});
    Tensor ea = a.detach().expand(sa), eb = b.detach().expand(sb);
    int64_t nb = numel_of(batch);
    Tensor fa = ea.reshape({nb, n, k}), fb = eb.reshape({nb, k, m});
    out = Tensor::empty({nb, n, m}, a.dtype());
    for (int64_t i = 0; i < nb; ++i) {
      Tensor oi = out.select(0, i);
      if (k == 0) oi.zero_();
      else mm_into(fa.select(0, i), fb.select(0, i), oi);
    }
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

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  check_same("linear", x, w);
  require_cpu("linear", x);
  SLIMSSL_CHECK(w.dim() == 2, "linear: weight must be [out, in], got ", shape_str(w.shape()));
  SLIMSSL_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input ", shape_str(x.shape()),
                " does not match weight ", shape_str(w.shape()), " (last dim must be ", w.size(1), ")");
  if (bias.defined()) {
    check_same("linear", x, bias);
    SLIMSSL_CHECK(bias.dim() == 1 && bias.size(0) == w.size(0), "linear: bias ", shape_str(bias.shape()),
                  " does not match weight ", shape_str(w.shape()));
  }
  Shape out_shape = x.shape();
  out_shape.back() = w.size(0);
  Tensor x2 = x.detach().reshape({-1, x.size(-1)});
  Tensor out = Tensor::empty({x2.size(0), w.size(0)}, x.dtype());
  if (bias.defined()) out.copy_(bias.detach());  // beta = 1 below adds the product onto the bias
  else out.zero_();
  if (x2.size(1) > 0 && out.numel() > 0) mm_into(x2, w.detach().t(), out, 1.0);
  out = out.reshape(out_shape);
  return record("linear", out, {x, w, bias},
                [x_ = x.detach(), w_ = w.detach(), has_bias = bias.defined()](const Tensor& g, GradSink& s) {
                  Tensor g2 = g.reshape({-1, g.size(-1)});
                  if (s.needs(0)) s.add(0, mm(g2, w_).reshape(x_.shape()));
                  if (s.needs(1)) s.add(1, mm(g2.t(), x_.reshape({-1, x_.size(-1)})));
                  if (has_bias && s.needs(2)) s.add(2, sum(g2, {0}));
                });
}

}  // namespace slimssl
