// Emulated <cublas_v2.h>: cublasGemmEx (column-major, float32 accumulation) and the handle calls
// the InfoNCE workbench's unfused peer makes. See emu_defs.h.
#pragma once
#include "cuda_bf16.h"
#include "cuda_runtime_api.h"

enum cublasStatus_t { CUBLAS_STATUS_SUCCESS = 0 };
enum cublasOperation_t { CUBLAS_OP_N, CUBLAS_OP_T };
enum cudaDataType_t { CUDA_R_32F, CUDA_R_16BF };
enum cublasComputeType_t { CUBLAS_COMPUTE_32F };
enum cublasGemmAlgo_t { CUBLAS_GEMM_DEFAULT };
using cublasHandle_t = void*;
inline cublasStatus_t cublasCreate(cublasHandle_t* h) { return *h = nullptr, CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasDestroy(cublasHandle_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }

inline float emu_elem(const void* p, cudaDataType_t t, size_t i) {
  return t == CUDA_R_32F ? static_cast<const float*>(p)[i] : __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
}
inline cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                   const void* alpha, const void* A, cudaDataType_t at, int lda, const void* B,
                                   cudaDataType_t bt, int ldb, const void* beta, void* C, cudaDataType_t ct, int ldc,
                                   cublasComputeType_t, cublasGemmAlgo_t) {
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      float s = 0.f;
      for (int l = 0; l < k; ++l) {
        const float a = emu_elem(A, at, ta == CUBLAS_OP_N ? i + size_t(l) * lda : l + size_t(i) * lda);
        const float b = emu_elem(B, bt, tb == CUBLAS_OP_N ? l + size_t(j) * ldb : j + size_t(l) * ldb);
        s += a * b;
      }
      const size_t at_c = i + size_t(j) * ldc;
      if (ct == CUDA_R_32F) {
        float* c = static_cast<float*>(C);
        c[at_c] = al * s + (be != 0.f ? be * c[at_c] : 0.f);
      } else {
        __nv_bfloat16* c = static_cast<__nv_bfloat16*>(C);
        c[at_c] = __float2bfloat16_rn(al * s + (be != 0.f ? be * __bfloat162float(c[at_c]) : 0.f));
      }
    }
  return CUBLAS_STATUS_SUCCESS;
}
