// Fused optimizer updates: see optimizer_step.h for the rules and the API.
//
// Table layout in the caller's device memory (each part 256-byte aligned):
//   OptSlot slots[count] | Chunk chunks[chunks] | int first_chunk[count + 1]
//   | double partial[2 * chunks] | float ratio[count]
// A chunk is at most kChunk elements of one tensor; a tensor's chunks are consecutive, so its
// per-chunk partial sums are merged in chunk order (fixed, hence deterministic).
#include "kernels/optimizer_step.h"
#include <cuda_runtime.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>
#include "kernels/memory.h"

namespace slimssl::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kChunk = 4096;     // elements per chunk: 16 per thread
constexpr int kMaxBlocks = 1024;  // grid-stride over chunks beyond this

struct Chunk {
  int tensor;
  int64_t start;
};

struct Layout {
  size_t slots, chunks, first, partial, ratio, total;
};
size_t align256(size_t x) { return (x + 255) / 256 * 256; }
Layout layout(int count, int chunks) {
  Layout l{};
  l.slots = 0;
  l.chunks = l.slots + align256(sizeof(OptSlot) * count);
  l.first = l.chunks + align256(sizeof(Chunk) * chunks);
  l.partial = l.first + align256(sizeof(int) * (count + 1));
  l.ratio = l.partial + align256(sizeof(double) * 2 * chunks);
  l.total = l.ratio + align256(sizeof(float) * count);
  return l;
}
int count_chunks(const OptSlot* slots, int count) {
  int64_t n = 0;
  for (int i = 0; i < count; ++i) n += (slots[i].numel + kChunk - 1) / kChunk;
  if (n > (int64_t(1) << 30)) throw std::invalid_argument("optimizer_step: too many elements");
  return static_cast<int>(n);
}
template <class T>
T* at(const OptimizerTable& t, size_t off) {
  return reinterpret_cast<T*>(static_cast<unsigned char*>(t.memory) + off);
}
void check_launch(const char* what) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string("optimizer_step: ") + what + ": " + cudaGetErrorString(e));
}
unsigned grid_for(int chunks) { return static_cast<unsigned>(std::max(1, std::min(chunks, kMaxBlocks))); }

// The descent direction before LARS / momentum, exactly as the CPU builds it: the clipped
// gradient plus the coupled weight decay.
__device__ __forceinline__ float direction(float g, float p, float scale, float wd) {
  float d = scale != 1.f ? g * scale : g;
  if (wd > 0.f) d = d + wd * p;
  return d;
}

// Sum over the block in a fixed order (warp butterflies, then the warps in order); the result is
// valid in thread 0. All threads of the block must call it.
__device__ double block_sum(double v, double* sh) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();  // sh may still be read from the previous call
  if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
  __syncthreads();
  double s = 0;
  if (threadIdx.x == 0)
    for (int w = 0; w < kWarps; ++w) s += sh[w];
  return s;
}

// Per chunk: partial[2c] = sum g^2 (grad_norm), or {sum p^2, sum d^2} (LARS, adapting tensors).
// Accumulated in double: the CPU reference sums in double too, and the LARS trust ratio scales
// the whole update, so its error would show in every element (this pass is memory-bound anyway).
__global__ void __launch_bounds__(kThreads) chunk_sums_kernel(const OptSlot* slots, const Chunk* chunks, int nchunks,
                                                              bool lars, const float* clip, double* partial) {
  __shared__ double sh[2][kWarps];
  const float scale = clip ? *clip : 1.f;
  for (int c = blockIdx.x; c < nchunks; c += gridDim.x) {
    const Chunk ch = chunks[c];
    const OptSlot s = slots[ch.tensor];
    const int64_t end = min(ch.start + kChunk, s.numel);
    double a = 0, b = 0;
    if (!lars) {
      for (int64_t i = ch.start + threadIdx.x; i < end; i += blockDim.x) a += double(s.grad[i]) * s.grad[i];
    } else if (s.lars_adapt) {
      for (int64_t i = ch.start + threadIdx.x; i < end; i += blockDim.x) {
        const float p = s.param[i], d = direction(s.grad[i], p, scale, s.weight_decay);
        a += double(p) * p;
        b += double(d) * d;
      }
    }
    a = block_sum(a, sh[0]);
    b = block_sum(b, sh[1]);
    if (threadIdx.x == 0) partial[2 * c] = a, partial[2 * c + 1] = b;
  }
}

// One block: the global gradient norm from the chunk partials, in double, fixed order.
__global__ void __launch_bounds__(kThreads) grad_norm_kernel(const double* partial, int nchunks, float max_norm,
                                                             float* norm_scale) {
  __shared__ double sh[kThreads];
  double a = 0;
  for (int c = threadIdx.x; c < nchunks; c += blockDim.x) a += partial[2 * c];
  sh[threadIdx.x] = a;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0;
    for (int i = 0; i < kThreads; ++i) total += sh[i];
    const double norm = sqrt(total);
    const double scale = (max_norm > 0 && norm > max_norm) ? max_norm / (norm + 1e-6) : 1.0;
    norm_scale[0] = static_cast<float>(norm);
    norm_scale[1] = static_cast<float>(scale);
  }
}

