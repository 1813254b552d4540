#include "models/mobilenetv3.h"
#include "models/init_weights.h"

namespace slimssl::models {

ConvBNAct::ConvBNAct(const Channels& in, const Channels& out, ConvSpec spec, ActKind act, double bn_momentum,
                     double bn_eps) {
  spec.bias = false;  // the BatchNorm's shift makes a conv bias redundant
  add(std::make_shared<SlimConv2d>(in, out, spec));
  add(std::make_shared<SwitchableBatchNorm>(out, true, bn_momentum, bn_eps));
  if (act != ActKind::Identity) add(std::make_shared<Activation>(act));
}

SqueezeExcite::SqueezeExcite(const Channels& channels, const Channels& squeeze, ActKind act, ActKind scale_act)
    : act_(act), scale_act_(scale_act) {
  fc1_ = register_module("fc1", std::make_shared<SlimConv2d>(channels, squeeze, ConvSpec{1, 1, 0, 1, false, true}));
  fc2_ = register_module("fc2", std::make_shared<SlimConv2d>(squeeze, channels, ConvSpec{1, 1, 0, 1, false, true}));
}

Tensor SqueezeExcite::forward(const Tensor& x, int wi) {
  Tensor s = adaptive_avg_pool2d(x, 1, 1);
  s = activate(fc2_->forward(activate(fc1_->forward(s, wi), act_), wi), scale_act_);
  return mul(x, s);  // [N, C, H, W] * [N, C, 1, 1]
}

namespace {

// One row of torchvision's inverted_residual_setting, at width 1.0.
struct BneckSpec {
  int64_t in, kernel, expanded, out;
  bool se, hardswish;
  int64_t stride;
};

// torchvision's InvertedResidual: [expand 1x1] -> depthwise kxk -> [SE] -> project 1x1, all under
// "block", with a residual connection when the shape is kept.
class InvertedResidual : public Layer {
 public:
  InvertedResidual(const BneckSpec& b, const std::vector<double>& w) {
    Channels in = scale_channels_divisible(b.in, w), exp = scale_channels_divisible(b.expanded, w),
             out = scale_channels_divisible(b.out, w);
    ActKind act = b.hardswish ? ActKind::HardSwish : ActKind::ReLU;
    const double mom = 0.01, eps = 1e-3;  // torchvision's norm_layer for MobileNetV3
    block_ = register_module("block", std::make_shared<Sequential>());
    // The layer list is decided at width 1.0 so the names are the same at every width.
    if (b.expanded != b.in) block_->add(std::make_shared<ConvBNAct>(in, exp, ConvSpec{1, 1}, act, mom, eps));
    block_->add(std::make_shared<ConvBNAct>(exp, exp, ConvSpec{b.kernel, b.stride, -1, 1, true}, act, mom, eps));
    if (b.se) {
      Channels squeeze;
      for (int64_t e : exp) squeeze.push_back(make_divisible(static_cast<double>(e / 4), 8));
      block_->add(std::make_shared<SqueezeExcite>(exp, squeeze, ActKind::ReLU, ActKind::HardSigmoid));
    }
    block_->add(std::make_shared<ConvBNAct>(exp, out, ConvSpec{1, 1}, ActKind::Identity, mom, eps));
    residual_ = b.stride == 1 && b.in == b.out;
  }
  Tensor forward(const Tensor& x, int wi) override {
    Tensor h = block_->forward(x, wi);
    return residual_ ? add(h, x) : h;
  }

 private:
  std::shared_ptr<Sequential> block_;
  bool residual_ = false;
};

const std::vector<BneckSpec>& large_setting() {
  static const std::vector<BneckSpec> s = {
      {16, 3, 16, 16, false, false, 1},   {16, 3, 64, 24, false, false, 2},   {24, 3, 72, 24, false, false, 1},
      {24, 5, 72, 40, true, false, 2},    {40, 5, 120, 40, true, false, 1},   {40, 5, 120, 40, true, false, 1},
      {40, 3, 240, 80, false, true, 2},   {80, 3, 200, 80, false, true, 1},   {80, 3, 184, 80, false, true, 1},
      {80, 3, 184, 80, false, true, 1},   {80, 3, 480, 112, true, true, 1},   {112, 3, 672, 112, true, true, 1},
      {112, 5, 672, 160, true, true, 2},  {160, 5, 960, 160, true, true, 1},  {160, 5, 960, 160, true, true, 1},
  };
  return s;
}

const std::vector<BneckSpec>& small_setting() {
  static const std::vector<BneckSpec> s = {
      {16, 3, 16, 16, true, false, 2},  {16, 3, 72, 24, false, false, 2}, {24, 3, 88, 24, false, false, 1},
      {24, 5, 96, 40, true, true, 2},   {40, 5, 240, 40, true, true, 1},  {40, 5, 240, 40, true, true, 1},
      {40, 5, 120, 48, true, true, 1},  {48, 5, 144, 48, true, true, 1},  {48, 5, 288, 96, true, true, 2},
      {96, 5, 576, 96, true, true, 1},  {96, 5, 576, 96, true, true, 1},
  };
  return s;
}

}  // namespace

MobileNetV3::MobileNetV3(const MobileNetV3Config& cfg) : Backbone(cfg.widths), cfg_(cfg) {
  const auto& w = cfg.widths;
  const auto& setting = cfg.large ? large_setting() : small_setting();
  features_ = register_module("features", std::make_shared<Sequential>());
  // Stem: the input keeps its three channels at every width.
  features_->add(std::make_shared<ConvBNAct>(fixed_channels(3, w.size()), scale_channels_divisible(16, w),
                                             ConvSpec{3, 2}, ActKind::HardSwish, 0.01, 1e-3));
  for (auto& b : setting) features_->add(std::make_shared<InvertedResidual>(b, w));
  Channels last_in = scale_channels_divisible(setting.back().out, w), last_out;
  for (int64_t c : last_in) last_out.push_back(6 * c);  // torchvision: 6 * the last block's output
  features_->add(std::make_shared<ConvBNAct>(last_in, last_out, ConvSpec{1, 1}, ActKind::HardSwish, 0.01, 1e-3));
  feature_dims_ = scale_channels_divisible(cfg.large ? 1280 : 1024, w);
  pre_classifier_ = register_module("classifier.0", std::make_shared<SlimLinear>(last_out, feature_dims_, true));
  reset_parameters(0);
}

Tensor MobileNetV3::forward(const Tensor& x, int wi) {
  check_width(wi, num_widths(), "mobilenetv3");
  Tensor h = adaptive_avg_pool2d(features_->forward(x, wi), 1, 1).flatten(1);
  return hardswish(pre_classifier_->forward(h, wi));
}

void MobileNetV3::reset_parameters(uint64_t seed) {
  // torchvision: kaiming_normal_(fan_out) convs (SE convs included) with zero bias, BN 1/0,
  // Linear normal(0, 0.01) with zero bias.
  init_module(*this, seed, InitScheme{ConvInit::KaimingNormalFanOut, LinearInit::Normal001});
}

}  // namespace slimssl::models
