// Sliced-channel convolution: conv2d forward, backward-data and backward-weight where the weight
// is the view W[:k_out, :k_in] of a larger float32 [O, C, kh, kw] weight (a slimmable layer at a
// width below 1.0). The kernels read the weight through the view's strides and add the weight
// gradient straight into the parent's gradient buffer through the same strides: the slice is
// never copied.
//
// Layout: activations NCHW, contiguous, float32 or bfloat16; weights and weight gradients are
// float32 (the master weights). Groups 1, dilation 1, symmetric padding.
//
// Two paths, both behind the same calls:
//   Custom     implicit GEMM (64 x 64 x 32 tiles, 128 threads):
//                V1Fma   CUDA-core float32 FMA,
//                V2Wmma  tensor cores (wmma bf16 16x16x16, float32 accumulation; float32
//                        activations and the weights are rounded to bf16 when staged).
//              Auto: V1Fma for float32 activations, V2Wmma for bfloat16.
//   CudnnCopy  the library alternative: copy the slice into a contiguous buffer (converted to the
//              activations' type), run cuDNN, and add the contiguous weight gradient back into the
//              parent's. The baseline the custom path is measured against.
// Path Auto uses Custom unless autotuning is on: then the first call for a (shape, dtype,
// direction) times both paths once on scratch outputs and caches the faster (a host-side map).
// Autotuning synchronizes the stream, so warm the cache up before capturing a CUDA graph.
#pragma once
#include <cuda_runtime_api.h>
#include <cstdint>
#include "base/dtype.h"

namespace slimssl::kernels {

struct SlicedConvShape {
  int batch = 0;
  int in_ch = 0;   // k_in: channels of x, the view's second extent
  int in_h = 0, in_w = 0;
  int out_ch = 0;  // k_out: the view's first extent
  int kh = 1, kw = 1, stride = 1, pad = 0;
  int out_h() const { return (in_h + 2 * pad - kh) / stride + 1; }
  int out_w() const { return (in_w + 2 * pad - kw) / stride + 1; }
};

// Strides of the weight view in elements (those of the parent tensor).
struct SliceStrides {
  int64_t o = 0, c = 0, h = 0, w = 0;
};
// Strides of a contiguous [*, C, kh, kw] parent.
inline SliceStrides parent_strides(int parent_in_ch, int kh, int kw) {
  return {int64_t{parent_in_ch} * kh * kw, int64_t{kh} * kw, kw, 1};
}

enum class ConvPath { Auto, Custom, CudnnCopy };
enum class ConvKernel { Auto, V1Fma, V2Wmma };
enum class ConvDir { Forward, BackwardData, BackwardWeight };
const char* conv_path_name(ConvPath p);
const char* conv_kernel_name(ConvKernel k);
const char* conv_dir_name(ConvDir d);

struct SlicedConvOptions {
  ConvPath path = ConvPath::Auto;
  ConvKernel kernel = ConvKernel::Auto;  // for the custom path
  int wgrad_splits = 0;                  // split-K of the weight gradient; 0: enough to fill the GPU
};

// y [N, k_out, Ho, Wo] = conv(x [N, k_in, H, W], w[view]); y is overwritten.
void sliced_conv_forward(const SlicedConvShape& s, DType act, const void* x, const float* w, SliceStrides ws,
                         void* y, cudaStream_t stream, const SlicedConvOptions& o = {});
// dx [N, k_in, H, W] (overwritten) from dy [N, k_out, Ho, Wo].
void sliced_conv_backward_data(const SlicedConvShape& s, DType act, const void* dy, const float* w,
                               SliceStrides ws, void* dx, cudaStream_t stream, const SlicedConvOptions& o = {});
// dw[view] += dW (beta = 1): dw points at the parent gradient's element [0, 0, 0, 0].
void sliced_conv_backward_weight(const SlicedConvShape& s, DType act, const void* x, const void* dy, float* dw,
                                 SliceStrides ws, cudaStream_t stream, const SlicedConvOptions& o = {});

// Autotuning of path Auto (off by default), its cache, and what it chose (Auto: not tuned yet).
void sliced_conv_set_autotune(bool on);
bool sliced_conv_autotune();
ConvPath sliced_conv_cached_choice(const SlicedConvShape& s, DType act, ConvDir d);
void sliced_conv_clear_cache();

}  // namespace slimssl::kernels
