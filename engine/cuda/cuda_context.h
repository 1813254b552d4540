// One CUDA device's execution context: the stream every op of the engine queues its work on, the
// vendor library handles bound to it, and scratch memory owned here so that no kernel call
// allocates (a call that needs workspace asks the context, which grows it outside the call).
// Work is queued on one stream per device, so the caching allocator's reuse of a freed block is
// in stream order by construction.
#pragma once
#include <cuda_runtime_api.h>
#include <cstddef>

namespace slimssl::cuda {

// Throws an slimssl::Error naming `what` and the CUDA error when `e` is not cudaSuccess.
void check(cudaError_t e, const char* what);
// Checks the launch that was just queued (cudaGetLastError).
void check_launch(const char* kernel);

class CudaContext {
 public:
  explicit CudaContext(int device);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  // Device scratch of at least `bytes`, valid until the next workspace() call; growing it
  // synchronizes the stream first (the old block may still be in use by queued work).
  void* workspace(size_t bytes);
  void synchronize();

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
};

}  // namespace slimssl::cuda
