// The training configuration: a flat JSON object (configs/*.json) plus `key=value` overrides from
// the command line. Every key is known and typed; unknown keys, wrong types and impossible values
// are refused before anything runs, with a message naming the key.
#pragma once
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "ssl/data/augment_presets.h"

namespace slimssl::train {

struct TrainConfig {
  std::string name = "run";
  // data
  std::string data = "fashion-mnist";  // a data set path or name (see slimssl data)
  int64_t train_subset = 0;            // train on a fixed random subset of this many images (0: all)
  std::string augment = "mocov2";      // augmentation preset
  double crop_scale_min = 0;           // > 0: the random crop's smallest area fraction (0: the preset's)
  double jitter_strength = 1;          // the preset's colour-jitter factors times this (0: no jitter)
  int64_t image_size = 32;             // view size (crop output)
  int64_t in_channels = 3;             // gray sets are replicated to 3 channels for the models
  // model
  std::string model = "resnet18_cifar";
  std::vector<double> widths = {1.0};
  std::string head = "simple";
  int64_t head_dim = 128;
  int64_t head_hidden = 0;  // mocov3 head / predictor hidden size (0: 4096)
  // framework
  std::string framework = "mocov2";  // mocov2, mocov3, simclr
  double temperature = 0.2;
  int64_t queue_size = 4096;
  double ema_momentum = 0.99;        // key encoder; mocov3 rises to 1 on a cosine
  int64_t shuffle_bn_groups = 4;     // key BN statistics over this many shuffled sub-batches
  // SlimCLR
  double slim_start_epoch = 0;       // sub-networks get no loss before this epoch (slow start)
  double slim_start_lr = 0;          // >0: restart the schedule at this lr when sub-networks start
  nlohmann::json loss_weights = "size";  // "size", "uniform" or an explicit list per width
  bool distill = true;
  double distill_alpha = 0.5;
  double distill_t_teacher = 5.0;
  double distill_t_student = 5.0;
  // optimization
  int64_t epochs = 10;
  int64_t batch_size = 256;
  std::string optimizer = "sgd";
  double lr = 0.06;
  std::string lr_schedule = "cosine";
  std::vector<double> lr_milestones = {};
  double warmup_epochs = 0;
  double weight_decay = 5e-4;
  double momentum = 0.9;
  bool nesterov = false;
  double grad_clip = 0;
  // run
  uint64_t seed = 0;
  std::string device = "auto";  // auto, cpu, cuda
  int64_t threads = 0;
  bool amp = true;            // GPU only: bf16 autocast for conv/linear
  bool channels_last = true;  // GPU only: NHWC activations
  bool cuda_graph = true;     // GPU only: replay the step as one CUDA graph after warm-up
  int64_t cuda_graph_warmup = 3;  // eager steps of one shape before the capture
  int64_t log_every = 20;        // steps between progress lines within an epoch
  int64_t checkpoint_every = 200;  // steps
  int64_t keep_checkpoints = 3;
  int64_t max_steps = 0;         // stop after this many steps (0: run all epochs); for tests
  // kNN monitor
  double knn_every = 1;          // epochs; 0: only at the end
  int64_t knn_k = 200;
  double knn_t = 0.1;
  int64_t knn_bank_size = 10000;  // training images in the feature bank (0: all)
  int64_t knn_test_size = 2000;   // test images scored (0: all)
  // gradient diagnostics
  int64_t diag_every = 0;        // steps; 0: off

  nlohmann::json to_json() const;
};

// One key of the configuration, for `slimssl config keys`: generated from the same definitions
// the parser and validator use (config.cpp), so the list cannot drift from what is accepted.
struct ConfigKey {
  std::string name, type;
  nlohmann::json default_value;
  std::string meaning;
  std::vector<std::string> choices;  // the allowed values of a string key; empty: any
};
std::vector<ConfigKey> config_keys();

// Parses and validates. `origin` names the source in messages (a file path).
TrainConfig config_from_json(const nlohmann::json& j, const std::string& origin);
TrainConfig load_config(const std::string& path, const std::vector<std::string>& overrides);
// Applies "key=value" (value parsed as JSON when it parses, else as a string).
void apply_override(nlohmann::json& j, const std::string& kv);
// Throws an Error naming the key for every impossible value.
void validate(const TrainConfig& c);

// Loss weight of each width: "size" = SlimCLR's rule (full: 1 + sum(w) - max(w); others 1),
// "uniform" = all 1, or the explicit list.
std::vector<double> resolve_loss_weights(const TrainConfig& c);

// The two training views of a run: its augmentation preset at its image size and channels, with
// the config's strength keys (crop_scale_min, jitter_strength) applied. Every command that makes
// training views (train, bench, eval's augmented features) takes them from here.
data::ViewPipelines training_views(const TrainConfig& c, const data::Normalization& norm);

}  // namespace slimssl::train
