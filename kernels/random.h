// Counter-based uniforms on the GPU: the numbers of base/rng.h's element_uniform, so a tensor
// filled under (seed, counter) holds the same values on every device.
#pragma once
#include <cuda_runtime_api.h>
#include <cstdint>
#include "base/dtype.h"
#include "kernels/strided.h"

namespace slimssl::kernels {

// out (float dtype, any strides): element e in logical row-major order = element_uniform(seed,
// counter, e), converted to out's dtype. One thread draws one Philox block (element_block) and
// writes the four elements it serves.
void uniform(DType type, const Strided& out, uint64_t seed, uint64_t counter, cudaStream_t stream);

}  // namespace slimssl::kernels
