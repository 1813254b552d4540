// Fused InfoNCE (+ online distillation): see infonce.h for the maths and the API.
//
// Tiling. A block of 128 threads (4 warps) owns one 64-row tile of queries (forward, dq) or of keys
// (dkeys) and walks a range of 64-wide tiles of the other side. Both 64 x D tiles sit in shared
// memory (bf16 for the tensor-core version, float32 for the FMA version), the 64 x 64 float32
// logits tile is computed into shared memory (warp w makes rows 16w..16w+15), and then:
//   forward:  each row's online (max, sum) statistics are kept in registers by two lanes, each
//             over alternate columns, merged at the end and written per (split, row);
//   backward: the softmax coefficients C = dL/dz are written to shared memory and the block
//             accumulates C . keys (dq) or C^T . q (dkeys) in registers, 64 x D per block.
// The logits never reach device memory; per-split partial results do (size: splits x rows x D,
// with splits chosen to fill the GPU, so bounded by the GPU's size, not by the number of keys)
// and small kernels merge them in a fixed order, so results are deterministic.
#include "kernels/infonce.h"
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace slimssl::kernels {
namespace {

using bf16_t = __nv_bfloat16;
namespace wmma = nvcuda::wmma;

constexpr int kTile = 64;         // rows and columns of a logits tile
constexpr int kThreads = 128;     // 4 warps
constexpr int kSLd = kTile + 4;   // float32 logits tiles: wmma stores need a multiple of 4
constexpr int kStats = 7;         // per (split, row): mT lT | ms ls | mt lt at
constexpr int kMaxDim = 256;
constexpr float kNegInf = -__builtin_huge_valf();

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("infonce: ") + what + ": " + cudaGetErrorString(e));
}
[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument("infonce: " + msg); }

int round_up(int x, int m) { return (x + m - 1) / m * m; }
size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

// Everything a kernel needs, by value.
struct Params {
  const void* q;
  const void* keys;
  const void* pos;
  const void* qt;  // teacher queries (null without distillation)
  const void* kt;  // teacher keys (== keys when not given)
  const void* pt;  // teacher positives (== pos when not given)
  int R, M, D, Dk;  // Dk: D rounded up to 16 (the k-extent of the logits products)
  int label_shift;
  bool mask_self, has_pos, distill, teacher_keys, vec;
  float invT, invTs, invTt, Ts;
  int splits, tiles_per_split;  // over the streamed tiles of the pass
};

// ---------------------------------------------------------------------------------------------
// Element access

template <class T> __device__ __forceinline__ float to_f(T v);
template <> __device__ __forceinline__ float to_f<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_f<bf16_t>(bf16_t v) { return __bfloat162float(v); }
template <class S> __device__ __forceinline__ S from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ bf16_t from_f<bf16_t>(float v) { return __float2bfloat16_rn(v); }
// The tensor-core version sees every input rounded to bf16; scalar side paths round the same way
// so that the whole computation is that of the rounded inputs.
template <bool kRound> __device__ __forceinline__ float as_used(float v) {
  return kRound ? __bfloat162float(__float2bfloat16_rn(v)) : v;
}

__device__ __forceinline__ void load8(const float* src, float* v) {
  float4 a = *reinterpret_cast<const float4*>(src), b = *reinterpret_cast<const float4*>(src + 4);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
__device__ __forceinline__ void load8(const bf16_t* src, float* v) {
  uint4 u = *reinterpret_cast<const uint4*>(src);
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    float2 f = __bfloat1622float2(h[k]);
    v[2 * k] = f.x, v[2 * k + 1] = f.y;
  }
}
__device__ __forceinline__ void store8(bf16_t* dst, const float* v) {
  uint4 u;
  __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&u);
#pragma unroll
  for (int k = 0; k < 4; ++k) h[k] = __floats2bfloat162_rn(v[2 * k], v[2 * k + 1]);
  *reinterpret_cast<uint4*>(dst) = u;  // rows are 16-byte multiples, d a multiple of 8
}

