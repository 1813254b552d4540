// slimssl train --config FILE|NAME [--out RUN_DIR] [--resume | --force] [--init SOURCE] [key=value ...]
#include <cstdio>
#include <filesystem>
#include <iostream>
#include "engine/error.h"
#include "ssl/eval/knn.h"
#include "ssl/train/trainer.h"
#include "ssl/train/warm_start.h"
#include "tools/commands.h"
#include "tools/presets.h"

namespace slimssl::tools {
namespace fs = std::filesystem;

namespace {
// The run's result: every width's last kNN beside its untrained network (when this invocation
// measured it) and the raw pixels, each with its standard error over the test images.
void print_knn_table(const train::TrainConfig& cfg, const train::TrainResult& r) {
  const int64_t n = r.knn_test_images;
  const bool untrained = r.knn.size() > 1 && r.knn.front().epoch == 0;
  auto with_error = [&](double top1) {
    char cell[48];
    std::snprintf(cell, sizeof cell, "%.2f +- %.2f", top1, eval::top1_standard_error(top1, n));
    return std::string(cell);
  };
  std::printf("\nkNN top-1 (%%): weighted, k %lld, T %.2f, %lld test images; +- one standard error\n",
              static_cast<long long>(cfg.knn_k), cfg.knn_t, static_cast<long long>(n));
  std::printf("%-12s %-16s %s\n", "width", "trained", untrained ? "untrained" : "");
  for (size_t wi = 0; wi < cfg.widths.size(); ++wi) {
    std::printf("%-12.2f %-16s", cfg.widths[wi], with_error(r.knn.back().top1[wi]).c_str());
    if (untrained) std::printf(" %.2f", r.knn.front().top1[wi]);
    std::printf("\n");
  }
  if (r.knn_raw_pixels >= 0)
    std::printf("%-12s %-16s (the same kNN on the normalized pixels)\n", "raw pixels",
                with_error(r.knn_raw_pixels).c_str());
}

int run_train(const Args& args) {
  std::vector<std::string> overrides;
  for (auto& p : args.positional()) {
    SLIMSSL_CHECK(p.find('=') != std::string::npos, "unexpected argument '", p, "' (expected key=value overrides)");
    overrides.push_back(p);
  }
  train::TrainOptions opts;
  opts.resume = args.flag("--resume");
  opts.quiet = args.flag("--quiet");
  opts.force = args.flag("--force");
  opts.run_dir = args.get("--out", "");
  std::string config_arg = args.get("--config", "");
  std::string init = args.get("--init", "");
  SLIMSSL_CHECK(init.empty() || !opts.resume, "--init starts a new run and --resume continues one: choose one");
  train::TrainConfig cfg;
  if (!init.empty()) {
    opts.init = train::init_source_file(init);
    if (config_arg.empty()) {
      // The source's own configuration, under a new name unless one is given.
      auto stored = train::stored_config(opts.init);
      SLIMSSL_CHECK(stored.has_value(), "--init '", init, "' is not a slimssl checkpoint, so it carries no "
                    "configuration: pass --config FILE|NAME");
      nlohmann::json j = *stored;
      j["name"] = j.value("name", std::string("run")) + "_init";
      for (auto& kv : overrides) train::apply_override(j, kv);
      cfg = train::config_from_json(j, opts.init + " (its configuration" + (overrides.empty() ? ")" : ", with overrides)"));
    }
  }
  if (config_arg.empty() && opts.resume) {
    SLIMSSL_CHECK(!opts.run_dir.empty(), "--resume needs --out RUN_DIR (the run to continue)");
    config_arg = (fs::path(opts.run_dir) / "config.json").string();
  }
  if (!config_arg.empty()) cfg = train::load_config(resolve_config(config_arg), overrides);
  else SLIMSSL_CHECK(!init.empty(), "--config FILE|NAME is required (slimssl configs lists the presets)");
  if (opts.run_dir.empty()) opts.run_dir = (fs::path("runs") / cfg.name).string();

  train::TrainResult r = train::run_training(cfg, opts);
  if (r.interrupted) return 130;
  std::printf("\nfinished %lld steps in %.1f s; run directory %s\n", static_cast<long long>(r.steps), r.seconds,
              opts.run_dir.c_str());
  if (!r.knn.empty()) print_knn_table(cfg, r);
  return 0;
}
}  // namespace

Command train_command() {
  return {"train",
          "pre-train an encoder (docs/training.md)",
          "[key=value ...]",
          {{"--config", "FILE|NAME", "the configuration: a file or a preset name (slimssl configs; slimssl config "
                                     "keys lists every key)"},
           {"--out", "RUN_DIR", "the run directory (default runs/NAME, NAME the config's name)"},
           {"--resume", "", "continue the run in --out RUN_DIR from its newest checkpoint"},
           {"--force", "", "start over in a run directory that holds a run: its contents move to "
                           "RUN_DIR.old-<date>-<time> (nothing is deleted)"},
           {"--init", "SOURCE", "start a new run from these weights: a checkpoint, a run directory (its newest), an "
                                "export or another safetensors file of backbone weights; every tensor that does not "
                                "match is named. Without --config a checkpoint's own configuration is used, named "
                                "NAME_init"},
           {"--quiet", "", "no progress lines"}},
          "key=value arguments override the configuration (widths=1.0,0.5 lr=0.1 augment=none). The run\n"
          "directory gets config.json, metrics.jsonl, scalars.csv, TensorBoard event files and\n"
          "checkpoints/; Ctrl-C saves a checkpoint to --resume from.",
          {"slimssl train --config fmnist_demo --out runs/fmnist_demo",
           "slimssl train --config fmnist_demo --out runs/slim --init runs/full widths=1.0,0.5,0.25"},
          run_train,
          {}};
}

}  // namespace slimssl::tools
