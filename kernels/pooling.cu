// Pooling kernels: see pooling.h. Forward: one thread per output; average backward: one thread
// per input element; max backward: one thread per (n, c) plane.
#include "kernels/pooling.h"
#include "kernels/launch.h"

namespace slimssl::kernels {
namespace {

template <class T>
using acc_t = typename compute_type<T>::type;

__device__ __forceinline__ int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }
__device__ __forceinline__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// Output (oh, ow)'s window: rows [h0, h1), columns [w0, w1) clipped to the input, and its divisor.
struct Window {
  int64_t h0, h1, w0, w1, count;
  __device__ bool holds(int64_t h, int64_t w) const { return h >= h0 && h < h1 && w >= w0 && w < w1; }
};

struct Windows {
  AvgWindows a;
  int64_t H, W, OH, OW;
  __device__ Window at(int64_t oh, int64_t ow) const {
    if (a.adaptive) {
      const int64_t h0 = oh * H / OH, h1 = ((oh + 1) * H + OH - 1) / OH;  // floor, ceil
      const int64_t w0 = ow * W / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
      return {h0, h1, w0, w1, (h1 - h0) * (w1 - w0)};
    }
    const int64_t h = oh * a.stride - a.pad, w = ow * a.stride - a.pad;
    return {imax(h, 0), imin(h + a.kernel, H), imax(w, 0), imin(w + a.kernel, W),
            a.kernel * a.kernel};
  }
  // The outputs along one axis whose windows can hold input coordinate i (the caller still
  // checks holds(): this is only the candidate range).
  __device__ void candidates(int64_t i, int64_t in, int64_t out, int64_t& lo, int64_t& hi) const {
    if (a.adaptive) {
      lo = i * out / in, hi = ((i + 1) * out - 1) / in;
    } else {
      const int64_t top = i + a.pad - a.kernel + 1;  // the first window start that still reaches i
      lo = top <= 0 ? 0 : (top + a.stride - 1) / a.stride;
      hi = (i + a.pad) / a.stride;
    }
    hi = imin(hi, out - 1);
  }
};

#define SLIMSSL_GRID_STRIDE(i, n)                                                                  \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

template <class T>
__global__ void __launch_bounds__(kBlock) max_forward_kernel(PoolShape s, const T* x, Strides4 xs, int64_t k,
                                                             int64_t stride, int64_t pad, T* y, Strides4 ys,
                                                             int64_t* argmax, Strides4 as) {
  using A = acc_t<T>;
  const Dims4 od = s.out();
  SLIMSSL_GRID_STRIDE(e, od.numel()) {
    const Index4 o = unravel(e, od, false);
    const int64_t h = o.h * stride - pad, w = o.w * stride - pad;
    A best = 0;
    int64_t arg = -1;
    for (int64_t ih = imax(h, 0); ih < imin(h + k, s.in.h); ++ih)
      for (int64_t iw = imax(w, 0); iw < imin(w + k, s.in.w); ++iw) {
        const A v = convert<A>(x[xs.at({o.n, o.c, ih, iw})]);
        if (arg < 0 || v > best || (v != v && best == best)) best = v, arg = ih * s.in.w + iw;
      }
    y[ys.at(o)] = convert<T>(arg < 0 ? -INFINITY : best);
    argmax[as.at(o)] = arg;
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock) max_backward_kernel(PoolShape s, const T* gy, Strides4 gys,
                                                              const int64_t* argmax, Strides4 as, T* dx,
                                                              Strides4 dxs) {
  using A = acc_t<T>;
  SLIMSSL_GRID_STRIDE(plane, s.in.n * s.in.c) {
    const int64_t n = plane / s.in.c, c = plane % s.in.c;
    for (int64_t oh = 0; oh < s.oh; ++oh)
      for (int64_t ow = 0; ow < s.ow; ++ow) {
        const int64_t a = argmax[as.at({n, c, oh, ow})];
        if (a < 0) continue;
        T* d = dx + dxs.at({n, c, a / s.in.w, a % s.in.w});
        *d = convert<T>(convert<A>(*d) + convert<A>(gy[gys.at({n, c, oh, ow})]));
      }
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock) avg_forward_kernel(PoolShape s, Windows win, const T* x, Strides4 xs, T* y,
                                                             Strides4 ys) {
  using A = acc_t<T>;
  const Dims4 od = s.out();
  SLIMSSL_GRID_STRIDE(e, od.numel()) {
    const Index4 o = unravel(e, od, false);
    const Window b = win.at(o.h, o.w);
    A acc = 0;
    for (int64_t ih = b.h0; ih < b.h1; ++ih)
      for (int64_t iw = b.w0; iw < b.w1; ++iw) acc += convert<A>(x[xs.at({o.n, o.c, ih, iw})]);
    y[ys.at(o)] = convert<T>(acc / static_cast<A>(b.count));
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock) avg_backward_kernel(PoolShape s, Windows win, const T* gy, Strides4 gys,
                                                              T* dx, Strides4 dxs) {
  using A = acc_t<T>;
  SLIMSSL_GRID_STRIDE(e, s.in.numel()) {
    const Index4 i = unravel(e, s.in, false);
    int64_t oh0, oh1, ow0, ow1;
    win.candidates(i.h, s.in.h, s.oh, oh0, oh1);
    win.candidates(i.w, s.in.w, s.ow, ow0, ow1);
    A acc = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        const Window b = win.at(oh, ow);
        if (b.holds(i.h, i.w)) acc += convert<A>(gy[gys.at({i.n, i.c, oh, ow})]) / static_cast<A>(b.count);
      }
    T* d = dx + dxs.at(i);
    *d = convert<T>(convert<A>(*d) + acc);
  }
}

}  // namespace

void max_pool2d_forward(const PoolShape& s, DType dt, const void* x, const Strides4& xs, int64_t kernel,
                        int64_t stride, int64_t pad, void* y, const Strides4& ys, int64_t* argmax,
                        const Strides4& as, cudaStream_t st) {
  if (s.out().numel() == 0) return;
  SLIMSSL_DISPATCH_FLOAT_BF16(dt, "max_pool2d", [&] {
    using T = scalar_t;
    max_forward_kernel<T><<<grid_for(s.out().numel()), kBlock, 0, st>>>(s, static_cast<const T*>(x), xs, kernel, stride,
                                                                         pad, static_cast<T*>(y), ys, argmax, as);
  });
  check_launch("max_pool2d");
}

void max_pool2d_backward(const PoolShape& s, DType dt, const void* gy, const Strides4& gys, const int64_t* argmax,
                         const Strides4& as, void* dx, const Strides4& dxs, cudaStream_t st) {
  if (s.out().numel() == 0) return;
  SLIMSSL_DISPATCH_FLOAT_BF16(dt, "max_pool2d_backward", [&] {
    using T = scalar_t;
    max_backward_kernel<T><<<grid_for(s.in.n * s.in.c), kBlock, 0, st>>>(s, static_cast<const T*>(gy), gys, argmax, as,
                                                                         static_cast<T*>(dx), dxs);
  });
  check_launch("max_pool2d_backward");
}

void avg_pool2d_forward(const PoolShape& s, DType dt, const AvgWindows& win, const void* x, const Strides4& xs,
                        void* y, const Strides4& ys, cudaStream_t st) {
  if (s.out().numel() == 0) return;
  const Windows w{win, s.in.h, s.in.w, s.oh, s.ow};
  SLIMSSL_DISPATCH_FLOAT_BF16(dt, "avg_pool2d", [&] {
    using T = scalar_t;
    avg_forward_kernel<T><<<grid_for(s.out().numel()), kBlock, 0, st>>>(s, w, static_cast<const T*>(x), xs,
                                                                         static_cast<T*>(y), ys);
  });
  check_launch("avg_pool2d");
}

void avg_pool2d_backward(const PoolShape& s, DType dt, const AvgWindows& win, const void* gy, const Strides4& gys,
                         void* dx, const Strides4& dxs, cudaStream_t st) {
  if (s.in.numel() == 0 || s.out().numel() == 0) return;
  const Windows w{win, s.in.h, s.in.w, s.oh, s.ow};
  SLIMSSL_DISPATCH_FLOAT_BF16(dt, "avg_pool2d_backward", [&] {
    using T = scalar_t;
    avg_backward_kernel<T><<<grid_for(s.in.numel()), kBlock, 0, st>>>(s, w, static_cast<const T*>(gy), gys,
                                                                       static_cast<T*>(dx), dxs);
  });
  check_launch("avg_pool2d_backward");
}

}  // namespace slimssl::kernels
