#include "engine/cuda/cuda_context.h"
#include <algorithm>
#include <cstring>
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

// Errors are ignored here: at process exit the driver may already be shutting down.
CudaContext::~CudaContext() {
  if (stream_) cudaStreamSynchronize(stream_);
  kernels::blas_destroy(blas_);
  kernels::dnn_destroy(dnn_);
  if (blas_workspace_) kernels::device_free(blas_workspace_, device_);
  if (workspace_) kernels::device_free(workspace_, device_);
  for (void* p : retired_) kernels::device_free(p, device_);
  for (Staging& s : staging_) {
    if (s.done) cudaEventDestroy(s.done);
    kernels::host_pinned_free(s.host);
  }
  if (stream_) cudaStreamDestroy(stream_);
}

kernels::BlasHandle CudaContext::blas() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!blas_) {
    blas_workspace_ = kernels::device_alloc(kernels::kBlasWorkspaceBytes, device_);
    blas_ = kernels::blas_create(stream_, blas_workspace_, kernels::kBlasWorkspaceBytes);
  }
  return blas_;
}

kernels::DnnHandle CudaContext::dnn() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!dnn_) dnn_ = kernels::dnn_create(stream_);
  return dnn_;
}

void* CudaContext::workspace(size_t bytes) {
  if (bytes <= workspace_bytes_) return workspace_;
  refuse_while_capturing("growing the workspace");
  synchronize();
  if (workspace_ && graphs_ > 0) retired_.push_back(workspace_);
  else if (workspace_) kernels::device_free(workspace_, device_);
  workspace_ = kernels::device_alloc(bytes, device_);
  workspace_bytes_ = bytes;
  return workspace_;
}

std::vector<void*> CudaContext::workspaces(std::initializer_list<size_t> bytes) {
  constexpr size_t kAlign = 256;
  size_t total = 0;
  for (size_t b : bytes) total += (b + kAlign - 1) / kAlign * kAlign;
  char* base = static_cast<char*>(workspace(std::max<size_t>(total, 1)));
  std::vector<void*> parts;
  for (size_t b : bytes) {
    parts.push_back(base);
    base += (b + kAlign - 1) / kAlign * kAlign;
  }
  return parts;
}

void CudaContext::synchronize() {
  refuse_while_capturing("synchronizing");
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

void CudaContext::refuse_while_capturing(const char* what) const {
  if (capturing_) fail("CUDA graph capture: ", what, " is not possible while a step is being captured");
}

void CudaContext::begin_capture() {
  SLIMSSL_CHECK(!capturing_, "CUDA graph capture: a capture is already running");
  // Relaxed: the caching allocator may call cudaMalloc while the capture runs.
  check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
  capturing_ = true;
}

cudaGraph_t CudaContext::end_capture() {
  SLIMSSL_CHECK(capturing_, "CUDA graph capture: no capture is running");
  capturing_ = false;
  cudaGraph_t graph = nullptr;
  const cudaError_t e = cudaStreamEndCapture(stream_, &graph);
  if (e != cudaSuccess || !graph) {
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();  // clear the sticky capture error, the stream works on
    check(e != cudaSuccess ? e : cudaErrorStreamCaptureInvalidated, "cudaStreamEndCapture");
  }
  return graph;
}

void CudaContext::graph_destroyed() {
  if (--graphs_ > 0) return;
  if (retired_.empty()) return;
  synchronize();
  for (void* p : retired_) kernels::device_free(p, device_);
  retired_.clear();
}

CudaContext::Staging& CudaContext::staging(int i) {
  Staging& s = staging_[i];
  if (!s.host) {
    s.host = kernels::host_pinned_alloc(kStagingBytes);
    check(cudaEventCreate(&s.done), "cudaEventCreate");
    check(cudaEventRecord(s.done, stream_), "cudaEventRecord");
  }
  return s;
}

void CudaContext::upload(void* dst, const void* src, size_t nbytes) {
  refuse_while_capturing("a copy from the host");
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t off = 0, i = 0; off < nbytes; off += kStagingBytes, i ^= 1) {
    const size_t n = std::min(kStagingBytes, nbytes - off);
    Staging& s = staging(static_cast<int>(i));
    check(cudaEventSynchronize(s.done), "cudaEventSynchronize");  // its previous copy has left
    std::memcpy(s.host, static_cast<const char*>(src) + off, n);
    kernels::copy_bytes_async(static_cast<char*>(dst) + off, true, s.host, false, n, stream_);
    check(cudaEventRecord(s.done, stream_), "cudaEventRecord");
  }
}

void CudaContext::download(void* dst, const void* src, size_t nbytes) {
  refuse_while_capturing("a read-back to the host");
  std::lock_guard<std::mutex> lock(mu_);
  // Two chunks in flight: queue chunk j + 1 before copying chunk j out of its staging buffer.
  auto queue = [&](size_t j) {
    const size_t off = j * kStagingBytes, n = std::min(kStagingBytes, nbytes - off);
    Staging& s = staging(static_cast<int>(j % 2));
    check(cudaEventSynchronize(s.done), "cudaEventSynchronize");
    kernels::copy_bytes_async(s.host, false, static_cast<const char*>(src) + off, true, n, stream_);
    check(cudaEventRecord(s.done, stream_), "cudaEventRecord");
  };
  const size_t chunks = (nbytes + kStagingBytes - 1) / kStagingBytes;
  if (chunks > 0) queue(0);
  for (size_t j = 0; j < chunks; ++j) {
    if (j + 1 < chunks) queue(j + 1);
    Staging& s = staging_[j % 2];
    check(cudaEventSynchronize(s.done), "cudaEventSynchronize");
    const size_t off = j * kStagingBytes;
    std::memcpy(static_cast<char*>(dst) + off, s.host, std::min(kStagingBytes, nbytes - off));
  }
}

}  // namespace slimssl::cuda
