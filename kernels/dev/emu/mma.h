// Emulated <mma.h> (wmma, 16 x 16 x 16 only): every lane holds the whole tile. See emu_defs.h.
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

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "emu: only 16x16x16 fragments");
  float v[16][16];
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
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) (l == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.v[r][c];
}

template <class TA, class LA, class TB, class LB, class TC>
void mma_sync(fragment<accumulator, 16, 16, 16, TC, void>& d, const fragment<matrix_a, 16, 16, 16, TA, LA>& a,
              const fragment<matrix_b, 16, 16, 16, TB, LB>& b, const fragment<accumulator, 16, 16, 16, TC, void>& c) {
  float out[16][16];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      float s = c.v[i][j];
      for (int k = 0; k < 16; ++k) s += a.v[i][k] * b.v[k][j];
      out[i][j] = s;
    }
  std::memcpy(d.v, out, sizeof out);
}

}  // namespace nvcuda::wmma
