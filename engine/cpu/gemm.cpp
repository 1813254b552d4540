// The CPU backend's matrix multiply.
//
// float32 runs a cache-blocked SGEMM in the Goto/BLIS loop nest, one per thread on a band of C
// (sgemm_blocked says why bands):
//
//   for jc  (NC columns of C)        pack B[pc:pc+KC, jc:jc+NC]  -> KC x NC panel, lives in L3
//     for pc  (KC of the k dimension)
//       for ic  (MC rows of C)       pack A[ic:ic+MC, pc:pc+KC]  -> MC x KC block, lives in L2
//         for jr (NR), ir (MR)       micro-kernel: an MR x NR tile of C in registers, reading one
//                                    KC x NR micro-panel of B (L1) and one MR x KC sliver of A
//
// Packing turns every transpose and leading dimension into the same unit-stride layout, so one
// micro-kernel serves all four transpose cases; zero padding makes edge tiles regular (the kernel
// always computes a full tile and only the valid part is written back). One exception: packing
// is skipped for a row-major operand that the other side would reuse only a few times (see
// sgemm_serial), since then the copy costs as much as the arithmetic.
//
// float64 (gradchecks on tiny shapes) uses the plain reference below, which is also the yardstick
// the tests and the benchmark hold the blocked path to.
#include "engine/cpu/gemm.h"
#include "engine/cpu/vec8.h"
#include "engine/error.h"
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>
#include <omp.h>

namespace slimssl::cpu {
namespace {

// Register tiles: MR rows x NR columns, 12 ymm accumulators each, plus NR/8 for the B row and one
// for the broadcast A value (at most 16, the ymm registers AVX2 has). 6 x 16 is the general one;
// 4 x 24 and 12 x 8 are for the conv shapes it pads badly: channel counts (4, 8, 16, 32, 64 rows:
// 6 x 16 computes 6, 12, 18, 36, 66) and a weight gradient's few output channels as columns
// (4 or 8 of 16). Each call takes the tile that pads its m x n least (Tile below).
// KC * NR * 4 B (at most 24 KiB) of B micro-panel stays in L1; MC * KC * 4 B = 144 KiB of packed
// A in L2 (1 MiB); the KC x NC panel of B (4 MiB) in L3. MC is a multiple of every MR (144 =
// 6 * 24 = 4 * 36 = 12 * 12), NC of every NR. KC 384 and 512 were no faster on one thread
// (docs/cpu_gemm.md).
constexpr int64_t KC = 256;
constexpr int64_t MC = 144;
constexpr int64_t NC = 4032;  // 4096 rounded down to a multiple of 16, 24 and 8
// Below ~64^3 multiply-adds the fork/join of a parallel region costs more than it saves.
constexpr int64_t kParallelWork = int64_t(1) << 18;
// An operand is read in place rather than packed when the other side is at most this many rows
// (B read in place) or columns (A read in place): see sgemm_serial.
constexpr int64_t kDirectRows = 18;
constexpr int64_t kDirectCols = 128;

// A 64-byte-aligned scratch buffer, kept per calling thread so repeated calls do not reallocate.
struct Scratch {
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> buf;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
      buf.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
      if (!buf) throw std::bad_alloc();
      cap = n;
    }
    return buf.get();
  }
};

// Packs rows [i0, i0+MR) (mr of them valid) and k-range [p0, p0+kc) of op(A) as dst[p*MR + i].
template <int MR>
void pack_a_sliver(const float* a, int64_t lda, bool ta, int64_t i0, int64_t mr, int64_t p0,
                   int64_t kc, float* dst) {
  if (ta) {  // A stored [k, m]: for each p the MR values are contiguous
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = a + (p0 + p) * lda + i0;
      float* d = dst + p * MR;
      for (int64_t i = 0; i < mr; ++i) d[i] = src[i];
      for (int64_t i = mr; i < MR; ++i) d[i] = 0.f;
    }
  } else {  // A stored [m, k]: MR rows streamed side by side
    const float* src = a + i0 * lda + p0;
    for (int64_t p = 0; p < kc; ++p) {
      float* d = dst + p * MR;
      for (int64_t i = 0; i < mr; ++i) d[i] = src[i * lda + p];
      for (int64_t i = mr; i < MR; ++i) d[i] = 0.f;
    }
  }
}

