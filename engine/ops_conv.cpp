// conv2d: the front over the backend's convolution primitives. The weight is usually a channel
// slice W[:k_out, :k_in] of a larger parameter, passed with its strides (never copied); its
// gradient is accumulated by the backend straight into the matching region of the parameter's
// .grad when the autograd sink offers that destination.
#include "engine/autocast.h"
#include "engine/layout.h"
#include "engine/ops.h"

namespace slimssl {
namespace {

void check_conv_args(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  check_same("conv2d", x, w, false);
  check_float("conv2d", x);
  check_float("conv2d", w);
  SLIMSSL_CHECK(x.dim() == 4 && w.dim() == 4,
                "conv2d: expected input [N, C, H, W] and weight [O, C/groups, kh, kw], got ",
                shape_str(x.shape()), " and ", shape_str(w.shape()));
  SLIMSSL_CHECK(p.stride_h > 0 && p.stride_w > 0 && p.dilation_h > 0 && p.dilation_w > 0 && p.pad_h >= 0 &&
                    p.pad_w >= 0 && p.groups > 0,
                "conv2d: stride and dilation must be positive, padding non-negative, groups positive (stride ",
                p.stride_h, "x", p.stride_w, ", pad ", p.pad_h, "x", p.pad_w, ", dilation ", p.dilation_h, "x",
                p.dilation_w, ", groups ", p.groups, ")");
  SLIMSSL_CHECK(x.size(1) % p.groups == 0 && w.size(0) % p.groups == 0 && w.size(0) > 0,
                "conv2d: input channels ", x.size(1), " and output channels ", w.size(0),
                " must both be positive multiples of groups ", p.groups, " (input ", shape_str(x.shape()),
                ", weight ", shape_str(w.shape()), ")");
  SLIMSSL_CHECK(w.size(1) == x.size(1) / p.groups && w.size(1) > 0, "conv2d: weight ", shape_str(w.shape()),
                " expects ", w.size(1) * p.groups, " input channels with groups ", p.groups, ", input is ",
                shape_str(x.shape()));
  int64_t eff_h = p.dilation_h * (w.size(2) - 1) + 1, eff_w = p.dilation_w * (w.size(3) - 1) + 1;
  SLIMSSL_CHECK(x.size(2) + 2 * p.pad_h >= eff_h && x.size(3) + 2 * p.pad_w >= eff_w, "conv2d: padded input ",
                x.size(2) + 2 * p.pad_h, "x", x.size(3) + 2 * p.pad_w, " is smaller than the dilated kernel ",
                eff_h, "x", eff_w, " (input ", shape_str(x.shape()), ", weight ", shape_str(w.shape()), ")");
  if (bias.defined()) {
    check_same("conv2d", x, bias, false);
    SLIMSSL_CHECK(bias.dim() == 1 && bias.size(0) == w.size(0), "conv2d: bias ", shape_str(bias.shape()),
                  " does not match weight ", shape_str(w.shape()));
  }
}

int64_t out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dilation) {
  return (in + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  check_conv_args(x_in, w, bias, p);
  // Under autocast the activations run in bfloat16 and the backend reads the float32 weight
  // (slice) directly: its gradient is produced in float32 where it lands.
  const DType act = autocast_dtype(x_in);
  Tensor x = x_in.to(act);
  // bfloat16 activations may go with float32 master weights (mixed precision); else one dtype.
  auto fits = [&](const Tensor& t) {
    return !t.defined() || t.dtype() == act || (act == DType::BF16 && t.dtype() == DType::F32);
  };
  SLIMSSL_CHECK(fits(w) && fits(bias), "conv2d: dtype mismatch (input ", dtype_name(act), ", weight ",
                dtype_name(w.dtype()), bias.defined() ? std::string(", bias ") + dtype_name(bias.dtype()) : "",
                "), shapes ", shape_str(x.shape()), " and ", shape_str(w.shape()));
  const int64_t OH = out_size(x.size(2), w.size(2), p.stride_h, p.pad_h, p.dilation_h);
  const int64_t OW = out_size(x.size(3), w.size(3), p.stride_w, p.pad_w, p.dilation_w);
  Tensor out = empty_like_layout(x, {x.size(0), w.size(0), OH, OW}, act);
  if (out.numel() > 0) backend_of(x).conv2d(x.detach(), w.detach(), bias.defined() ? bias.detach() : Tensor(), p, out);
  return record("conv2d", out, {x, w, bias},
                [x_ = x.detach(), w_ = w.detach(), p, has_bias = bias.defined(),
                 bias_dtype = bias.defined() ? bias.dtype() : act](const Tensor& gy, GradSink& s) {
                  Backend& be = backend_of(gy);
                  if (has_bias && s.needs(2)) s.add(2, sum(gy.to(bias_dtype), {0, 2, 3}));
                  if (s.needs(0)) {
                    Tensor dx = empty_like_layout(x_);
                    if (gy.numel() > 0) be.conv2d_backward_data(gy, w_, p, dx);
                    else dx.zero_();
                    s.add(0, dx);
                  }
                  if (s.needs(1)) {
                    // Into the parent's .grad region directly when offered (a slimmable layer's
                    // slice), else into a zeroed buffer that the sink routes there.
                    Tensor dst = s.destination(1);
                    const bool direct = dst.defined();
                    if (!direct) dst = Tensor::zeros(w_.shape(), w_.dtype(), w_.device());
                    if (gy.numel() > 0) be.conv2d_backward_weight(x_, gy, p, dst);
                    if (!direct) s.add(1, dst);
                  }
                });
}

}  // namespace slimssl
