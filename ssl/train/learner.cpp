#include "ssl/train/learner.h"
#include <cmath>
#include <map>
#include "engine/init.h"
#include "engine/rng.h"
#include "ssl/train/contrastive.h"

namespace slimssl::train {

Learner::Learner(const TrainConfig& c) : cfg_(c), weights_(resolve_loss_weights(c)) {
  bool v3 = c.framework == "mocov3";
  query_ = std::make_shared<Encoder>(c, v3);
  if (c.framework != "simclr") {
    key_ = std::make_shared<Encoder>(c, false);
    key_->copy_from(*query_);
    for (auto& p : key_->parameters()) p.set_requires_grad(false);
  }
  if (c.framework == "mocov2") {
    // A queue of random unit vectors, as MoCo starts with.
    queue_ = Tensor::empty({c.queue_size, c.head_dim});
    init::normal(queue_, 0.0, 1.0, c.seed, 0x51554555);
    queue_ = normalize(queue_, 1);
  }
}

std::vector<bool> Learner::active_widths(double epoch) const {
  std::vector<bool> on(cfg_.widths.size(), epoch >= cfg_.slim_start_epoch);
  on[0] = true;
  return on;
}

double Learner::key_momentum(double progress) const {
  if (cfg_.framework != "mocov3") return cfg_.ema_momentum;
  // MoCo v3: rises from the base momentum to 1 on a half cosine.
  return 1.0 - (1.0 - cfg_.ema_momentum) * (std::cos(M_PI * progress) + 1.0) / 2.0;
}

Tensor Learner::key_embeddings(const Tensor& x, int64_t step, uint32_t view) {
  NoGradGuard ng;
  int64_t n = x.size(0), groups = std::min<int64_t>(cfg_.shuffle_bn_groups, n);
  // Shuffle, run BN over each sub-batch separately, unshuffle: a key's BN statistics then come
  // from a different set of images than its query's, which is what MoCo's multi-GPU shuffle BN
  // achieves (without it the batch statistics leak which sample is the positive).
  std::vector<int64_t> perm = random_permutation(
      n, RandomStream(cfg_.seed, static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32), 0x53480000u | view));
  std::vector<int64_t> inverse(n);
  for (int64_t i = 0; i < n; ++i) inverse[perm[i]] = i;
  Tensor shuffled = index_select(x, 0, Tensor::from_vector(perm, {n}));
  std::vector<Tensor> parts;
  int64_t chunk = (n + groups - 1) / groups;
  for (int64_t s = 0; s < n; s += chunk)
    parts.push_back(key_->forward(shuffled.narrow(0, s, std::min(chunk, n - s)).contiguous(), 0));
  Tensor k = index_select(concat(parts, 0), 0, Tensor::from_vector(inverse, {n}));
  return normalize(k, 1);
}

StepLoss Learner::combine(const std::vector<Tensor>& nce, const std::vector<Tensor>& kd,
                          const std::vector<bool>& active) {
  const bool slim_phase = active.size() > 1 && active[1];  // sub-networks train: slow start is over
  StepLoss out;
  out.active = active;
  out.widths.resize(active.size());
  out.terms.resize(active.size());
  Tensor total;
  for (size_t i = 0; i < active.size(); ++i) {
    if (!active[i]) continue;
    double w = slim_phase ? weights_[i] : 1.0;  // the weights apply once sub-networks train
    Tensor term = nce[i];
    if (i > 0 && kd[i].defined()) {
      double a = cfg_.distill_alpha;
      term = add(mul(nce[i], 1.0 - a), mul(kd[i], a));
      out.widths[i].distill = kd[i].item();
    }
    term = mul(term, w);
    out.widths[i].info_nce = nce[i].item();
    out.widths[i].total = term.item();
    out.terms[i] = term;
    total = total.defined() ? add(total, term) : term;
  }
  out.loss = total;
  return out;
}

StepLoss Learner::moco_v2(const Tensor& v1, const Tensor& v2, const std::vector<bool>& active, int64_t step) {
  Tensor k = key_embeddings(v2, step, 0);
  pending_keys_ = k;
  size_t n = active.size();
  std::vector<Tensor> nce(n), kd(n);
  Tensor teacher;
  for (size_t i = 0; i < n; ++i) {
    if (!active[i]) continue;
    Tensor q = normalize(query_->forward(v1, static_cast<int>(i)), 1);
    Logits l = moco_logits(q, k, queue_);
    nce[i] = info_nce(l, cfg_.temperature);
    if (i == 0) teacher = l.values.detach();
    else if (cfg_.distill) kd[i] = distill_loss(l.values, teacher, cfg_.distill_t_student, cfg_.distill_t_teacher);
  }
  return combine(nce, kd, active);
}

