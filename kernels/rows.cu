// Row reductions and softmax: see rows.h for the launch shape and the determinism argument.
#include "kernels/rows.h"
#include <cuda_runtime.h>
#include <algorithm>
#include <limits>
#include "base/error.h"
#include "base/scalar_ops.h"
#include "kernels/launch.h"
#include "kernels/reductions.cuh"

namespace slimssl::kernels {
namespace {

constexpr int kWarps = kBlock / 32;
constexpr int64_t kNone = std::numeric_limits<int64_t>::max();  // "no column yet" of a (value, column) pair

template <class T>
using compute_t = typename compute_type<T>::type;

// The sum over the G threads of a row's group (a warp, or the whole block), to every thread, in a
// fixed order (kernels/reductions.cuh). `scratch`: kWarps values of shared memory.
template <int G, class C>
__device__ C group_sum(C v, C* scratch) {
  if constexpr (G == 32) return warp_sum(v);
  else return block_sum(v, scratch);
}

// The maximum over the group, to every thread; v is never NaN here (see softmax_rows_kernel), so
// max is commutative and the butterfly leaves the same value in every lane.
template <int G, class C>
__device__ C group_max(C v, C* scratch) {
#pragma unroll
  for (int m = 16; m >= 1; m /= 2) {
    const C o = __shfl_xor_sync(0xffffffffu, v, m);
    v = o > v ? o : v;
  }
  if constexpr (G != 32) {
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    v = scratch[0];
    for (int w = 1; w < kWarps; ++w) v = scratch[w] > v ? scratch[w] : v;
    __syncthreads();  // the scratch is reused by the group's next reduction
  }
  return v;
}

// Whether (v1, c1) beats (v2, c2) for the maximum: a NaN beats any number, a larger value beats
// a smaller one, and between equals (or two NaNs) the earlier column wins. A total order, so the
// combined result does not depend on the order of combination.
template <class C>
__device__ bool beats(C v1, int64_t c1, C v2, int64_t c2) {
  if (c1 == kNone) return false;
  if (c2 == kNone) return true;
  const bool n1 = v1 != v1, n2 = v2 != v2;
  if (n1 != n2) return n1;
  if (!n1 && v1 != v2) return v1 > v2;
  return c1 < c2;
}

template <int G, class C>
__device__ void group_argmax(C& v, int64_t& c, C* scratch_v, int64_t* scratch_c) {
#pragma unroll
  for (int m = 16; m >= 1; m /= 2) {
    const C ov = __shfl_xor_sync(0xffffffffu, v, m);
    const int64_t oc = __shfl_xor_sync(0xffffffffu, c, m);
    if (beats(ov, oc, v, c)) v = ov, c = oc;
  }
  if constexpr (G != 32) {
    if (threadIdx.x % 32 == 0) scratch_v[threadIdx.x / 32] = v, scratch_c[threadIdx.x / 32] = c;
    __syncthreads();
    v = scratch_v[0], c = scratch_c[0];
    for (int w = 1; w < kWarps; ++w)
      if (beats(scratch_v[w], scratch_c[w], v, c)) v = scratch_v[w], c = scratch_c[w];
    __syncthreads();
  }
}

// Calls row(r) for each row of `rows` owned by this thread's group of G threads (a grid-stride
// loop over the kBlock / G groups of each block).
template <int G, class Row>
__device__ __forceinline__ void for_each_row(int64_t rows, Row row) {
  constexpr int kRowsPerBlock = kBlock / G;
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / G; r < rows;
       r += static_cast<int64_t>(gridDim.x) * kRowsPerBlock)
    row(r);
}

template <RowReduce Op, int G, class T>
__global__ void __launch_bounds__(kBlock) reduce_rows_kernel(RowMatrix x, void* out, int64_t out_stride, double denom) {
  using C = compute_t<T>;
  __shared__ C scratch[kWarps];
  __shared__ int64_t scratch_c[kWarps];
  const int t = threadIdx.x % G;
  for_each_row<G>(x.rows, [&](int64_t r) {
    const T* row = static_cast<const T*>(x.data) + r * x.row_stride;
    if constexpr (Op == RowReduce::Sum || Op == RowReduce::Var) {
      C s = 0;
      for (int64_t c = t; c < x.cols; c += G) s += convert<C>(row[c]);
      s = group_sum<G>(s, scratch);
      if constexpr (Op == RowReduce::Var) {
        const C mean = s / static_cast<C>(x.cols);
        s = 0;
        for (int64_t c = t; c < x.cols; c += G) {
          const C d = convert<C>(row[c]) - mean;
          s += d * d;
        }
        s = group_sum<G>(s, scratch) / static_cast<C>(denom);
      }
      if (t == 0) static_cast<T*>(out)[r * out_stride] = convert<T>(s);
    } else {
      C best = 0;
      int64_t at = kNone;
      for (int64_t c = t; c < x.cols; c += G) {
        const C v = convert<C>(row[c]);
        if (beats(v, c, best, at)) best = v, at = c;
      }
      group_argmax<G>(best, at, scratch, scratch_c);
      if (t == 0) {
        if constexpr (Op == RowReduce::Max) static_cast<T*>(out)[r * out_stride] = row[at];
        else static_cast<int64_t*>(out)[r * out_stride] = at;
      }
    }
  });
}

// The row maximum ignores NaN (so the Max reduction never sees one); a NaN still reaches the sum
// of exponentials and makes its whole row NaN, as on the CPU.
template <bool kLog, int G, class T>
__global__ void __launch_bounds__(kBlock) softmax_rows_kernel(RowMatrix x, T* y, int64_t y_row_stride) {
  using C = compute_t<T>;
  __shared__ C scratch[kWarps];
  const int t = threadIdx.x % G;
  for_each_row<G>(x.rows, [&](int64_t r) {
    const T* row = static_cast<const T*>(x.data) + r * x.row_stride;
    T* out = y + r * y_row_stride;
    C m = -std::numeric_limits<C>::infinity();
    for (int64_t c = t; c < x.cols; c += G) {
      const C v = convert<C>(row[c]);
      m = v > m ? v : m;
    }
    m = group_max<G>(m, scratch);
    C z = 0;
    for (int64_t c = t; c < x.cols; c += G) z += math::exp(convert<C>(row[c]) - m);
    z = group_sum<G>(z, scratch);
    if constexpr (kLog) {
      const C lse = math::log(z);
      for (int64_t c = t; c < x.cols; c += G) out[c] = convert<T>((convert<C>(row[c]) - m) - lse);
    } else {
      for (int64_t c = t; c < x.cols; c += G) out[c] = convert<T>(math::exp(convert<C>(row[c]) - m) / z);
    }
  });
}

template <RowReduce Op, class T>
void launch_reduce(const RowMatrix& x, void* out, int64_t out_stride, double denom, cudaStream_t s) {
  if (x.cols <= kWarpRowMaxCols) {
    reduce_rows_kernel<Op, 32, T><<<grid_for(x.rows * 32), kBlock, 0, s>>>(x, out, out_stride, denom);
  } else {
    reduce_rows_kernel<Op, kBlock, T><<<grid_for(x.rows * kBlock), kBlock, 0, s>>>(x, out, out_stride, denom);
  }
}

template <bool kLog, class T>
void launch_softmax(const RowMatrix& x, void* y, int64_t y_row_stride, cudaStream_t s) {
  if (x.cols <= kWarpRowMaxCols) {
    softmax_rows_kernel<kLog, 32, T><<<grid_for(x.rows * 32), kBlock, 0, s>>>(x, static_cast<T*>(y), y_row_stride);
  } else {
    softmax_rows_kernel<kLog, kBlock, T><<<grid_for(x.rows * kBlock), kBlock, 0, s>>>(x, static_cast<T*>(y), y_row_stride);
  }
}

}  // namespace

