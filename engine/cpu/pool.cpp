// The CPU backend's 2-d pooling: max (gradient to the argmax), average over fixed windows
// (padding counted, PyTorch's count_include_pad=True) and adaptive average (PyTorch's floor/ceil
// bins). Inputs are read through their strides; every (image, channel) plane is independent, so
// planes split over threads.
#include <cmath>
#include <limits>
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/widen.h"

namespace slimssl::cpu {
namespace {

struct PoolGeom {
  int64_t N, C, H, W, OH, OW;
  int64_t sN, sC, sH, sW;  // input strides
  int64_t planes() const { return N * C; }
  // Element offset of plane `pc` (= n * C + c) in the input.
  int64_t plane_offset(int64_t pc) const { return (pc / C) * sN + (pc % C) * sC; }
};

constexpr int64_t kParallelMin = 1 << 15;  // below this many elements threads cost more than they save

// ---------------- max ----------------
// idx receives each output's argmax as h * W + w within its plane (the first maximum; NaN wins).
template <class T>
void max_forward(const PoolGeom& g, const T* x, int64_t k, int64_t s, int64_t pad, T* y, int64_t* idx) {
#pragma omp parallel for if (g.planes() * g.OH * g.OW * k * k > kParallelMin)
  for (int64_t pc = 0; pc < g.planes(); ++pc) {
    const T* xp = x + g.plane_offset(pc);
    T* yp = y + pc * g.OH * g.OW;
    int64_t* ip = idx + pc * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        T best = -std::numeric_limits<T>::infinity();  // padding acts as -inf
        int64_t arg = -1;
        for (int64_t ih = std::max<int64_t>(oh * s - pad, 0); ih < std::min(oh * s - pad + k, g.H); ++ih) {
          for (int64_t iw = std::max<int64_t>(ow * s - pad, 0); iw < std::min(ow * s - pad + k, g.W); ++iw) {
            T v = xp[ih * g.sH + iw * g.sW];
            if (arg < 0 || v > best || (std::isnan(v) && !std::isnan(best))) best = v, arg = ih * g.W + iw;
          }
        }
        yp[oh * g.OW + ow] = best;
        ip[oh * g.OW + ow] = arg;
      }
    }
  }
}

template <class T>
void max_backward(const PoolGeom& g, const T* gy, const int64_t* idx, T* dx) {
#pragma omp parallel for if (g.planes() * g.OH * g.OW > kParallelMin)
  for (int64_t pc = 0; pc < g.planes(); ++pc) {
    T* dp = dx + pc * g.H * g.W;
    for (int64_t i = 0; i < g.OH * g.OW; ++i) {
      int64_t a = idx[pc * g.OH * g.OW + i];
      if (a >= 0) dp[a] += gy[pc * g.OH * g.OW + i];
    }
  }
}

// ---------------- average over fixed or adaptive windows ----------------
// The window of output (oh, ow): rows [h0, h1), cols [w0, w1) clipped to the input, and the
// divisor (the unclipped size for fixed windows, which counts padding; the bin size for adaptive).
struct Window {
  int64_t h0, h1, w0, w1;
  double count;
};

struct FixedWindows {
  int64_t k, s, pad, H, W;
  Window operator()(int64_t oh, int64_t ow) const {
    int64_t h = oh * s - pad, w = ow * s - pad;
    // With pad <= k/2 a window never reaches past H + pad, so it always covers k*k padded cells.
    return {std::max<int64_t>(h, 0), std::min(h + k, H), std::max<int64_t>(w, 0), std::min(w + k, W),
            static_cast<double>(k * k)};
  }
};

struct AdaptiveWindows {
  int64_t H, W, OH, OW;
  Window operator()(int64_t oh, int64_t ow) const {
    int64_t h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;  // floor, ceil
    int64_t w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
    return {h0, h1, w0, w1, static_cast<double>((h1 - h0) * (w1 - w0))};
  }
};

template <class T, class Windows>
void avg_forward(const PoolGeom& g, const T* x, const Windows& win, T* y) {
#pragma omp parallel for if (g.planes() * g.H * g.W > kParallelMin)
  for (int64_t pc = 0; pc < g.planes(); ++pc) {
    const T* xp = x + g.plane_offset(pc);
    T* yp = y + pc * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        Window b = win(oh, ow);
        double acc = 0;
        for (int64_t ih = b.h0; ih < b.h1; ++ih)
          for (int64_t iw = b.w0; iw < b.w1; ++iw) acc += xp[ih * g.sH + iw * g.sW];
        yp[oh * g.OW + ow] = static_cast<T>(acc / b.count);
      }
    }
  }
}

