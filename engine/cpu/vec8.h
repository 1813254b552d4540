// Eight floats as one value: GCC's generic vector extension, lowered to a ymm register under
// -march=x86-64-v3 (plain loops over such tiles made GCC's SLP vectorizer shuffle and spill).
// Shared by the CPU backend's vector code (gemm, the conv copies, the Winograd transforms).
#pragma once
#include <cstring>

namespace slimssl::cpu {

typedef float vec8 __attribute__((vector_size(32)));

// Unaligned: the buffers are plain float arrays.
inline vec8 load8(const float* p) {
  vec8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, vec8 v) { std::memcpy(p, &v, sizeof v); }

}  // namespace slimssl::cpu
