// Straightforward GEMM (row-parallel, k-outer so the inner loop streams contiguous rows).
#include "engine/cpu/gemm.h"
#include <vector>

namespace slimssl::cpu {
namespace {
template <class T>
void gemm_ref(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
              const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
#pragma omp parallel for if (m * n * k > (1 << 15))
  for (int64_t i = 0; i < m; ++i) {
    std::vector<T> row(n, T(0));
    for (int64_t p = 0; p < k; ++p) {
      T av = ta ? a[p * lda + i] : a[i * lda + p];
      if (av == T(0)) continue;
      if (!tb) {
        const T* br = b + p * ldb;
        for (int64_t j = 0; j < n; ++j) row[j] += av * br[j];
      } else {
        for (int64_t j = 0; j < n; ++j) row[j] += av * b[j * ldb + p];
      }
    }
    T* cr = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) cr[j] = alpha * row[j] + (beta == T(0) ? T(0) : beta * cr[j]);
  }
}
}  // namespace

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  gemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace slimssl::cpu
