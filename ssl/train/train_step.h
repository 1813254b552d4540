// One optimizer step of a run, the unit that `slimssl train` repeats and `slimssl bench step`
// times, so that the benchmark measures exactly what training runs: the two views of a batch, the
// learner's loss, the backward pass (through the gradient diagnostics on their steps), the
// learning rate, the optimizer update, the key encoder's EMA and the queue.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include "engine/device_graph.h"
#include "engine/readback.h"
#include "engine/step_scalars.h"
#include "ssl/data/augment.h"
#include "ssl/data/augment_presets.h"
#include "ssl/data/device_views.h"
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
    return std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(total_steps));
  }
};

struct StepResult {
  StepLoss loss;  // the step's loss with its per-width terms (its graph is already consumed; its
                  // values are not read: TrainStep::latest() has them)
  double lr = 0;  // the learning rate the optimizer used
};

// The device a run trains on, from its config's `device` key: auto is the GPU when the build and
// the machine have one (default_device), cuda requires one (the emulated device counts: tests).
Device training_device(const TrainConfig& c);

// The learning rate at a fractional epoch, with SlimCLR's optional restart at slow start's end
// (slim_start_lr).
double learning_rate(const TrainConfig& c, double epoch);

class TrainStep {
 public:
  // `diagnostics` (may be null) records every config.diag_every-th step.
  TrainStep(Learner& learner, Optimizer& opt, StepClock clock, diag::GradientDiagnostics* diagnostics = nullptr);
  ~TrainStep();
  TrainStep(const TrainStep&) = delete;
  TrainStep& operator=(const TrainStep&) = delete;

  // The two augmented views of the images `indices` of `ds` in epoch `epoch`; every random
  // decision is keyed by (seed, epoch, sample, view), so a resumed run sees the same views. On a
  // GPU the set is uploaded once (on the first call) and the views are made there, in the step's
  // precision and layout (config amp, channels_last).
  data::TwoViewBatch views(const data::Dataset& ds, const std::vector<int64_t>& indices,
                           const data::ViewPipelines& pipelines, int64_t epoch);
  // One optimizer step, number `step` of the run (counted from 0), on a batch of two views on the
  // learner's device. Nothing in it waits for the device: the step's loss values are requested
  // back asynchronously, and the previous step's are checked (a non-finite loss throws: the run
  // diverged, reported one step late on a GPU).
  StepResult run(const Tensor& view1, const Tensor& view2, int64_t step);
  // The values of the newest step (waits for that step's read-back) and its number; throws when
  // its loss is not finite. Before any step: nullptr.
  const StepLoss* latest();
  int64_t latest_step() const { return pending_step_; }

  const StepClock& clock() const { return clock_; }
  // CUDA graph replay (config cuda_graph, on a GPU): whether a captured step is held now, and how
  // many steps ran as a replay so far.
  bool graph_captured() const { return graph_ != nullptr; }
  int64_t graph_replays() const { return graph_replays_; }
  // lr > 0: this constant learning rate instead of the schedule (slimssl diag --lr).
  void set_constant_lr(double lr) { constant_lr_ = lr; }

 private:
  Learner& learner_;
  Optimizer& opt_;
  StepClock clock_;
  diag::GradientDiagnostics* diagnostics_;
  double constant_lr_ = 0;
  // On a GPU: the values that change from step to step, in device memory (engine/step_scalars.h),
  // written with one copy before each step; the learner and the optimizer read them there.
  std::unique_ptr<StepScalars> scalars_;
  ScalarReadback readback_;
  const data::Dataset* uploaded_from_ = nullptr;  // the set device_data_ holds
  data::DeviceDataset device_data_;
  // A view as the step's network takes it: on the learner's device, channels-last on a GPU when
  // the config says so.
  Tensor placed(const Tensor& view) const;
  // The step's device work: loss, backward (through the diagnostics when `diag`), optimizer,
  // EMA and queue. Eager, or recorded into the graph.
  StepLoss device_work(const Tensor& v1, const Tensor& v2, double epoch, int64_t step, bool diag, double lr);
  // The step as a replay of the graph: captured after cuda_graph_warmup eager steps of the same
  // shape (active widths, views), recaptured when the shape changes. False when the step is to run
  // eagerly (warm-up, or capture failed: then graph steps are off for the run, with one warning).
  bool graph_step(const Tensor& v1, const Tensor& v2, double epoch, int64_t step, double lr, StepLoss& out);
  std::unique_ptr<DeviceGraph> graph_;
  Tensor graph_in1_, graph_in2_;  // the graph's inputs (the views are copied in before a replay)
  StepLoss graph_loss_;           // its outputs (rewritten by every replay)
  std::string graph_shape_, warm_shape_;  // the shape the graph holds; the shape being warmed up
  int64_t warm_steps_ = 0;
  bool graph_off_ = false;
  // The learner's host-resident counters (BatchNorm's num_batches_tracked: Module::to leaves
  // integer buffers on the host). A capture runs their host updates once, while it records; a
  // replay runs device work only, so each later replay applies the change the capture made.
  struct HostCount {
    Tensor counter;
    int64_t delta = 0;
  };
  std::vector<HostCount> graph_host_counts_;
  static std::vector<Tensor> host_counters(const Learner& learner);
  int64_t graph_replays_ = 0;
  StepLoss pending_;  // the newest step's loss, values read back by latest()
  int64_t pending_step_ = -1;
  void settle();  // reads back and checks the pending step
};

}  // namespace slimssl::train
