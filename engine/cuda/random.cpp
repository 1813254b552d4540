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

}  // namespace slimssl::cuda
