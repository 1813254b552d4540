// Device memory for the engine's storages: plain pointers, no engine types (kernels/ is the
// bottom layer). Allocation goes through the caching allocator so steps reuse blocks.
#pragma once
#include <cstddef>

namespace slimssl::kernels {

int device_count();  // 0 when no GPU or driver is present; never throws
void* device_alloc(size_t nbytes, int device);
void device_free(void* ptr, int device);
// Synchronous copy; each side is host memory or device memory as flagged.
void copy_bytes(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t nbytes);

struct MemoryStats {
  size_t current_bytes = 0;  // handed out to tensors now
  size_t peak_bytes = 0;     // most ever handed out at once
  size_t reserved_bytes = 0; // held from the driver (handed out + cached)
};
MemoryStats memory_stats(int device);
void reset_peak(int device);
void empty_cache(int device);  // give cached blocks back to the driver

}  // namespace slimssl::kernels
