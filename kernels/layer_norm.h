// Layer normalization of each row of x [rows, cols] (the engine hands contiguous rows; any row
// and column strides are read). Data float32, bfloat16 or float64; mean, invstd, weight, bias and
// their gradients float32 (float64 for float64 data), accumulated likewise.
//
// One block per row (grid-stride over rows) for the row statistics and dx; the weight and bias
// gradients are column sums over the rows, cut into row splits by shape and added in a fixed
// order (kernels/reductions.cuh): deterministic, no atomics.
#pragma once
#include <cuda_runtime_api.h>
#include <cstddef>
#include <cstdint>
#include "base/dtype.h"
#include "kernels/norm_args.h"

namespace slimssl::kernels {

struct Rows2d {
  int64_t rows = 0, cols = 0;
};
struct Strides2 {
  int64_t r = 0, c = 1;
};

// y = (x - mean) * invstd * weight + bias per row, invstd = 1 / sqrt(biased var + eps); mean and
// invstd [rows] are written for the backward.
void layer_norm_forward(const Rows2d& s, DType dt, const void* x, const Strides2& xs, VecIn weight, VecIn bias,
                        double eps, void* y, const Strides2& ys, VecOut mean, VecOut invstd, cudaStream_t stream);

size_t layer_norm_backward_workspace_bytes(const Rows2d& s, DType dt);

// d = gy * weight: dx = invstd * (d - mean(d) - xhat * mean(d * xhat)); dw[j] = sum_r gy * xhat,
// db[j] = sum_r gy. Each output optional, overwritten.
void layer_norm_backward(const Rows2d& s, DType dt, const void* gy, const Strides2& gys, const void* x,
                         const Strides2& xs, VecIn mean, VecIn invstd, VecIn weight, void* dx, const Strides2& dxs,
                         VecOut dw, VecOut db, void* workspace, cudaStream_t stream);

}  // namespace slimssl::kernels
