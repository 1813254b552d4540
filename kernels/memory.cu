// Simple caching allocator: sizes are rounded to bins (512 B granularity below 1 MiB, 2 MiB
// above) and freed blocks are kept per (device, bin) for reuse, so a training step that allocates
// the same shapes every iteration stops calling cudaMalloc after the first one. cudaMalloc
// synchronizes the device, which is why caching matters. Reuse is safe in stream order: see
// memory.h.
#include "kernels/memory.h"
#include <cuda_runtime.h>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace slimssl::kernels {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

size_t round_size(size_t n) {
  if (n < (1u << 20)) return (n + 511) / 512 * 512;
  return (n + (2u << 20) - 1) / (2u << 20) * (2u << 20);
}

struct DeviceCache {
  std::multimap<size_t, void*> free_blocks;           // size -> block
  std::unordered_map<void*, size_t> live;             // block -> size
  MemoryStats stats;
};

std::mutex mu;
std::vector<DeviceCache> caches;

DeviceCache& cache(int device) {
  if (caches.size() <= static_cast<size_t>(device)) caches.resize(device + 1);
  return caches[device];
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

void* device_alloc(size_t nbytes, int device) {
  std::lock_guard<std::mutex> lock(mu);
  auto& c = cache(device);
  size_t size = round_size(nbytes);
  void* p = nullptr;
  auto it = c.free_blocks.lower_bound(size);
  // Reuse a cached block only if it is not much bigger than asked, to keep waste bounded.
  if (it != c.free_blocks.end() && it->first <= size * 2) {
    size = it->first;
    p = it->second;
    c.free_blocks.erase(it);
  } else {
    check(cudaSetDevice(device), "cudaSetDevice");
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      for (auto& [s, b] : c.free_blocks) cudaFree(b), c.stats.reserved_bytes -= s;
      c.free_blocks.clear();
      e = cudaMalloc(&p, size);
    }
    check(e, ("cudaMalloc of " + std::to_string(size) + " bytes").c_str());
    c.stats.reserved_bytes += size;
  }
  c.live[p] = size;
  c.stats.current_bytes += size;
  if (c.stats.current_bytes > c.stats.peak_bytes) c.stats.peak_bytes = c.stats.current_bytes;
  return p;
}

void device_free(void* ptr, int device) {
  std::lock_guard<std::mutex> lock(mu);
  auto& c = cache(device);
  auto it = c.live.find(ptr);
  if (it == c.live.end()) return;
  c.stats.current_bytes -= it->second;
  c.free_blocks.emplace(it->second, ptr);
  c.live.erase(it);
}

void copy_bytes(void* dst, bool dd, const void* src, bool sd, size_t nbytes) {
  cudaMemcpyKind kind = dd ? (sd ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                           : (sd ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  check(cudaMemcpy(dst, src, nbytes, kind), "cudaMemcpy");
}

void* host_pinned_alloc(size_t nbytes) {
  void* p = nullptr;
  check(cudaMallocHost(&p, nbytes ? nbytes : 1), ("cudaMallocHost of " + std::to_string(nbytes) + " bytes").c_str());
  return p;
}

void host_pinned_free(void* ptr) {
  if (ptr) cudaFreeHost(ptr);
}

void copy_bytes_async(void* dst, bool dd, const void* src, bool sd, size_t nbytes, cudaStream_t stream) {
  cudaMemcpyKind kind = dd ? (sd ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                           : (sd ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  check(cudaMemcpyAsync(dst, src, nbytes, kind, stream), "cudaMemcpyAsync");
}

MemoryStats memory_stats(int device) {
  std::lock_guard<std::mutex> lock(mu);
  return cache(device).stats;
}

void reset_peak(int device) {
  std::lock_guard<std::mutex> lock(mu);
  auto& c = cache(device);
  c.stats.peak_bytes = c.stats.current_bytes;
}

void empty_cache(int device) {
  std::lock_guard<std::mutex> lock(mu);
  auto& c = cache(device);
  for (auto& [s, b] : c.free_blocks) cudaFree(b), c.stats.reserved_bytes -= s;
  c.free_blocks.clear();
}

}  // namespace slimssl::kernels
