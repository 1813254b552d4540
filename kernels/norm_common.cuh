// Device helpers of the norm kernels (batch_norm.cu, layer_norm.cu): the accumulation type and
// reading / writing the optional strided parameter vectors of kernels/norm_args.h.
#pragma once
#include "base/dtype.h"
#include "base/scalar_ops.h"
#include "kernels/norm_args.h"

namespace slimssl::kernels {

// float32 for float32 and bfloat16 data, float64 for float64: also the dtype of statistics,
// weights and their gradients.
template <class T>
using acc_t = typename compute_type<T>::type;

template <class A>
__device__ __forceinline__ A vec_at(VecIn v, int64_t i, A absent) {
  return v.p ? static_cast<const A*>(v.p)[i * v.stride] : absent;
}
template <class A>
__device__ __forceinline__ void vec_put(VecOut v, int64_t i, A x) {
  if (v.p) static_cast<A*>(v.p)[i * v.stride] = x;
}

}  // namespace slimssl::kernels
