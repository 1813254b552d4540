#include "engine/storage.h"
#include <cstdlib>
#include <cstring>
#include <new>
#include "engine/backend.h"
#include "engine/cpu/host_allocator.h"
#include "engine/error.h"
#include "engine/graph_pool.h"
#include "engine/profile.h"
#ifdef SLIMSSL_WITH_CUDA
#include "kernels/memory.h"
#endif

namespace slimssl {

namespace {

// Canary state of StorageGuards (one at a time; tests are single-threaded around it).
struct GuardState {
  bool on = false;
  int64_t violations = 0;
  std::string first;
};
GuardState& guards() {
  static GuardState g;
  return g;
}
constexpr size_t kGuardBytes = 256;  // keeps device alignment (256 B) of the data pointer
constexpr unsigned char kCanary = 0xA7;

size_t rounded(size_t bytes) { return (bytes + 63) / 64 * 64; }

void* raw_alloc(size_t bytes, Device device) {
  if (bytes == 0) return nullptr;
  if (device.is_cpu()) {
    try {
      return cpu::host_alloc(bytes);  // whole cache lines, AVX loads; large blocks reused
    } catch (const std::bad_alloc&) {
      fail("out of host memory allocating ", bytes, " bytes");
    }
  }
#ifdef SLIMSSL_WITH_CUDA
  return kernels::device_alloc(rounded(bytes), device.index);
#else
  fail("cannot allocate on ", device.str(), ": slimssl was built without CUDA");
#endif
}

void raw_free(void* p, size_t bytes, Device device) {
  if (!p) return;
  if (device.is_cpu()) {
    cpu::host_free(p, bytes);
    return;
  }
#ifdef SLIMSSL_WITH_CUDA
  kernels::device_free(p, device.index);
#endif
}

}  // namespace

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
  if (profile::enabled()) profile::note_allocation(nbytes);
  auto s = std::make_shared<Storage>();
  s->nbytes = nbytes;
  s->device = device;
  if (guards().on && nbytes > 0) {
    const size_t g = kGuardBytes;
    s->block_ = raw_alloc(nbytes + 2 * g, device);
    s->guard_ = g;
    s->data = static_cast<char*>(s->block_) + g;
    std::string canary(g, static_cast<char>(kCanary));
    copy_bytes(s->block_, device, canary.data(), Device::cpu(), g);
    copy_bytes(static_cast<char*>(s->data) + nbytes, device, canary.data(), Device::cpu(), g);
    return s;
  }
  if (nbytes > 0 && device.is_cuda()) {
    if (auto pool = GraphPool::capturing(device)) {  // a CUDA graph is being captured: its memory
      void* p = pool->take(rounded(nbytes));
      s->block_ = s->data = p ? p : raw_alloc(nbytes, device);
      s->pool_ = std::move(pool);
      return s;
    }
  }
  s->block_ = s->data = raw_alloc(nbytes, device);
  return s;
}

Storage::~Storage() {
  if (guard_ > 0) {
    std::string front(guard_, 0), back(guard_, 0);
    try {
      copy_bytes(front.data(), Device::cpu(), block_, device, guard_);
      copy_bytes(back.data(), Device::cpu(), static_cast<char*>(data) + nbytes, device, guard_);
      const std::string canary(guard_, static_cast<char>(kCanary));
      if (front != canary || back != canary) {
        auto& g = guards();
        if (g.violations++ == 0)
          g.first = "a write " + std::string(front != canary ? "before" : "past") + " a " + std::to_string(nbytes) +
                    "-byte storage on " + device.str();
      }
    } catch (const std::exception&) {
      // A destructor must not throw; an unreadable guard is not a violation we can describe.
    }
  }
  if (block_ && guard_ == 0 && device.is_cuda()) {
    // A block of a captured graph stays with it; so does any block freed during a capture.
    std::shared_ptr<GraphPool> pool = pool_ ? pool_ : GraphPool::capturing(device);
    if (pool && pool->give(block_, rounded(nbytes))) return;
  }
  raw_free(block_, nbytes + 2 * guard_, device);
}

StorageGuards::StorageGuards() { guards() = GuardState{true, 0, ""}; }
StorageGuards::~StorageGuards() { guards().on = false; }
int64_t StorageGuards::violations() const { return guards().violations; }
std::string StorageGuards::first_violation() const { return guards().first; }

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

bool cuda_emulated() {
#ifdef SLIMSSL_CUDA_EMULATED
  return true;
#else
  return false;
#endif
}

Device default_device() { return cuda_available() && !cuda_emulated() ? Device::cuda(0) : Device::cpu(); }

}  // namespace slimssl
