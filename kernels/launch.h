// Host-side helpers of the plain-pointer kernels: error checks that throw slimssl::Error naming
// the kernel, and grid sizes for grid-stride loops.
#pragma once
#include <cuda_runtime_api.h>
#include <algorithm>
#include <cstdint>
#include "base/error.h"

namespace slimssl::kernels {

inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail("CUDA error in ", what, ": ", cudaGetErrorString(e));
}
inline void check_launch(const char* kernel) { check_cuda(cudaGetLastError(), kernel); }

constexpr int kBlock = 256;  // threads of the elementwise and reduction kernels

// Blocks of kBlock threads for a grid-stride loop over n items: one item per thread up to a cap
// (a few waves on any current GPU), after which each thread loops.
inline unsigned grid_for(int64_t n, int64_t cap = 8192) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((n + kBlock - 1) / kBlock, cap)));
}

}  // namespace slimssl::kernels