// Rows [row0, row0 + 64) of a [nrows, D] matrix into a shared tile [64][ld], columns [0, width)
// (width a multiple of 16); rows past the end and columns past D are zero. Consecutive threads
// read consecutive elements of a row, so the global reads coalesce.
template <class T, class S>
__device__ void load_tile(S* dst, int ld, const T* __restrict__ src, int nrows, int row0, int D, int width,
                          bool vec) {
  if (vec) {  // D % 8 == 0 and 16-byte aligned rows: 8 elements per step
    const int chunks = width / 8;
    for (int idx = threadIdx.x; idx < kTile * chunks; idx += kThreads) {
      const int r = idx / chunks, d = (idx - r * chunks) * 8, g = row0 + r;
      float v[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
      if (g < nrows && d < D) load8(src + static_cast<size_t>(g) * D + d, v);
      if constexpr (std::is_same_v<S, bf16_t>) {
        store8(dst + r * ld + d, v);
      } else {
#pragma unroll
        for (int k = 0; k < 8; ++k) dst[r * ld + d + k] = v[k];  // float rows are odd-pitched
      }
    }
    return;
  }
  for (int idx = threadIdx.x; idx < kTile * width; idx += kThreads) {
    const int r = idx / width, d = idx - r * width, g = row0 + r;
    const float v = (g < nrows && d < D) ? to_f(src[static_cast<size_t>(g) * D + d]) : 0.f;
    dst[r * ld + d] = from_f<S>(v);
  }
}

// Dot product of row i of a and row j of b, by one warp (every lane gets the result).
template <class T, bool kRound>
__device__ float warp_dot(const void* a, int i, const void* b, int j, int D) {
  const T* x = static_cast<const T*>(a) + static_cast<size_t>(i) * D;
  const T* y = static_cast<const T*>(b) + static_cast<size_t>(j) * D;
  const int lane = threadIdx.x % 32;
  float s = 0.f;
  for (int d = lane; d < D; d += 32) s += as_used<kRound>(to_f(x[d])) * as_used<kRound>(to_f(y[d]));
#pragma unroll
  for (int off = 16; off > 0; off /= 2) s += __shfl_xor_sync(0xffffffffu, s, off);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Online log-sum-exp statistics. (m, l): running max and sum of exp(x - m); the teacher's also
// a = sum exp(x - m) * z_student, for the softmax-weighted student logit. Empty: m = -inf, l = 0.

__device__ __forceinline__ void merge2(float& m, float& l, float m2, float l2) {
  const float mn = fmaxf(m, m2);
  if (mn == kNegInf) return;
  l = l * __expf(m - mn) + l2 * __expf(m2 - mn);
  m = mn;
}
__device__ __forceinline__ void merge3(float& m, float& l, float& a, float m2, float l2, float a2) {
  const float mn = fmaxf(m, m2);
  if (mn == kNegInf) return;
  const float f = __expf(m - mn), f2 = __expf(m2 - mn);
  l = l * f + l2 * f2;
  a = a * f + a2 * f2;
  m = mn;
}

// ---------------------------------------------------------------------------------------------
// Shared-memory layout, computed the same way on the host (size) and the device (carving).

struct Layout {
  size_t q, k, qt, kt, s, st, c, rs, total;
};

__host__ __device__ inline size_t align128(size_t x) { return (x + 127) / 128 * 128; }

// ld: row pitch of the q/k tiles in elements; esize: their element size; cesize: coefficient tile
// element size (0: no coefficient tile, the forward).
__host__ __device__ inline Layout make_layout(int ld, int esize, bool distill, bool teacher_keys, int ldc,
                                              int cesize) {
  Layout L{};
  const size_t tile = align128(static_cast<size_t>(kTile) * ld * esize);
  const size_t scores = align128(static_cast<size_t>(kTile) * kSLd * sizeof(float));
  size_t at = 0;
  L.q = at, at += tile;
  L.k = at, at += tile;
  L.qt = at, at += distill ? tile : 0;
  L.kt = at, at += (distill && teacher_keys) ? tile : 0;
  L.s = at, at += scores;
  L.st = at, at += distill ? scores : 0;
  L.c = at, at += align128(static_cast<size_t>(kTile) * ldc * cesize);
  L.rs = at, at += cesize ? align128(kTile * 4 * sizeof(float)) : 0;  // lseT, lse_s, lse_t, label
  L.total = at;
  return L;
}

template <bool kTC> struct Smem;
template <> struct Smem<true> { using T = bf16_t; static constexpr int pad = 8; static constexpr int ldc = kTile + 8; };
template <> struct Smem<false> { using T = float; static constexpr int pad = 1; static constexpr int ldc = kTile + 1; };

// S[r][c] = sum_d A[r][d] * B[c][d] over d < Dk for one 64 x 64 tile; warp w makes rows 16w..16w+15.
template <bool kTC>
__device__ void tile_scores(const typename Smem<kTC>::T* A, const typename Smem<kTC>::T* B, int ld, int Dk,
                            float* S) {
  const int warp = threadIdx.x / 32;
  if constexpr (kTC) {
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[4];
#pragma unroll
    for (int f = 0; f < 4; ++f) wmma::fill_fragment(acc[f], 0.f);
    for (int k = 0; k < Dk; k += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16_t, wmma::row_major> a;
      wmma::load_matrix_sync(a, A + warp * 16 * ld + k, ld);
#pragma unroll
      for (int f = 0; f < 4; ++f) {
        // B^T as a column-major 16 x 16 block: element (k', n) = B[n][k'].
        wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16_t, wmma::col_major> b;
        wmma::load_matrix_sync(b, B + f * 16 * ld + k, ld);
        wmma::mma_sync(acc[f], a, b, acc[f]);
      }
    }
#pragma unroll
    for (int f = 0; f < 4; ++f)
      wmma::store_matrix_sync(S + warp * 16 * kSLd + f * 16, acc[f], kSLd, wmma::mem_row_major);
  } else {
    // 4 rows x 8 columns per thread; columns strided by 8 so a warp reads 8 different key rows
    // (odd pitch: different banks) and 4 query rows (broadcast).
    const int ty = threadIdx.x / 8, tx = threadIdx.x % 8;
    float acc[4][8] = {};
    for (int d = 0; d < Dk; ++d) {
      float a[4], b[8];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = A[(ty * 4 + i) * ld + d];
#pragma unroll
      for (int j = 0; j < 8; ++j) b[j] = B[(tx + 8 * j) * ld + d];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 8; ++j) S[(ty * 4 + i) * kSLd + tx + 8 * j] = acc[i][j];
  }
}

// ---------------------------------------------------------------------------------------------
// Forward: grid (row tiles, splits). Writes per-(split, row) statistics.

template <class T, bool kTC>
__global__ void __launch_bounds__(kThreads) fwd_kernel(Params p, float* part) {
  using S = typename Smem<kTC>::T;
  extern __shared__ __align__(128) unsigned char smem[];
  const int ld = p.Dk + Smem<kTC>::pad;
  const Layout L = make_layout(ld, sizeof(S), p.distill, p.teacher_keys, 0, 0);
  S* Qs = reinterpret_cast<S*>(smem + L.q);
  S* Ks = reinterpret_cast<S*>(smem + L.k);
  S* Qts = reinterpret_cast<S*>(smem + L.qt);
  S* Kts = p.teacher_keys ? reinterpret_cast<S*>(smem + L.kt) : Ks;
  float* Sc = reinterpret_cast<float*>(smem + L.s);
  float* St = reinterpret_cast<float*>(smem + L.st);

  const int row0 = blockIdx.x * kTile;
  const int col_tiles = (p.M + kTile - 1) / kTile;
  const int t_begin = blockIdx.y * p.tiles_per_split, t_end = min(t_begin + p.tiles_per_split, col_tiles);

  load_tile(Qs, ld, static_cast<const T*>(p.q), p.R, row0, p.D, p.Dk, p.vec);
  if (p.distill) load_tile(Qts, ld, static_cast<const T*>(p.qt), p.R, row0, p.D, p.Dk, p.vec);

  // Lane pair (2r', 2r'+1) of warp w keeps the statistics of tile row r = 16w + r', each lane over
  // alternate columns.
  const int lane = threadIdx.x % 32, r = (threadIdx.x / 32) * 16 + lane / 2, h = lane & 1, i = row0 + r;
  float mT = kNegInf, lT = 0.f, ms = kNegInf, ls = 0.f, mt = kNegInf, lt = 0.f, at = 0.f;

  for (int ct = t_begin; ct < t_end; ++ct) {
    const int col0 = ct * kTile;
    __syncthreads();  // the previous tile's keys and logits are no longer read
    load_tile(Ks, ld, static_cast<const T*>(p.keys), p.M, col0, p.D, p.Dk, p.vec);
    if (p.teacher_keys) load_tile(Kts, ld, static_cast<const T*>(p.kt), p.M, col0, p.D, p.Dk, p.vec);
    __syncthreads();
    tile_scores<kTC>(Qs, Ks, ld, p.Dk, Sc);
    if (p.distill) tile_scores<kTC>(Qts, Kts, ld, p.Dk, St);
    __syncthreads();

    const float* zs = Sc + r * kSLd;
    const float* zt = St + r * kSLd;
    const int ncols = min(kTile, p.M - col0);
    const int self = p.mask_self ? i - col0 : -1;  // this row's dropped column, if in this tile
    // Pass 1: this lane's tile maxima (the scale 1/T > 0 commutes with max).
    float zmax = kNegInf, ztmax = kNegInf;
    for (int c = h; c < ncols; c += 2) {
      if (c == self) continue;
      zmax = fmaxf(zmax, zs[c]);
      if (p.distill) ztmax = fmaxf(ztmax, zt[c]);
    }
    if (zmax == kNegInf) continue;  // no valid column for this lane
    // Rescale the running sums to the new maxima (exp(-inf) = 0 covers the first tile).
    if (zmax * p.invT > mT) lT *= __expf(mT - zmax * p.invT), mT = zmax * p.invT;
    if (p.distill) {
      if (zmax * p.invTs > ms) ls *= __expf(ms - zmax * p.invTs), ms = zmax * p.invTs;
      if (ztmax * p.invTt > mt) {
        const float f = __expf(mt - ztmax * p.invTt);
        lt *= f, at *= f, mt = ztmax * p.invTt;
      }
    }
    // Pass 2: the sums.
    for (int c = h; c < ncols; c += 2) {
      if (c == self) continue;
      const float z = zs[c];
      lT += __expf(z * p.invT - mT);
      if (p.distill) {
        ls += __expf(z * p.invTs - ms);
        const float e = __expf(zt[c] * p.invTt - mt);
        lt += e, at += e * z;
      }
    }
  }

  // Merge the lane pair, then one lane writes the row's statistics for this split.
  merge2(mT, lT, __shfl_xor_sync(0xffffffffu, mT, 1), __shfl_xor_sync(0xffffffffu, lT, 1));
  merge2(ms, ls, __shfl_xor_sync(0xffffffffu, ms, 1), __shfl_xor_sync(0xffffffffu, ls, 1));
  merge3(mt, lt, at, __shfl_xor_sync(0xffffffffu, mt, 1), __shfl_xor_sync(0xffffffffu, lt, 1),
         __shfl_xor_sync(0xffffffffu, at, 1));
  if (h == 0 && i < p.R) {
    float* o = part + (static_cast<size_t>(blockIdx.y) * p.R + i) * kStats;
    o[0] = mT, o[1] = lT, o[2] = ms, o[3] = ls, o[4] = mt, o[5] = lt, o[6] = at;
  }
}

// One warp per row: merge the splits in a fixed order, add the positive column, write the saved
// row values (lseT, lse_s, lse_t, z0, z0t: 5 x R floats) and the row losses (nce, kd: 2 x R).
template <class T, bool kTC>
__global__ void fwd_combine_kernel(Params p, const float* part, float* saved, float* row_loss) {
  const int i = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
  if (i >= p.R) return;
  float mT = kNegInf, lT = 0.f, ms = kNegInf, ls = 0.f, mt = kNegInf, lt = 0.f, at = 0.f;
  for (int s = lane; s < p.splits; s += 32) {
    const float* o = part + (static_cast<size_t>(s) * p.R + i) * kStats;
    merge2(mT, lT, o[0], o[1]);
    merge2(ms, ls, o[2], o[3]);
    merge3(mt, lt, at, o[4], o[5], o[6]);
  }
#pragma unroll
  for (int off = 16; off > 0; off /= 2) {
    merge2(mT, lT, __shfl_xor_sync(0xffffffffu, mT, off), __shfl_xor_sync(0xffffffffu, lT, off));
    merge2(ms, ls, __shfl_xor_sync(0xffffffffu, ms, off), __shfl_xor_sync(0xffffffffu, ls, off));
    merge3(mt, lt, at, __shfl_xor_sync(0xffffffffu, mt, off), __shfl_xor_sync(0xffffffffu, lt, off),
           __shfl_xor_sync(0xffffffffu, at, off));
  }
  float z0 = 0.f, z0t = 0.f;
  if (p.has_pos) {
    z0 = warp_dot<T, kTC>(p.q, i, p.pos, i, p.D);
    merge2(mT, lT, z0 * p.invT, 1.f);
    if (p.distill) {
      z0t = warp_dot<T, kTC>(p.qt, i, p.pt, i, p.D);
      merge2(ms, ls, z0 * p.invTs, 1.f);
      merge3(mt, lt, at, z0t * p.invTt, 1.f, z0);
    }
  }
  const float zl = p.has_pos ? z0 : warp_dot<T, kTC>(p.q, i, p.keys, (i + p.label_shift) % p.M, p.D);
  if (lane != 0) return;
  const float lseT = mT + __logf(lT);
  saved[i] = lseT;
  saved[3 * p.R + i] = z0;
  saved[4 * p.R + i] = z0t;
  row_loss[i] = lseT - zl * p.invT;
  if (p.distill) {
    const float lse_s = ms + __logf(ls), lse_t = mt + __logf(lt);
    saved[p.R + i] = lse_s;
    saved[2 * p.R + i] = lse_t;
    row_loss[p.R + i] = p.Ts * p.Ts * (lse_s - (at / lt) * p.invTs);
  } else {
    saved[p.R + i] = 0.f, saved[2 * p.R + i] = 0.f, row_loss[p.R + i] = 0.f;
  }
}

// Mean of the row losses in a fixed order (deterministic), one block.
__global__ void loss_mean_kernel(const float* row_loss, int R, float* loss) {
  __shared__ float sh[2][256];
  float a = 0.f, b = 0.f;
  for (int i = threadIdx.x; i < R; i += 256) a += row_loss[i], b += row_loss[R + i];
  sh[0][threadIdx.x] = a, sh[1][threadIdx.x] = b;
  __syncthreads();
  for (int n = 128; n > 0; n /= 2) {
    if (threadIdx.x < n) sh[0][threadIdx.x] += sh[0][threadIdx.x + n], sh[1][threadIdx.x] += sh[1][threadIdx.x + n];
    __syncthreads();
  }
  if (threadIdx.x == 0) loss[0] = sh[0][0] / R, loss[1] = sh[1][0] / R;
}

// ---------------------------------------------------------------------------------------------
// Backward. dL/dz_ij = cn (exp(z/T - lseT) - [j == label]) + ck (exp(z/Ts - lse_s) - exp(zt/Tt - lse_t))
// with cn = g_nce / (R T), ck = g_kd Ts / R. kByKey = false: grid (row tiles, splits over column
// tiles), block accumulates C . K for its 64 query rows. kByKey = true: grid (column tiles, splits
// over row tiles), block accumulates C^T . Q for its 64 keys. Output: part[split][row][16 DT].

template <class T, bool kTC, int DT, bool kByKey>
__global__ void __launch_bounds__(kThreads) bwd_kernel(Params p, const float* saved, const float* grad, float* part,
                                                        int rows_pad) {
  using S = typename Smem<kTC>::T;
  constexpr int kWidth = 16 * DT, ld = kWidth + Smem<kTC>::pad, ldc = Smem<kTC>::ldc;
  extern __shared__ __align__(128) unsigned char smem[];
  const Layout L = make_layout(ld, sizeof(S), p.distill, p.teacher_keys, ldc, sizeof(S));
  S* Qs = reinterpret_cast<S*>(smem + L.q);
  S* Ks = reinterpret_cast<S*>(smem + L.k);
  S* Qts = reinterpret_cast<S*>(smem + L.qt);
  S* Kts = p.teacher_keys ? reinterpret_cast<S*>(smem + L.kt) : Ks;
  float* Sc = reinterpret_cast<float*>(smem + L.s);
  float* St = reinterpret_cast<float*>(smem + L.st);
  S* Cs = reinterpret_cast<S*>(smem + L.c);
  float* rs = reinterpret_cast<float*>(smem + L.rs);  // [64][4]: lseT, lse_s, lse_t, label (as int bits)

  const float gn = grad ? grad[0] : 1.f, gk = grad ? grad[1] : 1.f;
  const float cn = gn * p.invT / p.R, ck = gk * p.Ts / p.R;
  const T* q = static_cast<const T*>(p.q);
  const T* qt = static_cast<const T*>(p.qt);
  const T* keys = static_cast<const T*>(p.keys);
  const T* kt = static_cast<const T*>(p.kt);

  auto load_queries = [&](int row0) {
    load_tile(Qs, ld, q, p.R, row0, p.D, kWidth, p.vec);
    if (p.distill) load_tile(Qts, ld, qt, p.R, row0, p.D, kWidth, p.vec);
    for (int r = threadIdx.x; r < kTile; r += kThreads) {
      const int g = row0 + r;
      const bool in = g < p.R;
      rs[r * 4 + 0] = in ? saved[g] : 0.f;
      rs[r * 4 + 1] = in ? saved[p.R + g] : 0.f;
      rs[r * 4 + 2] = in ? saved[2 * p.R + g] : 0.f;
      rs[r * 4 + 3] = __int_as_float(p.has_pos || !in ? -1 : (g + p.label_shift) % p.M);
    }
  };
  auto load_keys = [&](int col0) {
    load_tile(Ks, ld, keys, p.M, col0, p.D, kWidth, p.vec);
    if (p.teacher_keys) load_tile(Kts, ld, kt, p.M, col0, p.D, kWidth, p.vec);
  };

  const int res0 = blockIdx.x * kTile;
  const int streamed_tiles = ((kByKey ? p.R : p.M) + kTile - 1) / kTile;
  const int t_begin = blockIdx.y * p.tiles_per_split, t_end = min(t_begin + p.tiles_per_split, streamed_tiles);
  if (kByKey) load_keys(res0);
  else load_queries(res0);

  const int warp = threadIdx.x / 32;
  // Accumulators: tensor cores keep 16 x 16D per warp in fragments; the FMA version 8 rows x DT
  // columns (strided by 16) per thread.
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
  Acc acc_tc[kTC ? DT : 1];
  float acc_f[kTC ? 1 : 8][kTC ? 1 : DT];
  if constexpr (kTC) {
#pragma unroll
    for (int t = 0; t < DT; ++t) wmma::fill_fragment(acc_tc[t], 0.f);
  } else {
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int t = 0; t < DT; ++t) acc_f[i][t] = 0.f;
  }

  for (int st = t_begin; st < t_end; ++st) {
    const int row0 = kByKey ? st * kTile : res0, col0 = kByKey ? res0 : st * kTile;
    __syncthreads();  // the previous tile is no longer read
    if (kByKey) load_queries(row0);
    else load_keys(col0);
    __syncthreads();
    tile_scores<kTC>(Qs, Ks, ld, p.Dk, Sc);
    if (p.distill) tile_scores<kTC>(Qts, Kts, ld, p.Dk, St);
    __syncthreads();

    for (int idx = threadIdx.x; idx < kTile * kTile; idx += kThreads) {
      const int r = idx / kTile, c = idx % kTile, i = row0 + r, j = col0 + c;
      float v = 0.f;
      if (i < p.R && j < p.M && !(p.mask_self && i == j)) {
        const float z = Sc[r * kSLd + c];
        const float y = (j == __float_as_int(rs[r * 4 + 3])) ? 1.f : 0.f;
        v = cn * (__expf(z * p.invT - rs[r * 4]) - y);
        if (p.distill)
          v += ck * (__expf(z * p.invTs - rs[r * 4 + 1]) - __expf(St[r * kSLd + c] * p.invTt - rs[r * 4 + 2]));
      }
      Cs[r * ldc + c] = from_f<S>(v);
    }
    __syncthreads();

    const S* Z = kByKey ? Qs : Ks;  // the rows the coefficients combine
    if constexpr (kTC) {
      using ALayout = std::conditional_t<kByKey, wmma::col_major, wmma::row_major>;
#pragma unroll
      for (int kk = 0; kk < kTile; kk += 16) {
        // dq: A = C[16 rows of this warp][kk..], row-major. dkeys: A = C^T, i.e. C read column-major.
        wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16_t, ALayout> a;
        if constexpr (kByKey) wmma::load_matrix_sync(a, Cs + kk * ldc + warp * 16, ldc);
        else wmma::load_matrix_sync(a, Cs + warp * 16 * ldc + kk, ldc);
#pragma unroll
        for (int t = 0; t < DT; ++t) {
          if (t * 16 >= p.Dk) break;
          wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16_t, wmma::row_major> b;
          wmma::load_matrix_sync(b, Z + kk * ld + t * 16, ld);
          wmma::mma_sync(acc_tc[t], a, b, acc_tc[t]);
        }
      }
    } else {
      const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
      for (int kk = 0; kk < kTile; ++kk) {
        float a[8], b[DT];
#pragma unroll
        for (int i = 0; i < 8; ++i) a[i] = kByKey ? Cs[kk * ldc + ty * 8 + i] : Cs[(ty * 8 + i) * ldc + kk];
#pragma unroll
        for (int t = 0; t < DT; ++t) b[t] = Z[kk * ld + tx + 16 * t];
#pragma unroll
        for (int i = 0; i < 8; ++i)
#pragma unroll
          for (int t = 0; t < DT; ++t) acc_f[i][t] = fmaf(a[i], b[t], acc_f[i][t]);
      }
    }
  }

  // The partial buffer is padded to whole tiles and 16 DT columns, so every store is in range.
  float* out = part + (static_cast<size_t>(blockIdx.y) * rows_pad + res0) * kWidth;
  if constexpr (kTC) {
#pragma unroll
    for (int t = 0; t < DT; ++t) {
      if (t * 16 >= p.Dk) break;
      wmma::store_matrix_sync(out + warp * 16 * kWidth + t * 16, acc_tc[t], kWidth, wmma::mem_row_major);
    }
  } else {
    const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int t = 0; t < DT; ++t) out[(ty * 8 + i) * kWidth + tx + 16 * t] = acc_f[i][t];
  }
}

