// The CPU backend's one matrix multiply, used by matmul, linear and conv2d:
//   C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n]
// row-major, with leading dimensions, so a strided slice of a larger weight is read in place.
// op(A) = A ([m, k], lda) or A^T (A stored [k, m], lda).
#pragma once
#include <cstdint>

namespace slimssl::cpu {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

// The plain reference (row-parallel, no blocking): float64's path above, and the yardstick the
// blocked float32 path is tested and benchmarked against.
void gemm_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
              int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

}  // namespace slimssl::cpu
