// Indexing kernels: gather, its adjoint scatter_add, and the range check of an index tensor.
// Indices are int64 and may have any strides; so may every other operand.
#pragma once
#include <cuda_runtime_api.h>
#include <cstdint>
#include "base/dtype.h"
#include "kernels/strided.h"

namespace slimssl::kernels {

// out[p] = x[p with coordinate `dim` replaced by index[p]] over index's shape; out has index's
// shape and x's dtype (any dtype: elements are moved as bits); every index value must lie in
// [0, x.shape[dim]) (the engine checks with index_in_range first).
void gather(DType type, const Strided& x, int dim, const Strided& index, const Strided& out, cudaStream_t stream);

// dst[p with coordinate `dim` replaced by index[p]] += src[p] over index's shape (src has it too);
// dst and src of one float dtype. No atomics: one thread owns each line of positions that differ
// only in coordinate `dim` (only such positions can reach the same element) and adds them in
// increasing order of that coordinate, so repeated indices add up in a fixed order (the CPU
// backend's). Parallel over the lines, sequential along `dim`.
void scatter_add(DType type, const Strided& dst, int dim, const Strided& index, const Strided& src,
                 cudaStream_t stream);

// Sets *bad_flag (device memory) to 1 if any element of index lies outside [0, limit), else to 0.
void index_in_range(const Strided& index, int64_t limit, unsigned* bad_flag, cudaStream_t stream);

}  // namespace slimssl::kernels
