#include "engine/storage.h"
#include <cstdlib>
#include <cstring>
#include "engine/backend.h"
#include "engine/error.h"
#ifdef SLIMSSL_WITH_CUDA
#include "kernels/memory.h"
#endif

namespace slimssl {

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
  auto s = std::make_shared<Storage>();
  s->nbytes = nbytes;
  s->device = device;
  size_t padded = (nbytes + 63) / 64 * 64;  // 64-byte alignment: whole cache lines, AVX loads
  if (device.is_cpu()) {
    s->data = padded ? std::aligned_alloc(64, padded) : nullptr;
    SLIMSSL_CHECK(!padded || s->data, "out of host memory allocating ", nbytes, " bytes");
  } else {
#ifdef SLIMSSL_WITH_CUDA
    s->data = padded ? kernels::device_alloc(padded, device.index) : nullptr;
#else
    fail("cannot allocate on ", device.str(), ": slimssl was built without CUDA");
#endif
  }
  return s;
}

Storage::~Storage() {
  if (!data) return;
  if (device.is_cpu()) {
    std::free(data);
  } else {
#ifdef SLIMSSL_WITH_CUDA
    kernels::device_free(data, device.index);
#endif
  }
}

void copy_bytes(void* dst, Device dd, const void* src, Device sd, size_t nbytes) {
  if (nbytes == 0) return;
  if (dd.is_cpu() && sd.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  }
#ifdef SLIMSSL_WITH_CUDA
  // Through the device's backend, so the copy is ordered after the work queued on its stream.
  backend_for(dd.is_cuda() ? dd : sd).copy_bytes(dst, dd.is_cuda(), src, sd.is_cuda(), nbytes);
#else
  fail("cannot copy between ", sd.str(), " and ", dd.str(), ": slimssl was built without CUDA");
#endif
}

bool cuda_available() {
#ifdef SLIMSSL_WITH_CUDA
  return kernels::device_count() > 0;
#else
  return false;
#endif
}

}  // namespace slimssl
