// 2-d pooling of x [N, C, H, W] into [N, C, OH, OW], every operand read or written through its
// own strides (NCHW, channels-last, views). Data float32, bfloat16 or float64 (computed in
// float32, float64 for float64).
//
// Backward passes use no atomics. Average pooling gathers: each input element sums the shares of
// the outputs whose windows hold it. Max pooling's backward has only the argmax (not the window
// geometry) and so walks each (n, c) plane's outputs in order on one thread, adding into dx: the
// planes run in parallel, and the order of additions is the CPU reference's.
#pragma once
#include <cuda_runtime_api.h>
#include <cstdint>
#include "base/dtype.h"
#include "kernels/tensor4d.h"

namespace slimssl::kernels {

struct PoolShape {
  Dims4 in;  // [N, C, H, W]
  int64_t oh = 1, ow = 1;
  SLIMSSL_HD Dims4 out() const { return {in.n, in.c, oh, ow}; }
};

// y = the maximum of each k x k window (stride, zero-free padding that acts as -inf); argmax
// (int64) = h * W + w of the window's first maximum within its plane; NaN counts as the maximum.
void max_pool2d_forward(const PoolShape& s, DType dt, const void* x, const Strides4& xs, int64_t kernel,
                        int64_t stride, int64_t pad, void* y, const Strides4& ys, int64_t* argmax,
                        const Strides4& as, cudaStream_t stream);
// dx += gy routed to argmax (entries < 0 route nothing).
void max_pool2d_backward(const PoolShape& s, DType dt, const void* gy, const Strides4& gys, const int64_t* argmax,
                         const Strides4& as, void* dx, const Strides4& dxs, cudaStream_t stream);

// Fixed windows (k x k, stride, padding counted in the divisor k * k, with pad <= k / 2) or
// adaptive bins (rows [floor(o H / OH), ceil((o + 1) H / OH)), the bin size as divisor).
struct AvgWindows {
  bool adaptive = false;
  int64_t kernel = 1, stride = 1, pad = 0;
};
void avg_pool2d_forward(const PoolShape& s, DType dt, const AvgWindows& win, const void* x, const Strides4& xs,
                        void* y, const Strides4& ys, cudaStream_t stream);
// dx += each output's gradient divided by its window's divisor, over the window.
void avg_pool2d_backward(const PoolShape& s, DType dt, const AvgWindows& win, const void* gy, const Strides4& gys,
                         void* dx, const Strides4& dxs, cudaStream_t stream);

}  // namespace slimssl::kernels
