// Host-side helpers shared by the kernel workbenches (kernels/dev/*_dev.cu): error checks, bf16
// rounding, device buffers from the library's caching allocator (so its peak counter sees every
// byte), float32/bf16 transfers, and CUDA-event timing after an L2 flush.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "base/dtype.h"
#include "kernels/memory.h"

#define CUDA_CHECK(x)                                                                          \
  do {                                                                                         \
    cudaError_t e_ = (x);                                                                      \
    if (e_ != cudaSuccess) {                                                                   \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(2);                                                                            \
    }                                                                                          \
  } while (0)

namespace slimssl::workbench {

using bf16_t = __nv_bfloat16;

using ::slimssl::round_bf16;  // what a bf16 input holds: the project's one rounding

struct Buf {
  void* p = nullptr;
  size_t bytes = 0;
  Buf() = default;
  explicit Buf(size_t n) : bytes(n) { p = n ? kernels::device_alloc(n, 0) : nullptr; }
  ~Buf() {
    if (p) kernels::device_free(p, 0);
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  Buf(Buf&& o) noexcept : p(o.p), bytes(o.bytes) { o.p = nullptr; }
  template <class T> T* as() const { return static_cast<T*>(p); }
};

// Writes v into b as element type t (b must hold v.size() elements of t).
inline void upload(Buf& b, const std::vector<float>& v, DType t) {
  if (t == DType::F32) {
    CUDA_CHECK(cudaMemcpy(b.p, v.data(), v.size() * 4, cudaMemcpyHostToDevice));
  } else {
    std::vector<bf16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = __float2bfloat16(v[i]);
    CUDA_CHECK(cudaMemcpy(b.p, h.data(), v.size() * 2, cudaMemcpyHostToDevice));
  }
}

inline Buf upload(const std::vector<float>& v, DType t) {
  Buf b(v.size() * dtype_size(t));
  upload(b, v, t);
  return b;
}

inline std::vector<float> download(const Buf& b, size_t n, DType t) {
  std::vector<float> v(n);
  if (t == DType::F32) {
    CUDA_CHECK(cudaMemcpy(v.data(), b.p, n * 4, cudaMemcpyDeviceToHost));
  } else {
    std::vector<bf16_t> h(n);
    CUDA_CHECK(cudaMemcpy(h.data(), b.p, n * 2, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n; ++i) v[i] = __bfloat162float(h[i]);
  }
  return v;
}

// Median time of fn over `reps` runs, each after a write of `flush_bytes` that evicts the inputs
// from L2 (256 MB by default: larger than any L2, the H100's is 50 MB). The first call warms up
// (and lets cuDNN pick its algorithm).
struct Timer {
  cudaEvent_t a, b;
  Buf flush;
  explicit Timer(size_t flush_bytes = size_t{256} << 20) : flush(flush_bytes) {
    CUDA_CHECK(cudaEventCreate(&a));
    CUDA_CHECK(cudaEventCreate(&b));
  }
  template <class F>
  float median_ms(F&& fn, int reps) {
    fn();
    std::vector<float> t(reps);
    for (float& v : t) {
      CUDA_CHECK(cudaMemsetAsync(flush.p, 0, flush.bytes));
      CUDA_CHECK(cudaEventRecord(a));
      fn();
      CUDA_CHECK(cudaEventRecord(b));
      CUDA_CHECK(cudaEventSynchronize(b));
      CUDA_CHECK(cudaEventElapsedTime(&v, a, b));
    }
    std::sort(t.begin(), t.end());
    return t[reps / 2];
  }
};

}  // namespace slimssl::workbench