// Per tensor: the LARS factor eta ||p|| / ||d|| (1 when not adapting or a norm is zero).
__global__ void __launch_bounds__(kThreads) lars_ratio_kernel(const OptSlot* slots, const int* first_chunk,
                                                              int count, const double* partial, double eta,
                                                              float* ratio) {
  for (int t = blockIdx.x * blockDim.x + threadIdx.x; t < count; t += gridDim.x * blockDim.x) {
    double pn = 0, dn = 0;
    for (int c = first_chunk[t]; c < first_chunk[t + 1]; ++c) pn += partial[2 * c], dn += partial[2 * c + 1];
    float r = 1.f;
    if (slots[t].lars_adapt && pn > 0 && dn > 0) r = static_cast<float>(eta * sqrt(pn) / sqrt(dn));
    ratio[t] = r;
  }
}

struct SgdArgs {
  float lr, momentum;
  bool nesterov, first, use_momentum;
};

__global__ void __launch_bounds__(kThreads) sgd_kernel(const OptSlot* slots, const Chunk* chunks, int nchunks,
                                                       SgdArgs a, const float* clip, const float* ratio,
                                                       const OptimizerStepValues* per_step) {
  const float scale = clip ? *clip : 1.f;
  if (per_step) a.lr = per_step->lr_f;
  for (int c = blockIdx.x; c < nchunks; c += gridDim.x) {
    const Chunk ch = chunks[c];
    const OptSlot s = slots[ch.tensor];
    const int64_t end = min(ch.start + kChunk, s.numel);
    const float r = ratio ? ratio[ch.tensor] : 1.f;
    for (int64_t i = ch.start + threadIdx.x; i < end; i += blockDim.x) {
      const float p = s.param[i];
      float d = direction(s.grad[i], p, scale, s.weight_decay);
      if (r != 1.f) d = d * r;
      if (a.use_momentum) {
        const float m = a.first ? d : s.buf1[i] * a.momentum + d;
        s.buf1[i] = m;
        d = a.nesterov ? d + m * a.momentum : m;
      }
      s.param[i] = p - a.lr * d;
    }
  }
}

struct AdamArgs {
  double lr;
  float b1, b2, one_minus_b1, one_minus_b2, inv_bc1, inv_bc2, eps, lr_f;
  bool first;
};

__global__ void __launch_bounds__(kThreads) adamw_kernel(const OptSlot* slots, const Chunk* chunks, int nchunks,
                                                         AdamArgs a, const float* clip,
                                                         const OptimizerStepValues* per_step) {
  const float scale = clip ? *clip : 1.f;
  if (per_step) a.lr = per_step->lr, a.lr_f = per_step->lr_f, a.inv_bc1 = per_step->inv_bc1, a.inv_bc2 = per_step->inv_bc2;
  for (int c = blockIdx.x; c < nchunks; c += gridDim.x) {
    const Chunk ch = chunks[c];
    const OptSlot s = slots[ch.tensor];
    const int64_t end = min(ch.start + kChunk, s.numel);
    const float decay = static_cast<float>(1.0 - a.lr * s.weight_decay);  // decoupled, as the CPU
    for (int64_t i = ch.start + threadIdx.x; i < end; i += blockDim.x) {
      const float g = s.grad[i];
      const float d = scale != 1.f ? g * scale : g;
      const float m0 = a.first ? 0.f : s.buf1[i], v0 = a.first ? 0.f : s.buf2[i];
      const float m = m0 * a.b1 + a.one_minus_b1 * d;
      const float v = v0 * a.b2 + a.one_minus_b2 * (d * d);
      s.buf1[i] = m, s.buf2[i] = v;
      float p = s.param[i];
      if (s.weight_decay > 0.f) p = p * decay;
      const float upd = (m * a.inv_bc1) / (sqrtf(v * a.inv_bc2) + a.eps);
      s.param[i] = p - a.lr_f * upd;
    }
  }
}

}  // namespace

size_t optimizer_table_bytes(const OptSlot* slots, int count) {
  return layout(count, count_chunks(slots, count)).total;
}

