// The model zoo: every backbone by name, each buildable at any width list.
#pragma once
#include <functional>
#include "models/backbone.h"

namespace slimssl::models {

struct ZooEntry {
  std::string name;         // e.g. "resnet18", "resnet18_cifar"
  std::string description;
  std::function<std::shared_ptr<Backbone>(const std::vector<double>& widths)> make;
};

const std::vector<ZooEntry>& zoo();
// Entries defined beside their architectures (MobileNetV3, EfficientNet, ViT): models/zoo_extra.cpp.
std::vector<ZooEntry> extra_zoo_entries();
std::vector<std::string> zoo_names();
// Throws an Error listing the known names when `name` is unknown.
std::shared_ptr<Backbone> create_backbone(const std::string& name, const std::vector<double>& widths = {1.0});

// A backbone followed by a slimmable classifier (features -> num_classes at every width), named
// like the torchvision/timm model so its state maps onto theirs.
class Classifier : public Layer {
 public:
  Classifier(std::shared_ptr<Backbone> backbone, int64_t num_classes);
  Tensor forward(const Tensor& x, int wi) override;
  const std::shared_ptr<Backbone>& backbone() const { return backbone_; }

 private:
  std::shared_ptr<Backbone> backbone_;
  std::shared_ptr<SlimLinear> fc_;
};

struct ModelCost {
  int64_t params = 0;  // parameters the width's sub-network uses
  int64_t macs = 0;    // multiply-accumulates of one image
};
// Counts by running the real modules on one image at `resolution` (no gradient).
ModelCost measure_cost(Layer& model, int wi, int64_t resolution, int64_t in_channels = 3);

}  // namespace slimssl::models
