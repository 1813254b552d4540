// slimssl bench (tools/cmd_bench.cpp) end to end, in-process, on the tiny stripes config: the
// JSON figures are consistent with each other and with the models' own MAC counts, the profile
// accounts for the steps it ran, the reference dump reproduces its own losses, and bad arguments
// get one clear line.
#include <catch2/catch.hpp>
#include "cli_fixture.h"
#include <fcntl.h>
#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include "engine/safetensors.h"
#include "models/zoo.h"
#include "ssl/train/trainer.h"
#include "ssl/train/train_step.h"
#include "tools/commands.h"
#include "train_fixture.h"

using namespace slimssl;
namespace fs = std::filesystem;

namespace {

// `slimssl bench ARGS...` as main() runs it, keeping its stdout.
struct Outcome {
  int status = 0;
  std::string out;    // what the command printed on stdout
  std::string error;  // what main() would print after "slimssl bench: error: "
};

Outcome bench(std::vector<std::string> args) {
  args.insert(args.begin(), "bench");
  testing::Outcome o = testing::cli_output(args);
  return {o.status, o.output, o.error};
}

// The tiny MoCo v2 config as a file (widths 1.0 / 0.5, batch 32, 16 px, one thread).
std::string tiny_config_file() {
  static const std::string path = [] {
    std::string p = (fs::path(testing::fresh_dir("bench_config")) / "tiny.json").string();
    std::ofstream(p) << testing::tiny_config("mocov2").to_json().dump(2);
    return p;
  }();
  return path;
}

nlohmann::json json_of(const Outcome& o) {
  INFO(o.error << o.out);
  REQUIRE(o.status == 0);
  return nlohmann::json::parse(o.out);
}

}  // namespace

TEST_CASE("cli: bench step times the training step and counts its FLOPs from the models", "[cli][bench]") {
  auto j = json_of(bench({"step", "--config", tiny_config_file(), "--steps", "2", "--warmup", "1", "--json"}));
  const auto c = testing::tiny_config("mocov2");
  CHECK(j["bench"] == "step");
  CHECK(j["device"] == "cpu");
  CHECK(j["threads"] == 1);  // threads=1 in the config
  REQUIRE(j["step_ms"].size() == 2);
  const double ms0 = j["step_ms"][0], ms1 = j["step_ms"][1];
  CHECK(j["ms_per_step_median"].get<double>() == Approx((ms0 + ms1) / 2));
  CHECK(j["ms_per_step_min"].get<double>() == std::min(ms0, ms1));
  const double wall = j["wall_seconds"], cpu = j["cpu_seconds"];
  CHECK(wall >= (ms0 + ms1) / 1e3 * 0.999);
  CHECK(cpu > 0);
  CHECK(j["images_per_s"].get<double>() == Approx(2 * c.batch_size / wall));
  CHECK(j["images_per_cpu_s"].get<double>() == Approx(2 * c.batch_size / cpu));
  // MACs: every width's query pass gets a backward, the full-width key pass does not; each is the
  // encoder's per-image cost (measured on one image) times the batch.
  train::Learner learner(c);
  int64_t with = 0;
  for (int wi = 0; wi < 2; ++wi) with += models::measure_cost(learner.query(), wi, c.image_size).macs * c.batch_size;
  const int64_t without = models::measure_cost(learner.query(), 0, c.image_size).macs * c.batch_size;
  CHECK(j["macs_with_backward"] == with);
  CHECK(j["macs_without_backward"] == without);
  CHECK(j["flops_per_step"].get<double>() == Approx(2.0 * (3.0 * with + without)));
  CHECK(j["first_step"].get<int64_t>() == 0);  // tiny has no slow start: every width from step 0
  CHECK_FALSE(j.contains("profile"));
}

TEST_CASE("cli: bench step --profile lists the step primitives, and the text output names every figure",
          "[cli][bench]") {
  auto j = json_of(bench({"step", "--config", tiny_config_file(), "--steps", "2", "--warmup", "0", "--profile",
                          "--json", "data=synthetic"}));
  CHECK(j["data"].get<std::string>().find("synthetic") != std::string::npos);
  REQUIRE(j.contains("profile"));
  const auto& p = j["profile"];
  CHECK(p["backward_passes"] == 2);  // one per step
  CHECK(p["allocations"].get<int64_t>() > 0);
  std::map<std::string, int64_t> calls;
  double total = 0;
  for (auto& e : p["primitives"]) calls[e["name"]] = e["calls"], total += e["seconds"].get<double>();
  // Per step (two steps): per width a forward conv per layer of the query, and per layer of the key
  // encoder per BN group; a backward-weight per conv of every width.
  const int64_t convs = 21;  // ResNet-20: 19 3x3 convs + 2 projection shortcuts
  CHECK(calls["conv2d"] == 2 * (2 * convs + 2 * convs));  // 2 widths + 2 key sub-batches
  CHECK(calls["conv2d_backward_weight"] == 2 * 2 * convs);
  CHECK(total == Approx(p["primitive_seconds"].get<double>()).epsilon(1e-6));
  CHECK(total <= p["wall_seconds"].get<double>());

  Outcome text = bench({"step", "--config", tiny_config_file(), "--steps", "1", "--warmup", "0", "--profile"});
  INFO(text.error << text.out);
  REQUIRE(text.status == 0);
  for (const char* needle : {"images/s", "images/CPU-s", "ms per step", "threads", "model FLOPs", "primitives",
                             "autograd", "conv2d_backward_weight"})
    CHECK(text.out.find(needle) != std::string::npos);
}

