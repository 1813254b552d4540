#include "models/efficientnet.h"
#include "models/init_weights.h"
#include "models/mobilenetv3.h"  // ConvBNAct, SqueezeExcite

namespace slimssl::models {
namespace {

// One stage of torchvision's B0 setting (width 1.0): expand ratio, kernel, first stride,
// input channels, output channels, number of blocks.
struct StageSpec {
  int64_t expand, kernel, stride, in, out, blocks;
};

const StageSpec kB0[] = {
    {1, 3, 1, 32, 16, 1},  {6, 3, 2, 16, 24, 2},  {6, 5, 2, 24, 40, 2},   {6, 3, 2, 40, 80, 3},
    {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4}, {6, 3, 1, 192, 320, 1},
};

// torchvision's MBConv: [expand 1x1] -> depthwise kxk -> SE -> project 1x1 under "block", SiLU
// activations, sigmoid gate, a residual connection when the shape is kept.
class MBConv : public Layer {
 public:
  MBConv(int64_t expand, int64_t kernel, int64_t stride, int64_t in_c, int64_t out_c, const std::vector<double>& w) {
    Channels in = scale_channels_divisible(in_c, w), out = scale_channels_divisible(out_c, w), exp, squeeze;
    for (int64_t c : in) {
      exp.push_back(make_divisible(static_cast<double>(c * expand), 8));
      squeeze.push_back(std::max<int64_t>(1, c / 4));
    }
    block_ = register_module("block", std::make_shared<Sequential>());
    if (expand != 1) block_->add(std::make_shared<ConvBNAct>(in, exp, ConvSpec{1, 1}, ActKind::SiLU));
    block_->add(std::make_shared<ConvBNAct>(exp, exp, ConvSpec{kernel, stride, -1, 1, true}, ActKind::SiLU));
    block_->add(std::make_shared<SqueezeExcite>(exp, squeeze, ActKind::SiLU, ActKind::Sigmoid));
    block_->add(std::make_shared<ConvBNAct>(exp, out, ConvSpec{1, 1}, ActKind::Identity));
    residual_ = stride == 1 && in_c == out_c;
  }
  Tensor forward(const Tensor& x, int wi) override {
    Tensor h = block_->forward(x, wi);
    return residual_ ? add(h, x) : h;  // stochastic depth omitted (see efficientnet.h)
  }

 private:
  std::shared_ptr<Sequential> block_;
  bool residual_ = false;
};

}  // namespace

EfficientNet::EfficientNet(const EfficientNetConfig& cfg) : Backbone(cfg.widths) {
  const auto& w = cfg.widths;
  features_ = register_module("features", std::make_shared<Sequential>());
  features_->add(std::make_shared<ConvBNAct>(fixed_channels(3, w.size()), scale_channels_divisible(32, w),
                                             ConvSpec{3, 2}, ActKind::SiLU));
  for (const StageSpec& s : kB0) {
    auto stage = std::make_shared<Sequential>();
    for (int64_t b = 0; b < s.blocks; ++b)
      stage->add(std::make_shared<MBConv>(s.expand, s.kernel, b == 0 ? s.stride : 1, b == 0 ? s.in : s.out, s.out, w));
    features_->add(stage);
  }
  Channels last_in = scale_channels_divisible(kB0[6].out, w);
  for (int64_t c : last_in) feature_dims_.push_back(4 * c);  // torchvision: 4 * the last stage's output
  features_->add(std::make_shared<ConvBNAct>(last_in, feature_dims_, ConvSpec{1, 1}, ActKind::SiLU));
  reset_parameters(0);
}

Tensor EfficientNet::forward(const Tensor& x, int wi) {
  check_width(wi, num_widths(), "efficientnet");
  return adaptive_avg_pool2d(features_->forward(x, wi), 1, 1).flatten(1);
}

void EfficientNet::reset_parameters(uint64_t seed) {
  // torchvision: kaiming_normal_(fan_out) convs with zero bias, BN 1/0. (Its Linear rule,
  // uniform +-1/sqrt(out_features), applies to the classifier, which is not part of the backbone.)
  init_module(*this, seed, InitScheme{ConvInit::KaimingNormalFanOut, LinearInit::Normal001});
}

}  // namespace slimssl::models
