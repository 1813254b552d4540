// Tensors as the plain-pointer kernels see them (kernels/tensor4d.h, kernels/norm_args.h), and
// the argument checks the CUDA backend's norm, pooling and convolution primitives share.
#pragma once
#include <initializer_list>
#include "engine/tensor.h"
#include "kernels/norm_args.h"
#include "kernels/tensor4d.h"

namespace slimssl::cuda {

// [N, C, H, W], or [N, C] as [N, C, 1, 1].
kernels::Dims4 dims4(const Tensor& t);
kernels::Strides4 strides4(const Tensor& t);

// Whether every dimension of size > 1 has the stride of a dense NCHW / channels-last tensor.
bool dense_nchw(const Tensor& t);
bool dense_nhwc(const Tensor& t);

// A [n] vector (null when undefined).
kernels::VecIn vec_in(const Tensor& t);
kernels::VecOut vec_out(const Tensor& t);

// Each defined tensor lives on cuda:device; else an Error naming op.
void check_device(const char* op, int device, std::initializer_list<const Tensor*> ts);
// t (when defined) has `dtype` and `shape`; else an Error naming op and what.
void check_tensor(const char* op, const char* what, const Tensor& t, DType dtype, const Shape& shape);
// x's dtype is float32, float64 or bfloat16.
void check_float(const char* op, const Tensor& x);
// The dtype of statistics, weights and biases for data of dtype dt: float64 for float64, else float32.
DType param_dtype(DType dt);

}  // namespace slimssl::cuda
