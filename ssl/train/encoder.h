// An encoder: backbone -> projector (-> predictor for MoCo v3), slimmable over the run's widths.
// Tensor names: "backbone.*", "projector.*", "predictor.*".
#pragma once
#include "models/heads.h"
#include "ssl/train/config.h"

namespace slimssl::train {

class Encoder : public models::Layer {
 public:
  Encoder(const TrainConfig& c, bool with_predictor);
  // Projected embedding (not normalized) at width index wi.
  Tensor forward(const Tensor& x, int wi) override;
  // Pooled backbone features (what kNN and the linear probe use).
  Tensor features(const Tensor& x, int wi) { return backbone->forward(x, wi); }
  Tensor predict(const Tensor& z, int wi);
  // Copies every parameter and buffer from `other` (same architecture).
  void copy_from(const Encoder& other);
  // this = m * this + (1 - m) * other, parameters only (the key encoder's EMA).
  void ema_from(const Encoder& other, double m);
  // The same with the momentum m and 1 - m as float32 scalar tensors on the device (read there:
  // StepScalars), so the launches do not change when the momentum does.
  void ema_from(const Encoder& other, const Tensor& m, const Tensor& one_minus_m);

  std::shared_ptr<models::Backbone> backbone;
  std::shared_ptr<models::ProjectionHead> projector, predictor;
};

}  // namespace slimssl::train
