// Per-channel (or per-row, per-column) vectors the norm kernels read and write: a base pointer
// and an element stride, so a [C] parameter may be a view. Their dtype is float32, or float64
// for float64 data (the engine's rule for statistics, weights and biases). A null pointer means
// "not given" (no affine weight, a gradient not wanted).
#pragma once
#include <cstdint>

namespace slimssl::kernels {

struct VecIn {
  const void* p = nullptr;
  int64_t stride = 1;
};
struct VecOut {
  void* p = nullptr;
  int64_t stride = 1;
};

}  // namespace slimssl::kernels
