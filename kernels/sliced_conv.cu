// Sliced-channel convolution: the custom implicit-GEMM kernels, the dispatch between them and the
// cuDNN path (sliced_conv_cudnn.cu), and the autotuning cache. See sliced_conv.h.
//
// Each direction is one GEMM C[M, N] = A[M, K] . B[K, N] whose operands are gathered on the fly
// (implicit GEMM: no im2col buffer):
//   forward      M = (n, p, q)  N = k_out        K = (c, r, s)   A = x (gathered)   B = w[view]
//   backward-dx  M = (n, h, w)  N = k_in         K = (k, r, s)   A = dy (gathered)  B = w[view]
//   backward-dw  M = k_out      N = (c, r, s)    K = (n, p, q)   A = dy             B = x (gathered)
// A block of 128 threads makes a 64 x 64 tile of C, walking K in steps of 32: the next step's
// operands are loaded into registers while the current step's, in shared memory, are multiplied
// (software pipelining by one stage). Loads are arranged so consecutive threads read consecutive
// addresses: along M for the NCHW activations of the forward and backward-dx A operands, along K
// for everything else; each shared tile is stored in the orientation its loads produce (A [k][m]
// or [m][k], B always [n][k]) and read by wmma with the matching layout. The weight gradient,
// whose K (batch x pixels) is long and whose tile count is small, is split over K into partial
// sums that a second kernel adds, in a fixed order, into the parent's gradient.
#include "kernels/sliced_conv.h"
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>
#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include "kernels/memory.h"
#include "kernels/sliced_conv_cudnn.h"

namespace slimssl::kernels {
namespace {

using bf16_t = __nv_bfloat16;
namespace wmma = nvcuda::wmma;

constexpr int kFwd = 0, kDgrad = 1, kWgrad = 2;
constexpr int BM = 64, BN = 64, BK = 32, kThreads = 128;
constexpr int kCLd = 64 + 4;  // float32 output tile pitch (wmma stores need a multiple of 4)

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("sliced_conv: ") + what + ": " + cudaGetErrorString(e));
}
[[noreturn]] void fail(const std::string& msg) { throw std::invalid_argument("sliced_conv: " + msg); }

struct ConvParams {
  const void* x;
  const void* dy;
  const float* w;
  void* out;    // y (forward) or dx (backward-data)
  float* dw;    // parent gradient (backward-weight)
  float* part;  // split-K partial sums [splits][M][N], or null: add into dw directly
  int N, C, H, W, K, R, S, P, Q, stride, pad;
  int64_t so, sc, sh, sw;
  int GM, GN, GK, k_per_split;
};

template <class T> __device__ __forceinline__ float to_f(T v);
template <> __device__ __forceinline__ float to_f<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_f<bf16_t>(bf16_t v) { return __bfloat162float(v); }
template <class S> __device__ __forceinline__ S from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ bf16_t from_f<bf16_t>(float v) { return __float2bfloat16_rn(v); }

// Shared tiles. Pitches: bf16 rows padded by 8 elements (wmma wants multiples of 8 and 32-byte
// aligned fragment starts); float32 [n][k] rows padded to an odd pitch so the FMA version's
// column reads across 16 lanes hit 16 banks.
template <bool kTC, bool kARow>
struct Tiles {
  using S = std::conditional_t<kTC, bf16_t, float>;
  static constexpr int padk = kTC ? 8 : 1;
  static constexpr int lda = kARow ? BK + padk : BM + (kTC ? 8 : 4);  // A [m][k] or [k][m]
  static constexpr int ldb = BK + padk;                                // B [n][k]
  static constexpr int a_elems = kARow ? BM * lda : BK * lda;
  static constexpr int b_elems = BN * ldb;
  static constexpr size_t ab_bytes = (a_elems + b_elems) * sizeof(S);
  static constexpr size_t c_bytes = BM * kCLd * sizeof(float);
  static constexpr size_t bytes = ab_bytes > c_bytes ? ab_bytes : c_bytes;
};

