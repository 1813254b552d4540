// The fused optimizer kernels of kernels/optimizer_step.h over engine tensors: one launch steps
// every parameter (SGD / Nesterov / LARS / AdamW), with the global gradient norm and clipping
// computed on the device (no host round trip). CUDA tensors only; the CPU runs the reference
// rule of ssl/train/optimizer.cpp, which the kernels are tested against.
#pragma once
#include <memory>
#include <vector>
#include "engine/step_scalars.h"
#include "engine/tensor.h"

namespace slimssl {

struct FusedSlot {
  Tensor param;  // float32, contiguous
  Tensor grad;   // float32, contiguous, param's shape
  Tensor buf1;   // momentum / first moment (param's shape), undefined without momentum
  Tensor buf2;   // AdamW's second moment, else undefined
  double weight_decay = 0;
  bool lars_adapt = false;
};

struct FusedSgd {
  double lr = 0, momentum = 0.9;
  bool nesterov = false, first_step = false, lars = false;
  double lars_eta = 0.001;
};
struct FusedAdamW {
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t step = 1;
  bool first_step = false;
};

// The slot table in device memory, built once (the tensors' addresses must not change after).
class FusedOptimizer {
 public:
  explicit FusedOptimizer(const std::vector<FusedSlot>& slots);
  ~FusedOptimizer();
  FusedOptimizer(const FusedOptimizer&) = delete;
  FusedOptimizer& operator=(const FusedOptimizer&) = delete;

  // grad_clip > 0: gradients are scaled by min(1, grad_clip / (norm + 1e-6)) first.
  // per_step: the device address of this step's values (write_step_values), or null to take the
  // learning rate and step count from `s` as launch arguments.
  void sgd(const FusedSgd& s, double grad_clip, const void* per_step = nullptr);
  void adamw(const FusedAdamW& s, double grad_clip, const void* per_step = nullptr);
  // The values of `s` that change from step to step (learning rate, AdamW's bias corrections),
  // reserved in `scalars` (reserve_step_values) and written into its host image at `offset`.
  static size_t reserve_step_values(StepScalars& scalars);
  static void write_step_values(StepScalars& scalars, size_t offset, const FusedSgd& s);
  static void write_step_values(StepScalars& scalars, size_t offset, const FusedAdamW& s);
  // The global gradient norm of the last step that clipped, as a device scalar (not read back).
  Tensor last_grad_norm() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

bool fused_optimizer_available(Device d);

}  // namespace slimssl
