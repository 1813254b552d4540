#include "ssl/train/optimizer.h"
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include "engine/ops.h"

namespace slimssl::train {

const char* optimizer_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::SGD: return "sgd";
    case OptimizerKind::LARS: return "lars";
    case OptimizerKind::AdamW: return "adamw";
  }
  return "?";
}

OptimizerKind parse_optimizer(const std::string& n) {
  for (OptimizerKind k : {OptimizerKind::SGD, OptimizerKind::LARS, OptimizerKind::AdamW})
    if (n == optimizer_name(k)) return k;
  fail("optimizer: unknown optimizer '", n, "' (expected sgd, lars or adamw)");
}

ParamGroup named_group(const models::NamedTensors& params, bool weight_decay, bool lars_adapt) {
  ParamGroup g{{}, weight_decay, lars_adapt, {}};
  for (auto& [name, t] : params) {
    g.names.push_back(name);
    g.params.push_back(t);
  }
  return g;
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, OptimizerConfig cfg) : groups_(std::move(groups)), cfg_(cfg) {
  std::set<std::string> seen;
  for (auto& g : groups_) {
    SLIMSSL_CHECK(g.names.size() == g.params.size(), "optimizer: a group has ", g.params.size(), " parameters but ",
                  g.names.size(), " names");
    for (auto& n : g.names) SLIMSSL_CHECK(seen.insert(n).second, "optimizer: parameter name '", n, "' appears twice");
    buf1_.emplace_back(g.params.size());
    buf2_.emplace_back(g.params.size());
  }
}

namespace {
// PyTorch's names for the state slots: buf1_ holds the first, buf2_ the second (AdamW only).
std::vector<std::string> slot_names(OptimizerKind kind) {
  if (kind == OptimizerKind::AdamW) return {"exp_avg", "exp_avg_sq"};
  return {"momentum_buffer"};
}
}  // namespace

void Optimizer::zero_grad() {
  if (flat_) return flat_->zero_grad();
  for (auto& g : groups_)
    for (auto& p : g.params) p.zero_grad();
}

namespace {
double sq_norm(const Tensor& t) {
  Tensor f = t.detach();
  return sum(mul(f, f)).item();
}
}  // namespace

double Optimizer::step(double lr) {
  NoGradGuard ng;
  for (auto& g : groups_)
    if (!g.params.empty() && fused_optimizer_available(g.params[0].device())) {
      step_fused(lr);
      return std::nan("");
    }
  double total = 0;
  for (auto& g : groups_)
    for (auto& p : g.params)
      if (p.grad().defined()) total += sq_norm(p.grad());
  double norm = std::sqrt(total);
  double clip = (cfg_.grad_clip > 0 && norm > cfg_.grad_clip) ? cfg_.grad_clip / (norm + 1e-6) : 1.0;
  ++steps_;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    auto& group = groups_[gi];
    double wd = group.weight_decay ? cfg_.weight_decay : 0.0;
    for (size_t pi = 0; pi < group.params.size(); ++pi) {
      Tensor p = group.params[pi].detach();
      Tensor grad = group.params[pi].grad();
      if (!grad.defined()) continue;
      Tensor d = clip != 1.0 ? mul(grad, clip) : grad.clone();
      switch (cfg_.kind) {
        case OptimizerKind::SGD:
        case OptimizerKind::LARS: {
          if (wd > 0) d.add_(p, wd);
          if (cfg_.kind == OptimizerKind::LARS && group.lars_adapt) {
            double pn = std::sqrt(sq_norm(p)), dn = std::sqrt(sq_norm(d));
            if (pn > 0 && dn > 0) d.mul_(cfg_.lars_eta * pn / dn);
          }
          if (cfg_.momentum > 0) {
            Tensor& m = buf1_[gi][pi];
            if (!m.defined()) m = d.clone();
            else m.mul_(cfg_.momentum).add_(d);
            if (cfg_.nesterov) d.add_(m, cfg_.momentum);
            else d = m;
          }
          p.add_(d, -lr);
          break;
        }
        case OptimizerKind::AdamW: {
          Tensor& m = buf1_[gi][pi];
          Tensor& v = buf2_[gi][pi];
          if (!m.defined()) m = Tensor::zeros_like(p), v = Tensor::zeros_like(p);
          m.mul_(cfg_.beta1).add_(d, 1 - cfg_.beta1);
          v.mul_(cfg_.beta2).add_(mul(d, d), 1 - cfg_.beta2);
          double bc1 = 1 - std::pow(cfg_.beta1, static_cast<double>(steps_));
          double bc2 = 1 - std::pow(cfg_.beta2, static_cast<double>(steps_));
          if (wd > 0) p.mul_(1 - lr * wd);  // decoupled decay
          Tensor upd = div(mul(m, 1.0 / bc1), add(sqrt(mul(v, 1.0 / bc2)), cfg_.adam_eps));
          p.add_(upd, -lr);
          break;
        }
      }
    }
  }
  return norm;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::state() const {
  const auto slots = slot_names(cfg_.kind);
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) {
      const std::string& name = groups_[gi].names[pi];
      if (buf1_[gi][pi].defined()) out.emplace_back(name + "." + slots[0], buf1_[gi][pi]);
      if (buf2_[gi][pi].defined()) out.emplace_back(name + "." + slots[1], buf2_[gi][pi]);
    }
  return out;
}