template <class T, bool kTC, int kDir>
__global__ void __launch_bounds__(kThreads) conv_kernel(ConvParams p) {
  constexpr bool kARow = kDir == kWgrad;
  using TL = Tiles<kTC, kARow>;
  using S = typename TL::S;
  __shared__ __align__(128) unsigned char smem[TL::bytes];
  S* As = reinterpret_cast<S*>(smem);
  S* Bs = As + TL::a_elems;
  float* Cs = reinterpret_cast<float*>(smem);  // the output tile, after the main loop

  const int tid = threadIdx.x;
  const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
  const int k_begin = blockIdx.z * p.k_per_split, k_end = min(p.GK, k_begin + p.k_per_split);
  const int RS = p.R * p.S, PQ = p.P * p.Q, HW = p.H * p.W;
  const T* x = static_cast<const T*>(p.x);
  const T* dy = static_cast<const T*>(p.dy);

  // Loader coordinates. M-fast A (forward, backward-dx): row a_m, k = a_k + 2e. K-fast operands:
  // k = f_k, rows/columns f_r + 4e.
  const int a_m = tid % 64, a_k = tid / 64;
  const int f_k = tid % 32, f_r = tid / 32;
  bool a_valid = false;
  int a_n = 0, a_h = 0, a_w = 0;  // forward: image and top-left input pixel; backward-dx: image and pixel
  if constexpr (kDir != kWgrad) {
    const int m = m0 + a_m;
    a_valid = m < p.GM;
    if (a_valid) {
      if constexpr (kDir == kFwd) {
        a_n = m / PQ;
        const int pq = m - a_n * PQ, op = pq / p.Q;
        a_h = op * p.stride - p.pad;
        a_w = (pq - op * p.Q) * p.stride - p.pad;
      } else {
        a_n = m / HW;
        const int hw = m - a_n * HW;
        a_h = hw / p.W;
        a_w = hw - a_h * p.W;
      }
    }
  }

  float ra[16], rb[16];
  auto load = [&](int k0) {
    if constexpr (kDir == kFwd) {  // A(m, (c, r, s)) = x[n, c, oh*stride - pad + r, ow*stride - pad + s]
#pragma unroll
      for (int e = 0; e < 16; ++e) {
        const int k = k0 + a_k + 2 * e;
        float v = 0.f;
        if (a_valid && k < k_end) {
          const int c = k / RS, rs = k - c * RS, r = rs / p.S, s = rs - r * p.S, h = a_h + r, w = a_w + s;
          if (h >= 0 && h < p.H && w >= 0 && w < p.W)
            v = to_f(x[(static_cast<size_t>(a_n) * p.C + c) * HW + static_cast<size_t>(h) * p.W + w]);
        }
        ra[e] = v;
      }
    } else if constexpr (kDir == kDgrad) {  // A(m, (k, r, s)) = dy[n, k, (h + pad - r)/stride, ...] where exact
#pragma unroll
      for (int e = 0; e < 16; ++e) {
        const int k = k0 + a_k + 2 * e;
        float v = 0.f;
        if (a_valid && k < k_end) {
          const int kk = k / RS, rs = k - kk * RS, r = rs / p.S, s = rs - r * p.S;
          const int ph = a_h + p.pad - r, pw = a_w + p.pad - s;
          if (ph >= 0 && pw >= 0 && ph % p.stride == 0 && pw % p.stride == 0) {
            const int oh = ph / p.stride, ow = pw / p.stride;
            if (oh < p.P && ow < p.Q)
              v = to_f(dy[(static_cast<size_t>(a_n) * p.K + kk) * PQ + static_cast<size_t>(oh) * p.Q + ow]);
          }
        }
        ra[e] = v;
      }
    } else {  // A(k_out, (n, p, q)) = dy[n, k_out, p, q]
      const int k = k0 + f_k;
      const bool kv = k < k_end;
      const int n = kv ? k / PQ : 0, pq = k - n * PQ;
      const T* row = dy + static_cast<size_t>(n) * p.K * PQ + pq;
#pragma unroll
      for (int e = 0; e < 16; ++e) {
        const int m = m0 + f_r + 4 * e;
        ra[e] = (kv && m < p.GM) ? to_f(row[static_cast<size_t>(m) * PQ]) : 0.f;
      }
    }

    const int k = k0 + f_k;
    const bool kv = k < k_end;
    if constexpr (kDir == kFwd) {  // B((c, r, s), k_out) = w[k_out, c, r, s]
      const int c = k / RS, rs = k - c * RS, r = rs / p.S, s = rs - r * p.S;
      const float* base = p.w + c * p.sc + r * p.sh + s * p.sw;
#pragma unroll
      for (int e = 0; e < 16; ++e) {
        const int nn = n0 + f_r + 4 * e;
        rb[e] = (kv && nn < p.GN) ? base[nn * p.so] : 0.f;
      }
    } else if constexpr (kDir == kDgrad) {  // B((k, r, s), c) = w[k, c, r, s]
      const int kk = k / RS, rs = k - kk * RS, r = rs / p.S, s = rs - r * p.S;
      const float* base = p.w + kk * p.so + r * p.sh + s * p.sw;
#pragma unroll
      for (int e = 0; e < 16; ++e) {
        const int nn = n0 + f_r + 4 * e;
        rb[e] = (kv && nn < p.GN) ? base[nn * p.sc] : 0.f;
      }
    } else {  // B((n, p, q), (c, r, s)) = x[n, c, p*stride - pad + r, q*stride - pad + s]
      const int n = kv ? k / PQ : 0, pq = k - n * PQ, op = pq / p.Q;
      const int hb = op * p.stride - p.pad, wb = (pq - op * p.Q) * p.stride - p.pad;
      const T* img = x + static_cast<size_t>(n) * p.C * HW;
#pragma unroll
      for (int e = 0; e < 16; ++e) {
        const int nn = n0 + f_r + 4 * e;
        float v = 0.f;
        if (kv && nn < p.GN) {
          const int c = nn / RS, rs = nn - c * RS, r = rs / p.S, s = rs - r * p.S, h = hb + r, w = wb + s;
          if (h >= 0 && h < p.H && w >= 0 && w < p.W) v = to_f(img[static_cast<size_t>(c) * HW + h * p.W + w]);
        }
        rb[e] = v;
      }
    }
  };
  auto store = [&]() {
#pragma unroll
    for (int e = 0; e < 16; ++e) {
      if constexpr (kARow) As[(f_r + 4 * e) * TL::lda + f_k] = from_f<S>(ra[e]);
      else As[(a_k + 2 * e) * TL::lda + a_m] = from_f<S>(ra[e]);
      Bs[(f_r + 4 * e) * TL::ldb + f_k] = from_f<S>(rb[e]);
    }
  };

  const int warp = tid / 32, wm = warp / 2, wn = warp % 2;  // tensor cores: warp makes 32 x 32
  const int ty = tid / 16, tx = tid % 16;                   // FMA: rows ty + 8i, columns tx + 16j
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
  Acc acc_tc[kTC ? 2 : 1][kTC ? 2 : 1];
  float acc_f[kTC ? 1 : 8][kTC ? 1 : 4];
  if constexpr (kTC) {
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc_tc[i][j], 0.f);
  } else {
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc_f[i][j] = 0.f;
  }

  if (k_begin < k_end) load(k_begin);
  for (int k0 = k_begin; k0 < k_end; k0 += BK) {
    __syncthreads();  // the previous step's tiles are no longer read
    store();
    __syncthreads();
    if (k0 + BK < k_end) load(k0 + BK);  // in flight while this step multiplies
    if constexpr (kTC) {
      using ALayout = std::conditional_t<kARow, wmma::row_major, wmma::col_major>;
#pragma unroll
      for (int kk = 0; kk < BK; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16_t, ALayout> a[2];
        wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16_t, wmma::col_major> b[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          const int mr = wm * 32 + 16 * i;
          if constexpr (kARow) wmma::load_matrix_sync(a[i], As + mr * TL::lda + kk, TL::lda);
          else wmma::load_matrix_sync(a[i], As + kk * TL::lda + mr, TL::lda);
        }
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], Bs + (wn * 32 + 16 * j) * TL::ldb + kk, TL::ldb);
#pragma unroll
        for (int i = 0; i < 2; ++i)
#pragma unroll
          for (int j = 0; j < 2; ++j) wmma::mma_sync(acc_tc[i][j], a[i], b[j], acc_tc[i][j]);
      }
    } else {
#pragma unroll 4
      for (int kk = 0; kk < BK; ++kk) {
        float a[8], b[4];
#pragma unroll
        for (int i = 0; i < 8; ++i) a[i] = kARow ? As[(ty + 8 * i) * TL::lda + kk] : As[kk * TL::lda + ty + 8 * i];
#pragma unroll
        for (int j = 0; j < 4; ++j) b[j] = Bs[(tx + 16 * j) * TL::ldb + kk];
#pragma unroll
        for (int i = 0; i < 8; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc_f[i][j] = fmaf(a[i], b[j], acc_f[i][j]);
      }
    }
  }

  // Output tile through shared memory: [n][m] for the m-fast writes of y / dx, [m][n] for dw.
  __syncthreads();
  if constexpr (kTC) {
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const int mr = wm * 32 + 16 * i, nc = wn * 32 + 16 * j;
        if constexpr (kARow) wmma::store_matrix_sync(Cs + mr * kCLd + nc, acc_tc[i][j], kCLd, wmma::mem_row_major);
        else wmma::store_matrix_sync(Cs + nc * kCLd + mr, acc_tc[i][j], kCLd, wmma::mem_col_major);
      }
  } else {
#pragma unroll
    for (int i = 0; i < 8; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int ml = ty + 8 * i, nl = tx + 16 * j;
        Cs[kARow ? ml * kCLd + nl : nl * kCLd + ml] = acc_f[i][j];
      }
  }
  __syncthreads();

  if constexpr (kDir != kWgrad) {
    if (!a_valid) return;
    const int m = m0 + a_m;
    size_t obase;
    int plane;
    if constexpr (kDir == kFwd) obase = static_cast<size_t>(a_n) * p.K * PQ + (m - a_n * PQ), plane = PQ;
    else obase = static_cast<size_t>(a_n) * p.C * HW + (m - a_n * HW), plane = HW;
    T* out = static_cast<T*>(p.out);
#pragma unroll 4
    for (int e = 0; e < 32; ++e) {
      const int nl = a_k + 2 * e, nn = n0 + nl;
      if (nn < p.GN) out[obase + static_cast<size_t>(nn) * plane] = from_f<T>(Cs[nl * kCLd + a_m]);
    }
  } else {
    const int nl = tid % 64, nn = n0 + nl;
    if (nn >= p.GN) return;
    if (p.part) {
      float* dst = p.part + static_cast<size_t>(blockIdx.z) * p.GM * p.GN;
#pragma unroll 4
      for (int e = 0; e < 32; ++e) {
        const int ml = tid / 64 + 2 * e, m = m0 + ml;
        if (m < p.GM) dst[static_cast<size_t>(m) * p.GN + nn] = Cs[ml * kCLd + nl];
      }
    } else {
      const int c = nn / RS, rs = nn - c * RS, r = rs / p.S, s = rs - r * p.S;
      float* base = p.dw + c * p.sc + r * p.sh + s * p.sw;
#pragma unroll 4
      for (int e = 0; e < 32; ++e) {
        const int ml = tid / 64 + 2 * e, m = m0 + ml;
        if (m < p.GM) base[m * p.so] += Cs[ml * kCLd + nl];
      }
    }
  }
}

