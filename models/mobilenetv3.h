// Slimmable MobileNetV3-Large / -Small (Howard et al. 2019), laid out and named exactly as
// torchvision.models.mobilenet_v3_{large,small}: "features.N..." then "classifier.0" (a Linear).
//
// Width rule: the sub-network at width w is torchvision's model built with width_mult = w, i.e.
// every channel count is make_divisible(w * C, 8) (so the SE squeeze sizes and the 1280/1024-d
// last stage shrink too), and it reads the first channels of the full-size weights.
//
// The pooled feature includes torchvision's classifier.0 Linear (960 -> 1280 / 576 -> 1024) and
// its hardswish, as the small-model study uses it; torchvision's dropout (classifier.2) is left to
// whoever trains a classifier, and the classifier proper is "classifier.3".
//
// The Conv-BN-activation and squeeze-excitation blocks here are shared with EfficientNet.
#pragma once
#include "models/backbone.h"

namespace slimssl::models {

// torchvision's Conv2dNormActivation: "0" conv (no bias), "1" BatchNorm, "2" activation.
class ConvBNAct : public Sequential {
 public:
  ConvBNAct(const Channels& in, const Channels& out, ConvSpec spec, ActKind act, double bn_momentum = 0.1,
            double bn_eps = 1e-5);
};

// torchvision's SqueezeExcitation: global average pool, fc1 (1x1 conv with bias), activation,
// fc2, scale activation, channel-wise product with the input.
class SqueezeExcite : public Layer {
 public:
  SqueezeExcite(const Channels& channels, const Channels& squeeze, ActKind act, ActKind scale_act);
  Tensor forward(const Tensor& x, int wi) override;

 private:
  std::shared_ptr<SlimConv2d> fc1_, fc2_;
  ActKind act_, scale_act_;
};

struct MobileNetV3Config {
  bool large = true;
  std::vector<double> widths = {1.0};
};

class MobileNetV3 : public Backbone {
 public:
  explicit MobileNetV3(const MobileNetV3Config& cfg);
  Tensor forward(const Tensor& x, int wi) override;
  int64_t feature_dim(int wi) const override { return feature_dims_.at(wi); }
  std::string classifier_name() const override { return "classifier.3"; }
  int64_t default_resolution() const override { return 224; }
  void reset_parameters(uint64_t seed) override;

 private:
  MobileNetV3Config cfg_;
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<SlimLinear> pre_classifier_;  // torchvision's classifier.0
  Channels feature_dims_;
};

}  // namespace slimssl::models