// One warp per output row: sum the split partials (of one or two passes) in a fixed order, add the
// positive column's term (dq of MoCo), convert, write.
template <class T, bool kTC>
__global__ void grad_reduce_kernel(Params p, const float* partA, int splitsA, int padA, const float* partB,
                                   int splitsB, int padB, int width, int nrows, bool extra, const float* saved,
                                   const float* grad, T* out) {
  const int x = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
  if (x >= nrows) return;
  float c0 = 0.f;
  if (extra) {
    const float gn = grad ? grad[0] : 1.f, gk = grad ? grad[1] : 1.f;
    const float z0 = saved[3 * p.R + x], z0t = saved[4 * p.R + x];
    c0 = gn * p.invT / p.R * (__expf(z0 * p.invT - saved[x]) - 1.f);
    if (p.distill)
      c0 += gk * p.Ts / p.R *
            (__expf(z0 * p.invTs - saved[p.R + x]) - __expf(z0t * p.invTt - saved[2 * p.R + x]));
  }
  const T* pos = static_cast<const T*>(p.pos);
  for (int d = lane; d < p.D; d += 32) {
    float v = 0.f;
    for (int s = 0; s < splitsA; ++s) v += partA[(static_cast<size_t>(s) * padA + x) * width + d];
    for (int s = 0; s < splitsB; ++s) v += partB[(static_cast<size_t>(s) * padB + x) * width + d];
    if (extra) v += c0 * as_used<kTC>(to_f(pos[static_cast<size_t>(x) * p.D + d]));
    out[static_cast<size_t>(x) * p.D + d] = from_f<T>(v);
  }
}

