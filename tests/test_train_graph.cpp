// The training step replayed as one CUDA graph (config cuda_graph) against the same steps run
// eagerly, on a GPU or the emulated device (which records launches while capturing and runs the
// recording on replay: kernels/dev/emu/emu_defs.h). Same learner seed, same views per step (a
// new pair each step, so a replay that kept the captured inputs would differ), then every loss
// and every tensor of the learner and the optimizer compared exactly: a replay runs the very
// kernels of an eager step on the same values (the per-step values come from the device buffer
// in both), so any difference is a bug, not rounding.
//
// Covered: MoCo v2 with SlimCLR's slow start ending mid-run (the set of widths changes, so the
// graph is dropped and recaptured; the queue's write position and the key permutations move
// every step), MoCo v3 (the key encoder's momentum changes every step; two key permutations),
// SimCLR (no key encoder), each replaying a graph more than once after its capture (the host's
// batch-norm counters must advance on every replay, not only while capturing), and a capture
// that fails (the profiler synchronizes around every primitive): the step falls
// back to eager with a warning and gives the eager result.
// What the emulation cannot show: timing, and whether cuBLAS/cuDNN capture on a real GPU (they
// are CPU loops here); the GPU window runs this file for real.
#include <catch2/catch.hpp>
#include "engine/init.h"
#include "engine/profile.h"
#include "gpu_gate.h"
#include "ssl/train/learner.h"
#include "ssl/train/train_step.h"
#include "ssl/train/trainer.h"
#include "train_fixture.h"

using namespace slimssl;
using namespace slimssl::train;

namespace {

TrainConfig graph_config(const std::string& framework, bool amp) {
  TrainConfig c = testing::device_step_config(framework, amp);
  c.queue_size = 24;  // three batches: the write position wraps within the run
  c.cuda_graph_warmup = 1;
  return c;
}

struct Run {
  std::vector<StepLoss> losses;
  std::vector<std::pair<std::string, std::vector<double>>> state;
  int64_t queue_ptr = 0, optimizer_steps = 0, replays = 0;
  bool captured = false;
};

Run run_steps(TrainConfig c, bool graph, int64_t steps, bool profile_on = false) {
  c.cuda_graph = graph;
  Learner learner(c);
  learner.to(Device::cuda(0));
  Optimizer opt = build_optimizer(c, learner.query());
  TrainStep step(learner, opt, {2, 8});
  Run r;
  if (profile_on) profile::start();
  for (int64_t s = 0; s < steps; ++s) {
    Tensor v1 = Tensor::empty({c.batch_size, 3, c.image_size, c.image_size});
    Tensor v2 = Tensor::empty({c.batch_size, 3, c.image_size, c.image_size});
    init::normal(v1, 0.0, 1.0, 11, 2 * s), init::normal(v2, 0.0, 1.0, 11, 2 * s + 1);
    step.run(v1, v2, s);
    r.losses.push_back(*step.latest());
  }
  if (profile_on) profile::stop();
  for (auto& [name, t] : learner.state()) r.state.emplace_back(name, t.detach().cpu().to_vector<double>());
  for (auto& [name, t] : opt.state()) r.state.emplace_back("opt." + name, t.detach().cpu().to_vector<double>());
  r.queue_ptr = learner.queue_ptr();
  r.optimizer_steps = opt.steps();
  r.replays = step.graph_replays();
  r.captured = step.graph_captured();
  return r;
}

void require_same(const Run& eager, const Run& graph) {
  REQUIRE(graph.losses.size() == eager.losses.size());
  for (size_t s = 0; s < eager.losses.size(); ++s) {
    INFO("step " << s);
    CHECK(graph.losses[s].total == eager.losses[s].total);
    REQUIRE(graph.losses[s].widths.size() == eager.losses[s].widths.size());
    for (size_t w = 0; w < eager.losses[s].widths.size(); ++w) {
      CHECK(graph.losses[s].widths[w].info_nce == eager.losses[s].widths[w].info_nce);
      CHECK(graph.losses[s].widths[w].distill == eager.losses[s].widths[w].distill);
    }
  }
  REQUIRE(graph.state.size() == eager.state.size());
  for (size_t i = 0; i < eager.state.size(); ++i) {
    INFO(eager.state[i].first);
    REQUIRE(graph.state[i].first == eager.state[i].first);
    CHECK(graph.state[i].second == eager.state[i].second);
  }
  CHECK(graph.queue_ptr == eager.queue_ptr);
  CHECK(graph.optimizer_steps == eager.optimizer_steps);
}

// `steps` steps eagerly and with the graph (the profiler on in the graph run when asked): the
// same result, with `replays` of them replayed.
void compare_with_eager(const TrainConfig& c, int64_t steps, int64_t replays, bool profile_on = false) {
  Run eager = run_steps(c, false, steps), graph = run_steps(c, true, steps, profile_on);
  CHECK_FALSE(eager.captured);
  CHECK(eager.replays == 0);
  CHECK(graph.captured == (replays > 0));
  CHECK(graph.replays == replays);
  require_same(eager, graph);
  // The steps did move the learner (a replay that did nothing would fail above too, unless the
  // eager steps were also no-ops).
  CHECK(eager.losses[0].total != eager.losses[steps - 1].total);
}

}  // namespace

TEST_CASE("train graph: MoCo v2 replayed as a CUDA graph equals eager steps, across the end of slow start",
          "[cuda][train][graph]") {
  if (!testing::gpu_or_skip()) return;
  TrainConfig c = graph_config("mocov2", true);
  c.slim_start_epoch = 1;  // 2 steps per epoch: steps 0-1 full width only, then both widths
  // Step 0 warms up, 1 is captured and replayed; 2 changes the widths (graph dropped, warm-up),
  // 3 is captured again and replayed, 4 is a replay only.
  compare_with_eager(c, 5, 3);
}

TEST_CASE("train graph: MoCo v3 and SimCLR replayed as a CUDA graph equal eager steps", "[cuda][train][graph]") {
  if (!testing::gpu_or_skip()) return;
  // Two query forwards per width (one per view): each batch norm counts two batches per step.
  for (const char* framework : {"mocov3", "simclr"}) {
    DYNAMIC_SECTION(framework) {
      TrainConfig c = graph_config(framework, false);
      c.slim_start_epoch = 0;
      // Step 0 warms up, 1 is captured and replayed, 2 is a replay only.
      compare_with_eager(c, 3, 2);
    }
  }
}

TEST_CASE("train graph: a capture that fails falls back to eager steps with the same result",
          "[cuda][train][graph]") {
  if (!testing::gpu_or_skip()) return;
  TrainConfig c = graph_config("mocov2", false);
  c.slim_start_epoch = 0;
  // The profiler synchronizes around every primitive, which a capture cannot hold.
  compare_with_eager(c, 2, 0, true);
}
