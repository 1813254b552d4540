#include "ssl/train/trainer.h"
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <omp.h>
#include "engine/rng.h"
#include "engine/size_math.h"
#include "ssl/data/augment.h"
#include "ssl/data/augment_presets.h"
#include "ssl/diag/gradient_diagnostics.h"
#include "ssl/eval/knn.h"
#include "ssl/train/knn_monitor.h"
#include "ssl/data/subset.h"
#include "ssl/train/checkpoint.h"
#include "ssl/train/input_spec.h"
#include "ssl/train/learner.h"
#include "ssl/train/optimizer.h"
#include "ssl/train/run_log.h"
#include "ssl/train/train_step.h"
#include "ssl/train/warm_start.h"
#include "ssl/util/progress.h"
#include "ssl/train/run_directory.h"

namespace slimssl::train {
namespace fs = std::filesystem;
using models::width_label;

namespace {
std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

// A fixed permutation of [0, n) for (seed, epoch): the data order of an epoch, independent of
// everything else, so a resumed run replays it.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, uint32_t epoch, uint32_t purpose) {
  return random_permutation(n, RandomStream(seed, epoch, 0, 0x4f524400u | purpose));
}

}  // namespace

Optimizer build_optimizer(const TrainConfig& c, Encoder& q) {
  OptimizerConfig oc;
  oc.kind = parse_optimizer(c.optimizer), oc.momentum = c.momentum, oc.nesterov = c.nesterov;
  oc.weight_decay = c.weight_decay, oc.grad_clip = c.grad_clip;
  models::NamedTensors decay, no_decay;
  for (auto& named : q.named_parameters()) (models::takes_weight_decay(named.second) ? decay : no_decay).push_back(named);
  return Optimizer({named_group(decay, true, true), named_group(no_decay, false, false)}, oc);
}

