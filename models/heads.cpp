#include "models/heads.h"
#include "models/init_weights.h"

namespace slimssl::models {

HeadKind parse_head_kind(const std::string& n) {
  if (n == "simple") return HeadKind::Simple;
  if (n == "wide") return HeadKind::Wide;
  if (n == "deep") return HeadKind::Deep;
  if (n == "mocov3") return HeadKind::MocoV3;
  if (n == "predictor") return HeadKind::Predictor;
  fail("head: unknown head type '", n, "' (expected simple, wide, deep, mocov3 or predictor)");
}

const char* head_kind_name(HeadKind k) {
  switch (k) {
    case HeadKind::Simple: return "simple";
    case HeadKind::Wide: return "wide";
    case HeadKind::Deep: return "deep";
    case HeadKind::MocoV3: return "mocov3";
    case HeadKind::Predictor: return "predictor";
  }
  return "?";
}

namespace {
Channels times(const Channels& c, int64_t k) {
  Channels out = c;
  for (auto& v : out) v *= k;
  return out;
}
}  // namespace

ProjectionHead::ProjectionHead(const Channels& in, const std::vector<double>& widths, const HeadConfig& cfg)
    : cfg_(cfg) {
  SLIMSSL_CHECK(cfg.out_dim > 0, "head: out_dim must be positive, got ", cfg.out_dim);
  SLIMSSL_CHECK(in.size() == widths.size(), "head: ", in.size(), " feature sizes for ", widths.size(), " widths");
  layers_ = register_module("layers", std::make_shared<Sequential>());
  Channels out = fixed_channels(cfg.out_dim, widths.size());
  auto relu_layer = [] { return std::make_shared<Activation>(ActKind::ReLU); };
  switch (cfg.kind) {
    case HeadKind::Simple:
    case HeadKind::Wide:
    case HeadKind::Deep: {
      Channels hidden = cfg.kind == HeadKind::Wide ? times(in, 2) : in;
      layers_->add(std::make_shared<SlimLinear>(in, hidden, true));
      layers_->add(relu_layer());
      if (cfg.kind == HeadKind::Deep) {
        layers_->add(std::make_shared<SlimLinear>(hidden, hidden, true));
        layers_->add(relu_layer());
      }
      layers_->add(std::make_shared<SlimLinear>(hidden, out, true));
      break;
    }
    case HeadKind::MocoV3:
    case HeadKind::Predictor: {
      Channels hidden = scale_channels(cfg.hidden_dim > 0 ? cfg.hidden_dim : 4096, widths);
      Channels first_in = cfg.kind == HeadKind::Predictor ? out : in;
      layers_->add(std::make_shared<SlimLinear>(first_in, hidden, false));
      layers_->add(std::make_shared<SwitchableBatchNorm>(hidden));
      layers_->add(relu_layer());
      layers_->add(std::make_shared<SlimLinear>(hidden, out, false));
      if (cfg.kind == HeadKind::MocoV3) layers_->add(std::make_shared<SwitchableBatchNorm>(out, false));
      break;
    }
  }
  reset_parameters(0);
}

Tensor ProjectionHead::forward(const Tensor& x, int wi) { return layers_->forward(x, wi); }

void ProjectionHead::reset_parameters(uint64_t seed) {
  init_module(*this, seed, InitScheme{ConvInit::KaimingNormalFanOut, LinearInit::KaimingUniformFanIn});
}

}  // namespace slimssl::models
