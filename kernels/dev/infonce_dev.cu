// Workbench for the fused InfoNCE kernel (kernels/infonce.cu): numbered kernel versions, each
// validated against the CPU reference in this file, then timed against the unfused cuBLAS path.
//
// Versions (selected through InfoNCEOptions::kernel; the library holds the kernels themselves):
//   version 1 (v1_fma)   64 x 64 logits tiles in shared memory, CUDA-core float32 FMA, online
//                        log-sum-exp per row, split over column ranges, recomputation in backward.
//   version 2 (v2_wmma)  the same tiling with the tile products on tensor cores (wmma bf16, float32
//                        accumulation); float32 inputs are rounded to bf16 when staged.
//   peer (unfused)       what a framework does: cuBLAS GEMM for the logits (float32 out), a
//                        softmax-cross-entropy kernel, a kernel for dlogits, a cuBLAS GEMM for dq.
// What it does, in order:
//   1. validates every version (and the peer) against the CPU reference below on odd sizes, all
//      variants (MoCo, in-batch with dkeys, NT-Xent, distillation): |err| <= tol + eps |ref|;
//   2. checks v2 against the peer at a full-size problem (GPU vs GPU);
//   3. sweeps the split count of v2 at N = 512, K = 65536;
//   4. times forward + backward (CUDA events, L2 flushed before each run, median of 20) and the
//      extra device memory of each path at N = 256 / 512 / 1024, D = 128, K = 4096 / 16384 /
//      65536, MoCo with and without distillation, float32 and bfloat16; prints a table, writes JSON.
//
//   infonce_dev [out.json] [--quick] [--validate-only] [--small]
//     --quick: fewer benchmark sizes; --validate-only: steps 1 and 2 only; --small: step 2 at
//     N = 100, K = 700; --tiny: every step at toy sizes (both for scripts/emulate_kernels.sh, which
//     runs this on the CPU)
// Exit status 1 when any validation fails.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>
#include "kernels/infonce.h"
#include "kernels/memory.h"
#include "kernels/dev/workbench.h"

namespace k = slimssl::kernels;

#define CUBLAS_CHECK(x)                                                                   \
  do {                                                                                    \
    cublasStatus_t s_ = (x);                                                              \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                    \
      std::fprintf(stderr, "%s:%d %s: cuBLAS status %d\n", __FILE__, __LINE__, #x, (int)s_); \
      std::exit(2);                                                                       \
    }                                                                                     \
  } while (0)