// dw[view] += sum over splits of the partial weight gradients, in split order.
__global__ void wgrad_reduce_kernel(ConvParams p, int splits) {
  const size_t total = static_cast<size_t>(p.GM) * p.GN;
  const int RS = p.R * p.S;
  for (size_t idx = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<size_t>(gridDim.x) * blockDim.x) {
    float v = 0.f;
    for (int z = 0; z < splits; ++z) v += p.part[z * total + idx];
    const int m = static_cast<int>(idx / p.GN), nn = static_cast<int>(idx - static_cast<size_t>(m) * p.GN);
    const int c = nn / RS, rs = nn - c * RS, r = rs / p.S, s = rs - r * p.S;
    p.dw[m * p.so + c * p.sc + r * p.sh + s * p.sw] += v;
  }
}

// ---------------------------------------------------------------------------------------------
// Host side

void validate(const SlicedConvShape& s, const char* op) {
  if (s.batch < 1 || s.in_ch < 1 || s.in_h < 1 || s.in_w < 1 || s.out_ch < 1 || s.kh < 1 || s.kw < 1 ||
      s.stride < 1 || s.pad < 0 || s.out_h() < 1 || s.out_w() < 1)
    fail(std::string(op) + ": bad shape batch=" + std::to_string(s.batch) + " in_ch=" + std::to_string(s.in_ch) +
         " in=" + std::to_string(s.in_h) + "x" + std::to_string(s.in_w) + " out_ch=" + std::to_string(s.out_ch) +
         " kernel=" + std::to_string(s.kh) + "x" + std::to_string(s.kw) + " stride=" + std::to_string(s.stride) +
         " pad=" + std::to_string(s.pad));
}

