// Strided 4-d copy between float dtypes: dst[i] = src[i], or dst[i] += src[i], for every index of
// a [n, c, h, w] space walked through each side's strides (a stride of 0 broadcasts). The CUDA
// backend packs with it what the vendor libraries need dense (a weight slice into a packed filter,
// an operand cuBLAS cannot address), adds cuDNN's packed weight gradient back into the strided
// destination region, and adds a bias ([C] broadcast over n, h, w).
#pragma once
#include <cuda_runtime_api.h>
#include "base/dtype.h"
#include "kernels/tensor4d.h"

namespace slimssl::kernels {

// src_t and dst_t are float32, float64 or bfloat16; arithmetic in float32 (float64 when either
// side is). dst must not overlap src.
void pack4d(const Dims4& d, DType src_t, const void* src, const Strides4& ss, DType dst_t, void* dst,
            const Strides4& ds, bool accumulate, cudaStream_t stream);

}  // namespace slimssl::kernels
