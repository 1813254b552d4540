// One optimizer step of a run, the unit that `slimssl train` repeats and `slimssl bench step`
// times, so that the benchmark measures exactly what training runs: the two views of a batch, the
// learner's loss, the backward pass (through the gradient diagnostics on their steps), the
// learning rate, the optimizer update, the key encoder's EMA and the queue.
#pragma once
#include <cstdint>
#include <vector>
#include "ssl/data/augment.h"
#include "ssl/data/augment_presets.h"
#include "ssl/train/learner.h"
#include "ssl/train/optimizer.h"

namespace slimssl::diag {
class GradientDiagnostics;
}

namespace slimssl::train {

// Where a step sits in its run: the fractional epoch that the schedule, slow start and the
// momentum follow.
struct StepClock {
  int64_t steps_per_epoch = 1;
  int64_t total_steps = 1;
  double epoch(int64_t step) const { return static_cast<double>(step) / static_cast<double>(steps_per_epoch); }
  // The training progress in [0, 1] once `step` is done (MoCo v3's momentum schedule).
  double progress_after(int64_t step) const {
    return static_cast<double>(step + 1) / static_cast<double>(total_steps);
  }
};

struct StepResult {
  StepLoss loss;  // the step's loss with its per-width terms (its graph is already consumed)
  double lr = 0;  // the learning rate the optimizer used
};

// The device a run trains on, from its config's `device` key. The CUDA training step is not in
// this build yet: `cuda` is refused with that explanation, and `auto` means the CPU.
Device training_device(const TrainConfig& c);

// The learning rate at a fractional epoch, with SlimCLR's optional restart at slow start's end
// (slim_start_lr).
double learning_rate(const TrainConfig& c, double epoch);

class TrainStep {
 public:
  // `diagnostics` (may be null) records every config.diag_every-th step.
  TrainStep(Learner& learner, Optimizer& opt, StepClock clock, diag::GradientDiagnostics* diagnostics = nullptr);

  // The two augmented views of the images `indices` of `ds` in epoch `epoch`; every random
  // decision is keyed by (seed, epoch, sample, view), so a resumed run sees the same views.
  data::TwoViewBatch views(const data::Dataset& ds, const std::vector<int64_t>& indices,
                           const data::ViewPipelines& pipelines, int64_t epoch) const;
  // One optimizer step, number `step` of the run (counted from 0), on a batch of two views.
  // Throws when the loss is not finite (the run diverged).
  StepResult run(const Tensor& view1, const Tensor& view2, int64_t step);

  const StepClock& clock() const { return clock_; }

 private:
  Learner& learner_;
  Optimizer& opt_;
  StepClock clock_;
  diag::GradientDiagnostics* diagnostics_;
};

}  // namespace slimssl::train