ConvParams make_params(const SlicedConvShape& s, int dir, SliceStrides ws) {
  ConvParams p{};
  p.N = s.batch, p.C = s.in_ch, p.H = s.in_h, p.W = s.in_w, p.K = s.out_ch, p.R = s.kh, p.S = s.kw;
  p.P = s.out_h(), p.Q = s.out_w(), p.stride = s.stride, p.pad = s.pad;
  p.so = ws.o, p.sc = ws.c, p.sh = ws.h, p.sw = ws.w;
  if (dir == kFwd) p.GM = p.N * p.P * p.Q, p.GN = p.K, p.GK = p.C * p.R * p.S;
  else if (dir == kDgrad) p.GM = p.N * p.H * p.W, p.GN = p.C, p.GK = p.K * p.R * p.S;
  else p.GM = p.K, p.GN = p.C * p.R * p.S, p.GK = p.N * p.P * p.Q;
  p.k_per_split = p.GK;
  return p;
}

int sm_count() {
  int dev = 0, n = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev), "cudaDeviceGetAttribute");
  return n;
}

template <class T, bool kTC, int kDir>
void launch(ConvParams p, int splits, cudaStream_t st) {
  const dim3 grid((p.GM + BM - 1) / BM, (p.GN + BN - 1) / BN, splits);
  conv_kernel<T, kTC, kDir><<<grid, kThreads, 0, st>>>(p);
  check(cudaGetLastError(), "conv kernel launch");
}

