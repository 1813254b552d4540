// bfloat16 on the CPU backend: the primitives that have no bfloat16 loop widen their operands to
// float32, compute, and round the results back (base/dtype.h's rounding), so a bfloat16 op gives
// the float32 result of the rounded inputs, rounded once.
#pragma once
#include "engine/tensor.h"

namespace slimssl::cpu {

// t itself, or a float32 copy of it when it is bfloat16 (undefined stays undefined).
Tensor widened(const Tensor& t);
// A float32 buffer standing in for output t when t is bfloat16, else t itself.
Tensor widened_output(const Tensor& t);
// Writes `wide` back into `t` when they differ (rounding float32 to bfloat16).
void narrow_back(const Tensor& wide, const Tensor& t);

}  // namespace slimssl::cpu
