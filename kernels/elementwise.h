// The elementwise family: fill, copy with dtype conversion, and the engine's unary and binary
// ops, all through one vectorized strided-broadcast kernel (kernels/elementwise.cuh) that calls
// the formulas of base/scalar_ops.h, so the GPU computes what the CPU backend computes.
//
// Every operand has the output's shape (inputs may broadcast through stride 0); the output must
// not overlap itself, and an input may be the output itself (same geometry: in place). Float
// arithmetic runs in float32 for float32 and bfloat16 data and in float64 for float64 data.
// Work is queued on `stream`; nothing is allocated. Unsupported dtypes throw an slimssl::Error
// naming the primitive and the dtype.
#pragma once
#include <cuda_runtime_api.h>
#include "base/dtype.h"
#include "base/scalar_ops.h"
#include "kernels/strided.h"

namespace slimssl::kernels {

// dst = value converted to dst_type (any dtype).
void fill(DType dst_type, const Strided& dst, double value, cudaStream_t stream);
// dst = src converted element for element (any pair of dtypes).
void copy(DType src_type, const Strided& src, DType dst_type, const Strided& dst, cudaStream_t stream);
// out = unary_op(op, x; a, b); x and out of one float dtype.
void unary(UnaryOp op, DType type, const Strided& x, const Strided& out, double a, double b, cudaStream_t stream);
// out = binary_op(op, x, y; alpha); x and out of one float dtype, y of it too or float32 when
// x is bfloat16.
void binary(BinaryOp op, DType type, const Strided& x, DType y_type, const Strided& y, const Strided& out, double alpha,
            cudaStream_t stream);

}  // namespace slimssl::kernels
