#include "ssl/data/batch_staging.h"
#ifdef SLIMSSL_WITH_CUDA
#include <cuda_runtime_api.h>
#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>
#include "engine/cuda/cuda_backend.h"
#include "engine/error.h"
#include "kernels/memory.h"

namespace slimssl::data {
namespace {

class Stager {
 public:
  explicit Stager(int device) : ctx_(cuda::cuda_backend(device).context()) {}
  // At exit the driver may be shutting down: errors are ignored.
  ~Stager() {
    for (Slot& s : slots_) {
      if (s.copied) cudaEventSynchronize(s.copied), cudaEventDestroy(s.copied);
      kernels::host_pinned_free(s.host);
    }
  }

  void stage(std::initializer_list<StagedPart> parts) {
    size_t total = 0;
    for (const StagedPart& p : parts) total += (p.bytes + 63) / 64 * 64;
    std::lock_guard<std::mutex> lock(mu_);
    Slot& s = slots_[next_];
    next_ ^= 1;
    if (s.copied) cuda::check(cudaEventSynchronize(s.copied), "stage_to_device: cudaEventSynchronize");
    else cuda::check(cudaEventCreate(&s.copied), "stage_to_device: cudaEventCreate");
    if (s.bytes < total) {
      kernels::host_pinned_free(s.host);
      s.host = kernels::host_pinned_alloc(total);
      s.bytes = total;
    }
    char* at = static_cast<char*>(s.host);
    for (const StagedPart& p : parts) {
      if (p.bytes == 0) continue;
      std::memcpy(at, p.host, p.bytes);
      kernels::copy_bytes_async(p.device, true, at, false, p.bytes, ctx_.stream());
      at += (p.bytes + 63) / 64 * 64;
    }
    cuda::check(cudaEventRecord(s.copied, ctx_.stream()), "stage_to_device: cudaEventRecord");
  }

 private:
  struct Slot {
    void* host = nullptr;  // pinned
    size_t bytes = 0;
    cudaEvent_t copied = nullptr;  // recorded after the last copies out of `host`
  };
  cuda::CudaContext& ctx_;
  std::mutex mu_;
  std::array<Slot, 2> slots_{};
  int next_ = 0;
};

}  // namespace

void stage_to_device(Device device, std::initializer_list<StagedPart> parts) {
  SLIMSSL_CHECK(device.is_cuda(), "stage_to_device: ", device.str(), " is not a CUDA device");
  static std::mutex mu;
  static std::vector<std::unique_ptr<Stager>> stagers;
  Stager* stager = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stagers.size() <= static_cast<size_t>(device.index)) stagers.resize(device.index + 1);
    if (!stagers[device.index]) stagers[device.index] = std::make_unique<Stager>(device.index);
    stager = stagers[device.index].get();
  }
  stager->stage(parts);
}

}  // namespace slimssl::data
#endif