namespace {
using namespace slimssl::workbench;

// ------------------------------------------------------------------------------------------------
// Host helpers

std::vector<float> unit_rows(int rows, int dim, std::mt19937& gen, bool round) {
  std::normal_distribution<float> nd;
  std::vector<float> v(static_cast<size_t>(rows) * dim);
  for (int r = 0; r < rows; ++r) {
    double n2 = 0;
    for (int d = 0; d < dim; ++d) v[(size_t)r * dim + d] = nd(gen), n2 += v[(size_t)r * dim + d] * (double)v[(size_t)r * dim + d];
    for (int d = 0; d < dim; ++d) {
      float& x = v[(size_t)r * dim + d];
      x = static_cast<float>(x / std::sqrt(n2));
      if (round) x = round_bf16(x);
    }
  }
  return v;
}

// ------------------------------------------------------------------------------------------------
// CPU reference (double): the logits written out. Columns: [pos] + M keys; NT-Xent masks j == i.

struct Problem {
  int kind;  // 0 MoCo, 1 in-batch, 2 NT-Xent
  int n, dim, queue;
  bool distill, teacher_keys;
};

struct Host {
  int R, M, D;
  std::vector<float> q, keys, pos, qt, kt;
};

struct Ref {
  double nce = 0, kd = 0;
  std::vector<double> dq, dk;
};

double dotf(const std::vector<float>& a, int i, const std::vector<float>& b, int j, int D) {
  double s = 0;
  for (int d = 0; d < D; ++d) s += (double)a[(size_t)i * D + d] * b[(size_t)j * D + d];
  return s;
}

Ref cpu_reference(const Problem& pr, const Host& h, double T, double Ts, double Tt, double gn, double gk) {
  const int R = h.R, M = h.M, D = h.D, off = pr.kind == 0 ? 1 : 0, cols = M + off;
  const bool mask = pr.kind == 2;
  const int shift = pr.kind == 2 ? pr.n : 0;
  Ref out;
  out.dq.assign((size_t)R * D, 0.0);
  out.dk.assign((size_t)M * D, 0.0);
  std::vector<double> z(cols), zt(cols), g(cols);
  std::vector<char> ok(cols);
  for (int i = 0; i < R; ++i) {
    for (int c = 0; c < cols; ++c) {
      const bool p = off && c == 0;
      const int j = c - off;
      ok[c] = !(mask && j == i);
      z[c] = p ? dotf(h.q, i, h.pos, i, D) : dotf(h.q, i, h.keys, j, D);
      if (pr.distill) zt[c] = p ? dotf(h.qt, i, h.pos, i, D) : dotf(h.qt, i, h.kt, j, D);
    }
    auto lse = [&](const std::vector<double>& v, double t) {
      double m = -INFINITY, s = 0;
      for (int c = 0; c < cols; ++c) if (ok[c]) m = std::max(m, v[c] / t);
      for (int c = 0; c < cols; ++c) if (ok[c]) s += std::exp(v[c] / t - m);
      return m + std::log(s);
    };
    const int label = off ? 0 : (i + shift) % M;
    const double lT = lse(z, T);
    out.nce += (lT - z[label] / T) / R;
    for (int c = 0; c < cols; ++c) g[c] = ok[c] ? gn * (std::exp(z[c] / T - lT) - (c == label)) / (R * T) : 0.0;
    if (pr.distill) {
      const double ls = lse(z, Ts), lt = lse(zt, Tt);
      for (int c = 0; c < cols; ++c) {
        if (!ok[c]) continue;
        const double pt = std::exp(zt[c] / Tt - lt), lp = z[c] / Ts - ls;
        out.kd -= pt * lp * Ts * Ts / R;
        g[c] += gk * Ts * (std::exp(lp) - pt) / R;
      }
    }
    for (int c = 0; c < cols; ++c) {
      const bool p = off && c == 0;
      const int j = c - off;
      for (int d = 0; d < D; ++d) {
        out.dq[(size_t)i * D + d] += g[c] * (p ? h.pos[(size_t)i * D + d] : h.keys[(size_t)j * D + d]);
        if (!p) out.dk[(size_t)j * D + d] += g[c] * h.q[(size_t)i * D + d];
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// The unfused peer (MoCo layout: positive column + queue), optionally with distillation.

__global__ void pos_dot_kernel(const void* a_, const void* b_, int N, int D, bool bf16, float* out) {
  const int i = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
  if (i >= N) return;
  float s = 0.f;
  for (int d = lane; d < D; d += 32) {
    const size_t at = (size_t)i * D + d;
    const float a = bf16 ? __bfloat162float(static_cast<const bf16_t*>(a_)[at]) : static_cast<const float*>(a_)[at];
    const float b = bf16 ? __bfloat162float(static_cast<const bf16_t*>(b_)[at]) : static_cast<const float*>(b_)[at];
    s += a * b;
  }
  for (int o = 16; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) out[i] = s;
}

__device__ float block_reduce(float v, bool is_max, float* sh) {
  for (int o = 16; o > 0; o /= 2) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = is_max ? fmaxf(v, w) : v + w;
  }
  __syncthreads();
  if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
  __syncthreads();
  v = sh[0];
  for (int w = 1; w < blockDim.x / 32; ++w) v = is_max ? fmaxf(v, sh[w]) : v + sh[w];
  return v;
}

// One block per row: log-sum-exps and the row's losses (softmax cross-entropy, distillation).
__global__ void ce_forward_kernel(const float* pos, const float* neg, const float* tpos, const float* tneg, int K,
                                  float invT, float invTs, float invTt, float Ts, float* lse, float* row_loss) {
  __shared__ float sh[32];
  const int i = blockIdx.x;
  const float* z = neg + (size_t)i * K;
  float m = pos[i];
  for (int j = threadIdx.x; j < K; j += blockDim.x) m = fmaxf(m, z[j]);
  m = block_reduce(m, true, sh);
  float sT = 0.f, sS = 0.f;
  for (int j = threadIdx.x; j < K; j += blockDim.x) sT += __expf((z[j] - m) * invT), sS += tneg ? __expf((z[j] - m) * invTs) : 0.f;
  sT = block_reduce(sT, false, sh) + __expf((pos[i] - m) * invT);
  const float lseT = m * invT + __logf(sT);
  float kd = 0.f, lse_s = 0.f, lse_t = 0.f;
  if (tneg) {
    sS = block_reduce(sS, false, sh) + __expf((pos[i] - m) * invTs);
    lse_s = m * invTs + __logf(sS);
    const float* zt = tneg + (size_t)i * K;
    float mt = tpos[i];
    for (int j = threadIdx.x; j < K; j += blockDim.x) mt = fmaxf(mt, zt[j]);
    mt = block_reduce(mt, true, sh);
    float st = 0.f, at = 0.f;
    for (int j = threadIdx.x; j < K; j += blockDim.x) {
      const float e = __expf((zt[j] - mt) * invTt);
      st += e, at += e * z[j];
    }
    const float e0 = __expf((tpos[i] - mt) * invTt);
    st = block_reduce(st, false, sh) + e0;
    at = block_reduce(at, false, sh) + e0 * pos[i];
    lse_t = mt * invTt + __logf(st);
    kd = Ts * Ts * (lse_s - at / st * invTs);
  }
  if (threadIdx.x == 0) {
    lse[3 * i] = lseT, lse[3 * i + 1] = lse_s, lse[3 * i + 2] = lse_t;
    row_loss[i] = lseT - pos[i] * invT;
    row_loss[gridDim.x + i] = kd;
  }
}

__global__ void mean_kernel(const float* row_loss, int N, float* loss) {
  __shared__ float sh[32];
  float a = 0.f, b = 0.f;
  for (int i = threadIdx.x; i < N; i += blockDim.x) a += row_loss[i], b += row_loss[N + i];
  a = block_reduce(a, false, sh);
  b = block_reduce(b, false, sh);
  if (threadIdx.x == 0) loss[0] = a / N, loss[1] = b / N;
}

// dlogits, elementwise; the positive column separately.
template <class T>
__global__ void ce_backward_kernel(const float* pos, const float* neg, const float* tpos, const float* tneg, int N,
                                   int K, const float* lse, float cn, float ck, float invT, float invTs, float invTt,
                                   T* dneg, float* dpos) {
  const size_t total = (size_t)N * K;
  for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total; idx += (size_t)gridDim.x * blockDim.x) {
    const int i = static_cast<int>(idx / K);
    const float z = neg[idx];
    float g = cn * __expf(z * invT - lse[3 * i]);
    if (tneg) g += ck * (__expf(z * invTs - lse[3 * i + 1]) - __expf(tneg[idx] * invTt - lse[3 * i + 2]));
    if constexpr (std::is_same_v<T, float>) dneg[idx] = g;
    else dneg[idx] = __float2bfloat16(g);
  }
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < N) {
    float g = cn * (__expf(pos[i] * invT - lse[3 * i]) - 1.f);
    if (tneg) g += ck * (__expf(pos[i] * invTs - lse[3 * i + 1]) - __expf(tpos[i] * invTt - lse[3 * i + 2]));
    dpos[i] = g;
  }
}

template <class T>
__global__ void finish_dq_kernel(const float* dq32, const float* dpos, const T* kpos, int N, int D, T* dq) {
  const size_t total = (size_t)N * D;
  for (size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x; idx < total; idx += (size_t)gridDim.x * blockDim.x) {
    const int i = static_cast<int>(idx / D);
    float kv;
    if constexpr (std::is_same_v<T, float>) kv = kpos[idx];
    else kv = __bfloat162float(kpos[idx]);
    const float v = dq32[idx] + dpos[i] * kv;
    if constexpr (std::is_same_v<T, float>) dq[idx] = v;
    else dq[idx] = __float2bfloat16(v);
  }
}

struct Unfused {
  cublasHandle_t h;
  int N, K, D;
  slimssl::DType t;
  bool distill;
  Buf pos, neg, tpos, tneg, lse, row_loss, dneg, dpos, dq32;
  Unfused(cublasHandle_t handle, int n, int kk, int d, slimssl::DType type, bool dist)
      : h(handle), N(n), K(kk), D(d), t(type), distill(dist), pos(n * 4), neg((size_t)n * kk * 4),
        tpos(dist ? n * 4 : 0), tneg(dist ? (size_t)n * kk * 4 : 0), lse((size_t)n * 12), row_loss((size_t)n * 8),
        dneg((size_t)n * kk * slimssl::dtype_size(type)), dpos(n * 4), dq32((size_t)n * d * 4) {}

  void logits(const void* q, const void* kpos, const void* queue, float* p, float* z, cudaStream_t st) {
    const bool bf = t == slimssl::DType::BF16;
    pos_dot_kernel<<<(N + 7) / 8, 256, 0, st>>>(q, kpos, N, D, bf, p);
    const float one = 1.f, zero = 0.f;
    const cudaDataType_t dt = bf ? CUDA_R_16BF : CUDA_R_32F;
    // Row-major neg [N, K] = q [N, D] . queue [K, D]^T, i.e. column-major neg^T = queue^T(op T) . q.
    CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, K, N, D, &one, queue, dt, D, q, dt, D, &zero, z, CUDA_R_32F,
                              K, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }

  void forward(const void* q, const void* kpos, const void* queue, const void* qt, float T, float Ts, float Tt,
               float* loss, cudaStream_t st) {
    CUBLAS_CHECK(cublasSetStream(h, st));
    logits(q, kpos, queue, pos.as<float>(), neg.as<float>(), st);
    if (distill) logits(qt, kpos, queue, tpos.as<float>(), tneg.as<float>(), st);
    ce_forward_kernel<<<N, 256, 0, st>>>(pos.as<float>(), neg.as<float>(), distill ? tpos.as<float>() : nullptr,
                                         distill ? tneg.as<float>() : nullptr, K, 1.f / T, 1.f / Ts, 1.f / Tt, Ts,
                                         lse.as<float>(), row_loss.as<float>());
    mean_kernel<<<1, 256, 0, st>>>(row_loss.as<float>(), N, loss);
    CUDA_CHECK(cudaGetLastError());
  }

  void backward(const void* kpos, const void* queue, float gn, float gk, float T, float Ts, float Tt, void* dq,
                cudaStream_t st) {
    const bool bf = t == slimssl::DType::BF16;
    const float cn = gn / (N * T), ck = gk * Ts / N;
    const size_t total = (size_t)N * K;
    const int blocks = (int)std::min<size_t>((total + 255) / 256, 65536);
    if (bf)
      ce_backward_kernel<bf16_t><<<std::max(blocks, (N + 255) / 256), 256, 0, st>>>(
          pos.as<float>(), neg.as<float>(), distill ? tpos.as<float>() : nullptr, distill ? tneg.as<float>() : nullptr,
          N, K, lse.as<float>(), cn, ck, 1.f / T, 1.f / Ts, 1.f / Tt, dneg.as<bf16_t>(), dpos.as<float>());
    else
      ce_backward_kernel<float><<<std::max(blocks, (N + 255) / 256), 256, 0, st>>>(
          pos.as<float>(), neg.as<float>(), distill ? tpos.as<float>() : nullptr, distill ? tneg.as<float>() : nullptr,
          N, K, lse.as<float>(), cn, ck, 1.f / T, 1.f / Ts, 1.f / Tt, dneg.as<float>(), dpos.as<float>());
    const float one = 1.f, zero = 0.f;
    const cudaDataType_t dt = bf ? CUDA_R_16BF : CUDA_R_32F;
    // Row-major dq [N, D] = dneg [N, K] . queue [K, D]: column-major dq^T = queue^T . dneg^T.
    CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, D, N, K, &one, queue, dt, D, dneg.p, dt, K, &zero,
                              dq32.p, CUDA_R_32F, D, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    const int b2 = (int)std::min<size_t>(((size_t)N * D + 255) / 256, 4096);
    if (bf)
      finish_dq_kernel<bf16_t><<<b2, 256, 0, st>>>(dq32.as<float>(), dpos.as<float>(), static_cast<const bf16_t*>(kpos),
                                                   N, D, static_cast<bf16_t*>(dq));
    else
      finish_dq_kernel<float><<<b2, 256, 0, st>>>(dq32.as<float>(), dpos.as<float>(), static_cast<const float*>(kpos),
                                                  N, D, static_cast<float*>(dq));
    CUDA_CHECK(cudaGetLastError());
  }
};

// ------------------------------------------------------------------------------------------------
// Validation

struct Check {
  double worst_ratio = 0;  // max over elements of |err| / (tol + eps |ref|); <= 1 passes
  bool nan = false;
  void add(double got, double ref, double tol, double eps) {
    if (std::isnan(got)) nan = true;
    worst_ratio = std::max(worst_ratio, std::fabs(got - ref) / (tol + eps * std::fabs(ref)));
  }
  bool ok() const { return !nan && worst_ratio <= 1.0; }
};

const double kT = 0.2, kTs = 0.5, kTt = 0.3, kGn = 0.7, kGk = 1.3;

bool validate_case(const Problem& pr, slimssl::DType t, k::InfoNCEKernel kern, std::mt19937& gen) {
  const bool round = t == slimssl::DType::BF16 || kern == k::InfoNCEKernel::V2Wmma;
  Host h;
  h.D = pr.dim;
  h.R = pr.kind == 2 ? 2 * pr.n : pr.n;
  h.M = pr.kind == 0 ? pr.queue : h.R;
  h.q = unit_rows(h.R, h.D, gen, round);
  h.keys = pr.kind == 2 ? h.q : unit_rows(h.M, h.D, gen, round);
  if (pr.kind == 0) h.pos = unit_rows(h.R, h.D, gen, round);
  if (pr.distill) {
    h.qt = unit_rows(h.R, h.D, gen, round);
    h.kt = !pr.teacher_keys ? h.keys : (pr.kind == 2 ? h.qt : unit_rows(h.M, h.D, gen, round));
  }
  Ref ref = cpu_reference(pr, h, kT, kTs, kTt, kGn, kGk);
  const bool want_dk = pr.kind != 0;
  if (pr.kind == 2)
    for (size_t i = 0; i < ref.dq.size(); ++i) ref.dq[i] += ref.dk[i];

  Buf q = upload(h.q, t), keys = pr.kind == 2 ? Buf() : upload(h.keys, t), pos = pr.kind == 0 ? upload(h.pos, t) : Buf();
  Buf qt = pr.distill ? upload(h.qt, t) : Buf();
  Buf kt = pr.distill && pr.teacher_keys && pr.kind != 2 ? upload(h.kt, t) : Buf();
  const void* keys_dev = pr.kind == 2 ? q.p : keys.p;
  k::InfoNCEProblem p = pr.kind == 0   ? k::infonce_moco(t, q.p, pos.p, keys_dev, pr.n, pr.queue, pr.dim, kT)
                        : pr.kind == 1 ? k::infonce_inbatch(t, q.p, keys_dev, pr.n, pr.dim, kT)
                                       : k::infonce_ntxent(t, q.p, pr.n, pr.dim, kT);
  if (pr.distill)
    k::infonce_add_distill(p, qt.p, pr.teacher_keys ? (pr.kind == 2 ? qt.p : kt.p) : nullptr, nullptr, kTs, kTt);
  k::InfoNCEOptions o;
  o.kernel = kern;
  Buf loss(8), saved(k::infonce_saved_floats(p) * 4), ws(k::infonce_workspace_bytes(p, want_dk, o)), grad(8);
  const float g2[2] = {(float)kGn, (float)kGk};
  CUDA_CHECK(cudaMemcpy(grad.p, g2, 8, cudaMemcpyHostToDevice));
  Buf dq((size_t)h.R * h.D * slimssl::dtype_size(t)), dk(pr.kind == 1 ? (size_t)h.M * h.D * slimssl::dtype_size(t) : 0);
  CUDA_CHECK(cudaMemset(dq.p, 0xff, dq.bytes));  // poison: unwritten elements read NaN
  if (dk.p) CUDA_CHECK(cudaMemset(dk.p, 0xff, dk.bytes));
  k::infonce_forward(p, loss.as<float>(), saved.as<float>(), ws.p, nullptr, o);
  k::infonce_backward(p, grad.as<float>(), saved.as<float>(), dq.p, pr.kind == 2 ? dq.p : dk.p, ws.p, nullptr, o);
  CUDA_CHECK(cudaDeviceSynchronize());

  const double tol = round ? 1e-2 : 1e-4, eps = round ? 2e-2 : 1e-3;
  float l[2];
  CUDA_CHECK(cudaMemcpy(l, loss.p, 8, cudaMemcpyDeviceToHost));
  Check cl, cg;
  cl.add(l[0], ref.nce, 1e-4, 1e-4);
  cl.add(l[1], pr.distill ? ref.kd : 0.0, 1e-4, 1e-4);
  auto scale = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s = std::max(s, std::fabs(x));
    return s;
  };
  const std::vector<float> gq = download(dq, ref.dq.size(), t);
  const double sq = scale(ref.dq);
  for (size_t i = 0; i < gq.size(); ++i) cg.add(gq[i], ref.dq[i], tol * sq, eps);
  if (pr.kind == 1) {
    const std::vector<float> gk = download(dk, ref.dk.size(), t);
    const double sk = scale(ref.dk);
    for (size_t i = 0; i < gk.size(); ++i) cg.add(gk[i], ref.dk[i], tol * sk, eps);
  }
  static const char* kinds[] = {"moco", "inbatch", "ntxent"};
  const bool ok = cl.ok() && cg.ok();
  std::printf("  %-8s%-9s n=%-4d dim=%-4d queue=%-5d %-8s %-8s loss %.6f (ref %.6f) kd %.6f (ref %.6f)  err/tol %.3f  %s\n",
              kinds[pr.kind], pr.distill ? "+distill" : "", pr.n, pr.dim, pr.queue, slimssl::dtype_name(t),
              k::infonce_kernel_name(kern), l[0], ref.nce, l[1], pr.distill ? ref.kd : 0.0,
              std::max(cl.worst_ratio, cg.worst_ratio), ok ? "ok" : "FAIL");
  return ok;
}

// ------------------------------------------------------------------------------------------------
// Timing

struct Row {
  std::string variant, dtype;
  int n, dim, queue;
  float v2_ms = -1, v1_ms = -1, unfused_ms = -1;
  double v2_mb = 0, v1_mb = 0, unfused_mb = 0;
};

// Peak bytes of the caching allocator above `base` while fn runs (fn allocates what its path needs).
template <class F>
double peak_mb(F&& fn) {
  CUDA_CHECK(cudaDeviceSynchronize());
  const size_t base = k::memory_stats(0).current_bytes;
  k::reset_peak(0);
  fn();
  CUDA_CHECK(cudaDeviceSynchronize());
  return (k::memory_stats(0).peak_bytes - base) / 1048576.0;
}

Row bench(cublasHandle_t cb, Timer& tm, int N, int D, int K, bool distill, slimssl::DType t, bool with_v1, int reps,
          std::mt19937& gen) {
  Row row{distill ? "moco+distill" : "moco", slimssl::dtype_name(t), N, D, K};
  const bool bf = t == slimssl::DType::BF16;
  Buf q = upload(unit_rows(N, D, gen, bf), t), kp = upload(unit_rows(N, D, gen, bf), t);
  Buf queue = upload(unit_rows(K, D, gen, bf), t);
  Buf qt = distill ? upload(unit_rows(N, D, gen, bf), t) : Buf();
  Buf loss(8), dq((size_t)N * D * slimssl::dtype_size(t));
  k::InfoNCEProblem p = k::infonce_moco(t, q.p, kp.p, queue.p, N, K, D, kT);
  if (distill) k::infonce_add_distill(p, qt.p, nullptr, nullptr, kTs, kTt);

  auto fused = [&](k::InfoNCEKernel kern, float& ms, double& mb) {
    k::InfoNCEOptions o;
    o.kernel = kern;
    mb = peak_mb([&] {
      Buf saved(k::infonce_saved_floats(p) * 4), ws(k::infonce_workspace_bytes(p, false, o));
      auto run = [&] {
        k::infonce_forward(p, loss.as<float>(), saved.as<float>(), ws.p, nullptr, o);
        k::infonce_backward(p, nullptr, saved.as<float>(), dq.p, nullptr, ws.p, nullptr, o);
      };
      ms = tm.median_ms(run, reps);
    });
  };
  fused(k::InfoNCEKernel::V2Wmma, row.v2_ms, row.v2_mb);
  if (with_v1) fused(k::InfoNCEKernel::V1Fma, row.v1_ms, row.v1_mb);
  row.unfused_mb = peak_mb([&] {
    Unfused u(cb, N, K, D, t, distill);
    auto run = [&] {
      u.forward(q.p, kp.p, queue.p, qt.p, kT, kTs, kTt, loss.as<float>(), nullptr);
      u.backward(kp.p, queue.p, 1.f, 1.f, kT, kTs, kTt, dq.p, nullptr);
    };
    row.unfused_ms = tm.median_ms(run, reps);
  });
  return row;
}

// GPU vs GPU at a full size: fused v2 and the unfused peer on the same (bf16-exact) inputs.
bool cross_check(cublasHandle_t cb, int N, int D, int K, bool distill, std::mt19937& gen) {
  const slimssl::DType t = slimssl::DType::F32;  // bf16-representable values in float32: both paths multiply the same numbers
  std::vector<float> hq = unit_rows(N, D, gen, true), hk = unit_rows(N, D, gen, true), hqu = unit_rows(K, D, gen, true);
  std::vector<float> hqt = unit_rows(N, D, gen, true);
  Buf q = upload(hq, t), kp = upload(hk, t), queue = upload(hqu, t), qt = upload(hqt, t);
  k::InfoNCEProblem p = k::infonce_moco(t, q.p, kp.p, queue.p, N, K, D, kT);
  if (distill) k::infonce_add_distill(p, qt.p, nullptr, nullptr, kTs, kTt);
  k::InfoNCEOptions o;
  o.kernel = k::InfoNCEKernel::V2Wmma;
  Buf loss_f(8), loss_u(8), saved(k::infonce_saved_floats(p) * 4), ws(k::infonce_workspace_bytes(p, false, o));
  Buf dq_f((size_t)N * D * 4), dq_u((size_t)N * D * 4);
  k::infonce_forward(p, loss_f.as<float>(), saved.as<float>(), ws.p, nullptr, o);
  k::infonce_backward(p, nullptr, saved.as<float>(), dq_f.p, nullptr, ws.p, nullptr, o);
  Unfused u(cb, N, K, D, t, distill);
  u.forward(q.p, kp.p, queue.p, qt.p, kT, kTs, kTt, loss_u.as<float>(), nullptr);
  u.backward(kp.p, queue.p, 1.f, 1.f, kT, kTs, kTt, dq_u.p, nullptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  float lf[2], lu[2];
  CUDA_CHECK(cudaMemcpy(lf, loss_f.p, 8, cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(lu, loss_u.p, 8, cudaMemcpyDeviceToHost));
  std::vector<float> gf = download(dq_f, (size_t)N * D, t), gu = download(dq_u, (size_t)N * D, t);
  double num = 0, den = 0;
  for (size_t i = 0; i < gf.size(); ++i) num += std::pow(gf[i] - gu[i], 2), den += std::pow(gu[i], 2);
  const double rel = std::sqrt(num / std::max(den, 1e-30));
  // The fused backward rounds its softmax coefficients to bf16: ~1e-3 relative on dq.
  const bool ok = std::fabs(lf[0] - lu[0]) <= 1e-3 * std::fabs(lu[0]) && std::fabs(lf[1] - lu[1]) <= 1e-3 * std::fabs(lu[1]) + 1e-5 &&
                  rel <= 1e-2 && !std::isnan(rel);
  std::printf("  full size N=%d K=%d D=%d%s: loss fused %.6f unfused %.6f, kd %.6f / %.6f, |dq - dq_peer| / |dq_peer| = %.2e  %s\n",
              N, K, D, distill ? " +distill" : "", lf[0], lu[0], lf[1], lu[1], rel, ok ? "ok" : "FAIL");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const char* json_path = nullptr;
  bool quick = false, validate_only = false, small = false, tiny = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--validate-only") validate_only = true;
    else if (a == "--small") small = true;
    else if (a == "--tiny") tiny = small = quick = true;
    else json_path = argv[i];
  }
  if (k::device_count() == 0) {
    std::fprintf(stderr, "infonce_dev: no CUDA device\n");
    return 2;
  }
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("infonce_dev on %s (%d SMs, %.0f MB L2)\n", prop.name, prop.multiProcessorCount, prop.l2CacheSize / 1048576.0);
  std::mt19937 gen(2024);
  cublasHandle_t cb;
  CUBLAS_CHECK(cublasCreate(&cb));

  // 1. Validation against the CPU reference.
  std::printf("validation (CPU reference in double; err/tol <= 1 passes)\n");
  const std::vector<Problem> problems = {
      {0, 37, 40, 150, false, false}, {0, 70, 200, 129, false, false}, {1, 70, 37, 0, false, false},
      {2, 45, 24, 0, false, false},   {0, 37, 40, 150, true, false},   {1, 70, 40, 0, true, false},
      {2, 33, 40, 0, true, true},     {0, 128, 128, 1000, false, false},
  };
  int failures = 0, checks = 0;
  for (const auto& pr : problems)
    for (auto t : {slimssl::DType::F32, slimssl::DType::BF16})
      for (auto kern : {k::InfoNCEKernel::V1Fma, k::InfoNCEKernel::V2Wmma}) failures += !validate_case(pr, t, kern, gen), ++checks;
  // 2. Full-size GPU cross-check of v2 against the unfused peer.
  failures += !cross_check(cb, small ? 100 : 512, 128, small ? 700 : 65536, false, gen), ++checks;
  failures += !cross_check(cb, small ? 100 : 512, 128, small ? 700 : 16384, true, gen), ++checks;
  if (validate_only) {
    std::printf("validation: %d of %d checks passed\n", checks - failures, checks);
    return failures ? 1 : 0;
  }

  // 3. Sweep of v2's split count at the target size.
  Timer tm(tiny ? 1 << 20 : size_t{256} << 20);
  const int reps = tiny ? 2 : quick ? 5 : 20;
  std::vector<std::pair<int, float>> sweep;
  {
    const int N = tiny ? 64 : 512, D = 128, K = tiny ? 512 : quick ? 16384 : 65536;
    Buf q = upload(unit_rows(N, D, gen, true), slimssl::DType::BF16), kp = upload(unit_rows(N, D, gen, true), slimssl::DType::BF16);
    Buf queue = upload(unit_rows(K, D, gen, true), slimssl::DType::BF16);
    Buf loss(8), dq((size_t)N * D * 2);
    k::InfoNCEProblem p = k::infonce_moco(slimssl::DType::BF16, q.p, kp.p, queue.p, N, K, D, kT);
    std::printf("split sweep, v2 bf16 MoCo N=%d K=%d D=%d (forward + backward)\n", N, K, D);
    for (int s : tiny ? std::vector<int>{0, 2} : std::vector<int>{0, 1, 2, 4, 8, 16, 32, 64, 128}) {
      k::InfoNCEOptions o;
      o.kernel = k::InfoNCEKernel::V2Wmma, o.splits = s;
      Buf saved(k::infonce_saved_floats(p) * 4), ws(k::infonce_workspace_bytes(p, false, o));
      const float ms = tm.median_ms(
          [&] {
            k::infonce_forward(p, loss.as<float>(), saved.as<float>(), ws.p, nullptr, o);
            k::infonce_backward(p, nullptr, saved.as<float>(), dq.p, nullptr, ws.p, nullptr, o);
          },
          reps);
      sweep.emplace_back(s, ms);
      std::printf("  splits %-4s %8.3f ms\n", s == 0 ? "auto" : std::to_string(s).c_str(), ms);
    }
  }

  // 4. The benchmark table.
  std::vector<Row> rows;
  const std::vector<int> Ns = tiny ? std::vector<int>{64} : quick ? std::vector<int>{512} : std::vector<int>{256, 512, 1024};
  const std::vector<int> Ks = tiny    ? std::vector<int>{256}
                              : quick ? std::vector<int>{4096, 65536}
                                      : std::vector<int>{4096, 16384, 65536};
  for (bool distill : {false, true})
    for (auto t : {slimssl::DType::BF16, slimssl::DType::F32})
      for (int N : Ns)
        for (int K : Ks) rows.push_back(bench(cb, tm, N, 128, K, distill, t, true, reps, gen));

  std::printf("\nforward + backward, D = 128, median of %d runs after an L2 flush; memory: peak bytes the path allocates "
              "beyond inputs and dq (caching allocator; cuBLAS's own workspace not counted)\n", reps);
  std::printf("| variant | dtype | N | K | fused v2 ms | fused v1 ms | unfused ms | v2 speedup | v2 MB | unfused MB |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows)
    std::printf("| %s | %s | %d | %d | %.3f | %.3f | %.3f | %.2fx | %.1f | %.1f |\n", r.variant.c_str(), r.dtype.c_str(), r.n,
                r.queue, r.v2_ms, r.v1_ms, r.unfused_ms, r.unfused_ms / r.v2_ms, r.v2_mb, r.unfused_mb);
  std::printf("validation: %d of %d checks passed\n", checks - failures, checks);

  if (json_path) {
    FILE* f = std::fopen(json_path, "w");
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", json_path);
      return 2;
    }
    std::fprintf(f, "{\n  \"device\": \"%s\",\n  \"validation\": {\"checks\": %d, \"failures\": %d},\n", prop.name, checks, failures);
    std::fprintf(f, "  \"split_sweep\": [");
    for (size_t i = 0; i < sweep.size(); ++i)
      std::fprintf(f, "%s{\"splits\": %d, \"ms\": %.4f}", i ? ", " : "", sweep[i].first, sweep[i].second);
    std::fprintf(f, "],\n  \"rows\": [\n");
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::fprintf(f,
                   "    {\"variant\": \"%s\", \"dtype\": \"%s\", \"n\": %d, \"dim\": %d, \"queue\": %d, \"fused_v2_ms\": %.4f, "
                   "\"fused_v1_ms\": %.4f, \"unfused_ms\": %.4f, \"fused_v2_mb\": %.2f, \"fused_v1_mb\": %.2f, "
                   "\"unfused_mb\": %.2f}%s\n",
                   r.variant.c_str(), r.dtype.c_str(), r.n, r.dim, r.queue, r.v2_ms, r.v1_ms, r.unfused_ms, r.v2_mb,
                   r.v1_mb, r.unfused_mb, i + 1 < rows.size() ? "," : "");
    }
    std::fprintf(f, "  ]\n}\n");
    std::fclose(f);
  }
  cublasDestroy(cb);
  return failures ? 1 : 0;
}
