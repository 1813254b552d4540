// 2-d pooling on the CPU: max (gradient to the argmax), average (padding counted, PyTorch's
// count_include_pad=True) and adaptive average (PyTorch's floor/ceil bins). Inputs are read
// through their strides; every (image, channel) plane is independent, so planes split over threads.
#include <cmath>
#include <limits>
#include "engine/ops.h"

namespace slimssl {
namespace {

struct PoolGeom {
  int64_t N, C, H, W, OH, OW;
  int64_t sN, sC, sH, sW;  // input strides
  int64_t planes() const { return N * C; }
  // Element offset of plane `pc` (= n * C + c) in the input.
  int64_t plane_offset(int64_t pc) const { return (pc / C) * sN + (pc % C) * sC; }
};

PoolGeom make_geom(const Tensor& x, int64_t oh, int64_t ow) {
  return {x.size(0), x.size(1), x.size(2), x.size(3), oh, ow, x.stride(0), x.stride(1), x.stride(2), x.stride(3)};
}

constexpr int64_t kParallelMin = 1 << 15;  // below this many elements threads cost more than they save

void check_pool_input(const char* op, const Tensor& x) {
  require_cpu(op, x);
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

// Shared by the two average pools: forward now, backward recorded with the same windows.
template <class Windows>
Tensor average_pool(const char* op, const Tensor& x, const PoolGeom& g, const Windows& win) {
  Tensor out = Tensor::empty({g.N, g.C, g.OH, g.OW}, x.dtype());
  Tensor xd = x.detach();
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), op, [&] { avg_forward(g, xd.data<scalar_t>(), win, out.data<scalar_t>()); });
  return record(op, out, {x}, [g, win, op](const Tensor& gy_in, GradSink& s) {
    Tensor gy = gy_in.contiguous();
    Tensor dx = Tensor::zeros({g.N, g.C, g.H, g.W}, gy.dtype());
    SLIMSSL_DISPATCH_FLOAT(gy.dtype(), op, [&] { avg_backward(g, gy.data<scalar_t>(), win, dx.data<scalar_t>()); });
    s.add(0, dx);
  });
}

}  // namespace

Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad) {
  check_pool_input("max_pool2d", x);
  int64_t oh = window_out("max_pool2d", x, x.size(2), kernel, stride, pad);
  int64_t ow = window_out("max_pool2d", x, x.size(3), kernel, stride, pad);
  PoolGeom g = make_geom(x, oh, ow);
  Tensor out = Tensor::empty({g.N, g.C, oh, ow}, x.dtype());
  Tensor idx = Tensor::empty({g.N, g.C, oh, ow}, DType::I64);
  Tensor xd = x.detach();
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "max_pool2d", [&] {
    max_forward(g, xd.data<scalar_t>(), kernel, stride, pad, out.data<scalar_t>(), idx.data<int64_t>());
  });
  return record("max_pool2d", out, {x}, [g, idx](const Tensor& gy_in, GradSink& s) {
    Tensor gy = gy_in.contiguous();
    Tensor dx = Tensor::zeros({g.N, g.C, g.H, g.W}, gy.dtype());
    SLIMSSL_DISPATCH_FLOAT(gy.dtype(), "max_pool2d", [&] {
      max_backward(g, gy.data<scalar_t>(), idx.data<int64_t>(), dx.data<scalar_t>());
    });
    s.add(0, dx);
  });
}

Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad) {
  check_pool_input("avg_pool2d", x);
  int64_t oh = window_out("avg_pool2d", x, x.size(2), kernel, stride, pad);
  int64_t ow = window_out("avg_pool2d", x, x.size(3), kernel, stride, pad);
  PoolGeom g = make_geom(x, oh, ow);
  return average_pool("avg_pool2d", x, g, FixedWindows{kernel, stride, pad, g.H, g.W});
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_pool_input("adaptive_avg_pool2d", x);
  SLIMSSL_CHECK(out_h > 0 && out_w > 0, "adaptive_avg_pool2d: output size must be positive, got ", out_h, "x",
                out_w);
  SLIMSSL_CHECK(x.size(2) > 0 && x.size(3) > 0, "adaptive_avg_pool2d: empty spatial input ",
                shape_str(x.shape()));
  PoolGeom g = make_geom(x, out_h, out_w);
  return average_pool("adaptive_avg_pool2d", x, g, AdaptiveWindows{g.H, g.W, out_h, out_w});
}

}  // namespace slimssl
