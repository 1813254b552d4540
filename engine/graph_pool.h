// Device memory of a captured CUDA graph (engine/device_graph.h). A graph replays its kernels on
// the addresses they had at capture, so no block those kernels touch may go to anyone else while
// the graph lives. While a capture runs, every device storage allocated is tagged with the
// graph's pool, and every device storage freed (tagged or not: a block allocated before the
// capture may have been used inside it) goes to the pool's free list instead of the caching
// allocator; later captured allocations reuse the pool's free blocks (in stream order, like the
// allocator). A tagged storage freed after the capture goes back to the pool too. When the graph
// is destroyed the pool releases its free blocks to the allocator, and tagged storages still alive
// are freed normally when they go.
#pragma once
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include "engine/device.h"

namespace slimssl {

class GraphPool {
 public:
  explicit GraphPool(Device device) : device_(device) {}
  ~GraphPool() { release(); }
  GraphPool(const GraphPool&) = delete;
  GraphPool& operator=(const GraphPool&) = delete;

  Device device() const { return device_; }
  // A free block of at least `bytes` (and at most twice that), or null.
  void* take(size_t bytes);
  // Keeps `block` of `bytes` for the graph; false once the pool is released (the caller frees it).
  bool give(void* block, size_t bytes);
  // Hands every free block back to the allocator; later give() calls return false.
  void release();
  size_t held_bytes() const;

  // The pool of the capture running now on `device` (null when none).
  static std::shared_ptr<GraphPool> capturing(Device device);
  // Sets (or clears, with null) the pool of the capture running now.
  static void set_capturing(std::shared_ptr<GraphPool> pool);

 private:
  Device device_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;
  size_t held_ = 0;
  bool released_ = false;
};

}  // namespace slimssl