StepLoss Learner::moco_v3(const Tensor& v1, const Tensor& v2, const std::vector<bool>& active, int64_t step) {
  Tensor k1 = key_embeddings(v1, step, 0), k2 = key_embeddings(v2, step, 1);
  size_t n = active.size();
  std::vector<Tensor> nce(n), kd(n);
  Tensor teacher1, teacher2;
  const double t = cfg_.temperature;
  for (size_t i = 0; i < n; ++i) {
    if (!active[i]) continue;
    int wi = static_cast<int>(i);
    Tensor q1 = normalize(query_->predict(query_->forward(v1, wi), wi), 1);
    Tensor q2 = normalize(query_->predict(query_->forward(v2, wi), wi), 1);
    Logits l1 = inbatch_logits(q1, k2), l2 = inbatch_logits(q2, k1);
    // MoCo v3 scales each direction's cross-entropy by 2T.
    nce[i] = mul(add(info_nce(l1, t), info_nce(l2, t)), 2.0 * t);
    if (i == 0) {
      teacher1 = l1.values.detach(), teacher2 = l2.values.detach();
    } else if (cfg_.distill) {
      double ts = cfg_.distill_t_student, tt = cfg_.distill_t_teacher;
      kd[i] = add(distill_loss(l1.values, teacher1, ts, tt), distill_loss(l2.values, teacher2, ts, tt));
    }
  }
  return combine(nce, kd, active);
}

StepLoss Learner::simclr(const Tensor& v1, const Tensor& v2, const std::vector<bool>& active) {
  size_t n = active.size();
  std::vector<Tensor> nce(n), kd(n);
  Tensor teacher;
  for (size_t i = 0; i < n; ++i) {
    if (!active[i]) continue;
    int wi = static_cast<int>(i);
    Tensor z1 = normalize(query_->forward(v1, wi), 1), z2 = normalize(query_->forward(v2, wi), 1);
    Logits l = ntxent_logits(z1, z2);
    nce[i] = info_nce(l, cfg_.temperature);
    if (i == 0) teacher = l.values.detach();
    else if (cfg_.distill) kd[i] = distill_loss(l.values, teacher, cfg_.distill_t_student, cfg_.distill_t_teacher);
  }
  return combine(nce, kd, active);
}

StepLoss Learner::compute_loss(const Tensor& view1, const Tensor& view2, double epoch, int64_t step) {
  SLIMSSL_CHECK(view1.shape() == view2.shape() && view1.dim() == 4, "learner: views ", shape_str(view1.shape()),
                " and ", shape_str(view2.shape()), " must both be [B, C, S, S]");
  query_->train();
  if (key_) key_->train();
  auto active = active_widths(epoch);
  if (cfg_.framework == "mocov2") return moco_v2(view1, view2, active, step);
  if (cfg_.framework == "mocov3") return moco_v3(view1, view2, active, step);
  return simclr(view1, view2, active);
}

void Learner::after_step(double progress) {
  if (key_) key_->ema_from(*query_, key_momentum(progress));
  if (queue_.defined() && pending_keys_.defined()) {
    NoGradGuard ng;
    int64_t n = pending_keys_.size(0), k = queue_.size(0);
    // queue_size is a multiple of the batch (validated), so a batch never wraps.
    queue_.narrow(0, queue_ptr_, n).copy_(pending_keys_);
    queue_ptr_ = (queue_ptr_ + n) % k;
    pending_keys_ = Tensor();
  }
}

std::vector<std::pair<std::string, Tensor>> Learner::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (auto& [n, t] : query_->named_parameters()) out.emplace_back("query." + n, t);
  for (auto& [n, t] : query_->named_buffers()) out.emplace_back("query." + n, t);
  if (key_) {
    for (auto& [n, t] : key_->named_parameters()) out.emplace_back("key." + n, t);
    for (auto& [n, t] : key_->named_buffers()) out.emplace_back("key." + n, t);
  }
  if (queue_.defined()) out.emplace_back("queue", queue_);
  return out;
}

void Learner::load_state(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::map<std::string, Tensor> by_name(named.begin(), named.end());
  NoGradGuard ng;
  for (auto& [name, t] : state()) {
    auto it = by_name.find(name);
    SLIMSSL_CHECK(it != by_name.end(), "checkpoint: tensor '", name, "' is missing");
    SLIMSSL_CHECK(it->second.shape() == t.shape(), "checkpoint: tensor '", name, "' has shape ",
                  shape_str(it->second.shape()), ", the model expects ", shape_str(t.shape()));
    SLIMSSL_CHECK(it->second.dtype() == t.dtype(), "checkpoint: tensor '", name, "' has dtype ",
                  dtype_name(it->second.dtype()), ", the model expects ", dtype_name(t.dtype()));
    t.detach().copy_(it->second);
  }
}

}  // namespace slimssl::train
