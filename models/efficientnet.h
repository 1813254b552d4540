// Slimmable EfficientNet-B0 (Tan & Le 2019), laid out and named exactly as
// torchvision.models.efficientnet_b0: "features.0" stem, "features.1".."features.7" stages of MBConv
// blocks ("features.S.B.block.N..."), "features.8" the 1x1 conv to 1280; the classifier is
// "classifier.1" (torchvision's classifier.0 is a dropout, left to whoever trains a classifier).
//
// Width rule: the sub-network at width w is torchvision's builder with width_mult = w: block
// channels make_divisible(w * C, 8), expanded channels make_divisible(in_w * ratio, 8), SE squeeze
// max(1, in_w / 4), last conv 4 * out_w of the final stage (1280 at w = 1).
//
// Stochastic depth (torchvision's StochasticDepth, p rising to 0.2 over the blocks) is omitted:
// the self-supervised recipes studied here do not use it, and at eval time it is the identity, so
// names, shapes and inference outputs match torchvision's model.
#pragma once
#include "models/backbone.h"

namespace slimssl::models {

struct EfficientNetConfig {
  std::vector<double> widths = {1.0};
};

class EfficientNet : public Backbone {
 public:
  explicit EfficientNet(const EfficientNetConfig& cfg);
  Tensor forward(const Tensor& x, int wi) override;
  int64_t feature_dim(int wi) const override { return feature_dims_.at(wi); }
  std::string classifier_name() const override { return "classifier.1"; }
  int64_t default_resolution() const override { return 224; }
  void reset_parameters(uint64_t seed) override;

 private:
  std::shared_ptr<Sequential> features_;
  Channels feature_dims_;
};

}  // namespace slimssl::models
