// Contrastive logits and losses, as compositions of engine ops (the CPU reference; the fused CUDA
// InfoNCE kernel computes the same quantities without materializing the logits).
//
// Logits are RAW cosine similarities (no temperature): InfoNCE divides by its temperature, the
// online distillation by its own (SlimCLR: T_t = T_s = 5 on raw MoCo v2 / SimCLR similarities).
#pragma once
#include "engine/fused_infonce.h"
#include "engine/ops.h"

namespace slimssl::train {

struct Logits {
  Tensor values;  // [N, M] similarities
  Tensor labels;  // int64 [N]: the column of each row's positive
};

// MoCo: q [N, D], k [N, D] and queue [K, D] L2-normalized; column 0 is the positive q_i . k_i,
// columns 1..K are q_i . queue_j.
Logits moco_logits(const Tensor& q, const Tensor& k, const Tensor& queue);
// In-batch (MoCo v3): q_i . k_j for all j; the positive is j = i.
Logits inbatch_logits(const Tensor& q, const Tensor& k);
// NT-Xent (SimCLR): z = [z1; z2] (2N rows), z_a . z_b for all b != a (self-similarity masked
// out with a large negative value); the positive of row a is its other view.
Logits ntxent_logits(const Tensor& z1, const Tensor& z2);

// Cross-entropy of logits / T against the labels, mean over rows.
Tensor info_nce(const Logits& l, double temperature);
// KD = mean_rows( -sum softmax(teacher / T_t) * log_softmax(student / T_s) ) * T_s^2; the teacher
// is detached (no gradient).
Tensor distill_loss(const Tensor& student, const Tensor& teacher, double t_student, double t_teacher);

// The loss of one contrastive problem (engine/fused_infonce.h) as [2] = {nce, kd}: the fused
// kernel on CUDA, the composition of ops above elsewhere (the reference the kernel is tested
// against; `force_reference` picks it on any device).
Tensor contrastive_loss(const ContrastiveProblem& p, bool force_reference = false);

// The teacher's entropy in the units of the distillation term, mean_rows(-sum p log p) * T_s^2
// with p = softmax(teacher logits / T_t), not differentiated. kd minus this is T_s^2 times the KL
// divergence KL(teacher || student): 0 when the student matches the teacher. (With T_t = 5 over
// cosine logits the teacher is nearly uniform and kd itself sits near T_s^2 ln(columns), which
// says nothing; the KL is what the logs show.) Rows in blocks: memory flat in the keys.
Tensor teacher_entropy(const ContrastiveProblem& p);
Tensor reference_contrastive_loss(const ContrastiveProblem& p);

}  // namespace slimssl::train
