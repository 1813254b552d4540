// Slimmable building blocks. A slimmable layer keeps ONE full-size weight; width index wi uses the
// view of its first channels (`weight[:out[wi], :in[wi]]`), never a copy, so every width's gradient
// lands in the same full-size .grad. Normalization is NOT shared: switchable norms hold one set of
// affine parameters and running statistics per width.
//
// Channel counts per width are given explicitly (Channels: one count per width index, descending),
// because each architecture rounds differently (int(w*C) for ResNet, multiples of 8 for MobileNet).
#pragma once
#include "models/module.h"

namespace slimssl::models {

using Channels = std::vector<int64_t>;

// Checks a width index against a layer's list, naming the layer.
void check_width(int wi, size_t n, const char* layer);

// Channel counts of `c` at each width: floor(w*c) (ResNet/SlimCLR rule) or rounded to a multiple
// of `divisor` (MobileNet/EfficientNet rule, never below 90% of w*c).
Channels scale_channels(int64_t c, const std::vector<double>& widths);
Channels scale_channels_divisible(int64_t c, const std::vector<double>& widths, int64_t divisor = 8);
Channels fixed_channels(int64_t c, size_t n_widths);
int64_t make_divisible(double v, int64_t divisor = 8);

struct ConvSpec {
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t pad = -1;  // -1: "same" padding, dilation * (kernel - 1) / 2
  int64_t dilation = 1;
  bool depthwise = false;  // groups = channels; input and output are sliced together
  bool bias = false;
};

class SlimConv2d : public Layer {
 public:
  SlimConv2d(Channels in, Channels out, ConvSpec spec);
  Tensor forward(const Tensor& x, int wi) override;
  int64_t parameters_at(int wi) const override;
  void export_state(int wi, const std::string& prefix, NamedTensors& out) const override;
  Tensor weight_at(int wi) const;  // the zero-copy slice width wi uses
  Tensor weight, bias;
  const Channels& in_channels() const { return in_; }
  const Channels& out_channels() const { return out_; }
  const ConvSpec& spec() const { return spec_; }

 private:
  Channels in_, out_;
  ConvSpec spec_;
};

class SlimLinear : public Layer {
 public:
  SlimLinear(Channels in, Channels out, bool bias = true);
  Tensor forward(const Tensor& x, int wi) override;
  int64_t parameters_at(int wi) const override;
  void export_state(int wi, const std::string& prefix, NamedTensors& out) const override;
  Tensor weight_at(int wi) const;
  Tensor weight, bias;
  const Channels& in_channels() const { return in_; }
  const Channels& out_channels() const { return out_; }

 private:
  Channels in_, out_;
};

// One BatchNorm (1d or 2d by input rank), with PyTorch's buffers.
class BatchNorm : public Layer {
 public:
  explicit BatchNorm(int64_t channels, bool affine = true, double momentum = 0.1, double eps = 1e-5);
  Tensor forward(const Tensor& x, int wi) override;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  int64_t channels() const { return channels_; }

 private:
  int64_t channels_;
  double momentum_, eps_;
};

class LayerNorm : public Layer {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-6);
  Tensor forward(const Tensor& x, int wi) override;
  Tensor weight, bias;

 private:
  double eps_;
};

class Linear : public Layer {
 public:
  Linear(int64_t in, int64_t out, bool bias = true);
  Tensor forward(const Tensor& x, int wi) override;
  Tensor weight, bias;
};

// A separate norm / linear per width. With a single width the one instance's tensors are
// registered directly (plain names: "weight", "running_mean"...), so plain networks keep
// torchvision's names; with several, they are named "<i>.weight" and so on.
template <class Norm>
class PerWidth : public Layer {
 public:
  template <class Make>
  PerWidth(size_t n_widths, Make make);
  Tensor forward(const Tensor& x, int wi) override;
  int64_t parameters_at(int wi) const override;
  void export_state(int wi, const std::string& prefix, NamedTensors& out) const override {
    check_width(wi, items_.size(), "switchable layer");
    items_[wi]->export_state(0, prefix, out);
  }
  const std::shared_ptr<Norm>& at(int wi) const { return items_.at(wi); }
  size_t size() const { return items_.size(); }

 private:
  std::vector<std::shared_ptr<Norm>> items_;
};

class SwitchableBatchNorm : public PerWidth<BatchNorm> {
 public:
  // momentum / eps as BatchNorm (MobileNetV3 uses 0.01 / 1e-3, as torchvision does).
  explicit SwitchableBatchNorm(const Channels& c, bool affine = true, double momentum = 0.1, double eps = 1e-5);
};

class SwitchableLayerNorm : public PerWidth<LayerNorm> {
 public:
  explicit SwitchableLayerNorm(const Channels& c, double eps = 1e-6);
};

// The switchable linear probe: an independent classifier per width.
class SwitchableLinear : public PerWidth<Linear> {
 public:
  SwitchableLinear(const Channels& in, int64_t out, bool bias = true);
};

enum class ActKind { Identity, ReLU, ReLU6, HardSwish, HardSigmoid, SiLU, GELU, Sigmoid };
Tensor activate(const Tensor& x, ActKind kind);

class Activation : public Layer {
 public:
  explicit Activation(ActKind kind) : kind_(kind) {}
  Tensor forward(const Tensor& x, int) override { return activate(x, kind_); }

 private:
  ActKind kind_;
};

// Rows a linear layer processes in the whole batch (every token of every sample).
int64_t rows_of(const Tensor& x);

// ---- template definitions ----
template <class Norm>
template <class Make>
PerWidth<Norm>::PerWidth(size_t n, Make make) {
  for (size_t i = 0; i < n; ++i) items_.push_back(make(i));
  if (n == 1) {
    for (auto& [name, t] : items_[0]->named_parameters()) register_parameter(name, t);
    for (auto& [name, t] : items_[0]->named_buffers()) register_buffer(name, t);
  } else {
    for (size_t i = 0; i < n; ++i) register_module(std::to_string(i), items_[i]);
  }
}

template <class Norm>
Tensor PerWidth<Norm>::forward(const Tensor& x, int wi) {
  check_width(wi, items_.size(), "switchable layer");
  items_[wi]->train(is_training());
  return items_[wi]->forward(x, 0);
}

template <class Norm>
int64_t PerWidth<Norm>::parameters_at(int wi) const {
  check_width(wi, items_.size(), "switchable layer");
  return items_[wi]->parameter_count();
}

}  // namespace slimssl::models
