// TEMPORARY: throwing stand-ins for the CudaBackend primitives not written yet, so the library
// links while the backend is filled in. Each implementation removes its stand-ins from here;
// the file is deleted once it is empty.
#include "engine/cuda/cuda_backend.h"

namespace slimssl::cuda {

// ---- helper "cuda-nn" (gemm, convolution, normalization, pooling) ----
void CudaBackend::gemm(const Tensor& a, const Tensor& b, const Tensor& c, double alpha, double beta) { fail("cuda backend: gemm is not written yet"); }
void CudaBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, const Tensor& y) { fail("cuda backend: conv2d is not written yet"); }
void CudaBackend::conv2d_backward_data(const Tensor& gy, const Tensor& w, const Conv2dParams& p, const Tensor& dx) { fail("cuda backend: conv2d_backward_data is not written yet"); }
void CudaBackend::conv2d_backward_weight(const Tensor& x, const Tensor& gy, const Conv2dParams& p, const Tensor& dw) { fail("cuda backend: conv2d_backward_weight is not written yet"); }
void CudaBackend::batch_norm_stats(const Tensor& x, const Tensor& mean, const Tensor& var) { fail("cuda backend: batch_norm_stats is not written yet"); }
void CudaBackend::batch_norm_forward(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight, const Tensor& bias, const Tensor& y) { fail("cuda backend: batch_norm_forward is not written yet"); }
void CudaBackend::batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight, bool training, const Tensor& dx, const Tensor& dw, const Tensor& db) { fail("cuda backend: batch_norm_backward is not written yet"); }
void CudaBackend::layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, const Tensor& y, const Tensor& mean, const Tensor& invstd) { fail("cuda backend: layer_norm_forward is not written yet"); }
void CudaBackend::layer_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight, const Tensor& dx, const Tensor& dw, const Tensor& db) { fail("cuda backend: layer_norm_backward is not written yet"); }
void CudaBackend::max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad, const Tensor& y, const Tensor& argmax) { fail("cuda backend: max_pool2d is not written yet"); }
void CudaBackend::max_pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& dx) { fail("cuda backend: max_pool2d_backward is not written yet"); }
void CudaBackend::avg_pool2d(const Tensor& x, const PoolWindows& win, const Tensor& y) { fail("cuda backend: avg_pool2d is not written yet"); }
void CudaBackend::avg_pool2d_backward(const Tensor& gy, const PoolWindows& win, const Tensor& dx) { fail("cuda backend: avg_pool2d_backward is not written yet"); }

}  // namespace slimssl::cuda
