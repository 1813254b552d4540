// Architectures beyond ResNet register here.
#include "models/efficientnet.h"
#include "models/mobilenetv3.h"
#include "models/vit.h"
#include "models/zoo.h"

namespace slimssl::models {

std::vector<ZooEntry> extra_zoo_entries() {
  using W = const std::vector<double>&;
  std::vector<ZooEntry> e;
  e.push_back({"mobilenetv3_large", "MobileNetV3-Large (torchvision), 1280-d feature incl. classifier.0",
               [](W w) -> std::shared_ptr<Backbone> {
                 return std::make_shared<MobileNetV3>(MobileNetV3Config{true, w});
               }});
  e.push_back({"mobilenetv3_small", "MobileNetV3-Small (torchvision), 1024-d feature incl. classifier.0",
               [](W w) -> std::shared_ptr<Backbone> {
                 return std::make_shared<MobileNetV3>(MobileNetV3Config{false, w});
               }});
  e.push_back({"efficientnet_b0", "EfficientNet-B0 (torchvision), no stochastic depth",
               [](W w) -> std::shared_ptr<Backbone> { return std::make_shared<EfficientNet>(EfficientNetConfig{w}); }});
  e.push_back({"deit_tiny", "DeiT-Tiny / ViT-Tiny (timm), patch 16 at 224 px",
               [](W w) -> std::shared_ptr<Backbone> {
                 ViTConfig c;
                 c.widths = w;
                 return std::make_shared<VisionTransformer>(c);
               }});
  e.push_back({"deit_tiny_cifar", "DeiT-Tiny / ViT-Tiny (timm names), patch 4 at 32 px",
               [](W w) -> std::shared_ptr<Backbone> {
                 ViTConfig c;
                 c.image_size = 32;
                 c.patch_size = 4;
                 c.widths = w;
                 return std::make_shared<VisionTransformer>(c);
               }});
  return e;
}

}  // namespace slimssl::models
