// The kNN monitor of a training run: per-width weighted kNN top-1 on a seeded bank of training
// images and a seeded set of test images (the very images `slimssl eval knn RUN_DIR` takes by
// default, ssl/data/subset.h, so the two agree), and the baseline every number is read against:
// the same kNN on the raw pixels, after the normalization the network sees.
#pragma once
#include <cstdint>
#include <vector>
#include "ssl/data/augment.h"
#include "ssl/data/dataset.h"
#include "ssl/train/config.h"
#include "ssl/train/learner.h"

namespace slimssl::train {

class KnnMonitor {
 public:
  // Draws the bank and the test images from the full splits with the config's seed and sizes.
  KnnMonitor(const TrainConfig& c, const data::Dataset& full_train, const data::Dataset& full_test,
             data::AugmentPipeline eval);

  // Top-1 (%) of every width of the learner's query encoder (evaluated in eval mode, then put back
  // into training mode).
  std::vector<double> evaluate(Learner& learner) const;
  // Top-1 (%) of the same kNN on the eval-transformed pixels, flattened.
  double raw_pixels() const;

  int64_t bank_size() const { return bank_.size(); }
  int64_t test_size() const { return test_.size(); }

 private:
  double top1(const Tensor& bank_features, const Tensor& test_features) const;
  // The eval-transformed images of `ds` in batches, mapped by `f` and concatenated on the host.
  template <class F>
  Tensor map_images(const data::Dataset& ds, Device device, F&& f) const;

  const TrainConfig& cfg_;
  data::Dataset bank_, test_;
  data::AugmentPipeline eval_;
};

}  // namespace slimssl::train
