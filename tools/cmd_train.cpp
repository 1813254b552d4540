// slimssl train --config FILE [--out RUN_DIR] [--resume | --force] [key=value ...]
#include <cstdio>
#include <filesystem>
#include <iostream>
#include "engine/error.h"
#include "ssl/train/trainer.h"
#include "tools/args.h"
#include "tools/commands.h"

namespace slimssl::tools {
namespace fs = std::filesystem;

int run_train(const std::vector<std::string>& argv) {
  Args args(argv, "train", {"--config", "--out", "--resume", "--force", "--quiet"}, {"--resume", "--force", "--quiet"});
  std::vector<std::string> overrides;
  for (auto& p : args.positional()) {
    SLIMSSL_CHECK(p.find('=') != std::string::npos, "unexpected argument '", p, "' (expected key=value overrides)");
    overrides.push_back(p);
  }
  train::TrainOptions opts;
  opts.resume = args.flag("--resume");
  opts.quiet = args.flag("--quiet");
  opts.force = args.flag("--force");
  std::string config_path = args.get("--config", "");
  opts.run_dir = args.get("--out", "");
  if (opts.resume && config_path.empty()) {
    SLIMSSL_CHECK(!opts.run_dir.empty(), "--resume needs --out RUN_DIR (the run to continue)");
    config_path = (fs::path(opts.run_dir) / "config.json").string();
  }
  SLIMSSL_CHECK(!config_path.empty(), "--config FILE is required (see configs/)");
  train::TrainConfig cfg = train::load_config(config_path, overrides);
  if (opts.run_dir.empty()) opts.run_dir = (fs::path("runs") / cfg.name).string();

  train::TrainResult r = train::run_training(cfg, opts);
  if (r.interrupted) return 130;
  std::printf("\nfinished %lld steps in %.1f s; run directory %s\n", static_cast<long long>(r.steps), r.seconds,
              opts.run_dir.c_str());
  if (!r.knn.empty()) {
    std::printf("\n%-8s %14s\n", "width", "kNN top-1 (%)");
    for (size_t wi = 0; wi < cfg.widths.size(); ++wi)
      std::printf("%-8.2f %14.2f\n", cfg.widths[wi], r.knn.back().top1[wi]);
  }
  return 0;
}

}  // namespace slimssl::tools