// ---------------------------------------------------------------------------------------------
// Host side

struct Plan {
  bool tc;
  int dt;          // 16-column groups of the backward accumulators: 8 (D <= 128) or 16
  int width;       // 16 dt
  int row_tiles, col_tiles;
  int splits_q, tps_q;  // forward and dq: splits of the column tiles
  int splits_k, tps_k;  // dkeys: splits of the row tiles
  size_t part_fwd, loss_fwd, part_q, part_k;  // workspace regions (bytes)
};

int sm_count() {
  int dev = 0, n = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
  return n;
}

// Splits of `tiles` streamed tiles so that resident x splits is about two blocks per SM.
void choose_splits(int resident, int tiles, int requested, int& splits, int& per_split) {
  int s = requested > 0 ? requested : (2 * sm_count() + resident - 1) / resident;
  s = std::max(1, std::min(s, tiles));
  per_split = (tiles + s - 1) / s;
  splits = (tiles + per_split - 1) / per_split;  // no empty splits
}

bool aligned16(const void* ptr) { return ptr == nullptr || reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

void validate(const InfoNCEProblem& p) {
  if (p.rows < 1 || p.cols < 1 || p.dim < 1)
    fail("rows, cols and dim must be positive, got rows=" + std::to_string(p.rows) + " cols=" +
         std::to_string(p.cols) + " dim=" + std::to_string(p.dim));
  if (p.dim > kMaxDim) fail("dim " + std::to_string(p.dim) + " is larger than the supported " + std::to_string(kMaxDim));
  if (!p.q || !p.keys) fail("q and keys must be given");
  if (!(p.temperature > 0.f)) fail("temperature must be positive, got " + std::to_string(p.temperature));
  if (p.mask_self && p.rows != p.cols)
    fail("mask_self needs as many rows as keys (q and keys the same rows), got rows=" + std::to_string(p.rows) +
         " cols=" + std::to_string(p.cols));
  if (p.distill() && !(p.t_student > 0.f && p.t_teacher > 0.f))
    fail("distillation temperatures must be positive, got t_student=" + std::to_string(p.t_student) +
         " t_teacher=" + std::to_string(p.t_teacher));
}

InfoNCEKernel resolve(InfoNCEKernel k) { return k == InfoNCEKernel::Auto ? InfoNCEKernel::V2Wmma : k; }

Plan make_plan(const InfoNCEProblem& p, const InfoNCEOptions& o) {
  validate(p);
  Plan P{};
  P.tc = resolve(o.kernel) == InfoNCEKernel::V2Wmma;
  P.dt = p.dim <= 128 ? 8 : 16;
  P.width = 16 * P.dt;
  P.row_tiles = (p.rows + kTile - 1) / kTile;
  P.col_tiles = (p.cols + kTile - 1) / kTile;
  choose_splits(P.row_tiles, P.col_tiles, o.splits, P.splits_q, P.tps_q);
  choose_splits(P.col_tiles, P.row_tiles, 0, P.splits_k, P.tps_k);
  P.part_fwd = round_up(static_cast<size_t>(P.splits_q) * p.rows * kStats * sizeof(float), size_t{256});
  P.loss_fwd = round_up(static_cast<size_t>(2) * p.rows * sizeof(float), size_t{256});
  P.part_q = static_cast<size_t>(P.splits_q) * P.row_tiles * kTile * P.width * sizeof(float);
  P.part_k = static_cast<size_t>(P.splits_k) * P.col_tiles * kTile * P.width * sizeof(float);
  return P;
}

Params make_params(const InfoNCEProblem& p, const Plan& P, bool bwd_by_key) {
  Params k{};
  k.q = p.q, k.keys = p.keys, k.pos = p.pos;
  k.qt = p.q_teacher;
  k.kt = p.keys_teacher ? p.keys_teacher : p.keys;
  k.pt = p.pos_teacher ? p.pos_teacher : p.pos;
  k.R = p.rows, k.M = p.cols, k.D = p.dim, k.Dk = round_up(p.dim, 16);
  k.label_shift = ((p.label_shift % p.cols) + p.cols) % p.cols;
  k.mask_self = p.mask_self, k.has_pos = p.pos != nullptr, k.distill = p.distill();
  k.teacher_keys = k.distill && k.kt != k.keys;
  k.vec = p.dim % 8 == 0 && aligned16(p.q) && aligned16(p.keys) && aligned16(p.q_teacher) && aligned16(k.kt);
  k.invT = 1.f / p.temperature;
  k.invTs = p.distill() ? 1.f / p.t_student : 1.f;
  k.invTt = p.distill() ? 1.f / p.t_teacher : 1.f;
  k.Ts = p.distill() ? p.t_student : 1.f;
  k.splits = bwd_by_key ? P.splits_k : P.splits_q;
  k.tiles_per_split = bwd_by_key ? P.tps_k : P.tps_q;
  return k;
}

template <class Kernel>
void prepare_smem(Kernel kernel, size_t bytes, const char* what) {
  int dev = 0, optin = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), "cudaDeviceGetAttribute");
  if (bytes > static_cast<size_t>(optin))
    fail(std::string(what) + " needs " + std::to_string(bytes) + " bytes of shared memory per block, the device has " +
         std::to_string(optin) + " (use the tensor-core kernel V2Wmma or a smaller dim)");
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)),
        "cudaFuncSetAttribute");
}

