// CudaBackend: counter-based uniforms (kernels/random.h), the numbers of base/rng.h.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/operands.h"
#include "kernels/random.h"

namespace slimssl::cuda {

void CudaBackend::uniform(const Tensor& out, uint64_t seed, uint64_t counter) {
  const char* op = "cuda uniform";
  check_device(op, ctx_.device(), {&out});
  check_float(op, out);
  check_writable(op, out);
  kernels::uniform(out.dtype(), strided(op, out), seed, counter, ctx_.stream());
  check_launch(op);
}

void CudaBackend::permutation(const Tensor& order, const Tensor& inverse, uint64_t seed, const Tensor& counter,
                              uint32_t tag) {
  const char* op = "cuda permutation";
  check_device(op, ctx_.device(), {&order, &inverse, &counter});
  check_dtype(op, "order", order, DType::I64);
  check_dtype(op, "inverse", inverse, DType::I64);
  check_dtype(op, "counter", counter, DType::I64);
  SLIMSSL_CHECK(order.dim() == 1 && inverse.shape() == order.shape() && order.is_contiguous() &&
                    inverse.is_contiguous() && counter.numel() == 1,
                op, ": order and inverse must be contiguous [n], counter one element");
  check_writable(op, order);
  check_writable(op, inverse);
  kernels::random_permutation(order.size(0), seed, counter.data<int64_t>(), tag, order.data<int64_t>(),
                              inverse.data<int64_t>(), ctx_.stream());
  check_launch(op);
}

}  // namespace slimssl::cuda
