// Emulated <cuda_runtime_api.h>: the host calls the kernels make. See emu_defs.h.
#pragma once
#include <chrono>
#include "emu_defs.h"

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
};
using cudaStream_t = void*;
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };

inline const char* cudaGetErrorString(cudaError_t e) {
  if (e == cudaErrorStreamCaptureUnsupported) return "operation not permitted when stream is capturing";
  if (e == cudaErrorStreamCaptureInvalidated) return "operation failed due to a previous error during capture";
  return e == cudaSuccess ? "no error" : "emulated error";
}
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) { return *d = 0, cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return emu::capturing ? cudaErrorStreamCaptureUnsupported : cudaSuccess; }
inline cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : cudaErrorInvalidValue; }
inline cudaError_t cudaGetDeviceCount(int* n) { return *n = 1, cudaSuccess; }

// Streams: kernels run to completion inside their launch, so every stream is always idle.
enum { cudaStreamDefault = 0, cudaStreamNonBlocking = 1 };
inline cudaError_t cudaStreamCreate(cudaStream_t* s) { return *s = nullptr, cudaSuccess; }
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { return *s = nullptr, cudaSuccess; }
inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) {
  return emu::capturing ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}

// Stream capture into a graph (emu_defs.h: emu::Recording). A graph and its executable form are
// both a recording; launching one runs its work in order.
enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal = 0, cudaStreamCaptureModeThreadLocal = 1,
                             cudaStreamCaptureModeRelaxed = 2 };
enum cudaStreamCaptureStatus { cudaStreamCaptureStatusNone = 0, cudaStreamCaptureStatusActive = 1 };
using cudaGraph_t = emu::Recording*;
using cudaGraphExec_t = emu::Recording*;
inline cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) {
  if (emu::capturing) return cudaErrorStreamCaptureUnsupported;
  emu::capturing = new emu::Recording;
  return cudaSuccess;
}
inline cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t* g) {
  if (!emu::capturing) return *g = nullptr, cudaErrorInvalidValue;
  *g = emu::capturing;
  emu::capturing = nullptr;
  return cudaSuccess;
}
inline cudaError_t cudaStreamIsCapturing(cudaStream_t, cudaStreamCaptureStatus* s) {
  *s = emu::capturing ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
inline cudaError_t cudaGraphInstantiate(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long = 0) {
  if (!g) return cudaErrorInvalidValue;
  *e = new emu::Recording(*g);
  return cudaSuccess;
}
inline cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t) {
  if (!e || emu::capturing) return cudaErrorInvalidValue;
  for (auto& w : e->work) w();
  return cudaSuccess;
}
inline cudaError_t cudaGraphDestroy(cudaGraph_t g) { return delete g, cudaSuccess; }
inline cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) { return delete e, cudaSuccess; }
// An H100's figures, so the split heuristics take the paths they take there.
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int) {
  *v = a == cudaDevAttrMultiProcessorCount ? 132 : 227 * 1024;
  return cudaSuccess;
}
template <class F>
cudaError_t cudaFuncSetAttribute(F*, cudaFuncAttribute, int value) {
  if (value > 227 * 1024) emu::die("cudaFuncSetAttribute: more than 227 KB of shared memory");
  return cudaSuccess;
}

struct CUevent_emu {
  std::chrono::steady_clock::time_point t;
};
using cudaEvent_t = CUevent_emu*;
inline cudaError_t cudaEventCreate(cudaEvent_t* e) { return *e = new CUevent_emu, cudaSuccess; }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) { return delete e, cudaSuccess; }
enum { cudaEventDefault = 0, cudaEventDisableTiming = 2 };
inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned) { return *e = new CUevent_emu, cudaSuccess; }
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t = nullptr) {
  e->t = std::chrono::steady_clock::now();
  return cudaSuccess;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t) {
  return emu::capturing ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}

// Memory calls of the workbenches (host memory stands in for device memory).
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  if (emu::capturing) return cudaErrorStreamCaptureUnsupported;
  return std::memcpy(d, s, n), cudaSuccess;
}
inline cudaError_t cudaMemset(void* d, int v, size_t n) {
  if (emu::capturing) return cudaErrorStreamCaptureUnsupported;
  return std::memset(d, v, n), cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t = nullptr) {
  emu::run_or_record([=] { std::memset(d, v, n); });
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t = nullptr) {
  emu::run_or_record([=] { std::memcpy(d, s, n); });
  return cudaSuccess;
}
// Pinned host memory is plain host memory here.
inline cudaError_t cudaMallocHost(void** p, size_t n) { return *p = std::malloc(n ? n : 1), cudaSuccess; }
inline cudaError_t cudaFreeHost(void* p) { return std::free(p), cudaSuccess; }
struct cudaDeviceProp {
  char name[256];
  int multiProcessorCount;
  int l2CacheSize;
};
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::snprintf(p->name, sizeof p->name, "CPU emulation");
  p->multiProcessorCount = 132, p->l2CacheSize = 50 << 20;
  return cudaSuccess;
}