template <class T, bool kTC>
void forward_impl(const InfoNCEProblem& p, const Plan& P, float* loss, float* saved, void* ws, cudaStream_t st) {
  Params k = make_params(p, P, false);
  float* part = static_cast<float*>(ws);
  float* row_loss = reinterpret_cast<float*>(static_cast<char*>(ws) + P.part_fwd);
  using S = typename Smem<kTC>::T;
  const Layout L = make_layout(k.Dk + Smem<kTC>::pad, sizeof(S), k.distill, k.teacher_keys, 0, 0);
  prepare_smem(fwd_kernel<T, kTC>, L.total, "forward");
  fwd_kernel<T, kTC><<<dim3(P.row_tiles, P.splits_q), kThreads, L.total, st>>>(k, part);
  check(cudaGetLastError(), "forward launch");
  fwd_combine_kernel<T, kTC><<<(p.rows + 7) / 8, 256, 0, st>>>(k, part, saved, row_loss);
  check(cudaGetLastError(), "forward combine launch");
  loss_mean_kernel<<<1, 256, 0, st>>>(row_loss, p.rows, loss);
  check(cudaGetLastError(), "loss launch");
}

template <class T, bool kTC, int DT, bool kByKey>
void launch_bwd(const Params& k, const Plan& P, const float* saved, const float* grad, float* part, cudaStream_t st) {
  using S = typename Smem<kTC>::T;
  const Layout L = make_layout(16 * DT + Smem<kTC>::pad, sizeof(S), k.distill, k.teacher_keys, Smem<kTC>::ldc, sizeof(S));
  prepare_smem(bwd_kernel<T, kTC, DT, kByKey>, L.total, kByKey ? "backward (keys)" : "backward (queries)");
  const int resident = kByKey ? P.col_tiles : P.row_tiles;
  bwd_kernel<T, kTC, DT, kByKey><<<dim3(resident, k.splits), kThreads, L.total, st>>>(k, saved, grad, part, resident * kTile);
  check(cudaGetLastError(), "backward launch");
}

