// 2-d pooling fronts: max (gradient to the argmax), average (padding counted, PyTorch's
// count_include_pad=True) and adaptive average (PyTorch's floor/ceil bins). Outputs follow the
// input's layout (channels-last stays channels-last).
#include "engine/layout.h"
#include "engine/ops.h"

namespace slimssl {
namespace {

void check_pool_input(const char* op, const Tensor& x) {
  check_float(op, x);
  SLIMSSL_CHECK(x.dim() == 4, op, ": expected input [N, C, H, W], got ", shape_str(x.shape()));
}

// Output size of a fixed-window pool; also checks the window arguments (PyTorch's rules).
int64_t window_out(const char* op, const Tensor& x, int64_t in, int64_t k, int64_t s, int64_t pad) {
  SLIMSSL_CHECK(k > 0 && s > 0 && pad >= 0, op,
                ": kernel and stride must be positive and padding non-negative, got kernel ", k, ", stride ", s,
                ", pad ", pad);
  SLIMSSL_CHECK(2 * pad <= k, op, ": padding ", pad, " must be at most half the kernel ", k);
  SLIMSSL_CHECK(in + 2 * pad >= k, op, ": padded input ", in + 2 * pad, " is smaller than the kernel ", k,
                " (input ", shape_str(x.shape()), ")");
  return (in + 2 * pad - k) / s + 1;
}

// Shared by the two average pools: forward now, backward recorded with the same windows.
Tensor average_pool(const char* op, const Tensor& x, int64_t oh, int64_t ow, const PoolWindows& win) {
  Tensor out = empty_like_layout(x, {x.size(0), x.size(1), oh, ow}, x.dtype());
  backend_of(x).avg_pool2d(x.detach(), win, out);
  return record(op, out, {x}, [win, x_ = x.detach()](const Tensor& gy, GradSink& s) {
    Tensor dx = Tensor::zeros(x_.shape(), gy.dtype(), gy.device());
    backend_of(gy).avg_pool2d_backward(gy, win, dx);
    s.add(0, dx);
  });
}

}  // namespace

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad) {
  check_pool_input("max_pool2d", x);
  const int64_t oh = window_out("max_pool2d", x, x.size(2), kernel, stride, pad);
  const int64_t ow = window_out("max_pool2d", x, x.size(3), kernel, stride, pad);
  Shape shape{x.size(0), x.size(1), oh, ow};
  Tensor out = empty_like_layout(x, shape, x.dtype());
  Tensor argmax = empty_like_layout(x, shape, DType::I64);
  backend_of(x).max_pool2d(x.detach(), kernel, stride, pad, out, argmax);
  return record("max_pool2d", out, {x}, [argmax, in_shape = x.shape()](const Tensor& gy, GradSink& s) {
    Tensor dx = Tensor::zeros(in_shape, gy.dtype(), gy.device());
    backend_of(gy).max_pool2d_backward(gy, argmax, dx);
    s.add(0, dx);
  });
}

Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad) {
  check_pool_input("avg_pool2d", x);
  const int64_t oh = window_out("avg_pool2d", x, x.size(2), kernel, stride, pad);
  const int64_t ow = window_out("avg_pool2d", x, x.size(3), kernel, stride, pad);
  PoolWindows win;
  win.kind = PoolWindows::Kind::Fixed, win.kernel = kernel, win.stride = stride, win.pad = pad;
  return average_pool("avg_pool2d", x, oh, ow, win);
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_pool_input("adaptive_avg_pool2d", x);
  SLIMSSL_CHECK(out_h > 0 && out_w > 0, "adaptive_avg_pool2d: output size must be positive, got ", out_h, "x",
                out_w);
  SLIMSSL_CHECK(x.size(2) > 0 && x.size(3) > 0, "adaptive_avg_pool2d: empty spatial input ",
                shape_str(x.shape()));
  PoolWindows win;
  win.kind = PoolWindows::Kind::Adaptive;
  return average_pool("adaptive_avg_pool2d", x, out_h, out_w, win);
}

}  // namespace slimssl
