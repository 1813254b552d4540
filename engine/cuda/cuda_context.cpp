#include "engine/cuda/cuda_context.h"
#include "engine/error.h"
#include "kernels/memory.h"

namespace slimssl::cuda {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail("CUDA error in ", what, ": ", cudaGetErrorString(e));
}

void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

CudaContext::CudaContext(int device) : device_(device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
}

CudaContext::~CudaContext() {
  if (workspace_) kernels::device_free(workspace_, device_);
  if (stream_) cudaStreamDestroy(stream_);
}

void* CudaContext::workspace(size_t bytes) {
  if (bytes <= workspace_bytes_) return workspace_;
  synchronize();
  if (workspace_) kernels::device_free(workspace_, device_);
  workspace_ = kernels::device_alloc(bytes, device_);
  workspace_bytes_ = bytes;
  return workspace_;
}

void CudaContext::synchronize() { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

}  // namespace slimssl::cuda
