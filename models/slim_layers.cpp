#include "models/slim_layers.h"
#include <cmath>

namespace slimssl::models {

void check_width(int wi, size_t n, const char* layer) {
  SLIMSSL_CHECK(wi >= 0 && static_cast<size_t>(wi) < n, layer, ": width index ", wi,
                " out of range (the layer has ", n, " widths)");
}

// Rows a linear layer processes in the whole batch: N for [N, D], N * T for [N, T, D].
int64_t rows_of(const Tensor& x) {
  if (x.dim() <= 1) return 1;
  return x.numel() / std::max<int64_t>(1, x.size(-1));
}

Channels scale_channels(int64_t c, const std::vector<double>& widths) {
  Channels out;
  for (double w : widths) {
    SLIMSSL_CHECK(w > 0 && w <= 1, "width ", w, " outside (0, 1]");
    out.push_back(std::max<int64_t>(1, static_cast<int64_t>(w * c + 1e-9)));
  }
  return out;
}

int64_t make_divisible(double v, int64_t divisor) {
  int64_t r = std::max<int64_t>(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (r < 0.9 * v) r += divisor;  // never round down by more than 10%
  return r;
}

Channels scale_channels_divisible(int64_t c, const std::vector<double>& widths, int64_t divisor) {
  Channels out;
  for (double w : widths) {
    SLIMSSL_CHECK(w > 0 && w <= 1, "width ", w, " outside (0, 1]");
    out.push_back(make_divisible(w * c, divisor));
  }
  return out;
}

Channels fixed_channels(int64_t c, size_t n) { return Channels(n, c); }

// ---------------- SlimConv2d ----------------
SlimConv2d::SlimConv2d(Channels in, Channels out, ConvSpec spec)
    : in_(std::move(in)), out_(std::move(out)), spec_(spec) {
  SLIMSSL_CHECK(!in_.empty() && in_.size() == out_.size(), "SlimConv2d: ", in_.size(), " input widths but ",
                out_.size(), " output widths");
  if (spec_.pad < 0) spec_.pad = spec_.dilation * (spec_.kernel - 1) / 2;
  int64_t cin = *std::max_element(in_.begin(), in_.end());
  int64_t cout = *std::max_element(out_.begin(), out_.end());
  if (spec_.depthwise)
    for (size_t i = 0; i < in_.size(); ++i)
      SLIMSSL_CHECK(in_[i] == out_[i], "SlimConv2d: a depthwise conv needs equal in/out channels, width ", i,
                    " has ", in_[i], " and ", out_[i]);
  weight = register_parameter("weight", Tensor::zeros({cout, spec_.depthwise ? 1 : cin, spec_.kernel, spec_.kernel}));
  if (spec_.bias) bias = register_parameter("bias", Tensor::zeros({cout}));
}

Tensor SlimConv2d::weight_at(int wi) const {
  check_width(wi, in_.size(), "SlimConv2d");
  Tensor w = weight.narrow(0, 0, out_[wi]);
  return spec_.depthwise ? w : w.narrow(1, 0, in_[wi]);
}

Tensor SlimConv2d::forward(const Tensor& x, int wi) {
  check_width(wi, in_.size(), "SlimConv2d");
  SLIMSSL_CHECK(x.dim() == 4 && x.size(1) == in_[wi], "SlimConv2d ", weight.name(), ": input ",
                shape_str(x.shape()), " at width index ", wi, " should have ", in_[wi], " channels");
  Conv2dParams p;
  p.stride_h = p.stride_w = spec_.stride;
  p.pad_h = p.pad_w = spec_.pad;
  p.dilation_h = p.dilation_w = spec_.dilation;
  p.groups = spec_.depthwise ? in_[wi] : 1;
  Tensor y = conv2d(x, weight_at(wi), spec_.bias ? bias.narrow(0, 0, out_[wi]) : Tensor(), p);
  MacCounter::add(y.numel() * (spec_.depthwise ? 1 : in_[wi]) * spec_.kernel * spec_.kernel);
  return y;
}

int64_t SlimConv2d::parameters_at(int wi) const {
  check_width(wi, in_.size(), "SlimConv2d");
  int64_t k2 = spec_.kernel * spec_.kernel;
  return out_[wi] * (spec_.depthwise ? 1 : in_[wi]) * k2 + (spec_.bias ? out_[wi] : 0);
}

void SlimConv2d::export_state(int wi, const std::string& prefix, NamedTensors& out) const {
  out.emplace_back(prefix + "weight", weight_at(wi).detach().clone());
  if (bias.defined()) out.emplace_back(prefix + "bias", bias.detach().narrow(0, 0, out_[wi]).clone());
}

// ---------------- SlimLinear ----------------
SlimLinear::SlimLinear(Channels in, Channels out, bool has_bias) : in_(std::move(in)), out_(std::move(out)) {
  SLIMSSL_CHECK(!in_.empty() && in_.size() == out_.size(), "SlimLinear: ", in_.size(), " input widths but ",
                out_.size(), " output widths");
  int64_t cin = *std::max_element(in_.begin(), in_.end());
  int64_t cout = *std::max_element(out_.begin(), out_.end());
  weight = register_parameter("weight", Tensor::zeros({cout, cin}));
  if (has_bias) bias = register_parameter("bias", Tensor::zeros({cout}));
}

Tensor SlimLinear::weight_at(int wi) const {
  check_width(wi, in_.size(), "SlimLinear");
  return weight.narrow(0, 0, out_[wi]).narrow(1, 0, in_[wi]);
}

Tensor SlimLinear::forward(const Tensor& x, int wi) {
  check_width(wi, in_.size(), "SlimLinear");
  SLIMSSL_CHECK(x.dim() >= 1 && x.size(-1) == in_[wi], "SlimLinear ", weight.name(), ": input ",
                shape_str(x.shape()), " at width index ", wi, " should have ", in_[wi], " features");
  MacCounter::add(rows_of(x) * in_[wi] * out_[wi]);
  return linear(x, weight_at(wi), bias.defined() ? bias.narrow(0, 0, out_[wi]) : Tensor());
}

int64_t SlimLinear::parameters_at(int wi) const {
  check_width(wi, in_.size(), "SlimLinear");
  return in_[wi] * out_[wi] + (bias.defined() ? out_[wi] : 0);
}

void SlimLinear::export_state(int wi, const std::string& prefix, NamedTensors& out) const {
  out.emplace_back(prefix + "weight", weight_at(wi).detach().clone());
  if (bias.defined()) out.emplace_back(prefix + "bias", bias.detach().narrow(0, 0, out_[wi]).clone());
}

// ---------------- norms and plain layers ----------------
BatchNorm::BatchNorm(int64_t c, bool affine, double momentum, double eps)
    : channels_(c), momentum_(momentum), eps_(eps) {
  if (affine) {
    weight = register_parameter("weight", Tensor::ones({c}));
    bias = register_parameter("bias", Tensor::zeros({c}));
  }
  running_mean = register_buffer("running_mean", Tensor::zeros({c}));
  running_var = register_buffer("running_var", Tensor::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::I64));
}

Tensor BatchNorm::forward(const Tensor& x, int) {
  SLIMSSL_CHECK(x.dim() >= 2 && x.size(1) == channels_, "BatchNorm ", running_mean.name(), ": input ",
                shape_str(x.shape()), " should have ", channels_, " channels");
  if (is_training() && grad_enabled()) {
    NoGradGuard ng;
    // Counted where it lives: on the host (Module::to leaves integer buffers there), so a GPU step
    // spends no kernel and no read-back on it; a replayed CUDA graph has it advanced by TrainStep.
    num_batches_tracked.copy_(add(num_batches_tracked.to(DType::F64), 1.0));
  }
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum_, eps_);
}

