// Matrix products through cuBLAS (cublasGemmStridedBatchedEx), behind a plain-pointer API.
//
// Row-major, batched: for every b < batch, C_b = alpha * A_b B_b + beta * C_b with A_b [m, k],
// B_b [k, n], C_b [m, n]. Each operand is given by its base pointer, its leading dimension (the
// step between rows of a row-major matrix, or between columns of a column-major one: a
// transposed view is the same memory read column-major) and its batch stride (0 broadcasts one
// matrix over the batch). C is row-major.
//
// Types (a and b share one): float32 in full FP32 (no TF32: the handle's math mode is pinned to
// CUBLAS_DEFAULT_MATH and the compute type is CUBLAS_COMPUTE_32F, so results match the CPU
// tightly); bfloat16 with float32 accumulation, C bfloat16 or float32; float64.
#pragma once
#include <cuda_runtime_api.h>
#include <cstddef>
#include <cstdint>
#include "base/dtype.h"

struct cublasContext;  // cuBLAS's handle type (cublasHandle_t is cublasContext*)

namespace slimssl::kernels {

using BlasHandle = cublasContext*;

// cuBLAS's scratch per handle: what NVIDIA recommends for Hopper. Owned by the caller and handed
// to the handle once (cublasSetWorkspace), so no call allocates.
constexpr size_t kBlasWorkspaceBytes = size_t{32} << 20;

// A handle whose work goes to `stream` and whose scratch is `workspace` (kBlasWorkspaceBytes).
BlasHandle blas_create(cudaStream_t stream, void* workspace, size_t workspace_bytes);
void blas_destroy(BlasHandle h);

struct GemmOperand {
  const void* ptr = nullptr;
  int64_t ld = 0;            // elements between rows (row-major) or columns (column-major)
  int64_t batch_stride = 0;  // elements between matrices; 0 broadcasts
  bool col_major = false;
};

struct Gemm {
  int64_t m = 0, n = 0, k = 0, batch = 1;
  DType ab = DType::F32;     // a and b
  DType c_type = DType::F32; // ab, or float32 when ab is bfloat16
  GemmOperand a, b;
  void* c = nullptr;
  int64_t ldc = 0, batch_stride_c = 0;
  double alpha = 1, beta = 0;
};

// Whether cuBLAS can address an operand [rows, cols] as given: its leading dimension must be at
// least the extent of the dimension it steps over (cols row-major, rows column-major) and fit an int.
inline bool blas_addressable(const GemmOperand& o, int64_t rows, int64_t cols) {
  const int64_t need = o.col_major ? rows : cols;
  return o.ld >= (need > 1 ? need : 1) && o.ld <= INT32_MAX;
}

void gemm(BlasHandle h, const Gemm& g);

}  // namespace slimssl::kernels
