// How the CUDA backend hands tensors to kernels/ (a kernels::Strided: first element, shape,
// strides) and the checks the Backend contract leaves to the backend. The checks cost O(rank):
// backward closures call the backend directly, so a wrong call must fail with a message naming the
// primitive, never reach a kernel.
#pragma once
#include <initializer_list>
#include "engine/tensor.h"
#include "kernels/strided.h"

namespace slimssl::cuda {

// The kernels' description of the view `t` (rank at most kernels::kMaxRank).
kernels::Strided strided(const char* op, const Tensor& t);

// Every tensor is defined and lives on CUDA device `device`.
void check_device(const char* op, int device, std::initializer_list<const Tensor*> tensors);
// `t` (named `name` in the message) is float32, float64 or bfloat16.
void check_float(const char* op, const char* name, const Tensor& t);
// `t` has dtype `want`.
void check_dtype(const char* op, const char* name, const Tensor& t, DType want);
void check_same_shape(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b);
// An output: no two of its elements share memory (no broadcast or overlapping dimension), so
// parallel writes cannot race.
void check_writable(const char* op, const Tensor& out);

}  // namespace slimssl::cuda
