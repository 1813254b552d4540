// What every backbone in the zoo provides: a width list (descending, 1.0 first for slimmable
// networks; {1.0} for a plain network) and a forward pass that returns the pooled feature vector
// [N, feature_dim(wi)] at width index wi.
#pragma once
#include "models/slim_layers.h"

namespace slimssl::models {

class Backbone : public Layer {
 public:
  explicit Backbone(std::vector<double> widths);
  const std::vector<double>& widths() const { return widths_; }
  size_t num_widths() const { return widths_.size(); }
  virtual int64_t feature_dim(int wi) const = 0;
  Channels feature_dims() const;
  // torchvision / timm name of the classifier that follows the features ("fc", "head", ...).
  virtual std::string classifier_name() const = 0;
  // The input resolution the architecture is defined at (224 for ImageNet stems, 32 for CIFAR).
  virtual int64_t default_resolution() const = 0;
  // Initializes every parameter as the reference implementation does, from `seed`.
  virtual void reset_parameters(uint64_t seed) = 0;

 private:
  std::vector<double> widths_;
};

// "0.50": how a width is written everywhere (metrics.jsonl and diag keys, tables, file names), so
// the writers and the readers of run files agree.
std::string width_label(double width);

// Checks a width list: non-empty, each in (0, 1], strictly descending.
void validate_widths(const std::vector<double>& widths);

}  // namespace slimssl::models
