#include "ssl/train/config.h"
#include <fstream>
#include <numeric>
#include "engine/error.h"
#include "engine/printable.h"
#include "models/zoo.h"
#include "ssl/data/augment.h"
#include "ssl/data/augment_presets.h"

namespace slimssl::train {
namespace {

using Choices = std::vector<std::string>;

// THE definition of every key: name, field, meaning, and for keys with a closed set of values,
// the values. It drives parsing, the unknown-key and type checks, the allowed-value check,
// serialization and `slimssl config keys`; the default is the field's initial value in config.h.
template <class C, class F>
void for_each_field(C& c, F&& f) {
  const Choices none;
  // data
  f("name", c.name, "run name; the default run directory is runs/NAME", none);
  f("data", c.data, "data set: a path (image folder, .tar/.tar.gz, CIFAR batches, IDX files) or a name "
    "(fashion-mnist); see slimssl data", none);
  f("train_subset", c.train_subset, "train on a fixed random subset of this many images (0: all)", none);
  f("augment", c.augment, "augmentation preset of the two views; none: both views are the un-augmented "
    "image (resize, centre crop, normalize), for debugging and step-by-step checks", data::augment_preset_names());
  f("crop_scale_min", c.crop_scale_min, "the random crop's smallest area, as a fraction of the image in (0, 1] "
    "(0: the preset's; small images of centred objects lose the object below about 0.3)", none);
  f("jitter_strength", c.jitter_strength, "the preset's colour-jitter factors (brightness, contrast, saturation, "
    "hue) times this, >= 0 (0: no jitter)", none);
  f("image_size", c.image_size, "view size in pixels (the crop's output), at least 8", none);
  f("in_channels", c.in_channels, "model input channels, 1 or 3 (a gray set is replicated to 3)", none);
  // model
  f("model", c.model, "backbone architecture (slimssl models)", models::zoo_names());
  f("widths", c.widths, "widths trained, descending, in (0, 1]; more than one: SlimCLR (starting at 1.0)", none);
  f("head", c.head, "projection head: simple (d-d-out MLP), wide (d-2d-out), deep (d-d-d-out), mocov3 (BN MLP)", Choices{"simple", "wide", "deep", "mocov3"});
  f("head_dim", c.head_dim, "embedding size of the projection head, > 0", none);
  f("head_hidden", c.head_hidden, "hidden size of the mocov3 head and predictor (0: 4096)", none);
  // framework
  f("framework", c.framework, "contrastive framework (docs/training.md)", Choices{"mocov2", "mocov3", "simclr"});
  f("temperature", c.temperature, "InfoNCE temperature, > 0", none);
  f("queue_size", c.queue_size, "MoCo v2 queue of negative keys; a multiple of batch_size", none);
  f("ema_momentum", c.ema_momentum, "key encoder EMA momentum in [0, 1] (mocov3: rises to 1 on a cosine)", none);
  f("shuffle_bn_groups", c.shuffle_bn_groups, "key batch-norm statistics over this many shuffled sub-batches; "
    "divides batch_size", none);
  // SlimCLR
  f("slim_start_epoch", c.slim_start_epoch, "slow start: sub-networks get no loss before this epoch, in [0, epochs)",
    none);
  f("slim_start_lr", c.slim_start_lr, "> 0: restart the schedule at this lr when the sub-networks start (0: "
    "continue it)", none);
  f("loss_weights", c.loss_weights, "per-width loss weights: \"size\" (full width 1 + sum(w) - max(w), others 1), "
    "\"uniform\", or a list of numbers >= 0", none);
  f("distill", c.distill, "online distillation of sub-networks from the full width's logits", none);
  f("distill_alpha", c.distill_alpha, "sub-network loss = (1 - alpha) InfoNCE + alpha KD, alpha in [0, 1]", none);
  f("distill_t_teacher", c.distill_t_teacher, "distillation temperature of the teacher (full width), > 0", none);
  f("distill_t_student", c.distill_t_student, "distillation temperature of the students, > 0", none);
  // optimization
  f("epochs", c.epochs, "epochs, at least 1", none);
  f("batch_size", c.batch_size, "images per step, at least 2", none);
  f("optimizer", c.optimizer, "optimizer: SGD with momentum, LARS (layer-wise trust ratio), or AdamW", Choices{"sgd", "lars", "adamw"});
  f("lr", c.lr, "base learning rate, > 0", none);
  f("lr_schedule", c.lr_schedule, "learning-rate schedule over the epochs", Choices{"cosine", "step", "constant"});
  f("lr_milestones", c.lr_milestones, "step schedule: epochs at which the lr is multiplied by 0.1", none);
  f("warmup_epochs", c.warmup_epochs, "linear warm-up epochs, in [0, epochs)", none);
  f("weight_decay", c.weight_decay, "weight decay of conv and linear weights (not norms, biases), >= 0", none);
  f("momentum", c.momentum, "SGD/LARS momentum (AdamW beta1), in [0, 1)", none);
  f("nesterov", c.nesterov, "Nesterov momentum (sgd)", none);
  f("grad_clip", c.grad_clip, "clip the global gradient norm to this (0: off)", none);
  // run
  f("seed", c.seed, "seed of every random decision (initialization, data order, augmentation)", none);
  f("device", c.device, "where to train (auto: a GPU when the build and the machine have one)", Choices{"auto", "cpu", "cuda"});
  f("threads", c.threads, "CPU threads (0: OpenMP's default)", none);
  f("amp", c.amp, "on a GPU: convolutions and linear layers in bfloat16 with float32 accumulation and "
    "master weights (norms and losses stay float32); no effect on the CPU", none);
  f("channels_last", c.channels_last, "on a GPU: activations in channels-last (NHWC) memory, the layout "
    "tensor-core convolutions want; no effect on the CPU", none);
  f("cuda_graph", c.cuda_graph, "on a GPU: after cuda_graph_warmup eager steps the whole step is captured "
    "as one CUDA graph and replayed (falls back to eager steps, with a warning, when capture fails); no "
    "effect on the CPU", none);
  f("cuda_graph_warmup", c.cuda_graph_warmup, "eager steps of one shape before the CUDA graph is captured, >= 1",
    none);
  f("log_every", c.log_every, "steps between progress lines within an epoch, >= 1", none);
  f("checkpoint_every", c.checkpoint_every, "steps between checkpoints (one is also saved at the end), >= 1",
    none);
  f("keep_checkpoints", c.keep_checkpoints, "keep only the newest this many checkpoints, >= 1", none);
  f("max_steps", c.max_steps, "stop after this many steps (0: run every epoch)", none);
  // kNN monitor
  f("knn_every", c.knn_every, "epochs between kNN evaluations, fractions allowed (0.5: twice an epoch); "
    "0: only at the end", none);
  f("knn_k", c.knn_k, "kNN neighbours, >= 1", none);
  f("knn_t", c.knn_t, "kNN temperature, > 0", none);
  f("knn_bank_size", c.knn_bank_size, "training images in the kNN feature bank (0: all)", none);
  f("knn_test_size", c.knn_test_size, "test images the kNN monitor scores (0: all)", none);
  // gradient diagnostics
  f("diag_every", c.diag_every, "steps between gradient diagnostics (docs/diagnostics.md); 0: off", none);
}

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, std::string>) return "a string";
  else if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else if constexpr (std::is_same_v<T, std::vector<double>>) return "a list of numbers";
  else return "a value";
}