OptimizerTable optimizer_table_build(const OptSlot* slots, int count, void* device_memory) {
  if (count < 0 || (count > 0 && !slots)) throw std::invalid_argument("optimizer_table_build: bad slot list");
  std::vector<Chunk> chunks;
  std::vector<int> first(count + 1, 0);
  for (int i = 0; i < count; ++i) {
    if (slots[i].numel < 0 || (slots[i].numel > 0 && (!slots[i].param || !slots[i].grad)))
      throw std::invalid_argument("optimizer_table_build: slot " + std::to_string(i) + " lacks param or grad");
    first[i] = static_cast<int>(chunks.size());
    for (int64_t s = 0; s < slots[i].numel; s += kChunk) chunks.push_back({i, s});
  }
  first[count] = static_cast<int>(chunks.size());
  OptimizerTable t{device_memory, count, static_cast<int>(chunks.size())};
  const Layout l = layout(count, t.chunks);
  // One host image of the tables, one copy.
  std::vector<unsigned char> img(l.partial, 0);
  if (count) std::copy_n(reinterpret_cast<const unsigned char*>(slots), sizeof(OptSlot) * count, img.data() + l.slots);
  if (t.chunks) std::copy_n(reinterpret_cast<const unsigned char*>(chunks.data()), sizeof(Chunk) * t.chunks, img.data() + l.chunks);
  std::copy_n(reinterpret_cast<const unsigned char*>(first.data()), sizeof(int) * (count + 1), img.data() + l.first);
  copy_bytes(device_memory, true, img.data(), false, img.size());
  return t;
}

void optimizer_grad_norm(const OptimizerTable& t, float max_norm, float* norm_scale, cudaStream_t stream) {
  const Layout l = layout(t.count, t.chunks);
  double* partial = at<double>(t, l.partial);
  if (t.chunks)
    chunk_sums_kernel<<<grid_for(t.chunks), kThreads, 0, stream>>>(at<OptSlot>(t, l.slots), at<Chunk>(t, l.chunks),
                                                                     t.chunks, false, nullptr, partial);
  grad_norm_kernel<<<1, kThreads, 0, stream>>>(partial, t.chunks, max_norm, norm_scale);
  check_launch("grad_norm");
}

OptimizerStepValues optimizer_step_values(const SgdStep& s) {
  OptimizerStepValues v;
  v.lr = s.lr, v.lr_f = static_cast<float>(s.lr);
  return v;
}

OptimizerStepValues optimizer_step_values(const AdamWStep& s) {
  if (s.step < 1) throw std::invalid_argument("optimizer_adamw_step: step must be >= 1");
  OptimizerStepValues v;
  v.lr = s.lr, v.lr_f = static_cast<float>(s.lr);
  v.inv_bc1 = static_cast<float>(1.0 / (1 - std::pow(s.beta1, static_cast<double>(s.step))));
  v.inv_bc2 = static_cast<float>(1.0 / (1 - std::pow(s.beta2, static_cast<double>(s.step))));
  return v;
}

void optimizer_sgd_step(const OptimizerTable& t, const SgdStep& s, const float* clip_scale, cudaStream_t stream,
                        const OptimizerStepValues* per_step) {
  if (!t.chunks) return;
  const Layout l = layout(t.count, t.chunks);
  const OptSlot* slots = at<OptSlot>(t, l.slots);
  const Chunk* chunks = at<Chunk>(t, l.chunks);
  float* ratio = nullptr;
  if (s.lars) {
    double* partial = at<double>(t, l.partial);
    ratio = at<float>(t, l.ratio);
    chunk_sums_kernel<<<grid_for(t.chunks), kThreads, 0, stream>>>(slots, chunks, t.chunks, true, clip_scale,
                                                                     partial);
    lars_ratio_kernel<<<(t.count + kThreads - 1) / kThreads, kThreads, 0, stream>>>(
        slots, at<int>(t, l.first), t.count, partial, s.lars_eta, ratio);
  }
  const SgdArgs a{static_cast<float>(s.lr), static_cast<float>(s.momentum), s.nesterov, s.first_step,
                  s.momentum > 0};
  sgd_kernel<<<grid_for(t.chunks), kThreads, 0, stream>>>(slots, chunks, t.chunks, a, clip_scale, ratio, per_step);
  check_launch(s.lars ? "lars_step" : "sgd_step");
}

void optimizer_adamw_step(const OptimizerTable& t, const AdamWStep& s, const float* clip_scale,
                          cudaStream_t stream, const OptimizerStepValues* per_step) {
  const OptimizerStepValues v = optimizer_step_values(s);  // checks s.step
  if (!t.chunks) return;
  const Layout l = layout(t.count, t.chunks);
  const AdamArgs a{v.lr,
                   static_cast<float>(s.beta1),
                   static_cast<float>(s.beta2),
                   static_cast<float>(1 - s.beta1),
                   static_cast<float>(1 - s.beta2),
                   v.inv_bc1,
                   v.inv_bc2,
                   static_cast<float>(s.eps),
                   v.lr_f,
                   s.first_step};
  adamw_kernel<<<grid_for(t.chunks), kThreads, 0, stream>>>(at<OptSlot>(t, l.slots), at<Chunk>(t, l.chunks),
                                                            t.chunks, a, clip_scale, per_step);
  check_launch("adamw_step");
}

}  // namespace slimssl::kernels
