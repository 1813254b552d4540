// The optimizer's CUDA path: the same rules as Optimizer::step's loop (the reference), as one
// fused launch over every parameter (engine/fused_optimizer.h).
#include <cmath>
#include "ssl/train/optimizer.h"

namespace slimssl::train {

void Optimizer::step_fused(double lr) {
  if (!flat_) {
    // Every parameter gets a pinned gradient in one flat buffer (zeroed, never dropped: a
    // parameter that received no gradient steps with zeros, which for momentum and decoupled
    // decay is what the reference's skip amounts to).
    std::vector<Tensor> all;
    for (auto& g : groups_) all.insert(all.end(), g.params.begin(), g.params.end());
    flat_ = std::make_unique<FlatParameters>(all);
  }
  if (!fused_) {  // the slot table over the parameters and their state (rebuilt after load_state)
    const bool adam = cfg_.kind == OptimizerKind::AdamW;
    std::vector<FusedSlot> slots;
    for (size_t gi = 0; gi < groups_.size(); ++gi)
      for (size_t pi = 0; pi < groups_[gi].params.size(); ++pi) {
        const Tensor& p = groups_[gi].params[pi];
        FusedSlot s;
        s.param = p.detach(), s.grad = p.grad();
        if (adam || cfg_.momentum > 0) {
          if (!buf1_[gi][pi].defined()) buf1_[gi][pi] = Tensor::zeros_like(s.param);
          s.buf1 = buf1_[gi][pi];
        }
        if (adam) {
          if (!buf2_[gi][pi].defined()) buf2_[gi][pi] = Tensor::zeros_like(s.param);
          s.buf2 = buf2_[gi][pi];
        }
        s.weight_decay = groups_[gi].weight_decay ? cfg_.weight_decay : 0.0;
        s.lars_adapt = cfg_.kind == OptimizerKind::LARS && groups_[gi].lars_adapt;
        slots.push_back(s);
      }
    fused_ = std::make_unique<FusedOptimizer>(slots);
  }
  // The reference creates the state on the first step (m = d); steps_ counts completed steps, so a
  // resumed run (steps_ > 0, state loaded) continues from its buffers.
  const bool first = steps_ == 0;
  ++steps_;
  const void* per_step = scalars_ ? scalars_->device_address(scalars_at_) : nullptr;
  if (cfg_.kind == OptimizerKind::AdamW) fused_->adamw(adamw_args(lr, steps_, first), cfg_.grad_clip, per_step);
  else fused_->sgd(sgd_args(lr, first), cfg_.grad_clip, per_step);
}

FusedSgd Optimizer::sgd_args(double lr, bool first) const {
  FusedSgd s;
  s.lr = lr, s.momentum = cfg_.momentum, s.nesterov = cfg_.nesterov, s.first_step = first;
  s.lars = cfg_.kind == OptimizerKind::LARS, s.lars_eta = cfg_.lars_eta;
  return s;
}

FusedAdamW Optimizer::adamw_args(double lr, int64_t step, bool first) const {
  FusedAdamW a;
  a.lr = lr, a.beta1 = cfg_.beta1, a.beta2 = cfg_.beta2, a.eps = cfg_.adam_eps, a.step = step, a.first_step = first;
  return a;
}

void Optimizer::use_step_scalars(StepScalars* scalars) {
  scalars_ = scalars;
  if (scalars_) scalars_at_ = FusedOptimizer::reserve_step_values(*scalars_);
}

void Optimizer::prepare_step(double lr) {
  if (!scalars_) return;
  const bool first = steps_ == 0;  // as step_fused will see it
  if (cfg_.kind == OptimizerKind::AdamW)
    FusedOptimizer::write_step_values(*scalars_, scalars_at_, adamw_args(lr, steps_ + 1, first));
  else FusedOptimizer::write_step_values(*scalars_, scalars_at_, sgd_args(lr, first));
}

}  // namespace slimssl::train