template <class T, bool kTC, int DT>
void backward_impl(const InfoNCEProblem& p, const Plan& P, const float* grad, const float* saved, T* dq, T* dk,
                   void* ws, cudaStream_t st) {
  float* part_q = static_cast<float*>(ws);
  float* part_k = reinterpret_cast<float*>(static_cast<char*>(ws) + P.part_q);
  const Params kq = make_params(p, P, false), kk = make_params(p, P, true);
  launch_bwd<T, kTC, DT, false>(kq, P, saved, grad, part_q, st);
  if (dk) launch_bwd<T, kTC, DT, true>(kk, P, saved, grad, part_k, st);
  const int pad_q = P.row_tiles * kTile, pad_k = P.col_tiles * kTile;
  const bool summed = dk == dq;  // NT-Xent: both roles of the same rows
  grad_reduce_kernel<T, kTC><<<(p.rows + 7) / 8, 256, 0, st>>>(kq, part_q, P.splits_q, pad_q, part_k,
                                                                summed ? P.splits_k : 0, pad_k, P.width, p.rows,
                                                                kq.has_pos, saved, grad, dq);
  check(cudaGetLastError(), "gradient reduce launch");
  if (dk && !summed) {
    grad_reduce_kernel<T, kTC><<<(p.cols + 7) / 8, 256, 0, st>>>(kq, part_k, P.splits_k, pad_k, nullptr, 0, 0,
                                                                  P.width, p.cols, false, saved, grad, dk);
    check(cudaGetLastError(), "gradient reduce launch");
  }
}

}  // namespace