TEST_CASE("cli: bench model times forward + backward of one width", "[cli][bench]") {
  auto j = json_of(bench({"model", "--model", "resnet20_cifar", "--width", "0.5", "--batch", "4", "--resolution",
                          "16", "--steps", "2", "--warmup", "0", "--threads", "1", "--json"}));
  auto backbone = models::create_backbone("resnet20_cifar", {0.5});
  models::Classifier model(backbone, 10);
  const int64_t macs = models::measure_cost(model, 0, 16).macs * 4;
  CHECK(j["macs_with_backward"] == macs);
  CHECK(j["flops_per_step"].get<double>() == Approx(6.0 * macs));
  CHECK(j["step_ms"].size() == 2);
  CHECK(j["images_per_cpu_s"].get<double>() > 0);
}

TEST_CASE("cli: bench step --dump-reference writes a state that reproduces its own losses", "[cli][bench]") {
  std::string dir = testing::fresh_dir("bench_reference");
  Outcome o = bench({"step", "--config", tiny_config_file(), "--dump-reference", dir});
  INFO(o.error << o.out);
  REQUIRE(o.status == 0);
  std::ifstream in(fs::path(dir) / "reference.json");
  auto ref = nlohmann::json::parse(in);
  REQUIRE(ref["steps"].size() == 2);
  auto file = load_safetensors((fs::path(dir) / "initial.safetensors").string());
  CHECK(file.contains("key_perm.0.0"));
  CHECK(file.contains("key_perm.1.0"));
  CHECK(file.contains("queue"));

  // A fresh learner loaded from the dump, stepped on the dumped views, gives the same losses.
  train::TrainConfig c = train::config_from_json(ref["config"], "reference.json");
  train::Learner learner(c);
  std::vector<std::pair<std::string, Tensor>> state;
  for (size_t i = 0; i < file.names.size(); ++i) state.emplace_back(file.names[i], file.tensors[i]);
  learner.load_state(state);
  train::Optimizer opt = train::build_optimizer(c, learner.query());
  const auto& s0 = ref["steps"][0];
  train::TrainStep step(learner, opt, {ref["clock"]["steps_per_epoch"], ref["clock"]["total_steps"]});
  for (int k = 0; k < 2; ++k) {
    const auto& s = ref["steps"][k];
    step.run(file.at("view1"), file.at("view2"), s["step"].get<int64_t>());
    const train::StepLoss& l = *step.latest();
    INFO("step " << k);
    CHECK(l.total == s["loss"].get<double>());
    CHECK(l.widths[1].distill == s["widths"]["0.50"]["distill"].get<double>());
  }
  CHECK(s0["widths"].contains("1.00"));
}

TEST_CASE("cli: bench refuses bad arguments with one line naming them", "[cli][bench][errors]") {
  auto refuse = [](const std::vector<std::string>& args, const std::string& needle) {
    Outcome o = bench(args);
    INFO(o.error);
    CHECK(o.status != 0);
    CHECK(o.error.find(needle) != std::string::npos);
    CHECK(o.error.find('\n') == std::string::npos);
  };
  CHECK(bench({"fly"}).status != 0);  // an unknown subcommand: a line on stderr, status 2
  refuse({"step"}, "--config");
  refuse({"step", "--config", "no_such_config"}, "no_such_config");
  refuse({"step", "--config", tiny_config_file(), "--steps", "0"}, "--steps");
  refuse({"step", "--config", tiny_config_file(), "--warmup", "x"}, "--warmup");
  refuse({"step", "--config", tiny_config_file(), "device=cuda"}, "key 'device'");
  refuse({"step", "--config", tiny_config_file(), "data=/nonexistent/slimssl"}, "key 'data'");
  refuse({"step", "--config", tiny_config_file(), "stray"}, "stray");
  refuse({"model"}, "--model");
  refuse({"model", "--model", "resnet7"}, "resnet7");
  Outcome help = bench({"--help"});
  CHECK(help.status == 0);
  CHECK(help.out.find("step") != std::string::npos);
  CHECK(help.out.find("model") != std::string::npos);
  CHECK(bench({"step", "--help"}).out.find("--profile") != std::string::npos);
}