TrainResult run_training(const TrainConfig& c, const TrainOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  const Device device = training_device(c);  // refuses a device this build cannot train on
  if (c.threads > 0) omp_set_num_threads(static_cast<int>(c.threads));
  SLIMSSL_CHECK(!(o.resume && o.force), "--resume continues a run and --force starts it over: choose one");
  RunDirectory run_dir(o.run_dir, o.resume ? RunStart::Resume : o.force ? RunStart::Force : RunStart::Fresh, o.quiet);
  {
    std::ofstream cfg_out(fs::path(o.run_dir) / "config.json");
    cfg_out << c.to_json().dump(2) << "\n";
  }

  // ---- data ----
  auto open = [&](const char* split) {
    try {
      return data::open_dataset(c.data, split);
    } catch (const Error& e) {
      fail("key 'data': ", e.what());
    }
  };
  data::Dataset full_train = open("train");
  data::Dataset train_set =
      data::subset_of(full_train, data::seeded_subset(full_train.size(), c.train_subset, c.seed, data::kSubsetTrain));
  auto norm = data::normalization_for(full_train);
  save_input_spec(o.run_dir, input_spec(c, norm));
  int channels = static_cast<int>(c.in_channels);
  data::ViewPipelines views = training_views(c, norm);
  KnnMonitor monitor(c, full_train, open("test"),
                     data::augment_preset("eval", static_cast<int>(c.image_size), norm, channels).first);

  const int64_t steps_per_epoch = train_set.size() / c.batch_size;
  SLIMSSL_CHECK(steps_per_epoch > 0, "key 'batch_size': ", c.batch_size, " is larger than the training set (",
                train_set.size(), " images)");
  auto all_steps = checked_mul(steps_per_epoch, c.epochs);
  SLIMSSL_CHECK(all_steps, "key 'epochs': ", c.epochs, " epochs of ", steps_per_epoch, " steps overflow the step counter");
  int64_t total_steps = *all_steps;
  if (c.max_steps > 0) total_steps = std::min(total_steps, c.max_steps);
  const double momentum_steps = static_cast<double>(o.until_step > 0 ? steps_per_epoch * c.epochs : total_steps);
  if (o.until_step > 0) total_steps = o.until_step;
  const int64_t knn_period = c.knn_every > 0 ? std::max<int64_t>(1, std::llround(c.knn_every * steps_per_epoch)) : 0;

  // ---- model and optimizer ----
  Learner learner(c);
  learner.to(device);
  Encoder& q = learner.query();
  Optimizer opt = build_optimizer(c, q);

  run_dir.check_writable(checkpoint_bytes_estimate(learner, opt));  // before any step: fail now, not at the first save
  int64_t step = 0;
  TrainResult result;
  if (o.resume) {
    std::string ckpt = latest_checkpoint(o.run_dir);
    SLIMSSL_CHECK(!ckpt.empty(), "--resume: no checkpoint in '", checkpoint_dir(o.run_dir), "'");
    step = load_checkpoint(ckpt, learner, opt);
    SLIMSSL_CHECK(step <= total_steps, "--resume: checkpoint '", ckpt, "' is at step ", step, " but this configuration has ",
                  total_steps, " steps");
    if (!o.quiet) std::printf("resumed from %s (step %lld)\n", ckpt.c_str(), static_cast<long long>(step));
  } else if (!o.init.empty()) {
    WarmStartReport ws = warm_start(learner, o.init);
    std::ofstream(fs::path(o.run_dir) / "init.json") << ws.to_json().dump(2) << "\n";
    if (!o.quiet)
      for (auto& line : ws.lines()) std::printf("%s\n", line.c_str());
  }

  std::unique_ptr<diag::GradientDiagnostics> diagnostics;
  if (c.diag_every > 0)
    diagnostics = std::make_unique<diag::GradientDiagnostics>(q, c.widths, (fs::path(o.run_dir) / "diag").string());

  RunLog metrics(o.run_dir, o.resume);
  g_stop.store(false);
  auto old_int = std::signal(SIGINT, on_signal);
  auto old_term = std::signal(SIGTERM, on_signal);

  if (!o.quiet)
    std::printf("training %s (%s) widths %s on %lld images of %s: %lld epochs x %lld steps, batch %lld, on %s%s\n",
                c.model.c_str(), c.framework.c_str(), nlohmann::json(c.widths).dump().c_str(),
                static_cast<long long>(train_set.size()), c.data.c_str(), static_cast<long long>(c.epochs),
                static_cast<long long>(steps_per_epoch), static_cast<long long>(c.batch_size), device.str().c_str(),
                device.is_cuda() ? (std::string(c.amp ? ", bf16 autocast" : ", float32") +
                                    (c.channels_last ? ", channels-last" : "")).c_str()
                                 : "");

  auto run_knn = [&](double epoch) {
    KnnRow row{epoch, monitor.evaluate(learner)};
    nlohmann::json rec = {{"type", "knn"}, {"epoch", epoch}, {"step", step}};
    for (size_t wi = 0; wi < c.widths.size(); ++wi) rec["top1"][width_label(c.widths[wi])] = row.top1[wi];
    metrics.write(rec);
    if (!o.quiet) {
      std::printf("  kNN (k=%lld, T=%.2f) top-1:", static_cast<long long>(c.knn_k), c.knn_t);
      for (size_t wi = 0; wi < c.widths.size(); ++wi) std::printf("  w%s %.2f%%", width_label(c.widths[wi]).c_str(), row.top1[wi]);
      std::printf("\n");
    }
    result.knn.push_back(row);
  };

  if (o.final_knn || knn_period > 0) {
    // What the numbers are read against: the same kNN on the pixels, and the untrained network.
    result.knn_raw_pixels = monitor.raw_pixels();
    result.knn_test_images = monitor.test_size();
    metrics.write({{"type", "knn_baseline"}, {"step", step}, {"raw_pixels", result.knn_raw_pixels}, {"k", c.knn_k}, {"t", c.knn_t},
                   {"bank", monitor.bank_size()}, {"test", monitor.test_size()}});
    if (!o.quiet)
      std::printf("  kNN (k=%lld, T=%.2f) top-1 of the raw pixels: %.2f%% (+-%.2f, %lld test images)\n",
                  static_cast<long long>(c.knn_k), c.knn_t, result.knn_raw_pixels,
                  eval::top1_standard_error(result.knn_raw_pixels, monitor.test_size()),
                  static_cast<long long>(monitor.test_size()));
    if (knn_period > 0 && step == 0) run_knn(0.0);
  }

  double window_start = seconds();
  int64_t window_images = 0, start_step = step;
  std::vector<double> last_loss(c.widths.size(), 0.0);
  // The momentum schedule follows the run's own length, also when diag stops it early.
  TrainStep train_step(learner, opt, {steps_per_epoch, static_cast<int64_t>(momentum_steps)}, diagnostics.get());
  train_step.set_constant_lr(o.constant_lr);
  while (step < total_steps) {
    int64_t epoch = step / steps_per_epoch, in_epoch = step % steps_per_epoch;
    auto order = epoch_order(train_set.size(), c.seed, static_cast<uint32_t>(epoch), 0);
    std::vector<int64_t> idx(order.begin() + in_epoch * c.batch_size, order.begin() + (in_epoch + 1) * c.batch_size);
    data::TwoViewBatch batch = train_step.views(train_set, idx, views, epoch);
    StepResult done = train_step.run(batch.view1, batch.view2, step);
    const double lr = done.lr;
    if (step == start_step) result.first_lr = lr;
    result.last_lr = lr;
    ++step;
    window_images += c.batch_size;

    bool end_of_epoch = step % steps_per_epoch == 0;
    if (step % c.log_every == 0 || end_of_epoch || step == total_steps) {
      // The values of this step (the one read-back a progress line waits for).
      const StepLoss& sl = *train_step.latest();
      for (size_t wi = 0; wi < c.widths.size(); ++wi)
        if (sl.active[wi]) last_loss[wi] = sl.widths[wi].info_nce;
      double now = seconds(), rate = window_images / std::max(1e-9, now - window_start);
      double eta = (total_steps - step) * c.batch_size / std::max(rate, 1e-9);
      nlohmann::json rec = {{"type", "train"}, {"step", step}, {"epoch", static_cast<double>(step) / steps_per_epoch},
                            {"lr", lr}, {"images_per_s", rate}, {"loss", sl.total}};
      for (size_t wi = 0; wi < c.widths.size(); ++wi) {
        if (!sl.active[wi]) continue;
        std::string w = width_label(c.widths[wi]);
        rec["info_nce"][w] = sl.widths[wi].info_nce;
        if (wi > 0 && c.distill) rec["distill"][w] = sl.widths[wi].distill;
      }
      metrics.write(rec);
      if (!o.quiet) {
        std::printf("epoch %lld/%lld step %lld/%lld | loss", static_cast<long long>(step / steps_per_epoch + (end_of_epoch ? 0 : 1)),
                    static_cast<long long>(c.epochs), static_cast<long long>(step), static_cast<long long>(total_steps));
        for (size_t wi = 0; wi < c.widths.size(); ++wi)
          if (sl.active[wi]) std::printf(" w%s %.3f", width_label(c.widths[wi]).c_str(), sl.widths[wi].info_nce);
        std::printf(" | lr %.4f | %.0f img/s | ETA %s\n", lr, rate, util::format_duration(eta).c_str());
        std::fflush(stdout);
      }
      window_start = now, window_images = 0;
    }
    if (step % c.checkpoint_every == 0 && step < total_steps)
      result.checkpoint = save_checkpoint(o.run_dir, learner, opt, step, c.keep_checkpoints);
    if (g_stop.load()) {
      result.checkpoint = save_checkpoint(o.run_dir, learner, opt, step, c.keep_checkpoints);
      result.interrupted = true;
      if (!o.quiet)
        std::printf("interrupted: checkpoint %s saved; continue with --resume\n", result.checkpoint.c_str());
      break;
    }
    if (knn_period > 0 && step % knn_period == 0 && step < total_steps)
      run_knn(static_cast<double>(step) / steps_per_epoch);
  }
  if (diagnostics) diagnostics->finish();
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  if (!result.interrupted) {
    result.checkpoint = save_checkpoint(o.run_dir, learner, opt, step, c.keep_checkpoints);
    if (o.final_knn && (step > start_step || result.knn.empty())) run_knn(static_cast<double>(step) / steps_per_epoch);
  }
  result.steps = step;
  result.seconds = seconds();
  result.last_loss = last_loss;
  return result;
}

}  // namespace slimssl::train
