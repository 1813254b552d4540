// kill -9 at any moment leaves a run that resumes: the main job (a tiny config, through the real
// binary) is killed during start-up, between steps and inside checkpoint writes (slowed down by
// SLIMSSL_TEST_PAUSE_IN_SAVE_MS so the kill lands there); after every kill each checkpoint left
// is loadable, the next start removes the dead writer's temporary, and a final --resume finishes.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include "cli_process.h"
#include "ssl/train/checkpoint.h"
#include "ssl/train/learner.h"
#include "ssl/train/run_directory.h"
#include "ssl/train/trainer.h"
#include "train_fixture.h"

using namespace slimssl;
using namespace slimssl::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> files_in(const fs::path& dir, const std::string& containing) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(containing) != std::string::npos) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// Every complete checkpoint loads into a fresh learner and optimizer.
void check_checkpoints_load(const train::TrainConfig& c, const fs::path& ckpt_dir) {
  for (auto& path : files_in(ckpt_dir, ".safetensors")) {
    if (path.find(".tmp.") != std::string::npos) continue;
    INFO(path);
    train::Learner learner(c);
    train::Optimizer opt = train::build_optimizer(c, learner.query());
    CHECK_NOTHROW(train::load_checkpoint(path, learner, opt));
  }
}

int64_t last_train_step(const std::string& metrics) {
  std::ifstream in(metrics);
  int64_t step = -1;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "train") step = j["step"].get<int64_t>();
  }
  return step;
}

}  // namespace

TEST_CASE("cli: SIGKILL at start-up, between steps and inside checkpoint writes, then --resume finishes", "[crash][cli]") {
  train::TrainConfig c = tiny_config("mocov2");
  c.epochs = 3;  // 24 steps
  c.checkpoint_every = 2;
  c.keep_checkpoints = 2;
  const std::string dir = fresh_dir("crash");
  const std::string config = dir + "/config.json";
  std::ofstream(config) << c.to_json().dump(2);
  const std::string run_dir = dir + "/run";
  const fs::path ckpt_dir = fs::path(run_dir) / "checkpoints";
  const std::string pause = "SLIMSSL_TEST_PAUSE_IN_SAVE_MS=4000";
  auto train = [&](const std::vector<std::string>& extra, const std::string& log, const std::vector<std::string>& env = {}) {
    std::vector<std::string> args = {"train", "--config", config, "--out", run_dir};
    args.insert(args.end(), extra.begin(), extra.end());
    return start_cli(args, dir + "/" + log, env);
  };
  auto temporaries = [&] { return files_in(ckpt_dir, ".tmp."); };

  // 1. during start-up (data, model): nothing to load yet; a start-over takes the directory back
  CliRun run = train({}, "log1");
  REQUIRE(wait_until(run, [&] { return fs::exists(run_dir + "/config.json"); }));
  CHECK(kill_cli(run).signal == SIGKILL);
  CHECK(train::latest_checkpoint(run_dir).empty());

  // 2. between steps, once two checkpoints exist
  run = train({"--force"}, "log2");
  REQUIRE(wait_until(run, [&] { return files_in(ckpt_dir, ".safetensors").size() >= 2 && temporaries().empty(); }));
  CHECK(kill_cli(run).signal == SIGKILL);
  check_checkpoints_load(c, ckpt_dir);

  // 3. inside a checkpoint write of a resumed run: its temporary is left behind, half written
  run = train({"--resume"}, "log3", {pause});
  REQUIRE(wait_until(run, [&] { return !temporaries().empty(); }));
  CHECK(kill_cli(run).signal == SIGKILL);
  const std::vector<std::string> left = temporaries();
  REQUIRE(left.size() == 1);
  CHECK_THAT(left[0], Contains(".tmp." + std::to_string(run.pid) + "."));
  check_checkpoints_load(c, ckpt_dir);

  // 4. again inside a write: the next start has removed the dead writer's temporary first
  run = train({"--resume"}, "log4", {pause});
  REQUIRE(wait_until(run, [&] {
    auto t = temporaries();
    return t.size() == 1 && t[0].find(".tmp." + std::to_string(run.pid) + ".") != std::string::npos;
  }));
  CHECK(!fs::exists(left[0]));
  CHECK(kill_cli(run).signal == SIGKILL);
  check_checkpoints_load(c, ckpt_dir);

  // 5. --resume runs to the end: every step done once, no temporary survives
  CliExit done = wait_cli(train({"--resume"}, "log5"));
  INFO(done.output);
  REQUIRE(done.status == 0);
  CHECK_THAT(done.output, Contains("removed 1 checkpoint temporary left by a killed run"));
  CHECK(temporaries().empty());
  CHECK(fs::path(train::latest_checkpoint(run_dir)).filename() == "step_000000024.safetensors");
  CHECK(last_train_step(run_dir + "/metrics.jsonl") == 24);
  check_checkpoints_load(c, ckpt_dir);
  CHECK(!fs::exists(fs::path(run_dir) / train::RunDirectory::kLockName));
}
