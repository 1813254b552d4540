// Slimmable Vision Transformer (DeiT-Tiny / ViT-Tiny: dim 192, depth 12, 3 heads of 64, MLP 768),
// named exactly as timm's VisionTransformer: patch_embed.proj, cls_token, pos_embed,
// blocks.N.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}, norm; the classifier is "head".
// Pre-norm blocks, LayerNorm eps 1e-6, GELU (erf), no dropout / drop-path (timm's defaults for
// DeiT-Tiny evaluation; the self-supervised recipes here use none).
//
// Width rule (slimming cuts the embedding width AND the number of heads, head dim fixed):
//   heads(w) = max(1, round(w * num_heads))   (round half away from zero)
//   dim(w)   = heads(w) * head_dim,   mlp(w) = mlp_ratio * dim(w)
// so dim(w) = heads(w) * head_dim always holds and every sub-network is itself a timm ViT
// (embed_dim = dim(w), num_heads = heads(w)). With 3 heads the widths 1.0/0.75/0.5/0.25 give
// 3/2/2/1 heads, i.e. dims 192/128/128/64: widths 0.75 and 0.5 share one sub-network's weights
// (each keeps its own LayerNorms).
//
// The pooled feature is the class token after the final norm.
#pragma once
#include <array>
#include "models/backbone.h"

namespace slimssl::models {

struct ViTConfig {
  int64_t image_size = 224;
  int64_t patch_size = 16;
  int64_t embed_dim = 192;
  int64_t depth = 12;
  int64_t num_heads = 3;
  int64_t mlp_ratio = 4;
  std::vector<double> widths = {1.0};
};

int64_t vit_heads_at(double width, int64_t num_heads);

// timm's fused attn.qkv Linear(dim, 3 * dim): rows [q | k | v], each block ordered head by head.
// At width index wi the first dim(wi) rows of EACH block (the first heads' q, k and v) and the
// first dim(wi) input columns are used, as three zero-copy views. (A plain slimmable linear slicing
// weight[:3 * dim(wi)] would wrongly take all of q and part of k.)
class SlimQKV : public Module {
 public:
  explicit SlimQKV(Channels dims);
  std::array<Tensor, 3> forward(const Tensor& x, int wi) const;  // q, k, v: [..., dim(wi)] each
  int64_t parameters_at(int wi) const override;
  // timm's layout at that width: [q; k; v] blocks of the first heads, concatenated.
  void export_state(int wi, const std::string& prefix, NamedTensors& out) const override;
  // The view of block `which` (0 q, 1 k, 2 v) that width wi uses: weight [dim, dim], bias [dim].
  Tensor weight_block(int which, int wi) const;
  Tensor bias_block(int which, int wi) const;
  const Channels& dims() const { return dims_; }
  Tensor weight, bias;

 private:
  Channels dims_;
  int64_t full_;
};

class VisionTransformer : public Backbone {
 public:
  explicit VisionTransformer(const ViTConfig& cfg);
  Tensor forward(const Tensor& x, int wi) override;
  int64_t feature_dim(int wi) const override { return dims_.at(wi); }
  std::string classifier_name() const override { return "head"; }
  int64_t default_resolution() const override { return cfg_.image_size; }
  void reset_parameters(uint64_t seed) override;
  int64_t parameters_at(int wi) const override;
  void export_state(int wi, const std::string& prefix, NamedTensors& out) const override;
  int64_t num_tokens() const;  // patches + the class token
  const ViTConfig& config() const { return cfg_; }
  Tensor cls_token, pos_embed;

 private:
  ViTConfig cfg_;
  Channels dims_;
  std::shared_ptr<SlimConv2d> patch_proj_;
  std::shared_ptr<Sequential> blocks_;
  std::shared_ptr<Layer> norm_;
};

}  // namespace slimssl::models
