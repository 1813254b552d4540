// Fused InfoNCE (+ online distillation) on the GPU, never writing the logits to device memory.
//
// One problem description covers the three learners. Row i of the logits holds the RAW
// similarities z_ij = q_i . keys_j for j < M (column j == i dropped when mask_self), plus, when
// `pos` is given, one extra column z_i0 = q_i . pos_i that is every row's label (MoCo); without
// `pos` the label of row i is column (i + label_shift) % M. Then
//   nce = mean_i [ logsumexp_j(z_ij / T) - z_i,label / T ]
// and, with a teacher (q_teacher against keys_teacher / pos_teacher, defaulting to the student's),
//   kd  = mean_i [ -sum_j softmax(zt_ij / T_t) log_softmax(z_ij / T_s) ] * T_s^2
// exactly as ssl/train/contrastive.h computes them with engine ops (the CPU reference).
//
//   MoCo v2:   q [N,D] vs pos = k [N,D] and keys = queue [K,D]     infonce_moco
//   MoCo v3:   q [N,D] vs keys = k [N,D], label i                 infonce_inbatch
//   SimCLR:    z = [z1; z2] [2N,D] vs itself, self masked, label (a + N) mod 2N   infonce_ntxent
//
// Forward: an online log-sum-exp over 64-column tiles of keys (flash-attention style), split
// over column ranges so that small batches still fill the GPU; per-split row statistics are
// merged by a small second kernel. Saved for backward: 5 floats per row (the three row
// log-sum-exps and the two positive-column logits). Backward recomputes each tile's logits and
// accumulates dq (and dkeys) from the softmax coefficients; gradients flow to q (and keys when
// asked), never to pos, the queue or the teacher.
//
// Kernel versions (the workbench kernels/dev/infonce_dev.cu validates and times each):
//   V1Fma   CUDA-core float32 FMA on 64x64 tiles staged in shared memory (exact float32).
//   V2Wmma  the same tiling on tensor cores (wmma bf16 16x16x16, float32 accumulation); float32
//           inputs are rounded to bfloat16 when staged, everything after the products is float32.
// Auto picks V2Wmma.
#pragma once
#include <cuda_runtime_api.h>
#include <cstddef>
#include "base/dtype.h"

namespace slimssl::kernels {

struct InfoNCEProblem {
  DType dtype = DType::F32;  // of every input matrix (contiguous rows of `dim` elements)
  int rows = 0;                    // R: query rows
  int cols = 0;                    // M: rows of `keys`
  int dim = 0;                     // D
  const void* q = nullptr;         // [R, D]
  const void* keys = nullptr;      // [M, D]
  const void* pos = nullptr;       // [R, D] or null: the per-row positive column (MoCo)
  int label_shift = 0;             // without pos: label of row i is column (i + label_shift) % M
  bool mask_self = false;          // drop column i from row i (NT-Xent: q and keys are the same rows)
  float temperature = 0.2f;
  // Online distillation (optional): present when q_teacher is set.
  const void* q_teacher = nullptr;     // [R, D]
  const void* keys_teacher = nullptr;  // [M, D], null: the student's keys
  const void* pos_teacher = nullptr;   // [R, D], null: the student's pos
  float t_student = 1.0f;
  float t_teacher = 1.0f;

  bool distill() const { return q_teacher != nullptr; }
};

InfoNCEProblem infonce_moco(DType t, const void* q, const void* k, const void* queue, int n, int queue_len,
                            int dim, float temperature);
InfoNCEProblem infonce_inbatch(DType t, const void* q, const void* k, int n, int dim, float temperature);
// z holds both views' rows, [z1; z2] (2n rows).
InfoNCEProblem infonce_ntxent(DType t, const void* z, int n, int dim, float temperature);
void infonce_add_distill(InfoNCEProblem& p, const void* q_teacher, const void* keys_teacher,
                         const void* pos_teacher, float t_student, float t_teacher);

enum class InfoNCEKernel { Auto, V1Fma, V2Wmma };
const char* infonce_kernel_name(InfoNCEKernel k);

struct InfoNCEOptions {
  InfoNCEKernel kernel = InfoNCEKernel::Auto;
  int splits = 0;  // column ranges per row tile in the forward / dq pass; 0: enough to fill the GPU
};

// Floats per problem saved by the forward for the backward (device memory, caller-owned).
size_t infonce_saved_floats(const InfoNCEProblem& p);
// Scratch bytes for forward and backward (device memory, caller-owned, reusable between calls).
// Bounded by the GPU's size, not by the number of keys. `with_dkeys`: the backward also makes dkeys.
size_t infonce_workspace_bytes(const InfoNCEProblem& p, bool with_dkeys, const InfoNCEOptions& o = {});

// loss: device float[2] = {nce, kd} (kd = 0 without a teacher). saved: infonce_saved_floats(p).
void infonce_forward(const InfoNCEProblem& p, float* loss, float* saved, void* workspace, cudaStream_t stream,
                     const InfoNCEOptions& o = {});
// grad_loss: device float[2] = {dL/dnce, dL/dkd}, or null for {1, 1}. dq [R, D] and dkeys [M, D]
// (null: not wanted) are written (overwritten) in p.dtype. dkeys == dq is allowed when q and keys
// are the same rows (NT-Xent): both contributions are summed into it.
void infonce_backward(const InfoNCEProblem& p, const float* grad_loss, const float* saved, void* dq, void* dkeys,
                      void* workspace, cudaStream_t stream, const InfoNCEOptions& o = {});

}  // namespace slimssl::kernels
