// Indexing kernels: see index.h.
#include "kernels/index.h"
#include <cuda_runtime.h>
#include <algorithm>
#include "base/error.h"
#include "kernels/launch.h"
#include "kernels/offset_calc.h"

namespace slimssl::kernels {
namespace {

// Operands: 0 out, 1 x (its `dim` stride zeroed: the index supplies that coordinate), 2 index.
template <class E>
__global__ void __launch_bounds__(kBlock) gather_kernel(int64_t n, OffsetCalc<3> oc, E* out, const E* x,
                                                        const int64_t* index, int64_t x_dim_stride) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[3];
    oc.get(static_cast<uint64_t>(i), off);
    out[off[0]] = x[off[1] + index[off[2]] * x_dim_stride];
  }
}

// One thread per line (operands over the lines: 0 dst with its `dim` stride zeroed, 1 src,
// 2 index); along the line, position j of src and index, and dst at the indexed coordinate.
template <class T>
__global__ void __launch_bounds__(kBlock) scatter_add_kernel(int64_t lines, int64_t length, OffsetCalc<3> oc, T* dst,
                                                             const T* src, const int64_t* index, int64_t dst_step,
                                                             int64_t src_step, int64_t index_step) {
  using C = typename compute_type<T>::type;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t line = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; line < lines; line += step) {
    int64_t off[3];
    oc.get(static_cast<uint64_t>(line), off);
    for (int64_t j = 0; j < length; ++j) {
      T& d = dst[off[0] + index[off[2] + j * index_step] * dst_step];
      d = convert<T>(convert<C>(d) + convert<C>(src[off[1] + j * src_step]));
    }
  }
}

__global__ void __launch_bounds__(kBlock) index_in_range_kernel(int64_t n, OffsetCalc<1> oc, const int64_t* index,
                                                                int64_t limit, unsigned* bad) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[1];
    oc.get(static_cast<uint64_t>(i), off);
    const int64_t v = index[off[0]];
    if (v < 0 || v >= limit) atomicOr(bad, 1u);
  }
}

// Elements move as raw bits of their size.
template <int kBytes> struct Bits;
template <> struct Bits<1> { using type = uint8_t; };
template <> struct Bits<2> { using type = uint16_t; };
template <> struct Bits<4> { using type = uint32_t; };
template <> struct Bits<8> { using type = uint64_t; };

template <int kBytes>
void launch_gather(int64_t n, const OffsetCalc<3>& oc, void* out, const void* x, const void* index, int64_t x_dim_stride,
                   cudaStream_t s) {
  using E = typename Bits<kBytes>::type;
  gather_kernel<E><<<grid_for(n), kBlock, 0, s>>>(n, oc, static_cast<E*>(out), static_cast<const E*>(x), static_cast<const int64_t*>(index), x_dim_stride);
}

void check_dim(const char* op, const Strided& t, int dim) {
  SLIMSSL_CHECK(dim >= 0 && dim < t.rank, op, ": dimension ", dim, " is out of range for rank ", t.rank);
}

bool same_shape(const Strided& a, const Strided& b) {
  if (a.rank != b.rank) return false;
  for (int d = 0; d < a.rank; ++d)
    if (a.shape[d] != b.shape[d]) return false;
  return true;
}

}  // namespace

void gather(DType type, const Strided& x, int dim, const Strided& index, const Strided& out, cudaStream_t stream) {
  check_dim("cuda gather", x, dim);
  SLIMSSL_CHECK(index.rank == x.rank && same_shape(index, out), "cuda gather: index and out must have one shape, of x's rank");
  IterShape<3> it(index.rank, index.shape);
  int64_t x_strides[kMaxRank];
  std::copy(x.strides, x.strides + x.rank, x_strides);
  x_strides[dim] = 0;
  it.set_strides(0, out.strides);
  it.set_strides(1, x_strides);
  it.set_strides(2, index.strides);
  const int64_t n = it.numel();
  if (n == 0) return;
  it.simplify(/*reorder=*/true);
  const OffsetCalc<3> oc = it.calc();
  switch (dtype_size(type)) {
    case 1: return launch_gather<1>(n, oc, out.data, x.data, index.data, x.strides[dim], stream);
    case 2: return launch_gather<2>(n, oc, out.data, x.data, index.data, x.strides[dim], stream);
    case 4: return launch_gather<4>(n, oc, out.data, x.data, index.data, x.strides[dim], stream);
    case 8: return launch_gather<8>(n, oc, out.data, x.data, index.data, x.strides[dim], stream);
  }
  fail("cuda gather: unsupported dtype ", dtype_name(type));
}

void scatter_add(DType type, const Strided& dst, int dim, const Strided& index, const Strided& src,
                 cudaStream_t stream) {
  check_dim("cuda scatter_add", dst, dim);
  SLIMSSL_CHECK(index.rank == dst.rank && same_shape(index, src),
                "cuda scatter_add: index and src must have one shape, of dst's rank");
  // The lines: index's shape without `dim`.
  int64_t shape[kMaxRank], dst_s[kMaxRank], src_s[kMaxRank], index_s[kMaxRank];
  int r = 0;
  for (int d = 0; d < index.rank; ++d) {
    if (d == dim) continue;
    shape[r] = index.shape[d], dst_s[r] = dst.strides[d], src_s[r] = src.strides[d], index_s[r] = index.strides[d];
    ++r;
  }
  IterShape<3> it(r, shape);
  it.set_strides(0, dst_s);
  it.set_strides(1, src_s);
  it.set_strides(2, index_s);
  const int64_t lines = it.numel(), length = index.shape[dim];
  if (lines == 0 || length == 0) return;
  it.simplify(/*reorder=*/true);
  const OffsetCalc<3> oc = it.calc();
  SLIMSSL_DISPATCH_FLOAT_BF16(type, "cuda scatter_add", [&] {
    scatter_add_kernel<scalar_t><<<grid_for(lines), kBlock, 0, stream>>>(lines, length, oc, static_cast<scalar_t*>(dst.data), static_cast<const scalar_t*>(src.data), static_cast<const int64_t*>(index.data), dst.strides[dim], src.strides[dim], index.strides[dim]);
  });
}

void index_in_range(const Strided& index, int64_t limit, unsigned* bad_flag, cudaStream_t stream) {
  check_cuda(cudaMemsetAsync(bad_flag, 0, sizeof(unsigned), stream), "cuda index_in_range (cudaMemsetAsync)");
  IterShape<1> it(index.rank, index.shape);
  it.set_strides(0, index.strides);
  const int64_t n = it.numel();
  if (n == 0) return;
  it.simplify(/*reorder=*/true);
  index_in_range_kernel<<<grid_for(n), kBlock, 0, stream>>>(n, it.calc(), static_cast<const int64_t*>(index.data), limit, bad_flag);
}

}  // namespace slimssl::kernels
