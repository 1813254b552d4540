// Element offsets of N operands that walk one shared shape, each through its own strides: the
// index arithmetic of every strided kernel (elementwise, indexing, random).
//
// The host first simplifies the walk (IterShape): dimensions of size 1 are dropped, dimensions
// are reordered so that operand 0's strides decrease outward (when the kernel does not care about
// the order in which elements are visited), and neighbouring dimensions are merged wherever every
// operand steps through them as through one. A contiguous tensor becomes one dimension of stride
// 1; a channel slice of a weight stays 2-d. The device then splits a linear index into coordinates
// with one FastDivmod per dimension but the outermost (a 1-d walk costs no division at all), and
// offsets are 64-bit.
#pragma once
#include <cstdint>
#include "base/error.h"
#include "base/hd.h"
#include "kernels/fast_divmod.h"
#include "kernels/strided.h"

namespace slimssl::kernels {

template <int N>
struct OffsetCalc {
  int rank = 0;                    // dimensions, innermost first
  FastDivmod size[kMaxRank];
  int64_t stride[kMaxRank][N] = {};

  // off[k] = the offset (in elements) of operand k at linear index i (i < 2^63).
  SLIMSSL_HD void get(uint64_t i, int64_t (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
#pragma unroll
    for (int d = 0; d < kMaxRank; ++d) {
      if (d == rank) break;
      uint64_t coord = i;
      if (d + 1 < rank) {
        const uint64_t q = size[d].div(i);
        coord = i - q * size[d].divisor;
        i = q;
      }
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += static_cast<int64_t>(coord) * stride[d][k];
    }
  }
};

// Host side: the shape walked and each operand's strides, outermost dimension first.
template <int N>
struct IterShape {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t stride[kMaxRank][N] = {};

  // Operand k walks `t`'s strides; every operand's shape must be `shape` (checked by the caller
  // where operands may differ).
  IterShape(int r, const int64_t* sh) : rank(r) {
    SLIMSSL_CHECK(r >= 0 && r <= kMaxRank, "cuda kernels: rank ", r, " is more than the ", kMaxRank,
                  " dimensions the kernels take");
    for (int d = 0; d < r; ++d) shape[d] = sh[d];
  }
  void set_strides(int k, const int64_t* s) {
    for (int d = 0; d < rank; ++d) stride[d][k] = s[d];
  }

  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= shape[d];
    return n;
  }

  // `reorder`: the visiting order may change (elementwise work); false keeps the logical
  // row-major order of the linear index (what the RNG numbers elements by).
  void simplify(bool reorder) {
    int r = 0;  // drop dimensions of size 1
    for (int d = 0; d < rank; ++d)
      if (shape[d] != 1) move_dim(d, r++);
    rank = r;
    if (reorder) {  // insertion sort (stable) by operand 0's stride magnitude, largest outermost
      for (int d = 1; d < rank; ++d)
        for (int e = d; e > 0 && magnitude(stride[e - 1][0]) < magnitude(stride[e][0]); --e) swap_dims(e - 1, e);
    }
    r = 0;  // merge dimension d into the previous one when every operand allows it
    for (int d = 1; d < rank; ++d) {
      bool mergeable = true;
      for (int k = 0; k < N; ++k) mergeable = mergeable && stride[r][k] == stride[d][k] * shape[d];
      if (mergeable) {
        shape[r] *= shape[d];
        for (int k = 0; k < N; ++k) stride[r][k] = stride[d][k];
      } else {
        move_dim(d, ++r);
      }
    }
    if (rank > 0) rank = r + 1;
  }

  // Every operand walks the elements in memory order with stride 1: a flat loop suffices.
  bool is_flat() const {
    if (rank == 0) return true;
    if (rank > 1) return false;
    for (int k = 0; k < N; ++k)
      if (stride[0][k] != 1) return false;
    return true;
  }

  OffsetCalc<N> calc() const {
    OffsetCalc<N> c;
    c.rank = rank;
    for (int d = 0; d < rank; ++d) {
      const int inner = rank - 1 - d;
      c.size[inner] = FastDivmod(static_cast<uint64_t>(shape[d]));
      for (int k = 0; k < N; ++k) c.stride[inner][k] = stride[d][k];
    }
    return c;
  }

 private:
  static int64_t magnitude(int64_t s) { return s < 0 ? -s : s; }
  void move_dim(int from, int to) {
    if (from == to) return;
    shape[to] = shape[from];
    for (int k = 0; k < N; ++k) stride[to][k] = stride[from][k];
  }
  void swap_dims(int a, int b) {
    int64_t t = shape[a];
    shape[a] = shape[b], shape[b] = t;
    for (int k = 0; k < N; ++k) t = stride[a][k], stride[a][k] = stride[b][k], stride[b][k] = t;
  }
};

}  // namespace slimssl::kernels
