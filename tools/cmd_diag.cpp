// slimssl diag RUN_DIR [--checkpoint FILE|STEP] [--steps N] [--lr X] [--out DIR]: continue a run
// from one of its checkpoints for N steps with gradient diagnostics at every step, in a separate
// directory (the run is untouched), and say which steps were recorded at which learning rate.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include "engine/error.h"
#include "engine/safetensors.h"
#include "ssl/report/run_files.h"
#include "ssl/train/checkpoint.h"
#include "ssl/train/trainer.h"
#include "tools/commands.h"

namespace slimssl::tools {
namespace fs = std::filesystem;

namespace {

// --checkpoint: a file, or a step whose step_*.safetensors the run holds; default the newest.
std::string choose_checkpoint(const std::string& run_dir, const std::string& arg) {
  if (arg.empty()) {
    std::string ckpt = train::latest_checkpoint(run_dir);
    SLIMSSL_CHECK(!ckpt.empty(), "'", run_dir, "' holds no checkpoint (expected ", train::checkpoint_dir(run_dir),
                  "/step_*.safetensors)");
    return ckpt;
  }
  if (fs::is_regular_file(arg)) return arg;
  std::string listed;
  if (arg.find_first_not_of("0123456789") == std::string::npos) {
    char name[64];
    std::snprintf(name, sizeof name, "step_%09lld.safetensors", std::stoll(arg));
    fs::path p = fs::path(train::checkpoint_dir(run_dir)) / name;
    if (fs::is_regular_file(p)) return p.string();
  }
  std::error_code ec;
  for (auto& e : fs::directory_iterator(train::checkpoint_dir(run_dir), ec))
    listed += (listed.empty() ? "" : ", ") + e.path().filename().string();
  fail("--checkpoint '", arg, "': neither a file nor a step of ", train::checkpoint_dir(run_dir), " (there: ",
       listed.empty() ? "none" : listed, ")");
}

int run_diag(const Args& args) {
  SLIMSSL_CHECK(args.positional().size() == 1, "expected one RUN_DIR, got ", args.positional().size(),
                " arguments (see slimssl diag --help)");
  std::string run_dir = args.positional()[0];
  SLIMSSL_CHECK(fs::is_directory(run_dir), "'", run_dir, "': not a run directory");
  int64_t steps = args.get_int("--steps", 20);
  SLIMSSL_CHECK(steps > 0, "--steps must be positive, got ", steps);
  double lr = args.get_double("--lr", 0);
  SLIMSSL_CHECK(!args.has("--lr") || lr > 0, "--lr must be > 0, got ", args.get("--lr", ""));
  std::string ckpt = choose_checkpoint(run_dir, args.get("--checkpoint", ""));
  auto meta = load_safetensors(ckpt).metadata;
  SLIMSSL_CHECK(meta.count("step") && meta.count("config"), "checkpoint '", ckpt,
                "' has no step/config metadata (not a slimssl training checkpoint?)");
  const int64_t at = std::stoll(meta["step"]);
  train::TrainConfig cfg = train::config_from_json(nlohmann::json::parse(meta["config"]), ckpt);
  std::string out = args.get("--out", (fs::path(run_dir) / ("diag_from_step_" + std::to_string(at))).string());
  SLIMSSL_CHECK(fs::absolute(out) != fs::absolute(run_dir), "--out must differ from the run directory");
  SLIMSSL_CHECK(!fs::exists(out) || fs::is_empty(out), "'", out, "' exists and is not empty (a diagnostics session "
                "from step ", at, " was run before): remove it or pass --out DIR");

  // The session starts from a copy of the checkpoint so the original run is never written to.
  fs::create_directories(train::checkpoint_dir(out));
  fs::copy_file(ckpt, fs::path(train::checkpoint_dir(out)) / fs::path(ckpt).filename());
  cfg.diag_every = 1;
  cfg.checkpoint_every = at + steps + 1;  // one checkpoint, at the end
  cfg.knn_every = 0;
  cfg.max_steps = 0;
  train::TrainOptions o;
  o.run_dir = out, o.resume = true, o.quiet = args.flag("--quiet");
  o.until_step = at + steps, o.constant_lr = lr, o.final_knn = false;
  const bool quiet = args.flag("--quiet");
  if (!quiet)
    std::printf("diagnostics of steps %lld..%lld from %s at %s\n", static_cast<long long>(at + 1),
                static_cast<long long>(at + steps), ckpt.c_str(),
                lr > 0 ? ("a constant learning rate " + nlohmann::json(lr).dump() + " (--lr)").c_str()
                       : ("the run's " + cfg.lr_schedule + " schedule (its end value past its end)").c_str());
  train::TrainResult r = train::run_training(cfg, o);

  // Report what the files hold, not what was asked.
  std::string grads = (fs::path(out) / "diag" / "gradients.jsonl").string();
  int64_t first = -1, last = -1;
  if (fs::is_regular_file(grads))
    for (auto& g : report::read_gradients(grads)) {
      if (first < 0 || g.step < first) first = g.step;
      last = std::max(last, g.step);
    }
  SLIMSSL_CHECK(first > 0, "no diagnostics were recorded (", grads, " is empty)");
  std::printf("diagnostics of steps %lld..%lld (%lld steps) written to %s/diag/ (gradients.jsonl, pca.jsonl); lr %s%s\n",
              static_cast<long long>(first), static_cast<long long>(last), static_cast<long long>(last - first + 1),
              out.c_str(), nlohmann::json(r.first_lr).dump().c_str(),
              r.last_lr == r.first_lr ? "" : (" to " + nlohmann::json(r.last_lr).dump()).c_str());
  if (r.interrupted) std::printf("interrupted before step %lld\n", static_cast<long long>(at + steps));
  return r.interrupted ? 130 : 0;
}

}  // namespace

Command diag_command() {
  return {"diag",
          "gradient diagnostics from a run's checkpoint, in a separate directory",
          "RUN_DIR",
          {{"--checkpoint", "FILE|STEP", "start from this checkpoint: a file, or a step of RUN_DIR/checkpoints "
                                         "(default: the newest)"},
           {"--steps", "N", "diagnostic steps to run (default 20)"},
           {"--lr", "X", "a constant learning rate (default: the run's schedule at those steps, which past its end "
                         "holds its end value: 0 for cosine, so the weights stay put)"},
           {"--out", "DIR", "where (default RUN_DIR/diag_from_step_S, S the checkpoint's step); must be new or empty"},
           {"--quiet", "", "no progress lines"}},
          "Continues the run from the checkpoint for N steps with gradient diagnostics at every step\n"
          "(docs/diagnostics.md): DIR/diag/gradients.jsonl and pca.jsonl, DIR/metrics.jsonl with the lr of\n"
          "each step. The run directory is not written to. The last line states the steps recorded and\n"
          "the learning rate used; slimssl plot RUN_DIR draws them with the run's own figures.",
          {"slimssl diag runs/fmnist_demo --checkpoint 100 --steps 20",
           "slimssl diag runs/fmnist_demo --steps 10 --lr 0.01"},
          run_diag,
          {}};
}

}  // namespace slimssl::tools
