// An n-d strided operand of a kernel: the address of its element (0, ..., 0), its shape, and its
// strides in elements (0 for a broadcast dimension, any sign). The engine describes a tensor view
// this way (engine/cuda/operands.h); kernels never see engine types.
#pragma once
#include <cstdint>

namespace slimssl::kernels {

constexpr int kMaxRank = 8;

struct Strided {
  void* data = nullptr;
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t strides[kMaxRank] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= shape[d];
    return n;
  }
};

}  // namespace slimssl::kernels