template <class T, class Windows>
void avg_backward(const PoolGeom& g, const T* gy, const Windows& win, T* dx) {
#pragma omp parallel for if (g.planes() * g.H * g.W > kParallelMin)
  for (int64_t pc = 0; pc < g.planes(); ++pc) {
    T* dp = dx + pc * g.H * g.W;
    const T* gp = gy + pc * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        Window b = win(oh, ow);
        T share = static_cast<T>(gp[oh * g.OW + ow] / b.count);
        for (int64_t ih = b.h0; ih < b.h1; ++ih)
          for (int64_t iw = b.w0; iw < b.w1; ++iw) dp[ih * g.W + iw] += share;
      }
    }
  }
}

PoolGeom make_geom(const Tensor& x, const Tensor& y) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), y.size(2), y.size(3), x.stride(0), x.stride(1), x.stride(2),
          x.stride(3)};
}

// A contiguous zeroed gradient buffer for dx, added into dx afterwards when it is not dx itself.
Tensor gradient_buffer(const Tensor& dx) {
  if (dx.is_contiguous() && dx.dtype() != DType::BF16) return dx;
  return Tensor::zeros(dx.shape(), dx.dtype() == DType::F64 ? DType::F64 : DType::F32);
}

// t itself when contiguous, else a contiguous buffer of its shape and dtype to copy into t.
Tensor contiguous_buffer(const Tensor& t) {
  return t.is_contiguous() ? t : Tensor::empty(t.shape(), t.dtype());
}

template <class F>
void with_windows(const PoolWindows& win, const PoolGeom& g, F&& f) {
  if (win.kind == PoolWindows::Kind::Fixed) f(FixedWindows{win.kernel, win.stride, win.pad, g.H, g.W});
  else f(AdaptiveWindows{g.H, g.W, g.OH, g.OW});
}

}  // namespace

void CpuBackend::max_pool2d(const Tensor& x_in, int64_t kernel, int64_t stride, int64_t pad, const Tensor& y_in,
                            const Tensor& argmax) {
  Tensor x = widened(x_in), y = contiguous_buffer(widened_output(y_in)), idx = contiguous_buffer(argmax);
  const PoolGeom g = make_geom(x, y);
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "max_pool2d", [&] {
    max_forward(g, x.data<scalar_t>(), kernel, stride, pad, y.data<scalar_t>(), idx.data<int64_t>());
  });
  if (!idx.same(argmax)) copy(idx, argmax);
  if (!y.same(y_in)) copy(y, y_in);
}

void CpuBackend::max_pool2d_backward(const Tensor& gy_in, const Tensor& argmax, const Tensor& dx) {
  Tensor gy = widened(gy_in).contiguous(), acc = gradient_buffer(dx);
  const PoolGeom g = make_geom(acc, gy);
  SLIMSSL_DISPATCH_FLOAT(acc.dtype(), "max_pool2d backward", [&] {
    max_backward(g, gy.data<scalar_t>(), argmax.contiguous().data<int64_t>(), acc.data<scalar_t>());
  });
  if (!acc.same(dx)) binary(BinaryOp::Add, dx, acc, dx, 1.0);
}

void CpuBackend::avg_pool2d(const Tensor& x_in, const PoolWindows& win, const Tensor& y_in) {
  Tensor x = widened(x_in), y = contiguous_buffer(widened_output(y_in));
  const PoolGeom g = make_geom(x, y);
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "avg_pool2d", [&] {
    with_windows(win, g, [&](const auto& w) { avg_forward(g, x.data<scalar_t>(), w, y.data<scalar_t>()); });
  });
  if (!y.same(y_in)) copy(y, y_in);
}

void CpuBackend::avg_pool2d_backward(const Tensor& gy_in, const PoolWindows& win, const Tensor& dx) {
  Tensor gy = widened(gy_in).contiguous(), acc = gradient_buffer(dx);
  const PoolGeom g = make_geom(acc, gy);
  SLIMSSL_DISPATCH_FLOAT(acc.dtype(), "avg_pool2d backward", [&] {
    with_windows(win, g, [&](const auto& w) { avg_backward(g, gy.data<scalar_t>(), w, acc.data<scalar_t>()); });
  });
  if (!acc.same(dx)) binary(BinaryOp::Add, dx, acc, dx, 1.0);
}

}  // namespace slimssl::cpu
