// Division of 64-bit indices by a divisor fixed before a launch, as one high multiply, an add and
// a shift (Granlund and Montgomery's method): the n-d index arithmetic of the strided kernels
// would otherwise pay a 64-bit division (dozens of instructions on a GPU) per dimension and
// element. Exact for every dividend below 2^63 and every divisor in [1, 2^63].
#pragma once
#include <cstdint>
#include "base/hd.h"

namespace slimssl::kernels {

SLIMSSL_HD uint64_t mul_hi_u64(uint64_t a, uint64_t b) {
#if defined(__CUDA_ARCH__)
  return __umul64hi(a, b);
#else
  return static_cast<uint64_t>((static_cast<unsigned __int128>(a) * b) >> 64);
#endif
}

struct FastDivmod {
  uint64_t divisor = 1;
  uint64_t multiplier = 1;  // with shift 0: the quotient by 1
  uint32_t shift = 0;

  FastDivmod() = default;
  // With s = ceil(log2 d) and m = floor(2^64 (2^s - d) / d) + 1 (which fits 64 bits), the
  // quotient is floor((m + 2^64) n / 2^(64 + s)) = (mulhi(m, n) + n) >> s; the sum cannot
  // overflow because mulhi(m, n) <= n < 2^63. Host only.
  explicit FastDivmod(uint64_t d) : divisor(d) {
    while (shift < 63 && (uint64_t{1} << shift) < d) ++shift;
    const unsigned __int128 num = (static_cast<unsigned __int128>(1) << 64) * ((uint64_t{1} << shift) - d);
    multiplier = static_cast<uint64_t>(num / d + 1);
  }

  SLIMSSL_HD uint64_t div(uint64_t n) const { return (mul_hi_u64(n, multiplier) + n) >> shift; }
};

}  // namespace slimssl::kernels