InfoNCEProblem infonce_moco(DType t, const void* q, const void* k, const void* queue, int n, int queue_len,
                            int dim, float temperature) {
  InfoNCEProblem p;
  p.dtype = t, p.rows = n, p.cols = queue_len, p.dim = dim;
  p.q = q, p.pos = k, p.keys = queue, p.temperature = temperature;
  return p;
}

InfoNCEProblem infonce_inbatch(DType t, const void* q, const void* k, int n, int dim, float temperature) {
  InfoNCEProblem p;
  p.dtype = t, p.rows = n, p.cols = n, p.dim = dim;
  p.q = q, p.keys = k, p.label_shift = 0, p.temperature = temperature;
  return p;
}

InfoNCEProblem infonce_ntxent(DType t, const void* z, int n, int dim, float temperature) {
  InfoNCEProblem p;
  p.dtype = t, p.rows = 2 * n, p.cols = 2 * n, p.dim = dim;
  p.q = z, p.keys = z, p.label_shift = n, p.mask_self = true, p.temperature = temperature;
  return p;
}

void infonce_add_distill(InfoNCEProblem& p, const void* q_teacher, const void* keys_teacher, const void* pos_teacher,
                         float t_student, float t_teacher) {
  p.q_teacher = q_teacher, p.keys_teacher = keys_teacher, p.pos_teacher = pos_teacher;
  p.t_student = t_student, p.t_teacher = t_teacher;
}

