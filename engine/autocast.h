// Mixed precision. Inside an AutocastGuard, conv2d and linear on a CUDA device compute in
// bfloat16 on tensor cores with float32 accumulation: their activations are cast to bfloat16 (a
// differentiable cast) and they read the float32 master weights (cast per use, or by the kernel),
// whose gradients stay float32. Norms, softmax and losses keep float32 statistics and math.
// On the CPU the guard changes nothing (the reference computes in float32), unless asked to
// include the CPU: then the CPU backend computes the same mixed precision (bfloat16 storage,
// float32 arithmetic), the reference a GPU's mixed-precision step is tested against.
#pragma once
#include "engine/tensor.h"

namespace slimssl {

class AutocastGuard {
 public:
  explicit AutocastGuard(bool enabled = true);
  AutocastGuard(bool enabled, bool include_cpu);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool previous_, previous_cpu_;
};

bool autocast_enabled();
// The dtype a conv or linear on x computes in: bfloat16 under autocast for float32/bfloat16 CUDA
// tensors (and CPU tensors when the CPU is included), else x's own.
DType autocast_dtype(const Tensor& x);

}  // namespace slimssl
