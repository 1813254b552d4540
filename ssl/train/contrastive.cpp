#include "ssl/train/contrastive.h"
#include <algorithm>
#include "engine/autograd.h"

namespace slimssl::train {

namespace {
Tensor range_labels(int64_t n, int64_t offset, int64_t modulo, Device device) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = (i + offset) % modulo;
  return Tensor::from_vector(v, {n}, device);
}
}  // namespace

Logits moco_logits(const Tensor& q, const Tensor& k, const Tensor& queue) {
  SLIMSSL_CHECK(q.dim() == 2 && q.shape() == k.shape(), "moco_logits: q ", shape_str(q.shape()), " and k ",
                shape_str(k.shape()), " must both be [N, D]");
  SLIMSSL_CHECK(queue.dim() == 2 && queue.size(1) == q.size(1), "moco_logits: queue ", shape_str(queue.shape()),
                " must be [K, ", q.size(1), "]");
  Tensor pos = sum(mul(q, k.detach()), {1}, true);
  Tensor neg = matmul(q, queue.detach().t());
  return {concat({pos, neg}, 1), Tensor::zeros({q.size(0)}, DType::I64, q.device())};
}

Logits inbatch_logits(const Tensor& q, const Tensor& k) {
  SLIMSSL_CHECK(q.dim() == 2 && k.dim() == 2 && q.size(1) == k.size(1) && q.size(0) == k.size(0),
                "inbatch_logits: q ", shape_str(q.shape()), " and k ", shape_str(k.shape()), " must both be [N, D]");
  return {matmul(q, k.t()), range_labels(q.size(0), 0, q.size(0), q.device())};
}

namespace {
// z = [z1; z2] against itself, self-similarity masked out with a large negative value. Made of
// device ops only (no host data), so it can run inside a captured CUDA graph.
Tensor ntxent_similarities(const Tensor& z1, const Tensor& z2) {
  int64_t n = z1.size(0);
  Tensor z = concat({z1, z2}, 0);
  Tensor sim = matmul(z, z.t());
  // Masking by subtraction keeps the op differentiable; exp(-1e4 / T) underflows to exactly 0.
  Tensor eye = Tensor::zeros({2 * n, 2 * n}, z1.dtype(), z1.device());
  eye.as_strided({2 * n}, {2 * n + 1}, 0).fill_(1e4);
  return sub(sim, eye);
}
}  // namespace

Logits ntxent_logits(const Tensor& z1, const Tensor& z2) {
  SLIMSSL_CHECK(z1.dim() == 2 && z1.shape() == z2.shape(), "ntxent_logits: views ", shape_str(z1.shape()), " and ",
                shape_str(z2.shape()), " must both be [N, D]");
  int64_t n = z1.size(0);
  return {ntxent_similarities(z1, z2), range_labels(2 * n, n, 2 * n, z1.device())};
}

Tensor info_nce(const Logits& l, double temperature) {
  return cross_entropy(mul(l.values, 1.0 / temperature), l.labels);
}

Tensor distill_loss(const Tensor& student, const Tensor& teacher, double ts, double tt) {
  SLIMSSL_CHECK(student.shape() == teacher.shape(), "distill_loss: student logits ", shape_str(student.shape()),
                " and teacher logits ", shape_str(teacher.shape()), " differ");
  Tensor target = softmax(mul(teacher.detach(), 1.0 / tt), 1);
  return mul(soft_cross_entropy(mul(student, 1.0 / ts), target), ts * ts);
}

namespace {
// The problem's logits for queries q against its keys (raw similarities, labels included).
Logits problem_logits(const ContrastiveProblem& p, const Tensor& q, const Tensor& keys) {
  switch (p.kind) {
    case ContrastKind::MoCo: return moco_logits(q, p.pos, keys);
    case ContrastKind::InBatch: return inbatch_logits(q, keys);
    case ContrastKind::NTXent: {
      const int64_t n = q.size(0) / 2;
      return ntxent_logits(q.narrow(0, 0, n), q.narrow(0, n, n));
    }
  }
  fail("contrastive loss: unknown problem kind");
}
}  // namespace

Tensor reference_contrastive_loss(const ContrastiveProblem& p) {
  Logits l = problem_logits(p, p.q, p.keys);
  Tensor nce = info_nce(l, p.temperature);
  Tensor kd = Tensor::zeros({}, nce.dtype(), nce.device());
  if (p.q_teacher.defined()) {
    Tensor tk = p.keys_teacher.defined() ? p.keys_teacher : (p.kind == ContrastKind::NTXent ? p.q_teacher : p.keys);
    Logits t = problem_logits(p, p.q_teacher.detach(), tk.detach());
    kd = distill_loss(l.values, t.values, p.t_student, p.t_teacher);
  }
  return stack({nce, kd}, 0);
}

Tensor teacher_entropy(const ContrastiveProblem& p) {
  SLIMSSL_CHECK(p.q_teacher.defined(), "teacher_entropy: the problem has no teacher");
  NoGradGuard no_grad;
  Tensor tq = p.q_teacher.detach();
  Tensor tk = (p.keys_teacher.defined() ? p.keys_teacher : (p.kind == ContrastKind::NTXent ? p.q_teacher : p.keys)).detach();
  auto row_entropy_sum = [&](const Tensor& logits) {
    Tensor logp = log_softmax(mul(logits, 1.0 / p.t_teacher), 1);
    return neg(sum(mul(exp(logp), logp)));
  };
  Tensor total;
  if (p.kind == ContrastKind::NTXent) {
    const int64_t n = tq.size(0) / 2;
    total = row_entropy_sum(ntxent_similarities(tq.narrow(0, 0, n), tq.narrow(0, n, n)));  // 2N x 2N: small
  } else {
    // Blocks of rows keep memory flat in the number of keys (the fused loss never holds N x K).
    constexpr int64_t kRows = 128;
    for (int64_t r = 0; r < tq.size(0); r += kRows) {
      const int64_t m = std::min(kRows, tq.size(0) - r);
      Tensor rows = tq.narrow(0, r, m);
      Tensor logits = p.kind == ContrastKind::MoCo ? moco_logits(rows, p.pos.narrow(0, r, m).detach(), tk).values
                                                   : matmul(rows, tk.t());
      Tensor part = row_entropy_sum(logits);
      total = total.defined() ? add(total, part) : part;
    }
  }
  return mul(total, p.t_student * p.t_student / static_cast<double>(tq.size(0)));
}

Tensor contrastive_loss(const ContrastiveProblem& p, bool force_reference) {
  if (!force_reference && fused_contrastive_available(p.q.device())) return fused_contrastive_loss(p);
  return reference_contrastive_loss(p);
}

}  // namespace slimssl::train
