// The fused InfoNCE (+ online distillation) loss as an autograd op: the CUDA kernel of
// kernels/infonce.h, which never writes the N x (1 + K) logits. CUDA tensors only; on the CPU the
// same quantities are a composition of ops (ssl/train/contrastive.h), the reference this op is
// tested against.
//
// Logits are raw similarities (no temperature). Row i's logits are q_i . keys_j, plus, for MoCo,
// the positive column q_i . pos_i; the loss is
//   nce = mean_i [ logsumexp_j(z_ij / T) - z_i,label / T ]
//   kd  = mean_i [ -sum_j softmax(zt_ij / T_t) log_softmax(z_ij / T_s) ] * T_s^2
// with zt the teacher's logits (the teacher's queries against its keys, by default the student's).
#pragma once
#include "engine/tensor.h"

namespace slimssl {

enum class ContrastKind : uint8_t {
  MoCo,     // q [N, D] against pos [N, D] (the label column) and keys = the queue [K, D]
  InBatch,  // q [N, D] against keys [N, D]; row i's positive is key i (MoCo v3)
  NTXent,   // q = [z1; z2] [2N, D] against itself, self masked; row a's positive is its other view
};

struct ContrastiveProblem {
  ContrastKind kind = ContrastKind::MoCo;
  double temperature = 0.2;
  Tensor q;     // differentiated
  Tensor keys;  // MoCo: the queue (not differentiated); InBatch: differentiated when it requires grad
  Tensor pos;   // MoCo only (not differentiated)
  // Online distillation, when q_teacher is defined (the teacher is never differentiated).
  Tensor q_teacher;
  Tensor keys_teacher;  // undefined: the student's keys (NTXent: the teacher's own rows)
  double t_student = 1.0, t_teacher = 1.0;
  // Products on tensor cores (inputs rounded to bfloat16, float32 accumulation), the mixed-
  // precision default; false: exact float32 products on CUDA cores.
  bool tensor_cores = true;
};

// [2] float32 = {nce, kd} (kd = 0 without a teacher), differentiable with respect to q (and keys
// for InBatch). All matrices contiguous rows of one float dtype (float32 or bfloat16), D <= 256.
Tensor fused_contrastive_loss(const ContrastiveProblem& p);

// Whether fused_contrastive_loss runs for tensors on `d` (a CUDA build, a CUDA device).
bool fused_contrastive_available(Device d);

}  // namespace slimssl
