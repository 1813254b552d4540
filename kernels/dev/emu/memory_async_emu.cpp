// The pinned-memory and asynchronous-copy part of kernels/memory.h for the emulated device:
// pinned memory is plain host memory and every copy completes inside the call (kernels also run
// to completion inside their launch, so stream order holds trivially). See emu_defs.h.
#include <cstdlib>
#include <cstring>
#include "kernels/memory.h"

namespace slimssl::kernels {

void* host_pinned_alloc(size_t nbytes) { return std::malloc(nbytes ? nbytes : 1); }
void host_pinned_free(void* ptr) { std::free(ptr); }
void copy_bytes_async(void* dst, bool, const void* src, bool, size_t nbytes, cudaStream_t) {
  emu::run_or_record([=] { std::memcpy(dst, src, nbytes); });
}

}  // namespace slimssl::kernels
