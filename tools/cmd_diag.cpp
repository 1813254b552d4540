// slimssl diag RUN_DIR [--steps N] [--out DIR]: continue a run from its newest checkpoint for N
// steps with gradient diagnostics at every step, in a separate directory (the run is untouched).
#include <cstdio>
#include <filesystem>
#include "engine/error.h"
#include "engine/safetensors.h"
#include "ssl/train/checkpoint.h"
#include "ssl/train/trainer.h"
#include "tools/args.h"
#include "tools/commands.h"

namespace slimssl::tools {
namespace fs = std::filesystem;

int run_diag(const std::vector<std::string>& argv) {
  Args args(argv, "diag", {"--steps", "--out", "--quiet"}, {"--quiet"});
  SLIMSSL_CHECK(args.positional().size() == 1, "usage: slimssl diag RUN_DIR [--steps N] [--out DIR]");
  std::string run_dir = args.positional()[0];
  int64_t steps = args.get_int("--steps", 20);
  SLIMSSL_CHECK(steps > 0, "--steps must be positive, got ", steps);
  std::string ckpt = train::latest_checkpoint(run_dir);
  SLIMSSL_CHECK(!ckpt.empty(), "diag: '", run_dir, "' holds no checkpoint (expected ", train::checkpoint_dir(run_dir),
                "/step_*.safetensors)");
  auto meta = load_safetensors(ckpt).metadata;
  SLIMSSL_CHECK(meta.count("step") && meta.count("config"), "diag: checkpoint '", ckpt, "' has no step/config metadata");
  int64_t at = std::stoll(meta["step"]);
  std::string out = args.get("--out", (fs::path(run_dir) / ("diag_from_step_" + std::to_string(at))).string());
  SLIMSSL_CHECK(fs::absolute(out) != fs::absolute(run_dir), "--out must differ from the run directory");

  // The session starts from a copy of the checkpoint so the original run is never written to.
  fs::create_directories(train::checkpoint_dir(out));
  fs::copy_file(ckpt, fs::path(train::checkpoint_dir(out)) / fs::path(ckpt).filename(),
                fs::copy_options::overwrite_existing);
  train::TrainConfig cfg = train::config_from_json(nlohmann::json::parse(meta["config"]), ckpt);
  cfg.diag_every = 1;
  cfg.max_steps = at + steps;
  cfg.checkpoint_every = cfg.max_steps + 1;
  cfg.knn_every = 0;
  train::TrainOptions o{out, true, args.flag("--quiet")};
  auto r = train::run_training(cfg, o);
  std::printf("diagnostics of steps %lld..%lld written to %s/diag/ (gradients.jsonl, pca.jsonl)\n",
              static_cast<long long>(at + 1), static_cast<long long>(r.steps), out.c_str());
  return r.interrupted ? 130 : 0;
}

}  // namespace slimssl::tools
