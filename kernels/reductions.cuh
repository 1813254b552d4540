// Deterministic reductions shared by the norm kernels (device code; included by .cu files only).
// Every sum is taken in a fixed order that depends on the shape alone, never on timing: no float
// atomics, so a result is the same bit for bit on every run.
//
//   block_sum         all threads of a block (blockDim.x a multiple of 32) -> the total, to all.
//   column_partials   per-column sums of two terms over the rows of a [rows, cols] index space:
//                     block (column tile, row split) -> partial[k][col][split].
//   column_totals     per column, its partials added in split order, handed to a finisher.
// The row split is chosen by plan_columns from the shape only.
#pragma once
#include <cstdint>
#include "kernels/launch.h"

namespace slimssl::kernels {

template <class A>
struct Pair {
  A a, b;
};

// xor butterfly: each lane adds the same pairs in the same order, so all 32 lanes end with the
// same total.
template <class A>
__device__ __forceinline__ A warp_sum(A v) {
  for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
  return v;
}

// smem: at least blockDim.x / 32 elements. Returns the block's total to every thread; smem may be
// reused as soon as it returns.
template <class A>
__device__ __forceinline__ A block_sum(A v, A* smem) {
  v = warp_sum(v);
  if (threadIdx.x % 32 == 0) smem[threadIdx.x / 32] = v;
  __syncthreads();
  A t = 0;
  for (unsigned i = 0; i < blockDim.x / 32; ++i) t += smem[i];
  __syncthreads();
  return t;
}

// How a [rows, cols] space is cut for column_partials (blocks of kBlock threads):
//   cols_inner  32 columns x 8 row lanes per block: for layouts whose columns are adjacent in
//               memory (channels-last activations, layer-norm rows);
//   otherwise   1 column x 256 row lanes: for layouts whose rows are adjacent (NCHW planes).
// Each block reduces rows_per_split rows (about 8 per thread).
struct ColumnPlan {
  bool cols_inner = false;
  int lanes_c = 1, lanes_r = kBlock;
  int64_t col_blocks = 1;
  int splits = 1;
  int64_t rows_per_split = 0;
  int64_t partial_elems(int64_t cols) const { return 2 * cols * splits; }
};

inline ColumnPlan plan_columns(int64_t rows, int64_t cols, bool cols_inner) {
  ColumnPlan p;
  p.cols_inner = cols_inner;
  p.lanes_c = cols_inner ? 32 : 1;
  p.lanes_r = kBlock / p.lanes_c;
  p.col_blocks = (cols + p.lanes_c - 1) / p.lanes_c;
  const int64_t per_block = int64_t{p.lanes_r} * 8;
  p.splits = static_cast<int>(std::clamp<int64_t>((rows + per_block - 1) / per_block, 1, 1024));
  p.rows_per_split = std::max<int64_t>(1, (rows + p.splits - 1) / p.splits);
  p.splits = static_cast<int>(std::max<int64_t>(1, (rows + p.rows_per_split - 1) / p.rows_per_split));
  return p;
}

// term(row, col) -> Pair<A>; partial[(k * cols + col) * splits + split]. Grid (col_blocks, splits).
template <class A, class Term>
__global__ void __launch_bounds__(kBlock) column_partials(Term term, int64_t rows, int64_t cols, ColumnPlan p,
                                                          A* partial) {
  __shared__ A sm[2][kBlock];
  const int lc = threadIdx.x % p.lanes_c, lr = threadIdx.x / p.lanes_c;
  const int64_t col = blockIdx.x * static_cast<int64_t>(p.lanes_c) + lc;
  const int64_t r0 = blockIdx.y * p.rows_per_split, r1 = r0 + p.rows_per_split < rows ? r0 + p.rows_per_split : rows;
  A s0 = 0, s1 = 0;
  if (col < cols)
    for (int64_t r = r0 + lr; r < r1; r += p.lanes_r) {
      const Pair<A> t = term(r, col);
      s0 += t.a, s1 += t.b;
    }
  sm[0][threadIdx.x] = s0, sm[1][threadIdx.x] = s1;
  __syncthreads();
  for (int s = p.lanes_r / 2; s > 0; s >>= 1) {  // a fixed tree over the row lanes
    if (lr < s) {
      sm[0][threadIdx.x] += sm[0][threadIdx.x + s * p.lanes_c];
      sm[1][threadIdx.x] += sm[1][threadIdx.x + s * p.lanes_c];
    }
    __syncthreads();
  }
  if (lr == 0 && col < cols) {
    partial[col * p.splits + blockIdx.y] = sm[0][lc];
    partial[(cols + col) * p.splits + blockIdx.y] = sm[1][lc];
  }
}

// finish(col, total_a, total_b) for every column.
template <class A, class Finish>
__global__ void __launch_bounds__(kBlock) column_totals(Finish finish, int64_t cols, int splits, const A* partial) {
  for (int64_t col = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; col < cols;
       col += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    A a = 0, b = 0;
    for (int s = 0; s < splits; ++s) a += partial[col * splits + s], b += partial[(cols + col) * splits + s];
    finish(col, a, b);
  }
}

}  // namespace slimssl::kernels
