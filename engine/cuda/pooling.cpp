// Pooling on CUDA: the primitives of engine/backend.h over kernels/pooling.h.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/tensor_geometry.h"
#include "kernels/pooling.h"

namespace slimssl::cuda {
namespace {

// x-like [N, C, H, W] and y-like [N, C, OH, OW], both on the device, y-like of x-like's dtype.
kernels::PoolShape pool_shape(const char* op, int device, const Tensor& in, const Tensor& out) {
  check_device(op, device, {&in, &out});
  check_float(op, in);
  SLIMSSL_CHECK(in.dim() == 4 && out.dim() == 4 && in.size(0) == out.size(0) && in.size(1) == out.size(1), op,
                ": expected [N, C, H, W] and [N, C, OH, OW], got ", shape_str(in.shape()), " and ",
                shape_str(out.shape()));
  SLIMSSL_CHECK(out.dtype() == in.dtype(), op, ": dtypes differ: ", dtype_name(in.dtype()), " and ",
                dtype_name(out.dtype()));
  return {dims4(in), out.size(2), out.size(3)};
}

kernels::AvgWindows avg_windows(const char* op, const PoolWindows& win, const kernels::PoolShape& s) {
  if (win.kind == PoolWindows::Kind::Adaptive) {
    SLIMSSL_CHECK(s.in.h > 0 && s.in.w > 0 && s.oh > 0 && s.ow > 0, op, ": adaptive windows need a non-empty input "
                  "and output");
    return {true, 1, 1, 0};
  }
  SLIMSSL_CHECK(win.kernel > 0 && win.stride > 0 && win.pad >= 0 && 2 * win.pad <= win.kernel, op,
                ": bad windows: kernel ", win.kernel, ", stride ", win.stride, ", pad ", win.pad);
  SLIMSSL_CHECK(s.oh == (s.in.h + 2 * win.pad - win.kernel) / win.stride + 1 &&
                    s.ow == (s.in.w + 2 * win.pad - win.kernel) / win.stride + 1,
                op, ": output ", s.oh, "x", s.ow, " does not match the windows over ", s.in.h, "x", s.in.w);
  return {false, win.kernel, win.stride, win.pad};
}

}  // namespace

void CudaBackend::max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad, const Tensor& y,
                             const Tensor& argmax) {
  const kernels::PoolShape s = pool_shape("max_pool2d", ctx_.device(), x, y);
  check_device("max_pool2d", ctx_.device(), {&argmax});
  check_tensor("max_pool2d", "argmax", argmax, DType::I64, y.shape());
  SLIMSSL_CHECK(argmax.defined(), "max_pool2d: argmax must be given");
  SLIMSSL_CHECK(kernel > 0 && stride > 0 && pad >= 0 && 2 * pad <= kernel, "max_pool2d: bad window: kernel ", kernel,
                ", stride ", stride, ", pad ", pad);
  SLIMSSL_CHECK(s.oh == (s.in.h + 2 * pad - kernel) / stride + 1 && s.ow == (s.in.w + 2 * pad - kernel) / stride + 1,
                "max_pool2d: output ", shape_str(y.shape()), " does not match the windows over ",
                shape_str(x.shape()));
  kernels::max_pool2d_forward(s, x.dtype(), x.raw(), strides4(x), kernel, stride, pad, y.raw(), strides4(y),
                              static_cast<int64_t*>(argmax.raw()), strides4(argmax), ctx_.stream());
}

void CudaBackend::max_pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& dx) {
  const kernels::PoolShape s = pool_shape("max_pool2d_backward", ctx_.device(), dx, gy);
  check_device("max_pool2d_backward", ctx_.device(), {&argmax});
  check_tensor("max_pool2d_backward", "argmax", argmax, DType::I64, gy.shape());
  kernels::max_pool2d_backward(s, dx.dtype(), gy.raw(), strides4(gy), static_cast<const int64_t*>(argmax.raw()),
                               strides4(argmax), dx.raw(), strides4(dx), ctx_.stream());
}

void CudaBackend::avg_pool2d(const Tensor& x, const PoolWindows& win, const Tensor& y) {
  const kernels::PoolShape s = pool_shape("avg_pool2d", ctx_.device(), x, y);
  kernels::avg_pool2d_forward(s, x.dtype(), avg_windows("avg_pool2d", win, s), x.raw(), strides4(x), y.raw(),
                              strides4(y), ctx_.stream());
}

void CudaBackend::avg_pool2d_backward(const Tensor& gy, const PoolWindows& win, const Tensor& dx) {
  const kernels::PoolShape s = pool_shape("avg_pool2d_backward", ctx_.device(), dx, gy);
  kernels::avg_pool2d_backward(s, dx.dtype(), avg_windows("avg_pool2d_backward", win, s), gy.raw(), strides4(gy),
                               dx.raw(), strides4(dx), ctx_.stream());
}

}  // namespace slimssl::cuda
