// conv2d forward / backward-data / backward-weight on CUDA. Two routes:
//   sliced   the project's sliced-channel kernel (kernels/sliced_conv.h) wherever it applies:
//            groups 1, dilation 1, square stride and padding, float32 master weight read through
//            its strides (a channel slice W[:k_out, :k_in] is never copied, and the weight
//            gradient is added straight into its strided region), contiguous NCHW activations of
//            float32 or bfloat16. Its path switch decides between its custom kernels and cuDNN
//            (kernels::sliced_conv_set_autotune: off, the custom kernels; on, the faster of the
//            two per shape, timed once).
//   cuDNN    everything else: groups and depthwise, dilation, rectangular stride or padding,
//            channels-last activations, float64, bfloat16 weights (kernels/conv_cudnn.h). The
//            weight view is packed into a workspace filter of the activations' dtype; the weight
//            gradient comes back packed and is added into the strided destination; activations
//            that are neither dense NCHW nor dense channels-last go through packed copies.
// A bias is added to y afterwards (a broadcast add, kernels/pack4d.h).
#include <climits>
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/tensor_geometry.h"
#include "kernels/conv_cudnn.h"
#include "kernels/pack4d.h"
#include "kernels/sliced_conv.h"

namespace slimssl::cuda {
namespace {

using kernels::ConvDir;

struct Geom {
  int64_t N, C, H, W, O, kh, kw, OH, OW;
};

// x-like [N, C, H, W], w-like [O, C/groups, kh, kw] and y-like [N, O, OH, OW] agree with p.
Geom conv_geom(const char* op, const Shape& x, const Shape& w, const Shape& y, const Conv2dParams& p) {
  SLIMSSL_CHECK(x.size() == 4 && w.size() == 4 && y.size() == 4, op, ": expected 4-d input, weight and output, got ",
                shape_str(x), ", ", shape_str(w), ", ", shape_str(y));
  SLIMSSL_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1 && p.pad_h >= 0 &&
                    p.pad_w >= 0 && p.groups >= 1,
                op, ": stride and dilation must be positive, padding non-negative, groups at least 1");
  Geom g{x[0], x[1], x[2], x[3], w[0], w[2], w[3], 0, 0};
  SLIMSSL_CHECK(g.C % p.groups == 0 && g.O % p.groups == 0 && w[1] == g.C / p.groups, op, ": weight ", shape_str(w),
                " does not fit ", g.C, " input channels in ", p.groups, " groups");
  g.OH = (g.H + 2 * p.pad_h - p.dilation_h * (g.kh - 1) - 1) / p.stride_h + 1;
  g.OW = (g.W + 2 * p.pad_w - p.dilation_w * (g.kw - 1) - 1) / p.stride_w + 1;
  SLIMSSL_CHECK(g.OH >= 1 && g.OW >= 1 && y[0] == g.N && y[1] == g.O && y[2] == g.OH && y[3] == g.OW, op, ": output ",
                shape_str(y), " does not match input ", shape_str(x), " and weight ", shape_str(w));
  return g;
}

// act: the activations' dtype (float); the weight-like tensor is act or float32; the other
// activation tensor is act.
void check_dtypes(const char* op, DType act, const Tensor& weight_like, const Tensor& other_act) {
  SLIMSSL_CHECK(is_floating(act), op, ": expected floating-point activations, got ", dtype_name(act));
  SLIMSSL_CHECK(other_act.dtype() == act, op, ": activations of two dtypes: ", dtype_name(act), " and ",
                dtype_name(other_act.dtype()));
  SLIMSSL_CHECK(weight_like.dtype() == act || weight_like.dtype() == DType::F32, op, ": a ",
                dtype_name(weight_like.dtype()), " weight with ", dtype_name(act), " activations (expected ",
                dtype_name(act), " or float32)");
}

// ---- the sliced-channel kernel ----

bool fits_int(const Geom& g) {
  return g.N * g.C * g.H * g.W < INT_MAX && g.N * g.O * g.OH * g.OW < INT_MAX && g.O * g.C * g.kh * g.kw < INT_MAX;
}

bool sliced_applies(const Conv2dParams& p, const Geom& g, DType act, const Tensor& weight_like,
                    std::initializer_list<const Tensor*> acts) {
  if (p.groups != 1 || p.dilation_h != 1 || p.dilation_w != 1 || p.stride_h != p.stride_w || p.pad_h != p.pad_w)
    return false;
  if (weight_like.dtype() != DType::F32 || (act != DType::F32 && act != DType::BF16) || !fits_int(g)) return false;
  for (const Tensor* t : acts)
    if (!t->is_contiguous()) return false;
  return true;
}

kernels::SlicedConvShape sliced_shape(const Geom& g, const Conv2dParams& p) {
  kernels::SlicedConvShape s;
  s.batch = static_cast<int>(g.N), s.in_ch = static_cast<int>(g.C), s.in_h = static_cast<int>(g.H);
  s.in_w = static_cast<int>(g.W), s.out_ch = static_cast<int>(g.O), s.kh = static_cast<int>(g.kh);
  s.kw = static_cast<int>(g.kw), s.stride = static_cast<int>(p.stride_h), s.pad = static_cast<int>(p.pad_h);
  return s;
}

kernels::SliceStrides slice_strides(const Tensor& w) { return {w.stride(0), w.stride(1), w.stride(2), w.stride(3)}; }

// ---- cuDNN ----

// The layout of a cuDNN call: channels-last when its leading activation is dense channels-last
// (and not also dense NCHW), else NCHW.
bool channels_last(const Tensor& t) { return dense_nhwc(t) && !dense_nchw(t); }

// An activation as cuDNN sees it: the tensor itself when dense in the call's layout, else a
// dense copy in the workspace.
struct Act {
  const Tensor& t;
  bool direct;
  kernels::Strides4 strides;
  size_t packed_bytes;
  void* ptr = nullptr;
  Act(const Tensor& tensor, bool nhwc) : t(tensor) {
    direct = nhwc ? dense_nhwc(t) : dense_nchw(t);
    const kernels::Dims4 d = dims4(t);
    strides = direct ? strides4(t) : nhwc ? kernels::nhwc_strides(d) : kernels::nchw_strides(d);
    packed_bytes = direct ? 0 : static_cast<size_t>(d.numel()) * t.itemsize();
  }
  void bind(void* scratch) { ptr = direct ? t.raw() : scratch; }
  void pack_in(cudaStream_t st) const {
    if (!direct) kernels::pack4d(dims4(t), t.dtype(), t.raw(), strides4(t), t.dtype(), ptr, strides, false, st);
  }
  void unpack_out(cudaStream_t st) const {
    if (!direct) kernels::pack4d(dims4(t), t.dtype(), ptr, strides, t.dtype(), t.raw(), strides4(t), false, st);
  }
};

// One cuDNN call. x: the input-side activations (dx for BackwardData), y: the output side (gy
// for the backward passes), w: the weight (dw, accumulated into, for BackwardWeight).
void run_cudnn(CudaContext& ctx, ConvDir dir, const Conv2dParams& p, const Geom& g, const Tensor& x, const Tensor& w,
               const Tensor& y) {
  const DType act = x.dtype();
  const bool nhwc = channels_last(dir == ConvDir::BackwardData ? y : x);
  Act ax(x, nhwc), ay(y, nhwc);
  kernels::ConvProblem prob;
  prob.x = {g.N, g.C, g.H, g.W};
  prob.k = g.O, prob.r = g.kh, prob.s = g.kw;
  prob.pad_h = p.pad_h, prob.pad_w = p.pad_w, prob.stride_h = p.stride_h, prob.stride_w = p.stride_w;
  prob.dil_h = p.dilation_h, prob.dil_w = p.dilation_w, prob.groups = p.groups;
  prob.dt = act, prob.xs = ax.strides, prob.ys = ay.strides, prob.filter_krsc = nhwc;
  const kernels::DnnHandle h = ctx.dnn();
  const kernels::ConvAlgo algo = kernels::conv_algo(h, prob, dir);
  const kernels::Dims4 fd = prob.filter();
  const kernels::Strides4 fs = prob.filter_strides();
  const std::vector<void*> ws = ctx.workspaces(
      {static_cast<size_t>(fd.numel()) * dtype_size(act), ax.packed_bytes, ay.packed_bytes, algo.workspace_bytes});
  void* filter = ws[0];
  ax.bind(ws[1]), ay.bind(ws[2]);
  const cudaStream_t st = ctx.stream();
  if (dir != ConvDir::BackwardWeight) kernels::pack4d(fd, w.dtype(), w.raw(), strides4(w), act, filter, fs, false, st);
  if (dir != ConvDir::BackwardData) ax.pack_in(st);
  if (dir != ConvDir::Forward) ay.pack_in(st);
  switch (dir) {
    case ConvDir::Forward:
      kernels::conv_forward(h, prob, algo, ax.ptr, filter, ay.ptr, ws[3]);
      ay.unpack_out(st);
      break;
    case ConvDir::BackwardData:
      kernels::conv_backward_data(h, prob, algo, ay.ptr, filter, ax.ptr, ws[3]);
      ax.unpack_out(st);
      break;
    case ConvDir::BackwardWeight:
      kernels::conv_backward_filter(h, prob, algo, ax.ptr, ay.ptr, filter, ws[3]);
      kernels::pack4d(fd, act, filter, fs, w.dtype(), w.raw(), strides4(w), true, st);  // dw += packed
      break;
  }
}

// y += bias[c], broadcast over n, h, w.
void add_bias(CudaContext& ctx, const Tensor& bias, const Tensor& y) {
  if (bias.defined())
    kernels::pack4d(dims4(y), bias.dtype(), bias.raw(), {0, bias.stride(0), 0, 0}, y.dtype(), y.raw(), strides4(y),
                    true, ctx.stream());
}

}  // namespace

void CudaBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, const Tensor& y) {
  check_device("conv2d", ctx_.device(), {&x, &w, &bias, &y});
  const Geom g = conv_geom("conv2d", x.shape(), w.shape(), y.shape(), p);
  check_dtypes("conv2d", x.dtype(), w, y);
  if (bias.defined())
    SLIMSSL_CHECK(bias.dim() == 1 && bias.size(0) == g.O && (bias.dtype() == x.dtype() || bias.dtype() == DType::F32),
                  "conv2d: bias must be [", g.O, "] of the activations' dtype or float32, got ",
                  shape_str(bias.shape()), " ", dtype_name(bias.dtype()));
  if (y.numel() == 0) return;
  if (x.numel() == 0)  // no input channels: y is the bias alone
    fill(y, 0.0);
  else if (sliced_applies(p, g, x.dtype(), w, {&x, &y}))
    kernels::sliced_conv_forward(sliced_shape(g, p), x.dtype(), x.raw(), static_cast<const float*>(w.raw()),
                                 slice_strides(w), y.raw(), ctx_.stream());
  else
    run_cudnn(ctx_, ConvDir::Forward, p, g, x, w, y);
  add_bias(ctx_, bias, y);
}

void CudaBackend::conv2d_backward_data(const Tensor& gy, const Tensor& w, const Conv2dParams& p, const Tensor& dx) {
  check_device("conv2d_backward_data", ctx_.device(), {&gy, &w, &dx});
  const Geom g = conv_geom("conv2d_backward_data", dx.shape(), w.shape(), gy.shape(), p);
  check_dtypes("conv2d_backward_data", gy.dtype(), w, dx);
  if (dx.numel() == 0) return;
  if (gy.numel() == 0)
    fill(dx, 0.0);
  else if (sliced_applies(p, g, gy.dtype(), w, {&gy, &dx}))
    kernels::sliced_conv_backward_data(sliced_shape(g, p), gy.dtype(), gy.raw(), static_cast<const float*>(w.raw()),
                                       slice_strides(w), dx.raw(), ctx_.stream());
  else
    run_cudnn(ctx_, ConvDir::BackwardData, p, g, dx, w, gy);
}

void CudaBackend::conv2d_backward_weight(const Tensor& x, const Tensor& gy, const Conv2dParams& p, const Tensor& dw) {
  check_device("conv2d_backward_weight", ctx_.device(), {&x, &gy, &dw});
  const Geom g = conv_geom("conv2d_backward_weight", x.shape(), dw.shape(), gy.shape(), p);
  check_dtypes("conv2d_backward_weight", x.dtype(), dw, gy);
  if (dw.numel() == 0 || x.numel() == 0 || gy.numel() == 0) return;  // dw += 0
  if (sliced_applies(p, g, x.dtype(), dw, {&x, &gy}))
    kernels::sliced_conv_backward_weight(sliced_shape(g, p), x.dtype(), x.raw(), gy.raw(), static_cast<float*>(dw.raw()),
                                         slice_strides(dw), ctx_.stream());
  else
    run_cudnn(ctx_, ConvDir::BackwardWeight, p, g, x, dw, gy);
}

}  // namespace slimssl::cuda
