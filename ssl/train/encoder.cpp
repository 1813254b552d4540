#include "ssl/train/encoder.h"
#include <map>
#include "models/zoo.h"

namespace slimssl::train {

Encoder::Encoder(const TrainConfig& c, bool with_predictor) {
  backbone = register_module("backbone", models::create_backbone(c.model, c.widths));
  backbone->reset_parameters(c.seed);
  models::HeadConfig hc;
  hc.kind = models::parse_head_kind(c.head);
  hc.out_dim = c.head_dim;
  hc.hidden_dim = c.head_hidden;
  projector = register_module("projector", std::make_shared<models::ProjectionHead>(backbone->feature_dims(), c.widths, hc));
  projector->reset_parameters(c.seed + 1);
  if (with_predictor) {
    models::HeadConfig pc = hc;
    pc.kind = models::HeadKind::Predictor;
    predictor = register_module("predictor", std::make_shared<models::ProjectionHead>(backbone->feature_dims(), c.widths, pc));
    predictor->reset_parameters(c.seed + 2);
  }
}

Tensor Encoder::forward(const Tensor& x, int wi) { return projector->forward(backbone->forward(x, wi), wi); }

Tensor Encoder::predict(const Tensor& z, int wi) {
  SLIMSSL_CHECK(predictor != nullptr, "encoder: this encoder has no predictor");
  return predictor->forward(z, wi);
}

namespace {
// Pairs every tensor of `dst` with the same-named tensor of `src` (the key encoder has no
// predictor, so it is matched by name, not by position).
std::vector<std::pair<Tensor, Tensor>> match(const models::NamedTensors& dst, const models::NamedTensors& src) {
  std::map<std::string, Tensor> by_name(src.begin(), src.end());
  std::vector<std::pair<Tensor, Tensor>> out;
  for (auto& [name, t] : dst) {
    auto it = by_name.find(name);
    SLIMSSL_CHECK(it != by_name.end() && it->second.shape() == t.shape(), "encoder copy: tensor '", name,
                  "' has no counterpart of shape ", shape_str(t.shape()));
    out.emplace_back(t.detach(), it->second.detach());
  }
  return out;
}
}  // namespace

void Encoder::copy_from(const Encoder& other) {
  NoGradGuard ng;
  for (auto& [d, s] : match(named_parameters(), other.named_parameters())) d.copy_(s);
  for (auto& [d, s] : match(named_buffers(), other.named_buffers())) d.copy_(s);
}

void Encoder::ema_from(const Encoder& other, double m) {
  NoGradGuard ng;
  for (auto& [d, s] : match(named_parameters(), other.named_parameters())) d.mul_(m).add_(s, 1.0 - m);
}

void Encoder::ema_from(const Encoder& other, const Tensor& m, const Tensor& one_minus_m) {
  NoGradGuard ng;
  for (auto& [d, s] : match(named_parameters(), other.named_parameters())) d.copy_(add(mul(d, m), mul(s, one_minus_m)));
}

}  // namespace slimssl::train
