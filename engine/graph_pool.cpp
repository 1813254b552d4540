#include "engine/graph_pool.h"
#ifdef SLIMSSL_WITH_CUDA
#include "kernels/memory.h"
#endif

namespace slimssl {

namespace {
std::mutex capture_mu;
std::shared_ptr<GraphPool> capture_pool;
}  // namespace

void* GraphPool::take(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = free_.lower_bound(bytes);
  if (it == free_.end() || it->first > 2 * bytes) return nullptr;
  void* p = it->second;
  held_ -= it->first;
  free_.erase(it);
  return p;
}

bool GraphPool::give(void* block, size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (released_) return false;
  free_.emplace(bytes, block);
  held_ += bytes;
  return true;
}

void GraphPool::release() {
  std::lock_guard<std::mutex> lock(mu_);
  released_ = true;
#ifdef SLIMSSL_WITH_CUDA
  for (auto& [bytes, p] : free_) kernels::device_free(p, device_.index);
#endif
  free_.clear();
  held_ = 0;
}

size_t GraphPool::held_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_;
}

std::shared_ptr<GraphPool> GraphPool::capturing(Device device) {
  std::lock_guard<std::mutex> lock(capture_mu);
  return capture_pool && capture_pool->device() == device ? capture_pool : nullptr;
}

void GraphPool::set_capturing(std::shared_ptr<GraphPool> pool) {
  std::lock_guard<std::mutex> lock(capture_mu);
  capture_pool = std::move(pool);
}

}  // namespace slimssl
