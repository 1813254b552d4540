// Counter-based uniforms: see random.h.
#include "kernels/random.h"
#include <cuda_runtime.h>
#include <algorithm>
#include "base/error.h"
#include "base/rng.h"
#include "kernels/launch.h"
#include "kernels/offset_calc.h"

namespace slimssl::kernels {
namespace {

// The walk keeps the logical order (no reordering), so linear index e is element e; a contiguous
// tensor walks one dimension of stride 1, with no division.
template <class T>
__global__ void __launch_bounds__(kBlock) uniform_kernel(int64_t n, OffsetCalc<1> oc, T* out, uint64_t seed,
                                                         uint64_t counter) {
  const int64_t groups = (n + 3) / 4;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; g < groups; g += step) {
    const Philox4x32 block = element_block(seed, counter, static_cast<uint64_t>(g));
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int64_t e = 4 * g + k;
      if (e >= n) break;
      int64_t off[1];
      oc.get(static_cast<uint64_t>(e), off);
      out[off[0]] = convert<T>(word_uniform(block.v[k]));
    }
  }
}

// inverse[] holds the swap partners until the swaps are done, then the inverse.
__global__ void __launch_bounds__(kBlock) permutation_kernel(int64_t n, uint64_t seed, const int64_t* counter,
                                                             uint32_t tag, int64_t* order, int64_t* inverse) {
  const uint64_t c = static_cast<uint64_t>(*counter);
  const uint32_t low = static_cast<uint32_t>(c), high = static_cast<uint32_t>(c >> 32);
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    order[k] = k;
    const int64_t i = n - 1 - k;  // draw k decides the swap at position i
    if (i > 0) inverse[i] = shuffle_partner(stream_word(seed, low, high, tag, static_cast<uint32_t>(k)), i);
  }
  __syncthreads();
  if (threadIdx.x == 0)
    for (int64_t i = n - 1; i > 0; --i) {
      const int64_t j = inverse[i], t = order[i];
      order[i] = order[j], order[j] = t;
    }
  __syncthreads();
  for (int64_t k = threadIdx.x; k < n; k += blockDim.x) inverse[order[k]] = k;
}

}  // namespace

void random_permutation(int64_t n, uint64_t seed, const int64_t* counter, uint32_t tag, int64_t* order,
                        int64_t* inverse, cudaStream_t stream) {
  SLIMSSL_CHECK(n >= 0 && n < (int64_t(1) << 31), "cuda random_permutation: n = ", n, " must be in [0, 2^31)");
  if (n == 0) return;
  permutation_kernel<<<1, kBlock, 0, stream>>>(n, seed, counter, tag, order, inverse);
}

void uniform(DType type, const Strided& out, uint64_t seed, uint64_t counter, cudaStream_t stream) {
  IterShape<1> it(out.rank, out.shape);
  it.set_strides(0, out.strides);
  const int64_t n = it.numel();
  if (n == 0) return;
  it.simplify(/*reorder=*/false);
  SLIMSSL_DISPATCH_FLOAT_BF16(type, "cuda uniform", [&] {
    uniform_kernel<scalar_t><<<grid_for((n + 3) / 4), kBlock, 0, stream>>>(n, it.calc(), static_cast<scalar_t*>(out.data), seed, counter);
  });
}

}  // namespace slimssl::kernels