template <int kDir>
void launch_any(DType act, bool tc, const ConvParams& p, int splits, cudaStream_t st) {
  if (act == DType::F32) tc ? launch<float, true, kDir>(p, splits, st) : launch<float, false, kDir>(p, splits, st);
  else tc ? launch<bf16_t, true, kDir>(p, splits, st) : launch<bf16_t, false, kDir>(p, splits, st);
}

bool use_tc(DType act, ConvKernel k) {
  if (k == ConvKernel::Auto) return act == DType::BF16;
  return k == ConvKernel::V2Wmma;
}

void custom_forward(const SlicedConvShape& s, DType act, const void* x, const float* w, SliceStrides ws, void* y,
                    cudaStream_t st, const SlicedConvOptions& o) {
  ConvParams p = make_params(s, kFwd, ws);
  p.x = x, p.w = w, p.out = y;
  launch_any<kFwd>(act, use_tc(act, o.kernel), p, 1, st);
}

void custom_backward_data(const SlicedConvShape& s, DType act, const void* dy, const float* w, SliceStrides ws,
                          void* dx, cudaStream_t st, const SlicedConvOptions& o) {
  ConvParams p = make_params(s, kDgrad, ws);
  p.dy = dy, p.w = w, p.out = dx;
  launch_any<kDgrad>(act, use_tc(act, o.kernel), p, 1, st);
}

