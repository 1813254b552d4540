// Helpers of the op fronts for pointwise work: allocate the output in the input's layout and call
// the input's backend. Not differentiable by themselves (the fronts record).
#pragma once
#include "engine/backend.h"
#include "engine/layout.h"

namespace slimssl {

// unary_op(op, x; a, b) as a new tensor of x's shape, dtype and layout.
inline Tensor map_unary(UnaryOp op, const Tensor& x, double a = 0, double b = 0) {
  Tensor out = empty_like_layout(x);
  backend_of(x).unary(op, x.detach(), out, a, b);
  return out;
}

// binary_op(op, x, y; alpha) over the broadcast of x and y, in x's layout when shapes agree.
Tensor map_binary(const char* name, BinaryOp op, const Tensor& x, const Tensor& y, double alpha = 1);

}  // namespace slimssl