// Packs columns [j0, j0+NR) (nr valid) and k-range [p0, p0+kc) of op(B) as dst[p*NR + j].
template <int NR>
void pack_b_sliver(const float* b, int64_t ldb, bool tb, int64_t j0, int64_t nr, int64_t p0,
                   int64_t kc, float* dst) {
  if (!tb) {  // B stored [k, n]: each row of the sliver is contiguous
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = b + (p0 + p) * ldb + j0;
      float* d = dst + p * NR;
      for (int64_t j = 0; j < nr; ++j) d[j] = src[j];
      for (int64_t j = nr; j < NR; ++j) d[j] = 0.f;
    }
  } else {  // B stored [n, k]: walk each column's contiguous k run
    if (nr < NR) std::fill(dst, dst + kc * NR, 0.f);
    for (int64_t j = 0; j < nr; ++j) {
      const float* src = b + (j0 + j) * ldb + p0;
      for (int64_t p = 0; p < kc; ++p) dst[p * NR + j] = src[p];
    }
  }
}

// C[0:mr, 0:nr] = alpha * (A sliver . B sliver) + beta * C, reading A(i, p) = a[i * a_rs + p * a_ks]
// and row p of B at b + p * b_ks: a packed sliver (a_rs = 1, a_ks = MR; b_ks = NR) or, when
// packing would not pay, the caller's matrix itself. The MR x NR/8 accumulators stay in registers
// for the whole k loop; each step is NR/8 loads of B, MR broadcasts of A, 12 FMAs.
// beta == 0 never reads C, so an uninitialized output (NaN garbage) is overwritten cleanly.
template <int MR, int NR>
void micro_kernel(int64_t kc, const float* __restrict a, int64_t a_rs, int64_t a_ks, const float* __restrict b,
                  int64_t b_ks, float* c, int64_t ldc, int64_t mr, int64_t nr, float alpha, float beta) {
  constexpr int NV = NR / 8;
  static_assert(NR % 8 == 0 && MR * NV == 12, "12 accumulators: the register budget of AVX2");
  vec8 acc[MR][NV] = {};
  for (int64_t p = 0; p < kc; ++p) {
    vec8 bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = load8(b + p * b_ks + 8 * v);
    const float* acol = a + p * a_ks;
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const float x = acol[i * a_rs];
      const vec8 av = {x, x, x, x, x, x, x, x};  // one vbroadcastss from memory
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[i][v] += av * bv[v];  // contracted to FMA (-ffp-contract=fast)
    }
  }
  if (mr == MR && nr == NR) {
    const vec8 va = {alpha, alpha, alpha, alpha, alpha, alpha, alpha, alpha};
    const vec8 vb = {beta, beta, beta, beta, beta, beta, beta, beta};
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      float* cr = c + i * ldc;
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) {
        vec8 r = va * acc[i][v];
        if (beta != 0.f) r += vb * load8(cr + 8 * v);
        store8(cr + 8 * v, r);
      }
    }
    return;
  }
  // Edge tile: only the valid mr x nr corner exists in C.
  float tile[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) store8(&tile[i][8 * v], acc[i][v]);
  for (int64_t i = 0; i < mr; ++i) {
    float* cr = c + i * ldc;
    for (int64_t j = 0; j < nr; ++j)
      cr[j] = beta == 0.f ? alpha * tile[i][j] : alpha * tile[i][j] + beta * cr[j];
  }
}

// C = beta * C (k == 0 or alpha == 0: the product contributes nothing, and A/B are not read).
void scale_c(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* cr = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) cr[j] = beta == 0.f ? 0.f : beta * cr[j];
  }
}