template <class T>
void read_field(const nlohmann::json& v, const std::string& key, const std::string& origin, T& out) {
  bool ok;
  if constexpr (std::is_same_v<T, std::string>) ok = v.is_string();
  else if constexpr (std::is_same_v<T, bool>) ok = v.is_boolean();
  else if constexpr (std::is_integral_v<T>) ok = v.is_number_integer() && (!std::is_unsigned_v<T> || v.get<int64_t>() >= 0);
  else if constexpr (std::is_floating_point_v<T>) ok = v.is_number();
  else if constexpr (std::is_same_v<T, std::vector<double>>) {
    ok = v.is_array();
    for (auto& e : v) ok = ok && e.is_number();
  } else ok = true;
  SLIMSSL_CHECK(ok, origin, ": key '", key, "' must be ", type_name<T>(), ", got ", v.dump());
  out = v.get<T>();
}

}  // namespace

nlohmann::json TrainConfig::to_json() const {
  nlohmann::json j;
  for_each_field(*this, [&](const char* k, const auto& v, const char*, const Choices&) { j[k] = v; });
  return j;
}

std::vector<ConfigKey> config_keys() {
  std::vector<ConfigKey> out;
  const TrainConfig defaults;
  for_each_field(defaults, [&](const char* k, const auto& v, const char* meaning, const Choices& choices) {
    using T = std::decay_t<decltype(v)>;
    const char* type = std::is_same_v<T, std::string>                   ? "string"
                       : std::is_same_v<T, bool>                        ? "boolean"
                       : std::is_integral_v<T>                          ? "integer"
                       : std::is_floating_point_v<T>                    ? "number"
                       : std::is_same_v<T, std::vector<double>>         ? "list of numbers"
                                                                        : "string or list of numbers";
    out.push_back({k, type, nlohmann::json(v), meaning, choices});
  });
  return out;
}

