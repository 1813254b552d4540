// slimssl bench step|model: the speed of the training step of a config, or of one network's forward
// and backward pass, in images/s and images per CPU-second, with an optional op profile
// (tools/bench_measure.h). The step is train::TrainStep, the very unit `slimssl train` repeats.
#include <omp.h>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include "engine/error.h"
#include "engine/init.h"
#include "engine/safetensors.h"
#include "models/zoo.h"
#include "ssl/train/trainer.h"
#include "ssl/train/train_step.h"
#include "tools/args.h"
#include "tools/bench_measure.h"
#include "tools/commands.h"
#include "tools/presets.h"

namespace slimssl::tools {
namespace fs = std::filesystem;

namespace {

BenchSpec spec_from(const Args& args, Device device) {
  BenchSpec s;
  s.device = device;
  s.steps = args.get_int("--steps", 10);
  s.warmup = args.get_int("--warmup", 2);
  s.profile = args.flag("--profile");
  return s;
}

// The step's data: the config's training set (its size places the step in the schedule), or none
// for data=synthetic.
struct StepData {
  std::optional<data::Dataset> train;
  int64_t steps_per_epoch = 100;  // synthetic: nominal
};

StepData open_step_data(const train::TrainConfig& c) {
  StepData d;
  if (c.data == "synthetic") return d;
  try {
    d.train = data::open_dataset(c.data, "train");
  } catch (const Error& e) {
    fail("key 'data': ", e.what(), " (data=synthetic benchmarks without a data set)");
  }
  const int64_t size = d.train->size(), used = c.train_subset > 0 ? std::min(c.train_subset, size) : size;
  SLIMSSL_CHECK(c.batch_size <= size, "key 'batch_size': ", c.batch_size, " is larger than the training set (", size,
                " images)");
  d.steps_per_epoch = std::max<int64_t>(1, used / c.batch_size);
  return d;
}

// A fixed batch of two views: the first batch_size training images through the config's
// augmentations (epoch 0), or normal noise.
struct StepBatch {
  Tensor view1, view2;
  std::string source;
};

StepBatch step_batch(const train::TrainConfig& c, const StepData& d, train::TrainStep& step) {
  StepBatch b;
  const int64_t n = c.batch_size, ch = c.in_channels, s = c.image_size;
  if (!d.train) {
    b.view1 = Tensor::empty({n, ch, s, s}), b.view2 = Tensor::empty({n, ch, s, s});
    init::normal(b.view1, 0.0, 1.0, c.seed, 0x42454e31);
    init::normal(b.view2, 0.0, 1.0, c.seed, 0x42454e32);
    b.source = "synthetic (normal noise)";
    return b;
  }
  std::vector<int64_t> idx(n);
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  auto pipelines = train::training_views(c, data::normalization_for(*d.train));
  data::TwoViewBatch v = step.views(*d.train, idx, pipelines, 0);
  b.view1 = v.view1, b.view2 = v.view2;
  b.source = c.data + " (the first " + std::to_string(n) + " training images, augmented)";
  return b;
}

// Writes the learner's initial state, the views and the key encoder's permutations, then runs two
// steps and writes their losses: what benchmarks/peer/check.py compares PyTorch against.
void dump_reference(const std::string& dir, const train::TrainConfig& c, train::Learner& learner,
                    train::TrainStep& step, const StepBatch& b, int64_t first) {
  fs::create_directories(dir);
  auto tensors = learner.state();
  tensors.emplace_back("view1", b.view1);
  tensors.emplace_back("view2", b.view2);
  const uint32_t key_views = c.framework == "mocov3" ? 2 : c.framework == "mocov2" ? 1 : 0;
  for (int64_t s = first; s < first + 2; ++s)
    for (uint32_t v = 0; v < key_views; ++v)
      tensors.emplace_back("key_perm." + std::to_string(s) + "." + std::to_string(v),
                           Tensor::from_vector(learner.key_permutation(c.batch_size, s, v), {c.batch_size}));
  save_safetensors((fs::path(dir) / "initial.safetensors").string(), tensors);
  nlohmann::json steps = nlohmann::json::array();
  for (int64_t s = first; s < first + 2; ++s) {
    train::StepResult r = step.run(b.view1, b.view2, s);
    const train::StepLoss& l = *step.latest();
    nlohmann::json w = nlohmann::json::object();
    for (size_t i = 0; i < c.widths.size(); ++i)
      if (l.active[i])
        w[models::width_label(c.widths[i])] = {{"info_nce", l.widths[i].info_nce},
                                               {"distill", l.widths[i].distill},
                                               {"total", l.widths[i].total}};
    steps.push_back({{"step", s}, {"epoch", step.clock().epoch(s)}, {"lr", r.lr}, {"loss", l.total},
                     {"widths", w}});
  }
  std::ofstream out(fs::path(dir) / "reference.json");
  nlohmann::json clock = {{"steps_per_epoch", step.clock().steps_per_epoch}, {"total_steps", step.clock().total_steps}};
  out << nlohmann::json({{"config", c.to_json()}, {"clock", clock}, {"steps", steps}}).dump(2) << "\n";
  SLIMSSL_CHECK(out.good(), "--dump-reference: cannot write ", (fs::path(dir) / "reference.json").string());
}

int bench_step(const Args& args) {
  std::vector<std::string> overrides;
  for (auto& p : args.positional()) {
    SLIMSSL_CHECK(p.find('=') != std::string::npos, "unexpected argument '", p, "' (expected key=value overrides)");
    overrides.push_back(p);
  }
  train::TrainConfig c = train::load_config(resolve_config(args.get("--config", "")), overrides);
  BenchSpec spec = spec_from(args, train::training_device(c));
  if (c.threads > 0) omp_set_num_threads(static_cast<int>(c.threads));

  StepData data = open_step_data(c);
  train::Learner learner(c);
  train::Optimizer opt = train::build_optimizer(c, learner.query());
  // Every width active: the first step after slow start.
  const int64_t spe = data.steps_per_epoch;
  const int64_t first = c.widths.size() > 1 ? static_cast<int64_t>(std::ceil(c.slim_start_epoch * spe)) : 0;
  const int64_t all_steps = spec.warmup + spec.steps * (spec.profile ? 2 : 1) + 2;
  train::StepClock clock{spe, std::max(spe * c.epochs, first + all_steps)};
  train::TrainStep step(learner, opt, clock);
  StepBatch batch = step_batch(c, data, step);

  if (args.get("--dump-reference", "") != "") {
    dump_reference(args.get("--dump-reference", ""), c, learner, step, batch, first);
    std::printf("wrote %s/initial.safetensors and reference.json (steps %lld and %lld)\n",
                args.get("--dump-reference", "").c_str(), static_cast<long long>(first),
                static_cast<long long>(first + 1));
    return 0;
  }

  // Model FLOPs from one forward pass of the step's loss (conv and linear layers).
  int64_t macs = 0, no_grad_macs = 0;
  {
    models::MacCounter counter;
    learner.compute_loss(batch.view1, batch.view2, clock.epoch(first), first);
    macs = counter.macs(), no_grad_macs = counter.no_grad_macs();
  }
  spec.images_per_step = c.batch_size;
  spec.flops_per_step = 2.0 * (3.0 * static_cast<double>(macs - no_grad_macs) + static_cast<double>(no_grad_macs));

  BenchResult r = measure(spec, [&](int64_t i) { step.run(batch.view1, batch.view2, first + i); });
  if (args.flag("--json")) {
    nlohmann::json j = figures_json(r, spec);
    j["bench"] = "step";
    j["config"] = c.name;
    j["model"] = c.model, j["framework"] = c.framework, j["widths"] = c.widths;
    j["batch_size"] = c.batch_size, j["image_size"] = c.image_size, j["in_channels"] = c.in_channels;
    j["data"] = batch.source;
    j["first_step"] = first;
    j["macs_with_backward"] = macs - no_grad_macs;
    j["macs_without_backward"] = no_grad_macs;
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("bench step: %s: %s (%s) widths %s, batch %lld, %lld px x %lld channels, on %s\n", c.name.c_str(),
              c.model.c_str(), c.framework.c_str(), nlohmann::json(c.widths).dump().c_str(),
              static_cast<long long>(c.batch_size), static_cast<long long>(c.image_size),
              static_cast<long long>(c.in_channels), spec.device.str().c_str());
  std::printf("  views            %s; steps %lld.. (epoch %.2f, every width active)\n", batch.source.c_str(),
              static_cast<long long>(first), clock.epoch(first));
  std::printf("  forward MACs     %.2f G with a backward, %.2f G without (key encoder) per step\n",
              static_cast<double>(macs - no_grad_macs) / 1e9, static_cast<double>(no_grad_macs) / 1e9);
  print_figures(r, spec);
  return 0;
}

int bench_model(const Args& args) {
  SLIMSSL_CHECK(args.positional().empty(), "unexpected argument '", args.positional().front(), "'");
  const std::string name = args.get("--model", "");
  SLIMSSL_CHECK(!name.empty(), "--model NAME is required (see slimssl models)");
  const double width = args.get_double("--width", 1.0);
  const int64_t batch = args.get_int("--batch", 64), classes = args.get_int("--classes", 10);
  const int64_t threads = args.get_int("--threads", 0);
  SLIMSSL_CHECK(batch > 0, "--batch must be positive, got ", batch);
  SLIMSSL_CHECK(classes > 0, "--classes must be positive, got ", classes);
  if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
  BenchSpec spec = spec_from(args, Device::cpu());

  auto backbone = models::create_backbone(name, {width});
  models::Classifier model(backbone, classes);
  const int64_t res = args.get_int("--resolution", backbone->default_resolution());
  SLIMSSL_CHECK(res > 0, "--resolution must be positive, got ", res);
  Tensor x = Tensor::empty({batch, 3, res, res});
  init::normal(x, 0.0, 1.0, 0, 0x42454e33);
  std::vector<int64_t> label_values(batch);
  for (int64_t i = 0; i < batch; ++i) label_values[i] = i % classes;
  Tensor labels = Tensor::from_vector(label_values, {batch});

  const int64_t macs = models::measure_cost(model, 0, res).macs * batch;
  spec.images_per_step = batch;
  spec.flops_per_step = 2.0 * 3.0 * static_cast<double>(macs);
  model.train();
  BenchResult r = measure(spec, [&](int64_t) {
    model.zero_grad();
    cross_entropy(model.forward(x, 0), labels).backward();
  });
  if (args.flag("--json")) {
    nlohmann::json j = figures_json(r, spec);
    j["bench"] = "model";
    j["model"] = name, j["width"] = width, j["batch_size"] = batch, j["image_size"] = res, j["classes"] = classes;
    j["macs_with_backward"] = macs;
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("bench model: %s at width %.2f, batch %lld, %lld px, %lld classes: forward + backward on %s\n",
              name.c_str(), width, static_cast<long long>(batch), static_cast<long long>(res),
              static_cast<long long>(classes), spec.device.str().c_str());
  std::printf("  forward MACs     %.2f G per step\n", static_cast<double>(macs) / 1e9);
  print_figures(r, spec);
  return 0;
}

}  // namespace

Command bench_command() {
  const std::vector<Option> timing = {
      {"--steps", "N", "timed steps (default 10)"},
      {"--warmup", "N", "untimed steps before them (default 2)"},
      {"--profile", "", "as many more steps under the op profiler: the top primitives by time"},
      {"--json", "", "one JSON object instead of text"}};
  std::vector<Option> step_options = {{"--config", "FILE|NAME", "the run's configuration (a file or a preset name)"},
                                      {"--dump-reference", "DIR",
                                       "the initial state, the views and the losses of the first two steps, for "
                                       "checking another implementation against this one (no timing)"}};
  step_options.insert(step_options.end(), timing.begin(), timing.end());
  std::vector<Option> model_options = {{"--model", "NAME", "an architecture of `slimssl models`"},
                                       {"--width", "W", "its width (default 1.0)"},
                                       {"--batch", "N", "images per step (default 64)"},
                                       {"--resolution", "R", "input size (default: the architecture's)"},
                                       {"--classes", "N", "classifier outputs (default 10)"},
                                       {"--threads", "N", "OpenMP threads (default: all)"}};
  model_options.insert(model_options.end(), timing.begin(), timing.end());
  Command step{"step",
               "images/s and images per CPU-second of a config's training step, and where its time goes",
               "--config FILE|NAME [key=value ...]",
               step_options,
               "Times the training step of a config (the unit `slimssl train` repeats: the learner's loss over\n"
               "every width, the key encoder, backward, the optimizer, EMA and queue) on a fixed batch of two\n"
               "views, every width active (the step after slow start). data=synthetic uses random views\n"
               "instead of the config's data set; threads=N sets the thread count. Model FLOPs count conv and\n"
               "linear layers: 2 x (3 x MACs of the passes that get a backward + MACs of those that do not);\n"
               "images per CPU-second divide by the process's CPU time, every thread included.",
               {"slimssl bench step --config fmnist_demo threads=1", "slimssl bench step --config fmnist_demo --profile"},
               bench_step,
               {}};
  Command model{"model",
                "forward + backward speed of one architecture at one width",
                "--model NAME",
                model_options,
                "Times forward + backward (cross-entropy, no optimizer) of one network.",
                {"slimssl bench model --model resnet18_cifar --batch 64 --threads 1"},
                bench_model,
                {}};
  return {"bench", "speed of a training step or of a network, beside its profile", "", {},
          "step: a config's training step; model: one network's forward and backward.",
          {"slimssl bench step"}, {}, {step, model}};
}

}  // namespace slimssl::tools
