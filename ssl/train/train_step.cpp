#include "ssl/train/train_step.h"
#include <cmath>
#include <cstdio>
#include <sstream>
#include "engine/autocast.h"
#include "engine/layout.h"
#include "ssl/diag/gradient_diagnostics.h"

namespace slimssl::train {

Device training_device(const TrainConfig& c) {
  if (c.device == "cpu") return Device::cpu();
  if (c.device == "cuda") {
    SLIMSSL_CHECK(cuda_available(), "key 'device': cuda, but no CUDA device is visible to this build "
                  "(device=auto picks the GPU when there is one, else the CPU)");
    return Device::cuda(0);
  }
  return default_device();
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
  if (learner_.device().is_cuda()) {
    scalars_ = std::make_unique<StepScalars>(learner_.device());
    learner_.use_step_scalars(scalars_.get());
    opt_.use_step_scalars(scalars_.get());
  }
}

TrainStep::~TrainStep() {
  if (!scalars_) return;
  learner_.use_step_scalars(nullptr);
  opt_.use_step_scalars(nullptr);
}

data::TwoViewBatch TrainStep::views(const data::Dataset& ds, const std::vector<int64_t>& indices,
                                    const data::ViewPipelines& pipelines, int64_t epoch) {
  const TrainConfig& c = learner_.config();
  const Device device = learner_.device();
  if (device.is_cpu())
    return data::make_views(ds, indices, pipelines.first, pipelines.second, c.seed, static_cast<uint32_t>(epoch));
  if (uploaded_from_ != &ds) {
    device_data_ = data::upload_dataset(ds, device);
    uploaded_from_ = &ds;
  }
  data::DeviceViewFormat format;
  format.dtype = c.amp ? DType::BF16 : DType::F32;
  format.channels_last = c.channels_last;
  return data::make_views_device(device_data_, indices, pipelines.first, pipelines.second, c.seed,
                                 static_cast<uint32_t>(epoch), format);
}

Tensor TrainStep::placed(const Tensor& view) const {
  const Device device = learner_.device();
  Tensor v = view.device() == device ? view : view.to(device);
  if (device.is_cuda() && learner_.config().channels_last && v.dim() == 4) v = to_channels_last(v);
  return v;
}

StepResult TrainStep::run(const Tensor& view1, const Tensor& view2, int64_t step) {
  const TrainConfig& c = learner_.config();
  const double epoch = clock_.epoch(step);
  StepResult r;
  r.lr = constant_lr_ > 0 ? constant_lr_ : learning_rate(c, epoch);
  if (scalars_) {  // this step's values, one copy queued before its work
    learner_.prepare_step(step, clock_.progress_after(step), view1.size(0));
    opt_.prepare_step(r.lr);
    scalars_->upload();
  }
  const bool diag = diagnostics_ && c.diag_every > 0 && (step + 1) % c.diag_every == 0;
  const Tensor v1 = placed(view1), v2 = placed(view2);
  // Diagnostics steps hook into the backward on the host: always eager.
  if (diag || !graph_step(v1, v2, epoch, step, r.lr, r.loss)) r.loss = device_work(v1, v2, epoch, step, diag, r.lr);
  // The previous step's values are long computed: check them, then ask for this step's.
  settle();
  readback_.request(r.loss.scalars());
  pending_ = r.loss;
  pending_step_ = step;
  return r;
}

StepLoss TrainStep::device_work(const Tensor& v1, const Tensor& v2, double epoch, int64_t step, bool diag, double lr) {
  const TrainConfig& c = learner_.config();
  StepLoss loss;
  {
    // Mixed precision on a GPU (a no-op on the CPU): conv and linear in bfloat16.
    AutocastGuard amp(c.amp);
    loss = learner_.compute_loss(v1, v2, epoch, step);
    opt_.zero_grad();
    if (diag) diagnostics_->backward_and_record(loss, step + 1);
    else loss.loss.backward();
  }
  opt_.step(lr);
  learner_.after_step(clock_.progress_after(step));
  return loss;
}

namespace {
// What a captured step is specific to: the widths that train and the views' geometry.
std::string step_shape(const std::vector<bool>& active, const Tensor& v1, const Tensor& v2) {
  std::ostringstream o;
  for (bool a : active) o << (a ? '1' : '0');
  for (const Tensor* v : {&v1, &v2}) o << ' ' << dtype_name(v->dtype()) << shape_str(v->shape()) << shape_str(v->strides());
  return o.str();
}
}  // namespace

std::vector<Tensor> TrainStep::host_counters(const Learner& learner) {
  std::vector<Tensor> out;
  for (auto& [name, t] : learner.state())
    if (t.device().is_cpu() && !is_floating(t.dtype()) && t.numel() == 1) out.push_back(t);
  return out;
}

bool TrainStep::graph_step(const Tensor& v1, const Tensor& v2, double epoch, int64_t step, double lr, StepLoss& out) {
  const TrainConfig& c = learner_.config();
  if (!scalars_ || !c.cuda_graph || graph_off_ || !DeviceGraph::supported(learner_.device())) return false;
  const std::string shape = step_shape(learner_.active_widths(epoch), v1, v2);
  if (graph_ && shape != graph_shape_) {  // slow start ended, or another batch shape: recapture
    graph_.reset();
    graph_loss_ = StepLoss();
    graph_in1_ = graph_in2_ = Tensor();
    graph_host_counts_.clear();
  }
  if (graph_) {
    graph_in1_.copy_(v1);
    graph_in2_.copy_(v2);
    graph_->replay();
    // The host's record of what the replayed step did.
    opt_.set_steps(opt_.steps() + 1);
    learner_.advance_queue(v1.size(0));
    for (HostCount& h : graph_host_counts_) h.counter.fill_(static_cast<double>(h.counter.item<int64_t>() + h.delta));
    ++graph_replays_;
    out = graph_loss_;
    return true;
  }
  if (shape != warm_shape_) warm_shape_ = shape, warm_steps_ = 0;
  if (warm_steps_++ < c.cuda_graph_warmup) return false;
  // Capture this step (recorded, not run), then replay it: that runs it.
  graph_in1_ = empty_like_layout(v1);
  graph_in2_ = empty_like_layout(v2);
  graph_in1_.copy_(v1);
  graph_in2_.copy_(v2);
  const int64_t opt_steps = opt_.steps(), queue_ptr = learner_.queue_ptr();
  std::vector<Tensor> counters = host_counters(learner_);
  std::vector<int64_t> before;
  for (const Tensor& t : counters) before.push_back(t.item<int64_t>());
  try {
    graph_ = std::make_unique<DeviceGraph>(learner_.device(), [&] {
      graph_loss_ = device_work(graph_in1_, graph_in2_, epoch, step, false, lr);
    });
  } catch (const std::exception& e) {
    // Nothing of the step ran on the device; undo what the host recorded and run it eagerly.
    opt_.set_steps(opt_steps);
    learner_.set_queue_ptr(queue_ptr);
    for (size_t i = 0; i < counters.size(); ++i) counters[i].fill_(static_cast<double>(before[i]));
    graph_loss_ = StepLoss();
    graph_in1_ = graph_in2_ = Tensor();
    graph_off_ = true;
    std::fprintf(stderr, "warning: CUDA graph capture of the training step failed, running eagerly: %s\n", e.what());
    return false;
  }
  graph_shape_ = shape;
  graph_host_counts_.clear();
  for (size_t i = 0; i < counters.size(); ++i)
    if (const int64_t delta = counters[i].item<int64_t>() - before[i]) graph_host_counts_.push_back({counters[i], delta});
  graph_->replay();
  ++graph_replays_;
  out = graph_loss_;
  return true;
}

void TrainStep::settle() {
  if (!readback_.pending()) return;
  pending_.set_values(readback_.wait());
  SLIMSSL_CHECK(std::isfinite(pending_.total), "training diverged at step ", pending_step_, ": the loss is ",
                pending_.total, " (lower lr?)");
}

const StepLoss* TrainStep::latest() {
  if (pending_step_ < 0) return nullptr;
  settle();
  return &pending_;
}

}  // namespace slimssl::train