TrainConfig config_from_json(const nlohmann::json& j, const std::string& origin) {
  SLIMSSL_CHECK(j.is_object(), origin, ": a config must be a JSON object");
  TrainConfig c;
  std::vector<std::string> known;
  for_each_field(c, [&](const char* k, auto&, const char*, const Choices&) { known.push_back(k); });
  for (auto& [key, value] : j.items()) {
    if (key.rfind("_comment", 0) == 0 || key == "description") continue;  // documentation keys
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      fail(origin, ": unknown key '", key, "' (known keys: ", join_names(known), ")");
    }
  }
  for_each_field(c, [&](const char* k, auto& field, const char*, const Choices&) {
    if (j.contains(k)) read_field(j.at(k), k, origin, field);
  });
  validate(c);
  return c;
}

void apply_override(nlohmann::json& j, const std::string& kv) {
  // Configurations are JSON: text that is not UTF-8 could not be written to config.json or a
  // checkpoint later (the JSON library's own parser refuses it in files).
  bool utf8 = true;
  try {
    (void)nlohmann::json(kv).dump();
  } catch (const nlohmann::json::exception&) {
    utf8 = false;
  }
  SLIMSSL_CHECK(utf8, "override '", printable(kv), "' is not valid UTF-8 text");
  auto eq = kv.find('=');
  SLIMSSL_CHECK(eq != std::string::npos && eq > 0, "override '", kv, "' must look like key=value");
  SLIMSSL_CHECK(j.is_object(), "override '", kv, "': the configuration is not a JSON object");
  std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
  nlohmann::json parsed = nlohmann::json::parse(value, nullptr, false);
  if (parsed.is_discarded()) {
    // A bare list like 1.0,0.5 is a list of numbers; anything else is a string.
    nlohmann::json list = nlohmann::json::parse("[" + value + "]", nullptr, false);
    parsed = (!list.is_discarded() && value.find(',') != std::string::npos) ? list : nlohmann::json(value);
  }
  // A single value of a list key is a list of one (widths=1.0).
  auto current = j.find(key);
  const bool list_key = current != j.end() ? current->is_array() : TrainConfig{}.to_json().value(key, nlohmann::json()).is_array();
  if (list_key && parsed.is_number()) parsed = nlohmann::json::array({parsed});
  j[key] = parsed;
}

TrainConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  SLIMSSL_CHECK(in.good(), "config file '", path, "' cannot be opened");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false, true);
  SLIMSSL_CHECK(!j.is_discarded(), "config file '", path, "' is not valid JSON");
  SLIMSSL_CHECK(j.is_object(), "config file '", path, "' must hold a JSON object of key: value, got ", j.type_name());
  for (auto& kv : overrides) apply_override(j, kv);
  return config_from_json(j, overrides.empty() ? path : path + " (with overrides)");
}

std::vector<double> resolve_loss_weights(const TrainConfig& c) {
  const auto& lw = c.loss_weights;
  size_t n = c.widths.size();
  if (lw.is_string() && lw == "uniform") return std::vector<double>(n, 1.0);
  if (lw.is_string() && lw == "size") {
    std::vector<double> w(n, 1.0);
    double total = std::accumulate(c.widths.begin(), c.widths.end(), 0.0);
    w[0] = 1.0 + total - c.widths[0];
    return w;
  }
  SLIMSSL_CHECK(lw.is_array() && lw.size() == n, "key 'loss_weights' must be \"size\", \"uniform\" or a list of ",
                n, " numbers (one per width), got ", lw.dump());
  std::vector<double> w;
  for (auto& e : lw) {
    SLIMSSL_CHECK(e.is_number() && e.get<double>() >= 0, "key 'loss_weights': entries must be numbers >= 0, got ",
                  e.dump());
    w.push_back(e.get<double>());
  }
  return w;
}

