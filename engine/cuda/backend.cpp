#include <memory>
#include <mutex>
#include <vector>
#include "engine/cuda/cuda_backend.h"
#include "kernels/memory.h"

namespace slimssl::cuda {

CudaBackend::CudaBackend(int device) : ctx_(device) {}

const char* CudaBackend::name() const { return "cuda"; }

CudaBackend& cuda_backend(int index) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<CudaBackend>> backends;
  std::lock_guard<std::mutex> lock(mu);
  const int n = kernels::device_count();
  SLIMSSL_CHECK(index >= 0 && index < n, "cuda:", index, ": no such device (", n, " CUDA device",
                n == 1 ? "" : "s", " present)");
  if (backends.size() < static_cast<size_t>(n)) backends.resize(n);
  if (!backends[index]) backends[index] = std::make_unique<CudaBackend>(index);
  return *backends[index];
}

}  // namespace slimssl::cuda
