// The training step on CUDA (a GPU, or the emulated device) against the same step on the CPU:
// one learner per device from the same seed, the same views, two whole steps (the loss over every
// width with distillation, one backward, the optimizer, the key encoder's EMA and the queue), then
// the losses and every parameter compared. The CUDA step takes its own path all the way: fused
// InfoNCE (+ distillation) kernel, fused optimizer over flat buffers, channels-last activations,
// losses read back a step late.
//
// Tolerances: in float32 (amp=false: exact float32 products in every kernel) the two devices
// differ only in summation order: losses within 1e-4 relative, parameters within 1e-4 of their
// scale after two steps. With amp the CPU reference runs the same mixed precision (bf16
// activations of conv and linear layers, widened to float32 for arithmetic), but the GPU's loss
// kernel also rounds the embeddings to bf16 in its products and every bf16 result may round the
// other way after a different summation order; cancelling sums (batch-norm statistics over small
// maps) magnify that. Measured at this toy size: the CPU's own bf16 run differs from its float32
// run on batch-norm parameters by up to 0.002 after two steps, as much as the GPU differs from
// the CPU in bf16. So the bf16 check is on the losses (3e-2 relative) and on the update of the
// two steps over all tensors together (within 10% in norm), while float32 is held per tensor.
#include <catch2/catch.hpp>
#include <cmath>
#include "engine/autocast.h"
#include "engine/init.h"
#include "gpu_gate.h"
#include "ssl/train/learner.h"
#include "ssl/train/train_step.h"
#include "ssl/train/trainer.h"
#include "train_fixture.h"

using namespace slimssl;
using namespace slimssl::train;

namespace {

TrainConfig step_config(const std::string& framework, bool amp) {
  TrainConfig c = testing::device_step_config(framework, amp);
  c.queue_size = 16;
  c.slim_start_epoch = 0;  // every width and the distillation from the first step
  return c;
}

using State = std::vector<std::pair<std::string, std::vector<double>>>;

struct Run {
  std::vector<StepLoss> losses;
  State before, state;  // the learner's tensors before and after the steps
};

State state_of(Learner& learner) {
  State s;
  for (auto& [name, t] : learner.state()) s.emplace_back(name, t.detach().cpu().to_vector<double>());
  return s;
}

Run two_steps(const TrainConfig& c, Device device, const Tensor& v1, const Tensor& v2) {
  Learner learner(c);
  learner.to(device);
  Optimizer opt = build_optimizer(c, learner.query());
  TrainStep step(learner, opt, {4, 8});
  Run r;
  r.before = state_of(learner);
  for (int64_t s = 0; s < 2; ++s) {
    step.run(v1, v2, s);
    r.losses.push_back(*step.latest());
  }
  r.state = state_of(learner);
  return r;
}

void compare_losses(const Run& cpu, const Run& dev, double loss_rtol) {
  for (size_t s = 0; s < cpu.losses.size(); ++s) {
    INFO("step " << s);
    CHECK(dev.losses[s].total == Approx(cpu.losses[s].total).epsilon(loss_rtol));
    for (size_t w = 0; w < cpu.losses[s].widths.size(); ++w) {
      INFO("width index " << w);
      CHECK(dev.losses[s].widths[w].info_nce == Approx(cpu.losses[s].widths[w].info_nce).epsilon(loss_rtol));
      CHECK(dev.losses[s].widths[w].distill ==
            Approx(cpu.losses[s].widths[w].distill).epsilon(loss_rtol).margin(loss_rtol));
    }
  }
}

// Every tensor of the learner within state_rtol of its scale.
void compare_states(const Run& cpu, const Run& dev, double state_rtol) {
  REQUIRE(cpu.state.size() == dev.state.size());
  for (size_t i = 0; i < cpu.state.size(); ++i) {
    const auto& [name, a] = cpu.state[i];
    const auto& b = dev.state[i].second;
    INFO(name);
    REQUIRE(a.size() == b.size());
    double scale = 0, err = 0;
    for (size_t k = 0; k < a.size(); ++k) scale = std::max(scale, std::abs(a[k])), err = std::max(err, std::abs(a[k] - b[k]));
    CHECK(err <= state_rtol * std::max(scale, 1e-3));
  }
}

// The whole update of the two steps (all tensors together): |delta_dev - delta_cpu| against
// |delta_cpu|.
double update_error(const Run& cpu, const Run& dev) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < cpu.state.size(); ++i)
    for (size_t k = 0; k < cpu.state[i].second.size(); ++k) {
      const double dc = cpu.state[i].second[k] - cpu.before[i].second[k];
      const double dd = dev.state[i].second[k] - dev.before[i].second[k];
      diff += (dd - dc) * (dd - dc), norm += dc * dc;
    }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

}  // namespace

TEST_CASE("train: the CUDA step matches the CPU step (float32) for every framework", "[cuda][train]") {
  if (!testing::gpu_or_skip()) return;
  for (const char* fw : {"mocov2", "mocov3", "simclr"}) {
    INFO(fw);
    TrainConfig c = step_config(fw, false);
    Tensor v1 = Tensor::empty({c.batch_size, 3, c.image_size, c.image_size});
    Tensor v2 = Tensor::empty({c.batch_size, 3, c.image_size, c.image_size});
    init::normal(v1, 0.0, 1.0, 7, 1), init::normal(v2, 0.0, 1.0, 7, 2);
    Run cpu = two_steps(c, Device::cpu(), v1, v2), dev = two_steps(c, Device::cuda(), v1, v2);
    compare_losses(cpu, dev, 1e-4);
    compare_states(cpu, dev, 1e-4);
  }
}

TEST_CASE("train: the CUDA step in mixed precision matches the CPU in mixed precision", "[cuda][train]") {
  if (!testing::gpu_or_skip()) return;
  TrainConfig c = step_config("mocov2", true);
  Tensor v1 = Tensor::empty({c.batch_size, 3, c.image_size, c.image_size});
  Tensor v2 = Tensor::empty({c.batch_size, 3, c.image_size, c.image_size});
  init::normal(v1, 0.0, 1.0, 8, 1), init::normal(v2, 0.0, 1.0, 8, 2);
  Run cpu;
  {
    AutocastGuard bf16_on_the_cpu(true, true);  // the reference in the same mixed precision
    cpu = two_steps(c, Device::cpu(), v1, v2);
  }
  Run dev = two_steps(c, Device::cuda(), v1, v2);
  compare_losses(cpu, dev, 3e-2);
  CHECK(update_error(cpu, dev) <= 0.1);
}

