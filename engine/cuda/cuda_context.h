// One CUDA device's execution context: the stream every op of the engine queues its work on, the
// vendor library handles bound to it, and scratch memory owned here so that no kernel call
// allocates (a call that needs workspace asks the context, which grows it outside the call).
// Work is queued on one stream per device, so the caching allocator's reuse of a freed block is
// in stream order by construction (kernels/memory.h).
//
// The cuBLAS and cuDNN handles are created on first use: a run that never multiplies or
// convolves on the GPU never initializes those libraries (their shared objects are linked, but
// cuDNN loads its engine libraries and both take device memory only when a handle is made).
#pragma once
#include <cuda_runtime_api.h>
#include <array>
#include <cstddef>
#include <initializer_list>
#include <mutex>
#include <vector>
#include "kernels/conv_cudnn.h"
#include "kernels/gemm_cublas.h"

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
  // cuBLAS bound to stream(), with its own workspace (kernels::kBlasWorkspaceBytes).
  kernels::BlasHandle blas();
  // cuDNN bound to stream(); its algorithm choices are cached per problem (kernels/conv_cudnn.h).
  kernels::DnnHandle dnn();
  bool has_blas() const { return blas_ != nullptr; }
  bool has_dnn() const { return dnn_ != nullptr; }

  // Device scratch of at least `bytes`, valid until the next workspace() call; growing it
  // synchronizes the stream first (the old block may still be in use by queued work).
  void* workspace(size_t bytes);
  // Several scratch regions at once, each 256-byte aligned, carved from one workspace() block.
  std::vector<void*> workspaces(std::initializer_list<size_t> bytes);
  void synchronize();

  // CUDA graphs (engine/device_graph.h). While a capture runs, work queued on stream() is recorded,
  // not run; what cannot be recorded (synchronizing, host copies, growing the workspace) throws,
  // which fails the capture. end_capture() returns the graph, or throws when the capture failed
  // (the stream is out of capture mode either way).
  void begin_capture();
  cudaGraph_t end_capture();
  bool capturing() const { return capturing_; }
  // Graphs alive on this context hold the workspace they were captured with: a workspace that
  // grows meanwhile keeps its old block until the last graph goes.
  void graph_created() { ++graphs_; }
  void graph_destroyed();

  // Host -> device without waiting for the device: `src` (any host memory) is copied into a
  // pinned staging buffer, from which the device copy is queued on stream(); `src` may be reused
  // as soon as this returns. Large copies go in chunks through two staging buffers, so the host
  // fills one while the device drains the other.
  void upload(void* dst_device, const void* src_host, size_t nbytes);
  // Device -> host, after all work queued so far: staged through the same pinned buffers, and
  // complete when this returns.
  void download(void* dst_host, const void* src_device, size_t nbytes);

 private:
  struct Staging {
    void* host = nullptr;        // pinned, kStagingBytes
    cudaEvent_t done = nullptr;  // recorded after the last copy that used `host`
  };
  static constexpr size_t kStagingBytes = size_t{4} << 20;
  Staging& staging(int i);

  int device_;
  cudaStream_t stream_ = nullptr;
  std::mutex mu_;  // guards lazy creation and the staging buffers
  kernels::BlasHandle blas_ = nullptr;
  void* blas_workspace_ = nullptr;
  kernels::DnnHandle dnn_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::array<Staging, 2> staging_{};
  bool capturing_ = false;
  int graphs_ = 0;
  std::vector<void*> retired_;  // workspaces replaced while graphs were alive
  void refuse_while_capturing(const char* what) const;
};

}  // namespace slimssl::cuda