void validate(const TrainConfig& c) {
  auto need = [](bool ok, const char* key, auto... why) { SLIMSSL_CHECK(ok, "key '", key, "': ", why...); };
  for_each_field(c, [&](const char* k, const auto& v, const char*, const Choices& choices) {
    if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::string>)
      need(choices.empty() || std::find(choices.begin(), choices.end(), v) != choices.end(), k, "unknown value '", v,
           "' (known: ", join_names(choices), ")");
  });
  need(!c.widths.empty(), "widths", "needs at least one width");
  for (size_t i = 0; i < c.widths.size(); ++i) {
    need(c.widths[i] > 0 && c.widths[i] <= 1, "widths", "width ", c.widths[i], " is outside (0, 1]");
    need(i == 0 || c.widths[i] < c.widths[i - 1], "widths", "must be strictly descending");
  }
  need(c.widths[0] == 1.0 || c.widths.size() == 1, "widths", "a slimmable run must start with the full width 1.0");
  need(c.temperature > 0, "temperature", "must be > 0, got ", c.temperature);
  need(c.batch_size >= 2, "batch_size", "must be at least 2, got ", c.batch_size);
  need(c.epochs >= 1, "epochs", "must be at least 1, got ", c.epochs);
  if (c.framework == "mocov2") {
    need(c.queue_size > 0, "queue_size", "must be > 0 for mocov2, got ", c.queue_size);
    need(c.queue_size % c.batch_size == 0, "queue_size", c.queue_size, " is not divisible by batch_size ",
         c.batch_size, " (whole batches of keys are enqueued)");
  }
  need(c.ema_momentum >= 0 && c.ema_momentum <= 1, "ema_momentum", "must be in [0, 1], got ", c.ema_momentum);
  need(c.shuffle_bn_groups >= 1 && c.batch_size % c.shuffle_bn_groups == 0, "shuffle_bn_groups",
       "must be >= 1 and divide batch_size ", c.batch_size, ", got ", c.shuffle_bn_groups);
  need(c.slim_start_epoch >= 0 && c.slim_start_epoch < c.epochs, "slim_start_epoch", "must be in [0, epochs), got ",
       c.slim_start_epoch);
  need(c.slim_start_lr >= 0, "slim_start_lr", "must be >= 0 (0: continue the schedule), got ", c.slim_start_lr);
  resolve_loss_weights(c);
  need(c.distill_alpha >= 0 && c.distill_alpha <= 1, "distill_alpha", "must be in [0, 1], got ", c.distill_alpha);
  need(c.distill_t_teacher > 0 && c.distill_t_student > 0, "distill_t_teacher",
       "distillation temperatures must be > 0");
  need(c.lr > 0, "lr", "must be > 0, got ", c.lr);
  need(c.weight_decay >= 0, "weight_decay", "must be >= 0");
  need(c.momentum >= 0 && c.momentum < 1, "momentum", "must be in [0, 1)");
  need(c.warmup_epochs >= 0 && c.warmup_epochs < c.epochs, "warmup_epochs", "must be in [0, epochs)");
  need(c.image_size >= 8 && c.image_size <= data::kMaxViewSize, "image_size", "must be in [8, ", data::kMaxViewSize,
       "], got ", c.image_size);
  need(c.in_channels == 1 || c.in_channels == 3, "in_channels", "must be 1 or 3");
  need(c.crop_scale_min >= 0 && c.crop_scale_min <= 1, "crop_scale_min", "must be in (0, 1] (0: the preset's), got ",
       c.crop_scale_min);
  need(c.jitter_strength >= 0 && c.jitter_strength <= 4, "jitter_strength", "must be in [0, 4], got ",
       c.jitter_strength);
  need(c.head_dim > 0, "head_dim", "must be > 0");
  need(c.train_subset >= 0, "train_subset", "must be >= 0");
  need(c.log_every >= 1, "log_every", "must be >= 1");
  need(c.cuda_graph_warmup >= 1, "cuda_graph_warmup", "must be >= 1");
  need(c.checkpoint_every >= 1, "checkpoint_every", "must be >= 1");
  need(c.keep_checkpoints >= 1, "keep_checkpoints", "must be >= 1");
  need(c.knn_k >= 1, "knn_k", "must be >= 1");
  need(c.knn_t > 0, "knn_t", "must be > 0");
  need(c.knn_every >= 0, "knn_every", "must be >= 0");
  need(c.max_steps >= 0, "max_steps", "must be >= 0");
  need(c.diag_every >= 0, "diag_every", "must be >= 0");
  need(c.threads >= 0 && c.threads <= 4096, "threads", "must be in [0, 4096] (0: all cores), got ", c.threads);
  need(c.head_hidden >= 0, "head_hidden", "must be >= 0 (0: 4096), got ", c.head_hidden);
  need(c.grad_clip >= 0, "grad_clip", "must be >= 0 (0: off), got ", c.grad_clip);
}

data::ViewPipelines training_views(const TrainConfig& c, const data::Normalization& norm) {
  data::ViewPipelines views =
      data::augment_preset(c.augment, static_cast<int>(c.image_size), norm, static_cast<int>(c.in_channels));
  for (data::AugmentPipeline* p : {&views.first, &views.second}) {
    if (!p->random_crop) continue;  // eval / none: no crop, no jitter to scale
    if (c.crop_scale_min > 0) p->scale_min = static_cast<float>(c.crop_scale_min);
    const auto s = static_cast<float>(c.jitter_strength);
    p->brightness *= s, p->contrast *= s, p->saturation *= s;
    p->hue = std::min(0.5f, p->hue * s);  // a hue shift wraps at half a turn
  }
  return views;
}

}  // namespace slimssl::train
