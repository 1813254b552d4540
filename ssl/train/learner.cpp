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

void Learner::to(Device device) {
  query_->to(device);
  if (key_) key_->to(device);
  if (queue_.defined()) queue_.set_data(queue_.detach().to(device));
  pending_keys_ = Tensor();
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

Tensor Learner::embed(const Tensor& head_out) const {
  // Losses compute in float32 whatever precision the network ran in.
  return normalize(head_out.to(DType::F32), 1);
}

namespace {
constexpr uint32_t key_permutation_tag(uint32_t view) { return 0x53480000u | view; }
}  // namespace

std::vector<int64_t> Learner::key_permutation(int64_t n, int64_t step, uint32_t view) const {
  return random_permutation(n, RandomStream(cfg_.seed, static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32),
                                            key_permutation_tag(view)));
}

Tensor Learner::key_embeddings(const Tensor& x, uint32_t view) {
  NoGradGuard ng;
  int64_t n = x.size(0), groups = std::min<int64_t>(cfg_.shuffle_bn_groups, n);
  // Shuffle, run BN over each sub-batch separately, unshuffle: a key's BN statistics then come
  // from a different set of images than its query's, which is what MoCo's multi-GPU shuffle BN
  // achieves (without it the batch statistics leak which sample is the positive). The order is
  // key_permutation(n, step, view), drawn on x's device from the step counter there.
  Permutation perm = random_permutation(n, cfg_.seed, step_counter(x.device()), key_permutation_tag(view));
  Tensor shuffled = permute_rows(x, perm.order);
  std::vector<Tensor> parts;
  int64_t chunk = (n + groups - 1) / groups;
  for (int64_t s = 0; s < n; s += chunk)
    parts.push_back(key_->forward(shuffled.narrow(0, s, std::min(chunk, n - s)), 0));
  Tensor k = permute_rows(concat(parts, 0), perm.inverse);
  return embed(k);
}

namespace {
// The logged distillation term: kd minus the teacher's entropy (computed once per step and teacher,
// cached in `entropy`), i.e. the KL divergence; detached, for the logs only.
Tensor as_kl(const Tensor& kd, const ContrastiveProblem& p, Tensor& entropy) {
  if (!entropy.defined()) entropy = teacher_entropy(p);
  return sub(kd.detach(), entropy);
}
}  // namespace

Tensor& Learner::step_counter(Device d) {
  if (!step_counter_.defined() || step_counter_.device() != d) step_counter_ = Tensor::zeros({}, DType::I64, d);
  return step_counter_;
}

StepLoss Learner::combine(const std::vector<Tensor>& nce, const std::vector<Tensor>& kd,
                          const std::vector<Tensor>& kl, const std::vector<bool>& active) {
  const bool slim_phase = active.size() > 1 && active[1];  // sub-networks train: slow start is over
  StepLoss out;
  out.active = active;
  out.widths.resize(active.size());
  out.terms.resize(active.size());
  out.info_nce.resize(active.size());
  out.distill.resize(active.size());
  Tensor total;
  for (size_t i = 0; i < active.size(); ++i) {
    if (!active[i]) continue;
    double w = slim_phase ? weights_[i] : 1.0;  // the weights apply once sub-networks train
    Tensor term = nce[i];
    if (i > 0 && kd[i].defined()) {
      double a = cfg_.distill_alpha;
      term = add(mul(nce[i], 1.0 - a), mul(kd[i], a));
      out.distill[i] = kl[i];
    }
    term = mul(term, w);
    out.info_nce[i] = nce[i];
    out.terms[i] = term;
    total = total.defined() ? add(total, term) : term;
  }
  out.loss = total;
  return out;
}

std::vector<Tensor> StepLoss::scalars() const {
  std::vector<Tensor> s{loss.detach()};
  for (size_t i = 0; i < active.size(); ++i) {
    if (!active[i]) continue;
    s.push_back(terms[i].detach());
    s.push_back(info_nce[i].detach());
    s.push_back(distill[i].defined() ? distill[i].detach() : Tensor::zeros({}, loss.dtype(), loss.device()));
  }
  return s;
}

