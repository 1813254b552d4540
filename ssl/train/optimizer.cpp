#include "ssl/train/optimizer.h"
#include <cmath>
#include "engine/ops.h"

namespace slimssl::train {

OptimizerKind parse_optimizer(const std::string& n) {
  if (n == "sgd") return OptimizerKind::SGD;
  if (n == "lars") return OptimizerKind::LARS;
  if (n == "adamw") return OptimizerKind::AdamW;
  fail("optimizer: unknown optimizer '", n, "' (expected sgd, lars or adamw)");
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, OptimizerConfig cfg) : groups_(std::move(groups)), cfg_(cfg) {
  for (auto& g : groups_) {
    buf1_.emplace_back(g.params.size());
    buf2_.emplace_back(g.params.size());
  }
}

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
  std::vector<std::pair<std::string, Tensor>> out;
  for (size_t gi = 0; gi < groups_.size(); ++gi)
    for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) {
      std::string key = std::to_string(gi) + "." + std::to_string(pi);
      if (buf1_[gi][pi].defined()) out.emplace_back(key + ".m1", buf1_[gi][pi]);
      if (buf2_[gi][pi].defined()) out.emplace_back(key + ".m2", buf2_[gi][pi]);
    }
  return out;
}

void Optimizer::load_state(const std::vector<std::pair<std::string, Tensor>>& named) {
  fused_.reset();  // the state tensors are replaced: the fused table is rebuilt on the next step
  for (auto& [key, t] : named) {
    size_t a = key.find('.'), b = key.rfind('.');
    SLIMSSL_CHECK(a != std::string::npos && b > a, "optimizer state: malformed key '", key, "'");
    size_t gi = std::stoul(key.substr(0, a)), pi = std::stoul(key.substr(a + 1, b - a - 1));
    SLIMSSL_CHECK(gi < groups_.size() && pi < groups_[gi].params.size(), "optimizer state: key '", key,
                  "' does not match the model's parameters");
    SLIMSSL_CHECK(t.shape() == groups_[gi].params[pi].shape(), "optimizer state: '", key, "' has shape ",
                  shape_str(t.shape()), ", parameter has ", shape_str(groups_[gi].params[pi].shape()));
    Tensor copy = t.clone().to(groups_[gi].params[pi].device());
    if (key.substr(b + 1) == "m1") buf1_[gi][pi] = copy;
    else buf2_[gi][pi] = copy;
  }
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
