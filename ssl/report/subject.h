// A checkpoint opened for evaluation: the trained query encoder and its config, the data set it
// was trained on (both splits), the eval transform and the training augmentation, and feature
// extraction through the run directory's feature cache (RUN_DIR/features/).
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "ssl/data/augment_presets.h"
#include "ssl/data/dataset.h"
#include "ssl/data/subset.h"
#include "ssl/eval/feature_cache.h"
#include "ssl/report/run_files.h"
#include "ssl/train/checkpoint.h"
#include "ssl/util/progress.h"

namespace slimssl::report {

// Progress lines ("width 0.50: train features (eval): 2048/10000 images ..."); may be empty.
using Log = util::LineSink;

struct EvalSubject {
  RunLocation where;
  train::LoadedEncoder loaded;
  data::Dataset train, test;
  data::AugmentPipeline eval_transform;  // resize + centre crop + normalize: the kNN monitor's
  data::ViewPipelines train_views;       // the run's training augmentation (config.augment)
  std::string fingerprint;               // hash of the encoder's parameters and buffers (hex)

  const train::TrainConfig& config() const { return loaded.config; }
  train::Encoder& encoder() const { return *loaded.encoder; }
  const std::vector<double>& widths() const { return loaded.config.widths; }
  int64_t num_classes() const;
  const data::Dataset& split(const std::string& name) const;  // "train" or "test"
};

// `data_override` replaces the config's data source (a data set that moved since training).
EvalSubject open_subject(const std::string& run_or_checkpoint, const std::string& data_override = "");

// Pooled backbone features (float32 [N, D]) of rendered images [N, C, S, S] at width index wi:
// backbone in eval mode, no gradients, `batch` images at a time.
Tensor encode_images(train::Encoder& enc, const Tensor& images, int wi, int64_t batch = 256);
// Renders ds[indices] through `p` (view `view` of epoch 0 under augmentation seed `seed`) in
// batches and encodes them; never holds more than one batch of images. With a log, a progress
// line (rate, ETA) headed `what` every few seconds and at the end.
Tensor extract_features(train::Encoder& enc, const data::Dataset& ds, const std::vector<int64_t>& indices,
                        const data::AugmentPipeline& p, uint64_t seed, uint32_t view, int wi, int64_t batch = 256,
                        const Log& log = {}, const std::string& what = "features");

enum class Transform { Eval, TrainAugment };
const char* transform_name(Transform t);  // "eval", "augment"

struct SplitFeatures {
  eval::FeatureFile file;
  std::string path;       // the cache file
  bool computed = false;  // false: read from the cache
  double seconds = 0;     // time taken, extraction included
  std::string summary() const;  // "computed in 3.1 s, cached in PATH" or "read from PATH"
};
// Every image of a split at width index wi, through the cache file
// RUN_DIR/features/<checkpoint>_<split>_<transform>_w<width>.safetensors. The cache key holds the
// encoder's fingerprint, the data source, split, transform (and its seed), width and image count,
// so a retrained checkpoint or a different data set never reuses stale features.
SplitFeatures split_features(const EvalSubject& s, const std::string& split, Transform t, int wi,
                             const Log& log = {});

// Features and labels of a split at width index wi: the whole split through the cache when
// count <= 0 or covers it, else a seeded subset (seeded_subset with `purpose`) extracted directly
// (cheap to recompute; it would only pollute the cache). Logs where the features came from.
std::pair<Tensor, Tensor> split_or_subset(const EvalSubject& s, const std::string& split, Transform t, int64_t count,
                                          uint64_t seed, uint32_t purpose, int wi, const Log& log = {});

using data::seeded_subset;  // ssl/data/subset.h

}  // namespace slimssl::report
