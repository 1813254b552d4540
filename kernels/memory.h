// Device memory for the engine's storages: plain pointers, no engine types (kernels/ is the
// bottom layer). Allocation goes through the caching allocator so steps reuse blocks.
//
// Stream order: device_free returns a block to the cache at once, while kernels queued earlier
// may still use it; the next device_alloc may hand it out again. That is safe because the engine
// queues all work of a device on that device's one stream (engine/cuda/cuda_context.h): whatever
// uses the new allocation runs after whatever used the old one. Work queued on another stream
// must synchronize with it before its memory is freed.
#pragma once
#include <cuda_runtime_api.h>
#include <cstddef>

namespace slimssl::kernels {

int device_count();  // 0 when no GPU or driver is present; never throws
void* device_alloc(size_t nbytes, int device);
void device_free(void* ptr, int device);
// Synchronous copy; each side is host memory or device memory as flagged.
void copy_bytes(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t nbytes);

// Page-locked host memory: copies from and to it run at full bandwidth and truly asynchronously.
// Not cached (pinning is costly): callers keep their staging buffers.
void* host_pinned_alloc(size_t nbytes);
void host_pinned_free(void* ptr);
// A copy queued on `stream` (returns at once). With pageable host memory the driver copies
// synchronously; with pinned memory the host buffer must stay valid until the stream reaches it.
void copy_bytes_async(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t nbytes,
                      cudaStream_t stream);

struct MemoryStats {
  size_t current_bytes = 0;  // handed out to tensors now
  size_t peak_bytes = 0;     // most ever handed out at once
  size_t reserved_bytes = 0; // held from the driver (handed out + cached)
};
MemoryStats memory_stats(int device);
void reset_peak(int device);
void empty_cache(int device);  // give cached blocks back to the driver

}  // namespace slimssl::kernels
