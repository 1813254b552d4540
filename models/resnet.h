// Slimmable ResNet-18 / ResNet-50 (v1.5: the stride sits on the 3x3 conv of a bottleneck), with the
// ImageNet stem (7x7/2 conv + 3x3/2 max-pool) or the CIFAR stem (3x3/1 conv, no pool). Names and
// shapes follow torchvision.models.resnet*. Channels at width w are int(w*C) (SlimCLR's rule).
// Also the CIFAR ResNet-20 family (three stages of 3 basic blocks, 16/32/64 channels times a
// multiplier; the SlimCLR code's CIFAR experiments use it at 4x), small enough for CPU runs.
#pragma once
#include "models/backbone.h"

namespace slimssl::models {

struct ResNetConfig {
  int depth = 18;  // 18, 50, or 20 (CIFAR ResNet-20; always the CIFAR stem)
  int64_t multiplier = 1;  // ResNet-20 only: channels 16k/32k/64k
  bool cifar_stem = false;
  std::vector<double> widths = {1.0};
};

class ResNet : public Backbone {
 public:
  explicit ResNet(const ResNetConfig& cfg);
  Tensor forward(const Tensor& x, int wi) override;
  int64_t feature_dim(int wi) const override { return feature_dims_.at(wi); }
  std::string classifier_name() const override { return "fc"; }
  int64_t default_resolution() const override { return cfg_.cifar_stem ? 32 : 224; }
  void reset_parameters(uint64_t seed) override;
  const ResNetConfig& config() const { return cfg_; }

 private:
  ResNetConfig cfg_;
  std::shared_ptr<SlimConv2d> conv1_;
  std::shared_ptr<SwitchableBatchNorm> bn1_;
  std::vector<std::shared_ptr<Sequential>> stages_;
  Channels feature_dims_;
};

}  // namespace slimssl::models