LayerNorm::LayerNorm(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", Tensor::ones({dim}));
  bias = register_parameter("bias", Tensor::zeros({dim}));
}

Tensor LayerNorm::forward(const Tensor& x, int) { return layer_norm(x, weight, bias, 1, eps_); }

Linear::Linear(int64_t in, int64_t out, bool has_bias) {
  weight = register_parameter("weight", Tensor::zeros({out, in}));
  if (has_bias) bias = register_parameter("bias", Tensor::zeros({out}));
}

Tensor Linear::forward(const Tensor& x, int) {
  MacCounter::add(rows_of(x) * weight.numel());
  return linear(x, weight, bias);
}

SwitchableBatchNorm::SwitchableBatchNorm(const Channels& c, bool affine, double momentum, double eps)
    : PerWidth<BatchNorm>(c.size(),
                          [&](size_t i) { return std::make_shared<BatchNorm>(c[i], affine, momentum, eps); }) {}

SwitchableLayerNorm::SwitchableLayerNorm(const Channels& c, double eps)
    : PerWidth<LayerNorm>(c.size(), [&](size_t i) { return std::make_shared<LayerNorm>(c[i], eps); }) {}

SwitchableLinear::SwitchableLinear(const Channels& in, int64_t out, bool has_bias)
    : PerWidth<Linear>(in.size(), [&](size_t i) { return std::make_shared<Linear>(in[i], out, has_bias); }) {}

Tensor activate(const Tensor& x, ActKind kind) {
  switch (kind) {
    case ActKind::Identity: return x;
    case ActKind::ReLU: return relu(x);
    case ActKind::ReLU6: return relu6(x);
    case ActKind::HardSwish: return hardswish(x);
    case ActKind::HardSigmoid: return hardsigmoid(x);
    case ActKind::SiLU: return silu(x);
    case ActKind::GELU: return gelu(x);
    case ActKind::Sigmoid: return sigmoid(x);
  }
  return x;
}

}  // namespace slimssl::models
