// Fused optimizer updates on the GPU over a whole list of float32 parameter tensors (flat,
// contiguous buffers): one launch steps every tensor. The update rules are those of
// ssl/train/optimizer.cpp (the CPU reference), element for element:
//
//   d = g * clip_scale + wd * p                       (wd term only when wd > 0; AdamW: d = g * clip)
//   SGD:   m = mu * m + d (first step: m = d);  u = nesterov ? d + mu * m : m;  p -= lr * u
//          (momentum 0: no buffer, u = d)
//   LARS:  SGD with d *= eta * ||p|| / ||d|| per tensor, when that tensor adapts and both norms > 0
//   AdamW: m = b1 m + (1-b1) d;  v = b2 v + (1-b2) d^2;  p *= 1 - lr * wd;
//          p -= lr * (m / bc1) / (sqrt(v / bc2) + eps),  bc_k = 1 - b_k^step
//
// Layout: the tensors are cut into chunks of at most 4096 elements that never straddle two
// tensors; blocks walk the chunk table. Per-tensor norms (LARS) and the global gradient norm are
// reduced per chunk in a fixed order and merged per tensor (or globally) in a fixed order by a
// second kernel: no float atomics, so results are bit-for-bit reproducible run to run.
//
// Usage: describe the tensors once as OptSlots (the caller omits parameters without a gradient),
// build a table in device memory (a synchronous upload; rebuild when any pointer changes), then
// per step: optimizer_grad_norm (if clipping or reporting the norm) and one step call.
#pragma once
#include <cuda_runtime_api.h>
#include <cstddef>
#include <cstdint>

namespace slimssl::kernels {

// One parameter tensor (all pointers to device float32 buffers of `numel` elements).
struct OptSlot {
  float* param = nullptr;
  const float* grad = nullptr;
  float* buf1 = nullptr;      // SGD/LARS momentum or AdamW first moment; null when momentum == 0
  float* buf2 = nullptr;      // AdamW second moment; null for SGD/LARS
  int64_t numel = 0;
  float weight_decay = 0.f;   // this tensor's group's decay (0: none)
  bool lars_adapt = false;    // LARS trust ratio applies to this tensor
};

// The tensor list in device memory: slots, chunk table and the scratch of the reductions, all in
// the caller-owned `memory` of optimizer_table_bytes() bytes.
struct OptimizerTable {
  void* memory = nullptr;
  int count = 0;   // tensors
  int chunks = 0;  // chunks over all tensors
};

size_t optimizer_table_bytes(const OptSlot* slots, int count);
// Uploads the slots and their chunk table into `device_memory` (synchronous copy).
OptimizerTable optimizer_table_build(const OptSlot* slots, int count, void* device_memory);

// Global L2 norm of all gradients. norm_scale: device float[2] = {norm, clip scale}, the scale
// being max_norm / (norm + 1e-6) when max_norm > 0 and norm > max_norm, else 1 (the step calls
// take it as `clip_scale`, so clipping needs no host round trip).
void optimizer_grad_norm(const OptimizerTable& t, float max_norm, float* norm_scale, cudaStream_t stream);

struct SgdStep {
  double lr = 0;
  double momentum = 0.9;
  bool nesterov = false;
  bool first_step = false;  // the momentum buffers are uninitialised: m = d (as the CPU's undefined buffer)
  bool lars = false;        // LARS: per-tensor trust ratio (slots' lars_adapt)
  double lars_eta = 0.001;
};
struct AdamWStep {
  double lr = 0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t step = 1;  // 1-based step count, for the bias corrections
  bool first_step = false;  // the moments are uninitialised: treated as zeros
};

// The values of a step that change from step to step, as the kernels use them. A caller that
// keeps them in device memory (a step replayed from a CUDA graph) fills them on the host with
// optimizer_step_values() and passes their device address as `per_step`; the kernels then read
// them there instead of taking them from the SgdStep / AdamWStep.
struct OptimizerStepValues {
  double lr = 0;             // AdamW's decoupled decay factor 1 - lr * wd is formed in double
  float lr_f = 0;            // lr as the update multiplies it
  float inv_bc1 = 1, inv_bc2 = 1;  // AdamW's bias corrections 1 / (1 - b^step)
};
OptimizerStepValues optimizer_step_values(const SgdStep& s);
OptimizerStepValues optimizer_step_values(const AdamWStep& s);

// clip_scale: device float (e.g. &norm_scale[1] from optimizer_grad_norm) or null for 1.
// per_step: device OptimizerStepValues, or null to use the step's own lr (and step count).
void optimizer_sgd_step(const OptimizerTable& t, const SgdStep& s, const float* clip_scale, cudaStream_t stream,
                        const OptimizerStepValues* per_step = nullptr);
void optimizer_adamw_step(const OptimizerTable& t, const AdamWStep& s, const float* clip_scale,
                          cudaStream_t stream, const OptimizerStepValues* per_step = nullptr);

}  // namespace slimssl::kernels