const char* infonce_kernel_name(InfoNCEKernel k) {
  switch (k) {
    case InfoNCEKernel::Auto: return "auto";
    case InfoNCEKernel::V1Fma: return "v1_fma";
    case InfoNCEKernel::V2Wmma: return "v2_wmma";
  }
  return "?";
}

size_t infonce_saved_floats(const InfoNCEProblem& p) { return static_cast<size_t>(5) * p.rows; }

size_t infonce_workspace_bytes(const InfoNCEProblem& p, bool with_dkeys, const InfoNCEOptions& o) {
  const Plan P = make_plan(p, o);
  return std::max(P.part_fwd + P.loss_fwd, P.part_q + (with_dkeys ? P.part_k : 0));
}

void infonce_forward(const InfoNCEProblem& p, float* loss, float* saved, void* workspace, cudaStream_t stream,
                     const InfoNCEOptions& o) {
  const Plan P = make_plan(p, o);
  if (!loss || !saved || !workspace) fail("forward needs loss, saved and workspace buffers");
  if (p.dtype == DType::F32) {
    if (P.tc) forward_impl<float, true>(p, P, loss, saved, workspace, stream);
    else forward_impl<float, false>(p, P, loss, saved, workspace, stream);
  } else {
    if (P.tc) forward_impl<bf16_t, true>(p, P, loss, saved, workspace, stream);
    else forward_impl<bf16_t, false>(p, P, loss, saved, workspace, stream);
  }
}

void infonce_backward(const InfoNCEProblem& p, const float* grad_loss, const float* saved, void* dq, void* dkeys,
                      void* workspace, cudaStream_t stream, const InfoNCEOptions& o) {
  const Plan P = make_plan(p, o);
  if (!saved || !dq || !workspace) fail("backward needs saved, dq and workspace buffers");
  if (dkeys == dq && p.keys != p.q) fail("dkeys may alias dq only when q and keys are the same rows");
  auto run = [&](auto tag) {
    using T = decltype(tag);
    T* gq = static_cast<T*>(dq);
    T* gk = static_cast<T*>(dkeys);
    if (P.tc) {
      if (P.dt == 8) backward_impl<T, true, 8>(p, P, grad_loss, saved, gq, gk, workspace, stream);
      else backward_impl<T, true, 16>(p, P, grad_loss, saved, gq, gk, workspace, stream);
    } else {
      if (P.dt == 8) backward_impl<T, false, 8>(p, P, grad_loss, saved, gq, gk, workspace, stream);
      else backward_impl<T, false, 16>(p, P, grad_loss, saved, gq, gk, workspace, stream);
    }
  };
  if (p.dtype == DType::F32) run(float{});
  else run(bf16_t{});
}

}  // namespace slimssl::kernels
