// Row-wise kernels over a [rows, cols] matrix with unit column stride (any row stride): the
// reductions Sum, Max, ArgMax and Var (two-pass) and softmax / log-softmax.
//
// A row goes to one warp when cols <= kWarpRowMaxCols (eight rows per 256-thread block), else to
// a whole 256-thread block. Each thread accumulates the columns t, t + G, t + 2G, ... of its row in
// order (G the group size), then the group combines the partial results in a fixed tree (warp
// shuffles, then the warps' results in order through shared memory): results depend only on the
// data and cols, never on timing, so they are deterministic. Accumulation is float32 for float32
// and bfloat16 data, float64 for float64. NaN counts as the maximum (first NaN for ArgMax); ties go
// to the first column.
#pragma once
#include <cuda_runtime_api.h>
#include <cstdint>
#include "base/dtype.h"

namespace slimssl::kernels {

constexpr int64_t kWarpRowMaxCols = 1024;

enum class RowReduce : uint8_t { Sum, Max, ArgMax, Var };

struct RowMatrix {
  const void* data = nullptr;  // element [0, 0]
  int64_t rows = 0, cols = 0;
  int64_t row_stride = 0;      // in elements
};

// out[r * out_stride]: the reduction of row r, in the matrix's dtype (int64 for ArgMax). Var
// divides the sum of squared deviations by `denom`.
void reduce_rows(RowReduce op, DType type, const RowMatrix& x, void* out, int64_t out_stride, double denom,
                 cudaStream_t stream);
// y (same rows and cols, its own row stride, x's dtype) = softmax of each row of x, or
// log-softmax when `log`.
void softmax_rows(DType type, const RowMatrix& x, void* y, int64_t y_row_stride, bool log, cudaStream_t stream);

}  // namespace slimssl::kernels