// One thread's GEMM: the loop nest of the header comment on its own, no synchronization.
template <int MR, int NR>
void sgemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  // k is cut into equal blocks of at most KC (576 -> 3 x 192, not 256 + 256 + 64): a short last
  // block would pay a full pass of C loads and stores for little arithmetic.
  const int64_t k_blocks = (k + KC - 1) / KC;
  const int64_t kc_max = (k + k_blocks - 1) / k_blocks;
  const int64_t mc_max = std::min(MC, (m + MR - 1) / MR * MR);
  const int64_t nc_max = std::min(NC, (n + NR - 1) / NR * NR);
  thread_local Scratch scratch_a, scratch_b;
  float* pa = scratch_a.get(static_cast<size_t>(mc_max * kc_max));
  float* pb = scratch_b.get(static_cast<size_t>(nc_max * kc_max));

  // Packing pays for itself through reuse: every A sliver is read once per B sliver and vice
  // versa. When the other side is small (conv on a 4x4 map: n = 16), the copy
  // costs as much as the product, so a row-major operand is read in place instead; its layout
  // already gives the kernel what it needs (A: six rows walked side by side; B: 16 contiguous
  // floats per k). Edge slivers are still packed, which zero-pads them.
  const bool a_direct = !ta && n <= kDirectCols;
  const bool b_direct = !tb && m <= kDirectRows;

  for (int64_t jc = 0; jc < n; jc += NC) {
    const int64_t nc = std::min(NC, n - jc);
    const int64_t n_slivers = (nc + NR - 1) / NR;
    for (int64_t pc = 0; pc < k; pc += kc_max) {
      const int64_t kc = std::min(kc_max, k - pc);
      // The first k block applies the caller's beta; later ones accumulate onto it.
      const float beta_eff = pc == 0 ? beta : 1.f;
      for (int64_t s = 0; s < n_slivers; ++s) {
        const int64_t nr = std::min<int64_t>(NR, nc - s * NR);
        if (!b_direct || nr < NR) pack_b_sliver<NR>(b, ldb, tb, jc + s * NR, nr, pc, kc, pb + s * NR * kc);
      }
      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = std::min(MC, m - ic);
        const int64_t m_slivers = (mc + MR - 1) / MR;
        for (int64_t r = 0; r < m_slivers; ++r) {
          const int64_t mr = std::min<int64_t>(MR, mc - r * MR);
          if (!a_direct || mr < MR) pack_a_sliver<MR>(a, lda, ta, ic + r * MR, mr, pc, kc, pa + r * MR * kc);
        }
        // jr outer, ir inner: one B micro-panel stays in L1 while the A block (L2) streams past.
        for (int64_t s = 0; s < n_slivers; ++s) {
          for (int64_t r = 0; r < m_slivers; ++r) {
            const int64_t mr = std::min<int64_t>(MR, mc - r * MR), nr = std::min<int64_t>(NR, nc - s * NR);
            const int64_t i0 = ic + r * MR, j0 = jc + s * NR;
            const bool ad = a_direct && mr == MR, bd = b_direct && nr == NR;
            micro_kernel<MR, NR>(kc, ad ? a + i0 * lda + pc : pa + r * MR * kc, ad ? lda : 1, ad ? 1 : MR,
                         bd ? b + pc * ldb + j0 : pb + s * NR * kc, bd ? ldb : NR, c + i0 * ldc + j0, ldc, mr,
                         nr, alpha, beta_eff);
          }
        }
      }
    }
  }
}