void custom_backward_weight(const SlicedConvShape& s, DType act, const void* x, const void* dy, float* dw,
                            SliceStrides ws, cudaStream_t st, const SlicedConvOptions& o) {
  ConvParams p = make_params(s, kWgrad, ws);
  p.x = x, p.dy = dy, p.dw = dw;
  // Split K (batch x pixels) until the grid holds about two blocks per SM, each split at least 4
  // steps of 32, the partial sums at most 64 Mi floats.
  const int tiles = ((p.GM + BM - 1) / BM) * ((p.GN + BN - 1) / BN);
  const int steps = (p.GK + BK - 1) / BK;
  int splits;
  if (o.wgrad_splits > 0) {
    splits = std::min(o.wgrad_splits, steps);
  } else {
    const size_t cap = (size_t{64} << 20) / (static_cast<size_t>(p.GM) * p.GN);
    splits = (2 * sm_count() + tiles - 1) / tiles;
    splits = std::min(splits, std::max(1, steps / 4));
    splits = static_cast<int>(std::min<size_t>(static_cast<size_t>(splits), std::max<size_t>(cap, 1)));
  }
  splits = std::max(splits, 1);
  const int steps_per_split = (steps + splits - 1) / splits;
  p.k_per_split = steps_per_split * BK;
  splits = (steps + steps_per_split - 1) / steps_per_split;  // no empty splits
  const bool tc = use_tc(act, o.kernel);
  if (splits == 1) {
    launch_any<kWgrad>(act, tc, p, 1, st);
    return;
  }
  int dev = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  const size_t bytes = static_cast<size_t>(splits) * p.GM * p.GN * sizeof(float);
  p.part = static_cast<float*>(device_alloc(bytes, dev));
  launch_any<kWgrad>(act, tc, p, splits, st);
  const size_t total = static_cast<size_t>(p.GM) * p.GN;
  const int blocks = static_cast<int>(std::min<size_t>((total + 255) / 256, 4096));
  wgrad_reduce_kernel<<<blocks, 256, 0, st>>>(p, splits);
  check(cudaGetLastError(), "wgrad reduce launch");
  // Freed into the cache: the next allocation reuses it on this stream after this work.
  device_free(p.part, dev);
}

// ---------------------------------------------------------------------------------------------
// Autotuning cache: (direction, dtype, shape) -> the faster path.

using Key = std::array<int, 11>;
Key make_key(const SlicedConvShape& s, DType act, ConvDir d) {
  return {static_cast<int>(d), static_cast<int>(act), s.batch, s.in_ch, s.in_h, s.in_w, s.out_ch, s.kh, s.kw,
          s.stride, s.pad};
}
std::mutex cache_mu;
std::map<Key, ConvPath> cache;
bool autotune_on = false;

// Median of 5 timed runs after one warm-up (which also lets cuDNN pick its algorithm).
float time_ms(const std::function<void()>& fn, cudaStream_t st) {
  cudaEvent_t a, b;
  check(cudaEventCreate(&a), "cudaEventCreate");
  check(cudaEventCreate(&b), "cudaEventCreate");
  fn();
  float t[5];
  for (float& v : t) {
    check(cudaEventRecord(a, st), "cudaEventRecord");
    fn();
    check(cudaEventRecord(b, st), "cudaEventRecord");
    check(cudaEventSynchronize(b), "cudaEventSynchronize");
    check(cudaEventElapsedTime(&v, a, b), "cudaEventElapsedTime");
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t, t + 5);
  return t[2];
}

// Scratch device memory for the duration of a tuning run.
struct Scratch {
  void* ptr = nullptr;
  int dev = 0;
  explicit Scratch(size_t bytes) {
    check(cudaGetDevice(&dev), "cudaGetDevice");
    ptr = device_alloc(std::max<size_t>(bytes, 1), dev);
  }
  ~Scratch() { device_free(ptr, dev); }
};

size_t view_extent(const SlicedConvShape& s, SliceStrides ws) {  // elements of the parent the view spans
  return static_cast<size_t>((s.out_ch - 1) * ws.o + (s.in_ch - 1) * ws.c + (s.kh - 1) * ws.h + (s.kw - 1) * ws.w + 1);
}

// The path for a call: explicit, or Custom, or (autotuning) the cached / freshly timed winner.
ConvPath choose(const SlicedConvShape& s, DType act, ConvDir d, const SlicedConvOptions& o,
                const std::function<void(ConvPath, void*)>& run_into, size_t scratch_bytes, cudaStream_t st) {
  if (o.path != ConvPath::Auto) return o.path;
  std::lock_guard<std::mutex> lock(cache_mu);
  if (!autotune_on) return ConvPath::Custom;
  const Key key = make_key(s, act, d);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  Scratch out(scratch_bytes);
  const float custom = time_ms([&] { run_into(ConvPath::Custom, out.ptr); }, st);
  const float cudnn = time_ms([&] { run_into(ConvPath::CudnnCopy, out.ptr); }, st);
  const ConvPath best = custom <= cudnn ? ConvPath::Custom : ConvPath::CudnnCopy;
  cache[key] = best;
  return best;
}

}  // namespace

