#include "models/init_weights.h"
#include <cmath>
#include "engine/init.h"
#include "models/slim_layers.h"

namespace slimssl::models {
namespace {

// fan_in / fan_out of a full (unsliced) weight, as PyTorch computes them.
void fans(const Tensor& w, double& fan_in, double& fan_out) {
  double receptive = 1;
  for (int64_t d = 2; d < w.dim(); ++d) receptive *= static_cast<double>(w.size(d));
  fan_in = static_cast<double>(w.size(1)) * receptive;
  fan_out = static_cast<double>(w.size(0)) * receptive;
}

void init_conv(const Tensor& w, ConvInit how, uint64_t seed, uint64_t stream) {
  double fi, fo;
  fans(w, fi, fo);
  if (how == ConvInit::KaimingNormalFanOut) init::normal(w, 0.0, std::sqrt(2.0 / fo), seed, stream);
  else init::uniform(w, -1.0 / std::sqrt(fi), 1.0 / std::sqrt(fi), seed, stream);  // PyTorch's default
}

void init_linear(const Tensor& w, LinearInit how, uint64_t seed, uint64_t stream) {
  double fi, fo;
  fans(w, fi, fo);
  switch (how) {
    case LinearInit::Normal001: init::normal(w, 0.0, 0.01, seed, stream); break;
    // timm: trunc_normal_(std=.02) with absolute bounds [-2, 2] (100 std: practically a normal).
    case LinearInit::TruncNormal002: init::trunc_normal(w, 0.0, 0.02, -2.0, 2.0, seed, stream); break;
    case LinearInit::KaimingUniformFanIn:
      init::uniform(w, -1.0 / std::sqrt(fi), 1.0 / std::sqrt(fi), seed, stream);
      break;
    case LinearInit::XavierUniform: {
      double a = std::sqrt(6.0 / (fi + fo));
      init::uniform(w, -a, a, seed, stream);
      break;
    }
  }
}

void walk(Module& m, uint64_t seed, const InitScheme& s, uint64_t& stream) {
  if (auto* conv = dynamic_cast<SlimConv2d*>(&m)) {
    init_conv(conv->weight, s.conv, seed, stream++);
    if (conv->bias.defined()) conv->bias.detach().zero_();
  } else if (auto* lin = dynamic_cast<SlimLinear*>(&m)) {
    init_linear(lin->weight, s.linear, seed, stream++);
    if (lin->bias.defined()) lin->bias.detach().zero_();
  } else if (auto* plain = dynamic_cast<Linear*>(&m)) {
    init_linear(plain->weight, s.linear, seed, stream++);
    if (plain->bias.defined()) plain->bias.detach().zero_();
  } else if (auto* bn = dynamic_cast<BatchNorm*>(&m)) {
    if (bn->weight.defined()) bn->weight.detach().fill_(1.0), bn->bias.detach().zero_();
    bn->running_mean.zero_(), bn->running_var.fill_(1.0), bn->num_batches_tracked.zero_();
  } else if (auto* ln = dynamic_cast<LayerNorm*>(&m)) {
    ln->weight.detach().fill_(1.0), ln->bias.detach().zero_();
  }
  // Per-width norms with one width adopt their only instance's tensors without registering it.
  if (auto* sbn = dynamic_cast<PerWidth<BatchNorm>*>(&m); sbn && sbn->size() == 1) walk(*sbn->at(0), seed, s, stream);
  if (auto* sln = dynamic_cast<PerWidth<LayerNorm>*>(&m); sln && sln->size() == 1) walk(*sln->at(0), seed, s, stream);
  if (auto* slin = dynamic_cast<PerWidth<Linear>*>(&m); slin && slin->size() == 1) walk(*slin->at(0), seed, s, stream);
  for (auto& [name, child] : m.children()) walk(*child, seed, s, stream);
}

}  // namespace

void init_module(Module& m, uint64_t seed, const InitScheme& scheme) {
  uint64_t stream = 0;
  NoGradGuard ng;
  walk(m, seed, scheme, stream);
}

}  // namespace slimssl::models
