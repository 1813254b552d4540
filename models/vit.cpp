#include "models/vit.h"
#include <cmath>
#include "engine/init.h"

namespace slimssl::models {

int64_t vit_heads_at(double width, int64_t num_heads) {
  return std::max<int64_t>(1, std::lround(width * static_cast<double>(num_heads)));
}

// ---------------- SlimQKV ----------------
SlimQKV::SlimQKV(Channels dims) : dims_(std::move(dims)) {
  full_ = *std::max_element(dims_.begin(), dims_.end());
  weight = register_parameter("weight", Tensor::zeros({3 * full_, full_}));
  bias = register_parameter("bias", Tensor::zeros({3 * full_}));
}

Tensor SlimQKV::weight_block(int which, int wi) const {
  check_width(wi, dims_.size(), "attn.qkv");
  return weight.narrow(0, which * full_, dims_[wi]).narrow(1, 0, dims_[wi]);
}

Tensor SlimQKV::bias_block(int which, int wi) const {
  check_width(wi, dims_.size(), "attn.qkv");
  return bias.narrow(0, which * full_, dims_[wi]);
}

std::array<Tensor, 3> SlimQKV::forward(const Tensor& x, int wi) const {
  check_width(wi, dims_.size(), "attn.qkv");
  SLIMSSL_CHECK(x.dim() >= 1 && x.size(-1) == dims_[wi], "attn.qkv ", weight.name(), ": input ",
                shape_str(x.shape()), " at width index ", wi, " should have ", dims_[wi], " features");
  MacCounter::add(rows_of(x) * 3 * dims_[wi] * dims_[wi]);
  return {linear(x, weight_block(0, wi), bias_block(0, wi)), linear(x, weight_block(1, wi), bias_block(1, wi)),
          linear(x, weight_block(2, wi), bias_block(2, wi))};
}

int64_t SlimQKV::parameters_at(int wi) const {
  check_width(wi, dims_.size(), "attn.qkv");
  return 3 * dims_[wi] * dims_[wi] + 3 * dims_[wi];
}

void SlimQKV::export_state(int wi, const std::string& prefix, NamedTensors& out) const {
  out.emplace_back(prefix + "weight",
                   concat({weight_block(0, wi), weight_block(1, wi), weight_block(2, wi)}, 0).detach());
  out.emplace_back(prefix + "bias", concat({bias_block(0, wi), bias_block(1, wi), bias_block(2, wi)}, 0).detach());
}

namespace {

class Attention : public Layer {
 public:
  Attention(const Channels& dims, int64_t head_dim) : head_dim_(head_dim) {
    qkv_ = register_module("qkv", std::make_shared<SlimQKV>(dims));
    proj_ = register_module("proj", std::make_shared<SlimLinear>(dims, dims, true));
  }
  Tensor forward(const Tensor& x, int wi) override {
    const int64_t n = x.size(0), t = x.size(1), d = x.size(2), h = d / head_dim_;
    auto [q, k, v] = qkv_->forward(x, wi);
    auto heads = [&](const Tensor& a) { return a.reshape({n, t, h, head_dim_}).permute({0, 2, 1, 3}); };
    // softmax(q k^T / sqrt(head_dim)) v per head: [N, h, T, T] then [N, h, T, head_dim].
    Tensor attn = softmax(mul(matmul(heads(q), heads(k).transpose(-2, -1)), 1.0 / std::sqrt(double(head_dim_))), -1);
    Tensor o = matmul(attn, heads(v)).permute({0, 2, 1, 3}).reshape({n, t, d});
    MacCounter::add(n * 2 * h * t * t * head_dim_);  // q @ k^T and attn @ v
    return proj_->forward(o, wi);
  }

 private:
  int64_t head_dim_;
  std::shared_ptr<SlimQKV> qkv_;
  std::shared_ptr<SlimLinear> proj_;
};

class Mlp : public Layer {
 public:
  Mlp(const Channels& dims, const Channels& hidden) {
    fc1_ = register_module("fc1", std::make_shared<SlimLinear>(dims, hidden, true));
    fc2_ = register_module("fc2", std::make_shared<SlimLinear>(hidden, dims, true));
  }
  Tensor forward(const Tensor& x, int wi) override { return fc2_->forward(gelu(fc1_->forward(x, wi)), wi); }

 private:
  std::shared_ptr<SlimLinear> fc1_, fc2_;
};

// Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)).
class Block : public Layer {
 public:
  Block(const Channels& dims, const Channels& hidden, int64_t head_dim) {
    norm1_ = register_module("norm1", std::make_shared<SwitchableLayerNorm>(dims, 1e-6));
    attn_ = register_module("attn", std::make_shared<Attention>(dims, head_dim));
    norm2_ = register_module("norm2", std::make_shared<SwitchableLayerNorm>(dims, 1e-6));
    mlp_ = register_module("mlp", std::make_shared<Mlp>(dims, hidden));
  }
  Tensor forward(const Tensor& x, int wi) override {
    Tensor h = add(x, attn_->forward(norm1_->forward(x, wi), wi));
    return add(h, mlp_->forward(norm2_->forward(h, wi), wi));
  }

