#include "ssl/train/train_step.h"
#include <cmath>
#include "ssl/diag/gradient_diagnostics.h"

namespace slimssl::train {

Device training_device(const TrainConfig& c) {
  SLIMSSL_CHECK(c.device != "cuda", "key 'device': training on CUDA needs the CUDA op backend, which is not in this "
                "build yet (use device=cpu)");
  return Device::cpu();
}

double learning_rate(const TrainConfig& c, double epoch) {
  Schedule s;
  s.kind = c.lr_schedule, s.base_lr = c.lr, s.warmup_epochs = c.warmup_epochs;
  s.milestones = c.lr_milestones, s.total_epochs = static_cast<double>(c.epochs);
  if (c.slim_start_lr > 0 && c.slim_start_epoch > 0 && c.widths.size() > 1 && epoch >= c.slim_start_epoch) {
    Schedule after = s;
    after.base_lr = c.slim_start_lr, after.warmup_epochs = 0;
    after.total_epochs = c.epochs - c.slim_start_epoch;
    for (auto& m : after.milestones) m -= c.slim_start_epoch;
    return after.lr_at(epoch - c.slim_start_epoch);
  }
  return s.lr_at(epoch);
}

TrainStep::TrainStep(Learner& learner, Optimizer& opt, StepClock clock, diag::GradientDiagnostics* diagnostics)
    : learner_(learner), opt_(opt), clock_(clock), diagnostics_(diagnostics) {
  SLIMSSL_CHECK(clock.steps_per_epoch > 0 && clock.total_steps > 0, "train step: steps per epoch (",
                clock.steps_per_epoch, ") and total steps (", clock.total_steps, ") must be positive");
}

data::TwoViewBatch TrainStep::views(const data::Dataset& ds, const std::vector<int64_t>& indices,
                                    const data::ViewPipelines& pipelines, int64_t epoch) const {
  return data::make_views(ds, indices, pipelines.first, pipelines.second, learner_.config().seed,
                          static_cast<uint32_t>(epoch));
}

StepResult TrainStep::run(const Tensor& view1, const Tensor& view2, int64_t step) {
  const TrainConfig& c = learner_.config();
  const double epoch = clock_.epoch(step);
  StepResult r;
  r.loss = learner_.compute_loss(view1, view2, epoch, step);
  const StepLoss& sl = r.loss;
  SLIMSSL_CHECK(std::isfinite(sl.loss.item()), "training diverged at step ", step, ": the loss is ", sl.loss.item(),
                " (lower lr?)");
  opt_.zero_grad();
  if (diagnostics_ && c.diag_every > 0 && (step + 1) % c.diag_every == 0) diagnostics_->backward_and_record(sl, step + 1);
  else sl.loss.backward();
  r.lr = learning_rate(c, epoch);
  opt_.step(r.lr);
  learner_.after_step(clock_.progress_after(step));
  return r;
}

}  // namespace slimssl::train
