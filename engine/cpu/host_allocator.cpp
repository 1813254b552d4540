// The caching host allocator (host_allocator.h). Blocks of 64 KiB and more are rounded up to a
// size class (eight per power of two, so at most 12.5% is wasted) and, when freed, parked on their
// class's list until a request of that class takes them back; at most kMaxCachedBytes sit idle,
// beyond that a freed block goes back to the C library. Smaller blocks go straight to the C
// library, whose own free lists serve them without page faults. Under AddressSanitizer nothing
// is cached, so a use after free still lands in memory it poisons.
#include "engine/cpu/host_allocator.h"
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace slimssl::cpu {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCaching = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kCaching = false;
#else
constexpr bool kCaching = true;
#endif
#else
constexpr bool kCaching = true;
#endif

constexpr size_t kMinCachedBlock = size_t{64} << 10;
constexpr size_t kMaxCachedBytes = size_t{1} << 30;

// The size class of a request: the next multiple of 1/8 of its power of two (64-byte multiples
// below the caching threshold).
size_t size_class(size_t bytes) {
  if (bytes < kMinCachedBlock) return (bytes + 63) / 64 * 64;
  size_t top = size_t{1} << (63 - __builtin_clzll(bytes));  // largest power of two <= bytes
  const size_t step = top / 8;
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> idle;  // by size class
  size_t idle_bytes = 0;
};
Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: storages may be freed during static teardown
  return *c;
}

void* system_alloc(size_t bytes) {
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return p;
}

}  // namespace

void* host_alloc(size_t bytes) {
  const size_t cls = size_class(bytes);
  if (kCaching && cls >= kMinCachedBlock) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.idle.find(cls);
    if (it != c.idle.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.idle_bytes -= cls;
      return p;
    }
  }
  return system_alloc(cls);
}

void host_free(void* p, size_t bytes) {
  if (!p) return;
  const size_t cls = size_class(bytes);
  if (kCaching && cls >= kMinCachedBlock) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    if (c.idle_bytes + cls <= kMaxCachedBytes) {
      c.idle[cls].push_back(p);
      c.idle_bytes += cls;
      return;
    }
  }
  std::free(p);
}

bool host_caching() { return kCaching; }

size_t host_cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.idle_bytes;
}

}  // namespace slimssl::cpu
