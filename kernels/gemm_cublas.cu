// cuBLAS matrix products: see gemm_cublas.h. cuBLAS is column-major, so the row-major product
// C = A B is computed as its transpose C^T = B^T A^T: a row-major matrix read column-major is its
// transpose, so B and A go in as they are (swapped), each transposed again when stored
// column-major, and C^T comes out column-major, i.e. C row-major.
#include "kernels/gemm_cublas.h"
#include <cublas_v2.h>
#include <climits>
#include "kernels/launch.h"

namespace slimssl::kernels {
namespace {

void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) fail("cuBLAS error in ", what, ": status ", static_cast<int>(s));
}

cudaDataType_t data_type(DType t) {
  switch (t) {
    case DType::F32: return CUDA_R_32F;
    case DType::F64: return CUDA_R_64F;
    case DType::BF16: return CUDA_R_16BF;
    default: fail("gemm: unsupported dtype ", dtype_name(t));
  }
}

}  // namespace

BlasHandle blas_create(cudaStream_t stream, void* workspace, size_t workspace_bytes) {
  cublasHandle_t h = nullptr;
  check(cublasCreate(&h), "cublasCreate");
  check(cublasSetStream(h, stream), "cublasSetStream");
  check(cublasSetWorkspace(h, workspace, workspace_bytes), "cublasSetWorkspace");
  check(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");  // no TF32
  return h;
}

void blas_destroy(BlasHandle h) {
  if (h) cublasDestroy(h);
}

void gemm(BlasHandle h, const Gemm& g) {
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  SLIMSSL_CHECK(g.m <= INT_MAX && g.n <= INT_MAX && g.k <= INT_MAX && g.batch <= INT_MAX && g.ldc <= INT_MAX,
                "gemm: sizes beyond cuBLAS's int range (m ", g.m, ", n ", g.n, ", k ", g.k, ")");
  SLIMSSL_CHECK(blas_addressable(g.a, g.m, g.k) && blas_addressable(g.b, g.k, g.n) && g.ldc >= std::max<int64_t>(g.n, 1),
                "gemm: a leading dimension cuBLAS cannot address");
  // Column-major call: C^T [n, m] = op(B^T) [n, k] . op(A^T) [k, m].
  const cublasOperation_t opb = g.b.col_major ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opa = g.a.col_major ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int ldb = static_cast<int>(std::max<int64_t>(g.b.ld, 1)), lda = static_cast<int>(std::max<int64_t>(g.a.ld, 1));
  const bool f64 = g.ab == DType::F64;
  const double alpha64 = g.alpha, beta64 = g.beta;
  const float alpha32 = static_cast<float>(g.alpha), beta32 = static_cast<float>(g.beta);
  const void* alpha = f64 ? static_cast<const void*>(&alpha64) : &alpha32;
  const void* beta = f64 ? static_cast<const void*>(&beta64) : &beta32;
  check(cublasGemmStridedBatchedEx(h, opb, opa, static_cast<int>(g.n), static_cast<int>(g.m), static_cast<int>(g.k),
                                   alpha, g.b.ptr, data_type(g.ab), ldb, g.b.batch_stride, g.a.ptr, data_type(g.ab), lda,
                                   g.a.batch_stride, beta, g.c, data_type(g.c_type), static_cast<int>(g.ldc),
                                   g.batch_stride_c, static_cast<int>(g.batch),
                                   f64 ? CUBLAS_COMPUTE_64F : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmStridedBatchedEx");
}

}  // namespace slimssl::kernels
