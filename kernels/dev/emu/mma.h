// Emulated <mma.h> (wmma, 16 x 16 x 16 only). See emu_defs.h.
//
// Accumulators are lane-exact, as on the GPU: each of the 32 lanes (OS threads) holds 8 of the
// tile's 256 elements, and store_matrix_sync writes only those. A kernel that reads elements
// another lane stored needs a barrier in between, here as on the GPU; with every lane writing the
// whole tile that mistake would pass, and a race check (scripts/tsan_emulated.sh) would report
// every lane's store of a shared tile. The arrangement is that of the m16n8k16 mma accumulator
// (CUDA leaves it unspecified; our kernels never index a fragment, so any bijection would do).
//
// Operand fragments (matrix_a, matrix_b) are the whole tile in every lane: each lane reads all
// 256 elements. Reads do not race with reads, and a write by any thread that is not ordered
// before the load is still reported. Lane-exact operands would need the lanes to exchange them
// inside mma_sync, and that exchange would order lanes where the GPU does not.
#pragma once
#include <type_traits>
#include "cuda_bf16.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

// Element i (0..7) of lane l's accumulator: rows l/4 and l/4 + 8, columns 2(l%4), +1, +8, +9.
inline int acc_row(unsigned lane, int i) { return static_cast<int>(lane / 4) + 8 * ((i >> 1) & 1); }
inline int acc_col(unsigned lane, int i) { return static_cast<int>(2 * (lane % 4)) + (i & 1) + 8 * (i >> 2); }
inline unsigned lane_id() { return threadIdx.x % 32; }

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "emu: only 16x16x16 fragments");
  static_assert(std::is_same_v<Use, matrix_a> || std::is_same_v<Use, matrix_b>);
  float v[16][16];
};
template <int M, int N, int K, class T>
struct fragment<accumulator, M, N, K, T, void> {
  static_assert(M == 16 && N == 16 && K == 16, "emu: only 16x16x16 fragments");
  static constexpr int num_elements = 8;
  float x[num_elements];
};

inline float as_float(float x) { return x; }
inline float as_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <class P>
void check_ptr(const P* p, unsigned ldm, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0) emu::die(what);  // wmma wants 256-bit aligned pointers
  if (ldm % (16 / sizeof(P)) != 0) emu::die(what);                 // and ldm a multiple of 16 bytes
}

template <class U, class T, class L>
void fill_fragment(fragment<U, 16, 16, 16, T, L>& f, float x) {
  for (auto& r : f.v)
    for (float& e : r) e = x;
}
template <class T>
void fill_fragment(fragment<accumulator, 16, 16, 16, T, void>& f, float x) {
  for (float& e : f.x) e = x;
}

// Operands only: the kernels never load an accumulator.
template <class U, class T, class L, class P>
void load_matrix_sync(fragment<U, 16, 16, 16, T, L>& f, const P* p, unsigned ldm) {
  check_ptr(p, ldm, "load_matrix_sync: misaligned pointer or leading dimension");
  static_assert(std::is_same_v<T, P>, "emu: fragment and memory element types differ");
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      f.v[r][c] = as_float(std::is_same_v<L, row_major> ? p[r * ldm + c] : p[c * ldm + r]);
}

template <class T>
void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 16, T, void>& f, unsigned ldm, layout_t l) {
  check_ptr(p, ldm, "store_matrix_sync: misaligned pointer or leading dimension");
  const unsigned lane = lane_id();
  for (int i = 0; i < 8; ++i) {
    const int r = acc_row(lane, i), c = acc_col(lane, i);
    (l == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[i];
  }
}

// Each lane computes its own elements of D = A B + C, each a float sum in k order.
template <class TA, class LA, class TB, class LB, class TC>
void mma_sync(fragment<accumulator, 16, 16, 16, TC, void>& d, const fragment<matrix_a, 16, 16, 16, TA, LA>& a,
              const fragment<matrix_b, 16, 16, 16, TB, LB>& b, const fragment<accumulator, 16, 16, 16, TC, void>& c) {
  const unsigned lane = lane_id();
  float out[8];
  for (int i = 0; i < 8; ++i) {
    const int r = acc_row(lane, i), col = acc_col(lane, i);
    float s = c.x[i];
    for (int k = 0; k < 16; ++k) s += a.v[r][k] * b.v[k][col];
    out[i] = s;
  }
  std::memcpy(d.x, out, sizeof out);
}

}  // namespace nvcuda::wmma
