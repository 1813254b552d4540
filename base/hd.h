// SLIMSSL_HD marks a function that runs on the host and, compiled by nvcc, on the device too. The
// base layer's formulas (bf16 rounding, the RNG, the scalar ops) are written once with it, so the
// CPU reference and the CUDA kernels compute the same thing by construction.
#pragma once

#if defined(__CUDACC__)
#define SLIMSSL_HD __host__ __device__ __forceinline__
#else
#define SLIMSSL_HD inline
#endif