void StepLoss::set_values(const std::vector<double>& v) {
  size_t at = 0;
  SLIMSSL_CHECK(!v.empty(), "step loss: no values");
  total = v[at++];
  widths.assign(active.size(), WidthLoss{});
  for (size_t i = 0; i < active.size(); ++i) {
    if (!active[i]) continue;
    SLIMSSL_CHECK(at + 3 <= v.size(), "step loss: ", v.size(), " values for ", active.size(), " widths");
    widths[i].total = v[at], widths[i].info_nce = v[at + 1], widths[i].distill = v[at + 2];
    at += 3;
  }
  has_values = true;
}

void StepLoss::read_values() {
  std::vector<double> v;
  for (const Tensor& t : scalars()) v.push_back(t.item());
  set_values(v);
}

ContrastiveProblem Learner::problem(ContrastKind kind, const Tensor& q, const Tensor& keys, const Tensor& pos,
                                    const Tensor& teacher_q) const {
  ContrastiveProblem p;
  p.kind = kind, p.temperature = cfg_.temperature, p.q = q, p.keys = keys, p.pos = pos;
  p.tensor_cores = cfg_.amp;  // full float32 products when the run is float32
  if (teacher_q.defined() && cfg_.distill) {
    p.q_teacher = teacher_q.detach();
    p.t_student = cfg_.distill_t_student, p.t_teacher = cfg_.distill_t_teacher;
  }
  return p;
}

StepLoss Learner::moco_v2(const Tensor& v1, const Tensor& v2, const std::vector<bool>& active) {
  Tensor k = key_embeddings(v2, 0);
  pending_keys_ = k;
  size_t n = active.size();
  std::vector<Tensor> nce(n), kd(n), kl(n);
  Tensor teacher, entropy;
  for (size_t i = 0; i < n; ++i) {
    if (!active[i]) continue;
    Tensor q = embed(query_->forward(v1, static_cast<int>(i)));
    ContrastiveProblem p = problem(ContrastKind::MoCo, q, queue_, k, i > 0 ? teacher : Tensor());
    Tensor loss = contrastive_loss(p);
    nce[i] = loss.select(0, 0);
    if (i == 0) teacher = q.detach();
    else if (cfg_.distill) kd[i] = loss.select(0, 1), kl[i] = as_kl(kd[i], p, entropy);
  }
  return combine(nce, kd, kl, active);
}

StepLoss Learner::moco_v3(const Tensor& v1, const Tensor& v2, const std::vector<bool>& active) {
  Tensor k1 = key_embeddings(v1, 0), k2 = key_embeddings(v2, 1);
  size_t n = active.size();
  std::vector<Tensor> nce(n), kd(n), kl(n);
  Tensor teacher1, teacher2, entropy1, entropy2;
  const double t = cfg_.temperature;
  for (size_t i = 0; i < n; ++i) {
    if (!active[i]) continue;
    int wi = static_cast<int>(i);
    Tensor q1 = embed(query_->predict(query_->forward(v1, wi), wi));
    Tensor q2 = embed(query_->predict(query_->forward(v2, wi), wi));
    ContrastiveProblem p1 = problem(ContrastKind::InBatch, q1, k2, {}, i > 0 ? teacher1 : Tensor());
    ContrastiveProblem p2 = problem(ContrastKind::InBatch, q2, k1, {}, i > 0 ? teacher2 : Tensor());
    Tensor l1 = contrastive_loss(p1), l2 = contrastive_loss(p2);
    // MoCo v3 scales each direction's cross-entropy by 2T.
    nce[i] = mul(add(l1.select(0, 0), l2.select(0, 0)), 2.0 * t);
    if (i == 0) teacher1 = q1.detach(), teacher2 = q2.detach();
    else if (cfg_.distill) {
      kd[i] = add(l1.select(0, 1), l2.select(0, 1));
      kl[i] = add(as_kl(l1.select(0, 1), p1, entropy1), as_kl(l2.select(0, 1), p2, entropy2));
    }
  }
  return combine(nce, kd, kl, active);
}

