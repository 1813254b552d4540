// CudaBackend: fill, copy (strided, any pair of dtypes), host <-> device bytes, synchronize.
#include <cstring>
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/operands.h"
#include "kernels/elementwise.h"

namespace slimssl::cuda {

void CudaBackend::fill(const Tensor& dst, double value) {
  const char* op = "cuda fill";
  check_device(op, ctx_.device(), {&dst});
  check_writable(op, dst);
  kernels::fill(dst.dtype(), strided(op, dst), value, ctx_.stream());
  check_launch(op);
}

void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  const char* op = "cuda copy";
  check_device(op, ctx_.device(), {&src, &dst});
  check_same_shape(op, "src", src, "dst", dst);
  check_writable(op, dst);
  kernels::copy(src.dtype(), strided(op, src), dst.dtype(), strided(op, dst), ctx_.stream());
  check_launch(op);
}

// Queued on the device's stream (after every kernel queued before it), then waited for: the
// copy is complete when this returns, and a host buffer may be reused at once.
void CudaBackend::copy_bytes(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t nbytes) {
  if (nbytes == 0) return;
  if (!dst_on_device && !src_on_device) {
    std::memcpy(dst, src, nbytes);
    return;
  }
  const cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                            : cudaMemcpyDeviceToHost;
  check(cudaMemcpyAsync(dst, src, nbytes, kind, ctx_.stream()), "cuda copy_bytes");
  ctx_.synchronize();
}

void CudaBackend::synchronize() { ctx_.synchronize(); }

}  // namespace slimssl::cuda