void reduce_rows(RowReduce op, DType type, const RowMatrix& x, void* out, int64_t out_stride, double denom,
                 cudaStream_t stream) {
  const bool max_like = op == RowReduce::Max || op == RowReduce::ArgMax;
  SLIMSSL_CHECK(!max_like || x.cols > 0 || x.rows == 0, "cuda reduce_rows: the maximum of an empty row (",
                x.rows, " rows of 0 columns) is undefined");
  if (x.rows == 0) return;
  SLIMSSL_DISPATCH_FLOAT_BF16(type, "cuda reduce_rows", [&] {
    switch (op) {
      case RowReduce::Sum: return launch_reduce<RowReduce::Sum, scalar_t>(x, out, out_stride, denom, stream);
      case RowReduce::Max: return launch_reduce<RowReduce::Max, scalar_t>(x, out, out_stride, denom, stream);
      case RowReduce::ArgMax: return launch_reduce<RowReduce::ArgMax, scalar_t>(x, out, out_stride, denom, stream);
      case RowReduce::Var: return launch_reduce<RowReduce::Var, scalar_t>(x, out, out_stride, denom, stream);
    }
  });
}

void softmax_rows(DType type, const RowMatrix& x, void* y, int64_t y_row_stride, bool log, cudaStream_t stream) {
  if (x.rows == 0 || x.cols == 0) return;
  SLIMSSL_DISPATCH_FLOAT_BF16(type, "cuda softmax_rows", [&] {
    if (log) launch_softmax<true, scalar_t>(x, y, y_row_stride, stream);
    else launch_softmax<false, scalar_t>(x, y, y_row_stride, stream);
  });
}

}  // namespace slimssl::kernels