StepLoss Learner::simclr(const Tensor& v1, const Tensor& v2, const std::vector<bool>& active) {
  size_t n = active.size();
  std::vector<Tensor> nce(n), kd(n), kl(n);
  Tensor teacher, entropy;
  for (size_t i = 0; i < n; ++i) {
    if (!active[i]) continue;
    int wi = static_cast<int>(i);
    Tensor z = concat({embed(query_->forward(v1, wi)), embed(query_->forward(v2, wi))}, 0);
    ContrastiveProblem p = problem(ContrastKind::NTXent, z, {}, {}, i > 0 ? teacher : Tensor());
    Tensor loss = contrastive_loss(p);
    nce[i] = loss.select(0, 0);
    if (i == 0) teacher = z.detach();
    else if (cfg_.distill) kd[i] = loss.select(0, 1), kl[i] = as_kl(kd[i], p, entropy);
  }
  return combine(nce, kd, kl, active);
}

StepLoss Learner::compute_loss(const Tensor& view1, const Tensor& view2, double epoch, int64_t step) {
  SLIMSSL_CHECK(view1.shape() == view2.shape() && view1.dim() == 4, "learner: views ", shape_str(view1.shape()),
                " and ", shape_str(view2.shape()), " must both be [B, C, S, S]");
  query_->train();
  if (key_) key_->train();
  auto active = active_widths(epoch);
  // The step number as the key permutations read it: in the step scalars (prepare_step), else
  // written by a fill kernel.
  if (key_ && !scalars_) step_counter(view1.device()).fill_(static_cast<double>(step));
  if (cfg_.framework == "mocov2") return moco_v2(view1, view2, active);
  if (cfg_.framework == "mocov3") return moco_v3(view1, view2, active);
  return simclr(view1, view2, active);
}

void Learner::use_step_scalars(StepScalars* scalars) {
  scalars_ = scalars;
  if (!scalars_) {
    step_counter_ = momentum_ = one_minus_momentum_ = queue_block_ = Tensor();
    return;
  }
  counter_at_ = scalars_->reserve(8);
  momentum_at_ = scalars_->reserve(8, 4);
  queue_block_at_ = scalars_->reserve(8);
  step_counter_ = scalars_->scalar(counter_at_, DType::I64);
  momentum_ = scalars_->scalar(momentum_at_, DType::F32);
  one_minus_momentum_ = scalars_->scalar(momentum_at_ + 4, DType::F32);
  queue_block_ = scalars_->scalar(queue_block_at_, DType::I64);
}

void Learner::prepare_step(int64_t step, double progress, int64_t batch) {
  if (!scalars_) return;
  const double m = key_momentum(progress);
  scalars_->set(counter_at_, step);
  scalars_->set(momentum_at_, static_cast<float>(m));
  scalars_->set(momentum_at_ + 4, static_cast<float>(1.0 - m));
  SLIMSSL_CHECK(batch > 0 && queue_ptr_ % batch == 0, "learner: the queue position ", queue_ptr_,
                " is not a multiple of the batch ", batch);
  scalars_->set(queue_block_at_, queue_ptr_ / batch);
}

void Learner::advance_queue(int64_t batch) {
  if (queue_.defined()) queue_ptr_ = (queue_ptr_ + batch) % queue_.size(0);
}

void Learner::after_step(double progress) {
  if (key_) {
    if (scalars_) key_->ema_from(*query_, momentum_, one_minus_momentum_);
    else key_->ema_from(*query_, key_momentum(progress));
  }
  if (queue_.defined() && pending_keys_.defined()) {
    NoGradGuard ng;
    int64_t n = pending_keys_.size(0), k = queue_.size(0);
    // queue_size is a multiple of the batch (validated), so a batch never wraps.
    if (scalars_) write_block(queue_.view({k / n, n, queue_.size(1)}), queue_block_, pending_keys_);
    else queue_.narrow(0, queue_ptr_, n).copy_(pending_keys_);
    advance_queue(n);
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