const char* conv_path_name(ConvPath p) {
  switch (p) {
    case ConvPath::Auto: return "auto";
    case ConvPath::Custom: return "custom";
    case ConvPath::CudnnCopy: return "cudnn+copy";
  }
  return "?";
}
const char* conv_kernel_name(ConvKernel k) {
  switch (k) {
    case ConvKernel::Auto: return "auto";
    case ConvKernel::V1Fma: return "v1_fma";
    case ConvKernel::V2Wmma: return "v2_wmma";
  }
  return "?";
}
const char* conv_dir_name(ConvDir d) {
  switch (d) {
    case ConvDir::Forward: return "forward";
    case ConvDir::BackwardData: return "backward_data";
    case ConvDir::BackwardWeight: return "backward_weight";
  }
  return "?";
}

void sliced_conv_forward(const SlicedConvShape& s, DType act, const void* x, const float* w, SliceStrides ws,
                         void* y, cudaStream_t st, const SlicedConvOptions& o) {
  validate(s, "forward");
  if (!x || !w || !y) fail("forward: x, w and y must be given");
  auto run_into = [&](ConvPath path, void* out) {
    if (path == ConvPath::CudnnCopy) detail::cudnn_conv_forward(s, act, x, w, ws, out, st);
    else custom_forward(s, act, x, w, ws, out, st, o);
  };
  const size_t out_bytes = static_cast<size_t>(s.batch) * s.out_ch * s.out_h() * s.out_w() * dtype_size(act);
  run_into(choose(s, act, ConvDir::Forward, o, run_into, out_bytes, st), y);
}

void sliced_conv_backward_data(const SlicedConvShape& s, DType act, const void* dy, const float* w,
                               SliceStrides ws, void* dx, cudaStream_t st, const SlicedConvOptions& o) {
  validate(s, "backward_data");
  if (!dy || !w || !dx) fail("backward_data: dy, w and dx must be given");
  auto run_into = [&](ConvPath path, void* out) {
    if (path == ConvPath::CudnnCopy) detail::cudnn_conv_backward_data(s, act, dy, w, ws, out, st);
    else custom_backward_data(s, act, dy, w, ws, out, st, o);
  };
  const size_t out_bytes = static_cast<size_t>(s.batch) * s.in_ch * s.in_h * s.in_w * dtype_size(act);
  run_into(choose(s, act, ConvDir::BackwardData, o, run_into, out_bytes, st), dx);
}

void sliced_conv_backward_weight(const SlicedConvShape& s, DType act, const void* x, const void* dy, float* dw,
                                 SliceStrides ws, cudaStream_t st, const SlicedConvOptions& o) {
  validate(s, "backward_weight");
  if (!x || !dy || !dw) fail("backward_weight: x, dy and dw must be given");
  auto run_into = [&](ConvPath path, void* out) {
    float* g = static_cast<float*>(out);
    if (path == ConvPath::CudnnCopy) detail::cudnn_conv_backward_weight(s, act, x, dy, g, ws, st);
    else custom_backward_weight(s, act, x, dy, g, ws, st, o);
  };
  run_into(choose(s, act, ConvDir::BackwardWeight, o, run_into, view_extent(s, ws) * sizeof(float), st), dw);
}

void sliced_conv_set_autotune(bool on) {
  std::lock_guard<std::mutex> lock(cache_mu);
  autotune_on = on;
}
bool sliced_conv_autotune() {
  std::lock_guard<std::mutex> lock(cache_mu);
  return autotune_on;
}
ConvPath sliced_conv_cached_choice(const SlicedConvShape& s, DType act, ConvDir d) {
  std::lock_guard<std::mutex> lock(cache_mu);
  auto it = cache.find(make_key(s, act, d));
  return it == cache.end() ? ConvPath::Auto : it->second;
}
void sliced_conv_clear_cache() {
  std::lock_guard<std::mutex> lock(cache_mu);
  cache.clear();
}

}  // namespace slimssl::kernels
