// What the emulated kernels link against besides their own sources: kernels/memory.h on host
// memory, and the CudnnCopy path as a naive CPU convolution on a copied slice (there is no cuDNN
// to emulate; this keeps the dispatch and its tests running). See emu_defs.h.
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>
#include "cuda_bf16.h"
#include "kernels/memory.h"
#include "kernels/sliced_conv_cudnn.h"

namespace slimssl::kernels {
namespace {
std::mutex mu;
std::map<void*, size_t> live;
MemoryStats stats;
}  // namespace

int device_count() { return 1; }
void* device_alloc(size_t n, int) {
  std::lock_guard<std::mutex> l(mu);
  const size_t size = (n + 255) / 256 * 256;
  void* p = std::aligned_alloc(256, size ? size : 256);
  std::memset(p, 0xFF, size);  // fresh device memory is garbage: NaN here
  live[p] = size;
  stats.current_bytes += size;
  stats.peak_bytes = std::max(stats.peak_bytes, stats.current_bytes);
  stats.reserved_bytes = std::max(stats.reserved_bytes, stats.current_bytes);
  return p;
}
void device_free(void* p, int) {
  std::lock_guard<std::mutex> l(mu);
  auto it = live.find(p);
  if (it == live.end()) return;
  stats.current_bytes -= it->second;
  live.erase(it);
  std::free(p);
}
void copy_bytes(void* dst, bool, const void* src, bool, size_t n) {
  emu::refuse_while_capturing("copy_bytes (a synchronous copy)");
  std::memcpy(dst, src, n);
}
MemoryStats memory_stats(int) {
  std::lock_guard<std::mutex> l(mu);
  return stats;
}
void reset_peak(int) {
  std::lock_guard<std::mutex> l(mu);
  stats.peak_bytes = stats.current_bytes;
}
void empty_cache(int) {}

namespace detail {
namespace {

float load(DType t, const void* p, size_t i) {
  return t == DType::F32 ? static_cast<const float*>(p)[i] : __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}
void put(DType t, void* p, size_t i, float v) {
  if (t == DType::F32) static_cast<float*>(p)[i] = v;
  else static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
}
float as_act(DType t, float w) { return t == DType::F32 ? w : __bfloat162float(__float2bfloat16_rn(w)); }

// Calls f(n, k, c, p, q, r, s, x_index, y_index) for every valid term of the convolution.
template <class F>
void for_each_term(const SlicedConvShape& s, F&& f) {
  const int P = s.out_h(), Q = s.out_w();
  for (int n = 0; n < s.batch; ++n)
    for (int k = 0; k < s.out_ch; ++k)
      for (int p = 0; p < P; ++p)
        for (int q = 0; q < Q; ++q)
          for (int c = 0; c < s.in_ch; ++c)
            for (int r = 0; r < s.kh; ++r)
              for (int t = 0; t < s.kw; ++t) {
                const int h = p * s.stride - s.pad + r, w = q * s.stride - s.pad + t;
                if (h < 0 || h >= s.in_h || w < 0 || w >= s.in_w) continue;
                f(k, c, r, t, ((size_t(n) * s.in_ch + c) * s.in_h + h) * s.in_w + w,
                  ((size_t(n) * s.out_ch + k) * P + p) * Q + q);
              }
}
size_t woff(SliceStrides ws, int k, int c, int r, int t) { return k * ws.o + c * ws.c + r * ws.h + t * ws.w; }

}  // namespace

void cudnn_conv_forward(const SlicedConvShape& s, DType act, const void* x, const float* w, SliceStrides ws, void* y,
                        cudaStream_t) {
  emu::run_or_record([=] {
    std::vector<float> acc(size_t(s.batch) * s.out_ch * s.out_h() * s.out_w(), 0.f);
    for_each_term(s, [&](int k, int c, int r, int t, size_t xi, size_t yi) {
      acc[yi] += load(act, x, xi) * as_act(act, w[woff(ws, k, c, r, t)]);
    });
    for (size_t i = 0; i < acc.size(); ++i) put(act, y, i, acc[i]);
  });
}
void cudnn_conv_backward_data(const SlicedConvShape& s, DType act, const void* dy, const float* w, SliceStrides ws,
                              void* dx, cudaStream_t) {
  emu::run_or_record([=] {
    std::vector<float> acc(size_t(s.batch) * s.in_ch * s.in_h * s.in_w, 0.f);
    for_each_term(s, [&](int k, int c, int r, int t, size_t xi, size_t yi) {
      acc[xi] += load(act, dy, yi) * as_act(act, w[woff(ws, k, c, r, t)]);
    });
    for (size_t i = 0; i < acc.size(); ++i) put(act, dx, i, acc[i]);
  });
}
void cudnn_conv_backward_weight(const SlicedConvShape& s, DType act, const void* x, const void* dy, float* dw,
                                SliceStrides ws, cudaStream_t) {
  emu::run_or_record([=] {
    std::vector<float> acc(size_t(s.out_ch) * s.in_ch * s.kh * s.kw, 0.f);
    for_each_term(s, [&](int k, int c, int r, int t, size_t xi, size_t yi) {
      acc[((size_t(k) * s.in_ch + c) * s.kh + r) * s.kw + t] += load(act, dy, yi) * load(act, x, xi);
    });
    for (int k = 0; k < s.out_ch; ++k)
      for (int c = 0; c < s.in_ch; ++c)
        for (int r = 0; r < s.kh; ++r)
          for (int t = 0; t < s.kw; ++t)
            dw[woff(ws, k, c, r, t)] += as_act(act, acc[((size_t(k) * s.in_ch + c) * s.kh + r) * s.kw + t]);
  });
}

}  // namespace detail
}  // namespace slimssl::kernels
