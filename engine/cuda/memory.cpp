// CudaBackend: fill, copy (strided, any pair of dtypes), host <-> device bytes, synchronize.
#include <cstring>
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/operands.h"
#include "kernels/elementwise.h"
#include "kernels/memory.h"

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

// Every copy is ordered on the device's stream, after the work queued before it. Device -> host
// and device -> device return complete; host -> device returns once the source has been staged
// into pinned memory (it may be reused at once), with the device side of the copy queued before
// any later work: to everything that runs on this device the copy has happened.
void CudaBackend::copy_bytes(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t nbytes) {
  if (nbytes == 0) return;
  if (!dst_on_device && !src_on_device) {
    std::memcpy(dst, src, nbytes);
  } else if (!src_on_device) {
    ctx_.upload(dst, src, nbytes);
  } else if (!dst_on_device) {
    ctx_.download(dst, src, nbytes);
  } else {
    kernels::copy_bytes_async(dst, true, src, true, nbytes, ctx_.stream());
    ctx_.synchronize();
  }
}

void CudaBackend::synchronize() { ctx_.synchronize(); }

}  // namespace slimssl::cuda
