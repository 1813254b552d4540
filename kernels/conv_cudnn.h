// Convolution through cuDNN (its legacy convolution API), behind a plain-pointer API: forward,
// backward-data and backward-filter, with groups (depthwise included), stride, padding and
// dilation, for float32 (FMA math: no TF32, so results match the CPU tightly), bfloat16 (tensor
// cores, float32 accumulation) and float64.
//
// Activations are 4-d strided descriptors: the caller hands dense NCHW or dense channels-last
// (NHWC strides) and packs anything else first. The filter is packed ([k, c/groups, r, s] dense,
// KCRS, or KRSC for channels-last activations) in the activations' dtype: the engine copies its
// weight view into that buffer, and adds the packed weight gradient back into its strided region.
//
// The algorithm of each (problem, direction) is picked once, by cudnnFind* (which times every
// algorithm, allocating its own buffers and synchronizing the device: warm shapes up before
// capturing a CUDA graph), keeping the fastest deterministic one, and cached with the problem's
// descriptors per handle. Calls then allocate nothing: the caller passes conv_algo's workspace.
#pragma once
#include <cuda_runtime_api.h>
#include <cstddef>
#include <cstdint>
#include "base/dtype.h"
#include "kernels/sliced_conv.h"
#include "kernels/tensor4d.h"

struct cudnnContext;  // cuDNN's handle type (cudnnHandle_t is cudnnContext*)

namespace slimssl::kernels {

using DnnHandle = cudnnContext*;

DnnHandle dnn_create(cudaStream_t stream);  // work goes to `stream`
void dnn_destroy(DnnHandle h);

struct ConvProblem {
  Dims4 x;           // [n, c, h, w]
  int64_t k = 1;     // output channels
  int64_t r = 1, s = 1;
  int64_t pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1, groups = 1;
  DType dt = DType::F32;  // x, filter and y
  Strides4 xs, ys;        // dense NCHW or dense channels-last
  bool filter_krsc = false;
  int64_t out_h() const { return (x.h + 2 * pad_h - dil_h * (r - 1) - 1) / stride_h + 1; }
  int64_t out_w() const { return (x.w + 2 * pad_w - dil_w * (s - 1) - 1) / stride_w + 1; }
  Dims4 y() const { return {x.n, k, out_h(), out_w()}; }
  Dims4 filter() const { return {k, x.c / groups, r, s}; }
  // The packed filter's strides in [k, c/groups, r, s] order.
  Strides4 filter_strides() const {
    const Dims4 f = filter();
    return filter_krsc ? nhwc_strides(f) : nchw_strides(f);
  }
};

struct ConvAlgo {
  int algo = 0;
  int math = 0;  // cudnnMathType_t the algorithm was found with
  size_t workspace_bytes = 0;
};

ConvAlgo conv_algo(DnnHandle h, const ConvProblem& p, ConvDir dir);

// Outputs are overwritten. `workspace` holds at least the algorithm's workspace_bytes.
void conv_forward(DnnHandle h, const ConvProblem& p, const ConvAlgo& a, const void* x, const void* w, void* y,
                  void* workspace);
void conv_backward_data(DnnHandle h, const ConvProblem& p, const ConvAlgo& a, const void* dy, const void* w, void* dx,
                        void* workspace);
void conv_backward_filter(DnnHandle h, const ConvProblem& p, const ConvAlgo& a, const void* x, const void* dy,
                          void* dw, void* workspace);

}  // namespace slimssl::kernels
