// Projection heads and predictors (MLPs over the backbone features), slimmable like the backbone:
// hidden layers are slimmed, the output size is the same at every width so all widths contrast in
// one embedding space. Layers are named like the nn.Sequential of the reference code ("0", "1"...).
#pragma once
#include "models/backbone.h"

namespace slimssl::models {

enum class HeadKind {
  Simple,     // MoCo v2: d -> d -> out (bias, ReLU, no BN)
  Wide,       // small-model recipe: d -> 2d -> out
  Deep,       // d -> d -> d -> out
  MocoV3,     // d -> hidden(4096) -> BN -> ReLU -> out(256) -> BN(no affine); no biases
  Predictor,  // MoCo v3 predictor: out -> hidden -> BN -> ReLU -> out; no biases
};
HeadKind parse_head_kind(const std::string& name);  // "simple", "wide", "deep", "mocov3", "predictor"
const char* head_kind_name(HeadKind k);

struct HeadConfig {
  HeadKind kind = HeadKind::Simple;
  int64_t out_dim = 128;
  int64_t hidden_dim = 0;  // MocoV3 / Predictor hidden size at full width (0: 4096)
};

class ProjectionHead : public Layer {
 public:
  // `in` is the feature size per width (the backbone's feature_dims()).
  ProjectionHead(const Channels& in, const std::vector<double>& widths, const HeadConfig& cfg);
  Tensor forward(const Tensor& x, int wi) override;
  int64_t out_dim() const { return cfg_.out_dim; }
  void reset_parameters(uint64_t seed);

 private:
  HeadConfig cfg_;
  std::shared_ptr<Sequential> layers_;
};

}  // namespace slimssl::models
