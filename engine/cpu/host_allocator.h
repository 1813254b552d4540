// Host memory for tensor storage: 64-byte aligned blocks, with freed large blocks kept for reuse.
// A training step allocates and frees the same activation sizes every step (the demo: ~2,500
// storages, 1.7 GiB a step); handed back to the C library, large blocks are unmapped and every
// reuse pays the kernel a page fault per 4 KiB page and a page clear (8% of the step's CPU time).
#pragma once
#include <cstddef>

namespace slimssl::cpu {

// At least `bytes` (> 0) of 64-byte-aligned memory; throws std::bad_alloc when there is none.
void* host_alloc(size_t bytes);
// Releases a block from host_alloc(bytes) (the same `bytes`).
void host_free(void* p, size_t bytes);
// Bytes held idle for reuse now, and whether blocks are cached at all (not under
// AddressSanitizer); for tests and diagnostics.
size_t host_cached_bytes();
bool host_caching();

}  // namespace slimssl::cpu
