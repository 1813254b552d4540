// CPU references for tests/test_cuda_backend_nn.cpp: today's engine ops on float64 host tensors,
// values and gradients (through backward()). A separate translation unit because engine/ops.h and
// engine/backend.h both declare Conv2dParams; the test calls the CUDA backend, this file the ops.
#pragma once
#include <cstdint>
#include "engine/tensor.h"

namespace slimssl::cuda_nn_ref {

struct ConvSpec {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;
};

// An op's output and the gradients of sum(y * gy) with respect to its inputs (undefined where an
// input was undefined).
struct Result {
  Tensor y, dx, dw, db;
};

Tensor matmul(const Tensor& a, const Tensor& b);
Result conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvSpec& p, const Tensor& gy);
// Per-channel mean and biased variance over every dimension but 1.
Tensor channel_mean(const Tensor& x);
Tensor channel_var(const Tensor& x);
// Training uses the batch's statistics; eval the given running ones.
Result batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, bool training, const Tensor& running_mean,
                  const Tensor& running_var, double eps, const Tensor& gy);
// Per-row mean and 1 / sqrt(biased var + eps) of x [rows, cols].
Tensor row_mean(const Tensor& x);
Tensor row_invstd(const Tensor& x, double eps);
Result layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, double eps, const Tensor& gy);
Result max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad, const Tensor& gy);
Result avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad, const Tensor& gy);
Result adaptive_avg_pool2d(const Tensor& x, int64_t oh, int64_t ow, const Tensor& gy);

}  // namespace slimssl::cuda_nn_ref