// Threads split C into bands (of columns when m <= n, else of rows), whole register tiles each,
// and run sgemm_serial on their band with their own packing buffers. A band split repacks the
// smaller operand once per thread, but needs no barrier: the one sync is the region's end. (Shared
// packing, BLIS-style, needs three barriers per cache block; on this 2-core machine, shared with
// other processes, a thread that is preempted at a barrier stalls the other for a whole time
// slice, and the GEMM collapsed to a few GFLOP/s. See docs/cpu_gemm.md.)
template <int MR, int NR>
void sgemm_blocked(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                   int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const bool by_columns = m <= n;
  const int64_t units = by_columns ? (n + NR - 1) / NR : (m + MR - 1) / MR;
  int64_t threads = std::min<int64_t>(omp_get_max_threads(), units);
  // Inside another parallel region (conv runs one image per thread) a nested team would get one
  // thread anyway; small products are not worth a fork/join.
  if (omp_in_parallel() || m * n * k < kParallelWork) threads = 1;
  if (threads <= 1) return sgemm_serial<MR, NR>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

#pragma omp parallel num_threads(static_cast<int>(threads))
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t u0 = units * t / nt, u1 = units * (t + 1) / nt;
    if (by_columns) {
      const int64_t j0 = u0 * NR, j1 = std::min(n, u1 * NR);
      if (j1 > j0)
        sgemm_serial<MR, NR>(ta, tb, m, j1 - j0, k, alpha, a, lda, tb ? b + j0 * ldb : b + j0, ldb, beta, c + j0, ldc);
    } else {
      const int64_t i0 = u0 * MR, i1 = std::min(m, u1 * MR);
      if (i1 > i0)
        sgemm_serial<MR, NR>(ta, tb, i1 - i0, n, k, alpha, ta ? a + i0 : a + i0 * lda, lda, b, ldb, beta, c + i0 * ldc, ldc);
    }
  }
}

// The register tile that computes the fewest padded elements of C for an m x n product
// (6 x 16 on ties, the one tuned first).
void sgemm_tiled(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const auto padded = [&](int64_t mr, int64_t nr) { return (m + mr - 1) / mr * mr * ((n + nr - 1) / nr * nr); };
  const int64_t p616 = padded(6, 16), p424 = padded(4, 24), p128 = padded(12, 8);
  if (p424 < p616 && p424 <= p128) return sgemm_blocked<4, 24>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (p128 < p616) return sgemm_blocked<12, 8>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  sgemm_blocked<6, 16>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <class T>
void gemm_ref_impl(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                   const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
#pragma omp parallel for if (m * n * k > (1 << 15))
  for (int64_t i = 0; i < m; ++i) {
    std::vector<T> row(n, T(0));
    for (int64_t p = 0; p < k; ++p) {
      T av = ta ? a[p * lda + i] : a[i * lda + p];
      if (av == T(0)) continue;
      if (!tb) {
        const T* br = b + p * ldb;
        for (int64_t j = 0; j < n; ++j) row[j] += av * br[j];
      } else {
        for (int64_t j = 0; j < n; ++j) row[j] += av * b[j * ldb + p];
      }
    }
    T* cr = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) cr[j] = alpha * row[j] + (beta == T(0) ? T(0) : beta * cr[j]);
  }
}

// A stored matrix of `rows` rows needs a leading dimension of at least `cols` (one row: any).
void check_ld(const char* which, int64_t ld, int64_t rows, int64_t cols, int64_t m, int64_t n, int64_t k) {
  SLIMSSL_CHECK(rows <= 1 || ld >= cols, "gemm: ", which, " = ", ld, " is less than the ", cols,
                " columns its matrix has (m=", m, ", n=", n, ", k=", k, ")");
}

void check_args(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc) {
  SLIMSSL_CHECK(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=", m, ", n=", n, ", k=", k);
  check_ld("lda", lda, ta ? k : m, ta ? m : k, m, n, k);
  check_ld("ldb", ldb, tb ? n : k, tb ? k : n, m, n, k);
  check_ld("ldc", ldc, m, n, m, n, k);
}

}  // namespace

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  check_args(ta, tb, m, n, k, lda, ldb, ldc);
  if (m == 0 || n == 0) return;
  if (k <= 0 || alpha == 0.f) return scale_c(m, n, beta, c, ldc);
  sgemm_tiled(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  check_args(ta, tb, m, n, k, lda, ldb, ldc);
  gemm_ref_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_ref(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_ref_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void gemm_ref(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
              int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  gemm_ref_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace slimssl::cpu
