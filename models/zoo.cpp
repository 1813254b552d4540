#include "models/zoo.h"
#include "models/resnet.h"

namespace slimssl::models {

const std::vector<ZooEntry>& zoo() {
  static const std::vector<ZooEntry> entries = [] {
    std::vector<ZooEntry> e;
    for (int depth : {18, 50})
      for (bool cifar : {false, true}) {
        std::string name = "resnet" + std::to_string(depth) + (cifar ? "_cifar" : "");
        std::string desc = "ResNet-" + std::to_string(depth) + (depth == 50 ? " v1.5" : "") +
                           (cifar ? ", CIFAR stem (3x3 conv, no max-pool)" : ", ImageNet stem");
        e.push_back({name, desc, [depth, cifar](const std::vector<double>& w) -> std::shared_ptr<Backbone> {
                       return std::make_shared<ResNet>(ResNetConfig{depth, 1, cifar, w});
                     }});
      }
    for (int64_t k : {1, 4}) {
      std::string name = k == 1 ? "resnet20_cifar" : "resnet20x4_cifar";
      e.push_back({name, "CIFAR ResNet-20 (3 stages x 3 basic blocks, " + std::to_string(16 * k) + "/" +
                             std::to_string(32 * k) + "/" + std::to_string(64 * k) + " channels)",
                   [k](const std::vector<double>& w) -> std::shared_ptr<Backbone> {
                     return std::make_shared<ResNet>(ResNetConfig{20, k, true, w});
                   }});
    }
    for (auto& extra : extra_zoo_entries()) e.push_back(extra);
    return e;
  }();
  return entries;
}

std::vector<std::string> zoo_names() {
  std::vector<std::string> names;
  for (auto& e : zoo()) names.push_back(e.name);
  return names;
}

std::shared_ptr<Backbone> create_backbone(const std::string& name, const std::vector<double>& widths) {
  for (auto& e : zoo())
    if (e.name == name) return e.make(widths);
  fail("model: unknown architecture '", name, "' (known: ", join_names(zoo_names()), ")");
}

Classifier::Classifier(std::shared_ptr<Backbone> backbone, int64_t num_classes) : backbone_(std::move(backbone)) {
  // The backbone's names stay unprefixed and the classifier takes its torchvision/timm name.
  register_module("", backbone_);
  Channels out = fixed_channels(num_classes, backbone_->num_widths());
  fc_ = std::make_shared<SlimLinear>(backbone_->feature_dims(), out, true);
  register_module(backbone_->classifier_name(), fc_);
}

Tensor Classifier::forward(const Tensor& x, int wi) { return fc_->forward(backbone_->forward(x, wi), wi); }

ModelCost measure_cost(Layer& model, int wi, int64_t resolution, int64_t in_channels) {
  ModelCost cost;
  cost.params = model.parameters_at(wi);
  NoGradGuard ng;
  bool was_training = model.is_training();
  model.eval();
  MacCounter counter;
  model.forward(Tensor::zeros({1, in_channels, resolution, resolution}), wi);
  cost.macs = counter.macs();
  model.train(was_training);
  return cost;
}

}  // namespace slimssl::models
