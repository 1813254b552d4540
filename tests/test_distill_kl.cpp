// The distillation term the logs show: the cross-entropy minus the teacher's entropy, i.e.
// T_s^2 KL(teacher || student), 0 when the student matches the teacher, against a hand-written KL.
#include <catch2/catch.hpp>
#include <cmath>
#include "engine/ops.h"
#include "gradcheck.h"
#include "ssl/train/contrastive.h"

using namespace slimssl;
using namespace slimssl::testing;

namespace {
// T_s^2 * mean_rows KL(softmax(zt / tt) || softmax(zs / ts)), by hand in double.
double kl_by_hand(const Tensor& zs, const Tensor& zt, double ts, double tt) {
  auto s = zs.to_vector<double>(), t = zt.to_vector<double>();
  const int64_t rows = zs.size(0), cols = zs.size(1);
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double ls = 0, lt = 0;
    for (int64_t j = 0; j < cols; ++j) ls += std::exp(s[r * cols + j] / ts), lt += std::exp(t[r * cols + j] / tt);
    for (int64_t j = 0; j < cols; ++j) {
      double logp = t[r * cols + j] / tt - std::log(lt), logq = s[r * cols + j] / ts - std::log(ls);
      total += std::exp(logp) * (logp - logq);
    }
  }
  return total / static_cast<double>(rows) * ts * ts;
}

ContrastiveProblem problem_of(ContrastKind kind, int64_t n, uint64_t seed) {
  ContrastiveProblem p;
  p.kind = kind, p.temperature = 0.2, p.t_student = 5, p.t_teacher = 5;
  p.q = normalize(randu({kind == ContrastKind::NTXent ? 2 * n : n, 8}, seed), 1);
  if (kind == ContrastKind::MoCo) p.pos = normalize(randu({n, 8}, seed + 1), 1), p.keys = normalize(randu({50, 8}, seed + 2), 1);
  if (kind == ContrastKind::InBatch) p.keys = normalize(randu({n, 8}, seed + 2), 1);
  return p;
}
}  // namespace

TEST_CASE("distillation as KL: 0 for a student equal to its teacher, the hand-written KL otherwise", "[train][distill]") {
  // 300 rows: the entropy runs in blocks of 128 rows, so the last block is partial.
  for (auto [kind, name] : {std::pair{ContrastKind::MoCo, "moco"}, std::pair{ContrastKind::InBatch, "inbatch"},
                            std::pair{ContrastKind::NTXent, "ntxent"}}) {
    DYNAMIC_SECTION(name) {
      const int64_t n = kind == ContrastKind::NTXent ? 40 : 300;
      ContrastiveProblem p = problem_of(kind, n, 7);
      p.q_teacher = p.q;
      Tensor same = train::reference_contrastive_loss(p).select(0, 1);
      CHECK(same.item() - train::teacher_entropy(p).item() == Approx(0).margin(1e-4));

      p.q_teacher = normalize(randu(p.q.shape(), 99), 1);
      p.t_teacher = 2.0;  // the two temperatures may differ
      Tensor kd = train::reference_contrastive_loss(p).select(0, 1);
      const double kl = kd.item() - train::teacher_entropy(p).item();
      // The student's and the teacher's logits, as the reference builds them.
      auto logits = [&, kind = kind](const Tensor& q) {  // clang 14: no capture of a structured binding
        switch (kind) {
          case ContrastKind::MoCo: return train::moco_logits(q, p.pos, p.keys).values;
          case ContrastKind::InBatch: return train::inbatch_logits(q, p.keys).values;
          case ContrastKind::NTXent: return train::ntxent_logits(q.narrow(0, 0, n), q.narrow(0, n, n)).values;
        }
        return Tensor();
      };
      const double expect = kl_by_hand(logits(p.q), logits(p.q_teacher), p.t_student, p.t_teacher);
      CHECK(expect > 1e-3);  // the two differ: the check below is not 0 == 0
      CHECK(kl == Approx(expect).epsilon(1e-3).margin(1e-5));
    }
  }
}

TEST_CASE("distillation as KL: teacher_entropy needs a teacher", "[train][distill]") {
  ContrastiveProblem p = problem_of(ContrastKind::MoCo, 4, 3);
  CHECK_THROWS_WITH(train::teacher_entropy(p), Catch::Contains("no teacher"));
}
