// Batch normalization over the channels of x [N, C, H, W] (an [N, C] input is [N, C, 1, 1]), any
// strides (NCHW, channels-last, views). Data float32, bfloat16 or float64; statistics, weights and
// their gradients float32 (float64 for float64 data), accumulated in float32 (float64).
//
// Reductions are deterministic: each channel's (n, h, w) range is cut into row splits by shape
// alone, each block sums its split in a fixed tree, and a second kernel adds the splits in order
// (kernels/reductions.cuh). The statistics take two passes (the mean, then the squared deviations
// from it), as the CPU reference does, so there is no cancellation.
#pragma once
#include <cuda_runtime_api.h>
#include <cstddef>
#include "base/dtype.h"
#include "kernels/norm_args.h"
#include "kernels/tensor4d.h"

namespace slimssl::kernels {

// Bytes of workspace batch_norm_stats and batch_norm_backward need (the caller owns it).
size_t batch_norm_workspace_bytes(const Dims4& d, const Strides4& xs, DType dt);

// mean[c] and the biased var[c] over (n, h, w).
void batch_norm_stats(const Dims4& d, DType dt, const void* x, const Strides4& xs, VecOut mean, VecOut var,
                      void* workspace, cudaStream_t stream);

// y = (x - mean[c]) * invstd[c] * weight[c] + bias[c] (weight, bias optional).
void batch_norm_forward(const Dims4& d, DType dt, const void* x, const Strides4& xs, VecIn mean, VecIn invstd,
                        VecIn weight, VecIn bias, void* y, const Strides4& ys, cudaStream_t stream);

// With xhat = (x - mean) * invstd: dw[c] = sum gy * xhat, db[c] = sum gy (each optional, overwritten),
// and dx (optional, overwritten) = weight * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)) in
// training (through the batch statistics), weight * invstd * gy in eval.
void batch_norm_backward(const Dims4& d, DType dt, const void* gy, const Strides4& gys, const void* x,
                         const Strides4& xs, VecIn mean, VecIn invstd, VecIn weight, bool training, void* dx,
                         const Strides4& dxs, VecOut dw, VecOut db, void* workspace, cudaStream_t stream);

}  // namespace slimssl::kernels