 private:
  std::shared_ptr<SwitchableLayerNorm> norm1_, norm2_;
  std::shared_ptr<Attention> attn_;
  std::shared_ptr<Mlp> mlp_;
};

// timm's initialization (DeiT's version), for every module of the tree: Linear (and the fused qkv)
// trunc_normal(std .02) weights and zero biases, LayerNorm 1/0; the patch conv keeps PyTorch's
// default (weight and bias uniform +-1/sqrt(fan_in)). timm's trunc_normal_ bounds are absolute
// (+-2, i.e. 100 std), so the draw is a plain normal(0, .02); init::normal gives it without the
// inverse-CDF cost of init::trunc_normal.
void timm_init(const Module& m, uint64_t seed, uint64_t& stream) {
  auto normal_02 = [&](const Tensor& w, const Tensor& b) {
    init::normal(w, 0.0, 0.02, seed, stream++);
    if (b.defined()) init::zeros(b);
  };
  if (auto* c = dynamic_cast<const SlimConv2d*>(&m)) {
    double bound = 1.0 / std::sqrt(init::fans(c->weight.shape()).in);
    init::uniform(c->weight, -bound, bound, seed, stream++);
    if (c->bias.defined()) init::uniform(c->bias, -bound, bound, seed, stream++);
  } else if (auto* l = dynamic_cast<const SlimLinear*>(&m)) {
    normal_02(l->weight, l->bias);
  } else if (auto* q = dynamic_cast<const SlimQKV*>(&m)) {
    normal_02(q->weight, q->bias);
  } else if (auto* ln = dynamic_cast<const PerWidth<LayerNorm>*>(&m)) {
    // Every width's own norm (a single one is adopted, not registered as a child).
    for (size_t i = 0; i < ln->size(); ++i) init::ones(ln->at(i)->weight), init::zeros(ln->at(i)->bias);
    return;
  }
  for (auto& [name, child] : m.children()) timm_init(*child, seed, stream);
}

}  // namespace

// ---------------- VisionTransformer ----------------
VisionTransformer::VisionTransformer(const ViTConfig& cfg) : Backbone(cfg.widths), cfg_(cfg) {
  SLIMSSL_CHECK(cfg.num_heads > 0 && cfg.embed_dim % cfg.num_heads == 0, "vit: embed_dim ", cfg.embed_dim,
                " is not a multiple of num_heads ", cfg.num_heads);
  SLIMSSL_CHECK(cfg.patch_size > 0 && cfg.image_size % cfg.patch_size == 0, "vit: image size ", cfg.image_size,
                " is not a multiple of the patch size ", cfg.patch_size);
  const int64_t head_dim = cfg.embed_dim / cfg.num_heads;
  Channels hidden;
  for (double w : cfg.widths) {
    dims_.push_back(vit_heads_at(w, cfg.num_heads) * head_dim);
    hidden.push_back(dims_.back() * cfg.mlp_ratio);
  }
  const int64_t d = dims_[0];  // the widest width of the list (a plain narrow ViT stores only its own)
  cls_token = register_parameter("cls_token", Tensor::zeros({1, 1, d}));
  pos_embed = register_parameter("pos_embed", Tensor::zeros({1, num_tokens(), d}));
  patch_proj_ = register_module(
      "patch_embed.proj", std::make_shared<SlimConv2d>(fixed_channels(3, cfg.widths.size()), dims_,
                                                       ConvSpec{cfg.patch_size, cfg.patch_size, 0, 1, false, true}));
  blocks_ = register_module("blocks", std::make_shared<Sequential>());
  for (int64_t i = 0; i < cfg.depth; ++i) blocks_->add(std::make_shared<Block>(dims_, hidden, head_dim));
  norm_ = register_module("norm", std::make_shared<SwitchableLayerNorm>(dims_, 1e-6));
  reset_parameters(0);
}

int64_t VisionTransformer::num_tokens() const {
  int64_t g = cfg_.image_size / cfg_.patch_size;
  return g * g + 1;
}

Tensor VisionTransformer::forward(const Tensor& x, int wi) {
  check_width(wi, num_widths(), "vit");
  SLIMSSL_CHECK(x.dim() == 4 && x.size(2) == cfg_.image_size && x.size(3) == cfg_.image_size, "vit: input ",
                shape_str(x.shape()), " does not match the ", cfg_.image_size, " px the position embedding is for");
  const int64_t n = x.size(0), d = dims_[wi];
  Tensor h = patch_proj_->forward(x, wi).flatten(2).transpose(1, 2);  // [N, patches, d]
  Tensor cls = cls_token.narrow(2, 0, d).expand({n, 1, d});
  h = add(concat({cls, h}, 1), pos_embed.narrow(2, 0, d));
  h = norm_->forward(blocks_->forward(h, wi), wi);
  return h.select(1, 0);
}

void VisionTransformer::export_state(int wi, const std::string& prefix, NamedTensors& out) const {
  check_width(wi, num_widths(), "vit");
  const int64_t d = dims_[wi];
  out.emplace_back(prefix + "cls_token", cls_token.detach().narrow(2, 0, d).clone());
  out.emplace_back(prefix + "pos_embed", pos_embed.detach().narrow(2, 0, d).clone());
  for (auto& [n, c] : children()) c->export_state(wi, prefix + n + ".", out);
}

int64_t VisionTransformer::parameters_at(int wi) const {
  check_width(wi, num_widths(), "vit");
  // The base counts cls_token and pos_embed whole; the sub-network uses their first d channels.
  return Module::parameters_at(wi) - cls_token.numel() - pos_embed.numel() + dims_[wi] * (1 + num_tokens());
}

void VisionTransformer::reset_parameters(uint64_t seed) {
  NoGradGuard ng;
  uint64_t stream = 0;
  init::normal(cls_token, 0.0, 0.02, seed, stream++);  // timm: trunc_normal(std .02), bounds +-2
  init::normal(pos_embed, 0.0, 0.02, seed, stream++);
  timm_init(*this, seed, stream);
}

}  // namespace slimssl::models