void Optimizer::load_state(const std::vector<std::pair<std::string, Tensor>>& named) {
  fused_.reset();  // the state tensors are replaced: the fused table is rebuilt on the next step
  const auto slots = slot_names(cfg_.kind);
  std::map<std::string, std::pair<size_t, size_t>> where;
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) where[groups_[gi].names[pi]] = {gi, pi};
  for (auto& [key, t] : named) {
    size_t dot = key.rfind('.');
    SLIMSSL_CHECK(dot != std::string::npos, "optimizer state '", key, "': expected <parameter name>.<slot>");
    const std::string name = key.substr(0, dot), slot = key.substr(dot + 1);
    auto slot_at = std::find(slots.begin(), slots.end(), slot);
    SLIMSSL_CHECK(slot_at != slots.end(), "optimizer state '", key, "': the ", optimizer_name(cfg_.kind), " optimizer keeps ",
                  join_names(slots), ", not '", slot, "'");
    auto it = where.find(name);
    SLIMSSL_CHECK(it != where.end(), "optimizer state '", key, "': the model has no parameter '", name, "'");
    auto [gi, pi] = it->second;
    const Tensor& p = groups_[gi].params[pi];
    SLIMSSL_CHECK(t.shape() == p.shape(), "optimizer state '", key, "' has shape ", shape_str(t.shape()),
                  ", the parameter has ", shape_str(p.shape()));
    SLIMSSL_CHECK(t.dtype() == p.dtype(), "optimizer state '", key, "' has dtype ", dtype_name(t.dtype()),
                  ", the parameter has ", dtype_name(p.dtype()));
    (slot_at == slots.begin() ? buf1_ : buf2_)[gi][pi] = t.clone().to(p.device());
  }
}

std::string Optimizer::state_key_from_position(const std::string& key) const {
  size_t a = key.find('.'), b = key.rfind('.');
  unsigned long long gi = 0, pi = 0;
  auto number = [](const std::string& s, unsigned long long& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size();
  };
  const bool ok = a != std::string::npos && b > a && number(key.substr(0, a), gi) &&
                  number(key.substr(a + 1, b - a - 1), pi) && (key.substr(b + 1) == "m1" || key.substr(b + 1) == "m2");
  SLIMSSL_CHECK(ok, "optimizer state '", key, "': expected <group>.<index>.m1 or .m2 in a format-1 checkpoint");
  SLIMSSL_CHECK(gi < groups_.size() && pi < groups_[gi].params.size(), "optimizer state '", key,
                "' does not match the model's parameters (", groups_.size(), " groups)");
  const auto slots = slot_names(cfg_.kind);
  const size_t slot = key.substr(b + 1) == "m1" ? 0 : 1;
  SLIMSSL_CHECK(slot < slots.size(), "optimizer state '", key, "': the ", optimizer_name(cfg_.kind), " optimizer has no second moment");
  return groups_[gi].names[pi] + "." + slots[slot];
}

int64_t Optimizer::full_state_bytes() const {
  const int64_t slots = cfg_.kind == OptimizerKind::AdamW ? 2 : (cfg_.momentum > 0 ? 1 : 0);
  int64_t bytes = 0;
  for (auto& g : groups_)
    for (auto& p : g.params) bytes += slots * p.numel() * static_cast<int64_t>(p.itemsize());
  return bytes;
}

double Schedule::lr_at(double epoch) const {
  if (warmup_epochs > 0 && epoch < warmup_epochs) return base_lr * epoch / warmup_epochs;
  if (kind == "constant") return base_lr;
  if (kind == "step") {
    double lr = base_lr;
    for (double m : milestones)
      if (epoch >= m) lr *= gamma;
    return lr;
  }
  double span = std::max(1e-9, total_epochs - warmup_epochs);
  double t = std::min(1.0, std::max(0.0, (epoch - warmup_epochs) / span));
  return final_lr + 0.5 * (base_lr - final_lr) * (1 + std::cos(M_PI * t));
}

}  // namespace slimssl::train
