// The CudnnCopy path of the sliced convolution (internal to kernels/): the library alternative
// the custom kernels are measured against. Each call copies the weight slice into a contiguous
// buffer of the activations' type (memory from the caching allocator), runs cuDNN's legacy
// convolution API with the algorithm cudnnFind* picked once per shape, and for the weight
// gradient adds cuDNN's contiguous result back into the parent's gradient.
#pragma once
#include "kernels/sliced_conv.h"

namespace slimssl::kernels::detail {

void cudnn_conv_forward(const SlicedConvShape& s, DType act, const void* x, const float* w, SliceStrides ws,
                        void* y, cudaStream_t stream);
void cudnn_conv_backward_data(const SlicedConvShape& s, DType act, const void* dy, const float* w,
                              SliceStrides ws, void* dx, cudaStream_t stream);
void cudnn_conv_backward_weight(const SlicedConvShape& s, DType act, const void* x, const void* dy, float* dw,
                                SliceStrides ws, cudaStream_t stream);

}  // namespace slimssl::kernels::detail
