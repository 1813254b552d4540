#include "models/resnet.h"
#include "models/init_weights.h"

namespace slimssl::models {
namespace {

// Residual blocks; `ds` is the projection shortcut (torchvision's "downsample": conv + bn).
class Shortcut : public Layer {
 public:
  Shortcut(const Channels& in, const Channels& out, int64_t stride) {
    conv_ = register_module("0", std::make_shared<SlimConv2d>(in, out, ConvSpec{1, stride, 0}));
    bn_ = register_module("1", std::make_shared<SwitchableBatchNorm>(out));
  }
  Tensor forward(const Tensor& x, int wi) override { return bn_->forward(conv_->forward(x, wi), wi); }

 private:
  std::shared_ptr<SlimConv2d> conv_;
  std::shared_ptr<SwitchableBatchNorm> bn_;
};

class BasicBlock : public Layer {
 public:
  BasicBlock(const Channels& in, const Channels& out, int64_t stride) {
    conv1_ = register_module("conv1", std::make_shared<SlimConv2d>(in, out, ConvSpec{3, stride}));
    bn1_ = register_module("bn1", std::make_shared<SwitchableBatchNorm>(out));
    conv2_ = register_module("conv2", std::make_shared<SlimConv2d>(out, out, ConvSpec{3, 1}));
    bn2_ = register_module("bn2", std::make_shared<SwitchableBatchNorm>(out));
    if (stride != 1 || in != out) ds_ = register_module("downsample", std::make_shared<Shortcut>(in, out, stride));
  }
  Tensor forward(const Tensor& x, int wi) override {
    Tensor h = relu(bn1_->forward(conv1_->forward(x, wi), wi));
    h = bn2_->forward(conv2_->forward(h, wi), wi);
    return relu(add(h, ds_ ? ds_->forward(x, wi) : x));
  }
  std::shared_ptr<SwitchableBatchNorm> last_bn() const { return bn2_; }

 private:
  std::shared_ptr<SlimConv2d> conv1_, conv2_;
  std::shared_ptr<SwitchableBatchNorm> bn1_, bn2_;
  std::shared_ptr<Shortcut> ds_;
};

class Bottleneck : public Layer {
 public:
  Bottleneck(const Channels& in, const Channels& mid, const Channels& out, int64_t stride) {
    conv1_ = register_module("conv1", std::make_shared<SlimConv2d>(in, mid, ConvSpec{1, 1}));
    bn1_ = register_module("bn1", std::make_shared<SwitchableBatchNorm>(mid));
    conv2_ = register_module("conv2", std::make_shared<SlimConv2d>(mid, mid, ConvSpec{3, stride}));
    bn2_ = register_module("bn2", std::make_shared<SwitchableBatchNorm>(mid));
    conv3_ = register_module("conv3", std::make_shared<SlimConv2d>(mid, out, ConvSpec{1, 1}));
    bn3_ = register_module("bn3", std::make_shared<SwitchableBatchNorm>(out));
    if (stride != 1 || in != out) ds_ = register_module("downsample", std::make_shared<Shortcut>(in, out, stride));
  }
  Tensor forward(const Tensor& x, int wi) override {
    Tensor h = relu(bn1_->forward(conv1_->forward(x, wi), wi));
    h = relu(bn2_->forward(conv2_->forward(h, wi), wi));
    h = bn3_->forward(conv3_->forward(h, wi), wi);
    return relu(add(h, ds_ ? ds_->forward(x, wi) : x));
  }
  std::shared_ptr<SwitchableBatchNorm> last_bn() const { return bn3_; }

 private:
  std::shared_ptr<SlimConv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<SwitchableBatchNorm> bn1_, bn2_, bn3_;
  std::shared_ptr<Shortcut> ds_;
};

}  // namespace

ResNet::ResNet(const ResNetConfig& cfg) : Backbone(cfg.widths), cfg_(cfg) {
  SLIMSSL_CHECK(cfg.depth == 18 || cfg.depth == 50 || cfg.depth == 20, "resnet: depth ", cfg.depth,
                " is not supported (18, 20 or 50)");
  SLIMSSL_CHECK(cfg.multiplier >= 1, "resnet: channel multiplier must be >= 1, got ", cfg.multiplier);
  if (cfg.depth == 20) cfg_.cifar_stem = true;
  const auto& w = cfg.widths;
  const bool r20 = cfg.depth == 20;
  Channels rgb = fixed_channels(3, w.size());  // the stem keeps all three input channels
  Channels stem = scale_channels(r20 ? 16 * cfg.multiplier : 64, w);
  conv1_ = register_module("conv1", std::make_shared<SlimConv2d>(
                                        rgb, stem, cfg_.cifar_stem ? ConvSpec{3, 1, 1} : ConvSpec{7, 2, 3}));
  bn1_ = register_module("bn1", std::make_shared<SwitchableBatchNorm>(stem));
  bool bottleneck = cfg.depth == 50;
  std::vector<int> blocks = bottleneck ? std::vector<int>{3, 4, 6, 3}
                            : r20      ? std::vector<int>{3, 3, 3}
                                       : std::vector<int>{2, 2, 2, 2};
  std::vector<int64_t> feats = {64, 128, 256, 512};
  if (r20) feats = {16 * cfg.multiplier, 32 * cfg.multiplier, 64 * cfg.multiplier};
  Channels in = stem;
  for (size_t s = 0; s < blocks.size(); ++s) {
    auto stage = std::make_shared<Sequential>();
    Channels mid = scale_channels(feats[s], w);
    Channels out = bottleneck ? scale_channels(feats[s] * 4, w) : mid;
    for (int b = 0; b < blocks[s]; ++b) {
      int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      if (bottleneck) stage->add(std::make_shared<Bottleneck>(in, mid, out, stride));
      else stage->add(std::make_shared<BasicBlock>(in, out, stride));
      in = out;
    }
    stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
  }
  feature_dims_ = in;
  reset_parameters(0);
}

Tensor ResNet::forward(const Tensor& x, int wi) {
  check_width(wi, num_widths(), "resnet");
  Tensor h = relu(bn1_->forward(conv1_->forward(x, wi), wi));
  if (!cfg_.cifar_stem) h = max_pool2d(h, 3, 2, 1);
  for (auto& s : stages_) h = s->forward(h, wi);
  return adaptive_avg_pool2d(h, 1, 1).flatten(1);
}

void ResNet::reset_parameters(uint64_t seed) {
  // torchvision: Kaiming normal (fan_out, relu) for convs; BN weight 1, bias 0. SlimCLR also
  // zeroes the last BN's gamma in every residual block so each block starts as the identity.
  init_module(*this, seed, InitScheme{ConvInit::KaimingNormalFanOut, LinearInit::Normal001});
  for (auto& s : stages_)
    for (size_t b = 0; b < s->size(); ++b) {
      std::shared_ptr<SwitchableBatchNorm> last;
      if (auto bb = std::dynamic_pointer_cast<BasicBlock>(s->at(b))) last = bb->last_bn();
      if (auto bn = std::dynamic_pointer_cast<Bottleneck>(s->at(b))) last = bn->last_bn();
      for (size_t i = 0; last && i < last->size(); ++i) last->at(i)->weight.detach().zero_();
    }
}

}  // namespace slimssl::models
