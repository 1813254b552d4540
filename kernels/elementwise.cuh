// The one elementwise kernel family behind kernels/elementwise.h, for the .cu files that
// instantiate it: out[i] = f(in_0[i], ..., in_{K-1}[i]) for a functor f (K = 0 for fill), any
// element types, any strides.
//
// Two paths, chosen per call on the host:
//   flat     every operand is dense and walks memory with stride 1 in the same order (contiguous,
//            or permuted alike, e.g. all channels-last), and every pointer is aligned to the vector
//            width: each thread step loads 16 bytes of the widest operand (V elements) per operand,
//            applies f V times and stores one vector; the n % V tail is done element by element;
//   strided  anything else (broadcast, slices, transposes, misaligned views): a grid-stride loop
//            over the linear index, with operand offsets from OffsetCalc (simplified walk, a
//            FastDivmod per dimension, 64-bit offsets).
// Both paths give each element to one thread, which reads its inputs before writing its output,
// so an input that is the output itself (in place) is safe.
#pragma once
#include <cuda_runtime.h>
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include "base/error.h"
#include "kernels/launch.h"
#include "kernels/offset_calc.h"
#include "kernels/strided.h"

namespace slimssl::kernels::elementwise_detail {

template <class T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

// Elements per thread step on the flat path: 16 bytes of the widest operand, at most 4 elements
// (8 bfloat16 elements in flight made ptxas spill around the calls of the division's slow path in
// Silu and HardSwishBackward; bfloat16 operands then move as 8-byte vectors).
template <class Out, class... In>
constexpr int vector_width() {
  size_t widest = sizeof(Out);
  ((widest = sizeof(In) > widest ? sizeof(In) : widest), ...);
  return static_cast<int>(16 / widest < 4 ? 16 / widest : 4);
}

// The vectors are taken by value: copying a whole aligned Vec is what makes the compiler emit one
// vector load per operand (through a reference it loads the elements one by one).
template <int V, class F, class Out, class... In>
__device__ __forceinline__ void apply_vector(const F& f, Out* out, const Vec<In, V>... x) {
  Vec<Out, V> o;
#pragma unroll
  for (int j = 0; j < V; ++j) o.v[j] = f(x.v[j]...);
  *reinterpret_cast<Vec<Out, V>*>(out) = o;
}

template <int V, class F, class Out, class... In>
__global__ void __launch_bounds__(kBlock) flat_kernel(F f, int64_t n, Out* out, const In*... in) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t vectors = n / V;
  for (int64_t v = first; v < vectors; v += step)
    apply_vector<V>(f, out + v * V, *reinterpret_cast<const Vec<In, V>*>(in + v * V)...);
  const int64_t i = vectors * V + first;  // the tail: fewer than V elements, and V <= step
  if (i < n) out[i] = f(in[i]...);
}

template <class F, class Out, class... In, size_t... K>
__device__ __forceinline__ void apply_at(const F& f, const int64_t* off, Out* out, std::index_sequence<K...>,
                                         const In*... in) {
  out[off[0]] = f(in[off[K + 1]]...);
}

template <class F, class Out, class... In>
__global__ void __launch_bounds__(kBlock) strided_kernel(F f, int64_t n, OffsetCalc<1 + sizeof...(In)> oc, Out* out,
                                                         const In*... in) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[1 + sizeof...(In)];
    oc.get(static_cast<uint64_t>(i), off);
    apply_at(f, off, out, std::index_sequence_for<In...>{}, in...);
  }
}

inline bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

template <class Out, class... In, class F, size_t... K>
void launch(const char* what, const F& f, const Strided& out, const std::array<const Strided*, sizeof...(In)>& in,
            cudaStream_t stream, std::index_sequence<K...>) {
  constexpr int N = 1 + sizeof...(In);
  IterShape<N> it(out.rank, out.shape);
  it.set_strides(0, out.strides);
  for (size_t k = 0; k < in.size(); ++k) {
    bool same = in[k]->rank == out.rank;
    for (int d = 0; same && d < out.rank; ++d) same = in[k]->shape[d] == out.shape[d];
    SLIMSSL_CHECK(same, what, ": operand ", k, " does not have the output's shape");
    it.set_strides(static_cast<int>(k) + 1, in[k]->strides);
  }
  const int64_t n = it.numel();
  if (n == 0) return;
  it.simplify(/*reorder=*/true);
  constexpr int V = vector_width<Out, In...>();
  const bool vectorizable = V > 1 && it.is_flat() && aligned(out.data, V * sizeof(Out)) &&
                            (aligned(in[K]->data, V * sizeof(In)) && ...);
  if (vectorizable) {
    flat_kernel<V, F, Out, In...><<<grid_for(n / V + 1), kBlock, 0, stream>>>(f, n, static_cast<Out*>(out.data), static_cast<const In*>(in[K]->data)...);
  } else {
    strided_kernel<F, Out, In...><<<grid_for(n), kBlock, 0, stream>>>(f, n, it.calc(), static_cast<Out*>(out.data), static_cast<const In*>(in[K]->data)...);
  }
}

// out = f(in...) elementwise; `what` names the primitive in errors.
template <class Out, class... In, class F>
void run(const char* what, const F& f, const Strided& out, const std::array<const Strided*, sizeof...(In)>& in,
         cudaStream_t stream) {
  launch<Out, In...>(what, f, out, in, stream, std::index_sequence_for<In...>{});
}

}  // namespace slimssl::kernels::elementwise_detail
