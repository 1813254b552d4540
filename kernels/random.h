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

// order[0, n) = random_permutation(n, RandomStream(seed, low, high, tag)) of base/rng.h, where
// (low, high) are the two halves of the int64 *counter, read on the device (a step number kept
// in device memory: nothing of the step comes from the host, so a captured graph draws a new
// permutation on every replay). inverse[order[i]] = i. One block: its threads draw the shuffle's
// words in parallel, one thread swaps (n words, n swaps: microseconds for a batch). n < 2^31.
void random_permutation(int64_t n, uint64_t seed, const int64_t* counter, uint32_t tag, int64_t* order,
                        int64_t* inverse, cudaStream_t stream);

}  // namespace slimssl::kernels
