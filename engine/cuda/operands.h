// How the CUDA backend hands any-rank tensors to kernels/ (a kernels::Strided: first element,
// shape, strides) and the checks of the elementwise, row, indexing and random primitives beyond
// those of engine/cuda/tensor_geometry.h. The checks cost O(rank): backward closures call the
// backend directly, so a wrong call must fail with a message naming the primitive, never reach a
// kernel.
#pragma once
#include "engine/cuda/tensor_geometry.h"
#include "engine/tensor.h"
#include "kernels/strided.h"

namespace slimssl::cuda {

// The kernels' description of the view `t` (rank at most kernels::kMaxRank).
kernels::Strided strided(const char* op, const Tensor& t);

// `t` (named `name` in the message) has dtype `want`.
void check_dtype(const char* op, const char* name, const Tensor& t, DType want);
void check_same_shape(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b);
// An output: no two of its elements share memory (no broadcast or overlapping dimension), so
// parallel writes cannot race.
void check_writable(const char* op, const Tensor& out);

}  // namespace slimssl::cuda
