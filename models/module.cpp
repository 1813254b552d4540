#include "models/module.h"

namespace slimssl::models {

namespace {
thread_local MacCounter* g_counter = nullptr;
}

MacCounter::MacCounter() : previous_(g_counter) { g_counter = this; }
MacCounter::~MacCounter() { g_counter = previous_; }
void MacCounter::add(int64_t n) {
  if (!g_counter) return;
  g_counter->macs_ += n;
  if (!grad_enabled()) g_counter->no_grad_macs_ += n;
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  t.set_requires_grad(true);
  t.set_name(name);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  t.set_name(name);
  buffers_.emplace_back(name, t);
  return t;
}

void Module::collect(const std::string& prefix, bool params, NamedTensors& out) const {
  for (auto& [n, t] : params ? params_ : buffers_) out.emplace_back(prefix + n, t);
  // An unnamed child's tensors appear without a prefix (a wrapper that keeps its inner names).
  for (auto& [n, c] : children_) c->collect(n.empty() ? prefix : prefix + n + ".", params, out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

int64_t Module::parameters_at(int wi) const {
  int64_t n = 0;
  for (auto& [name, t] : params_) n += t.numel();
  for (auto& [name, c] : children_) n += c->parameters_at(wi);
  return n;
}

void Module::export_state(int wi, const std::string& prefix, NamedTensors& out) const {
  for (auto& [n, t] : params_) out.emplace_back(prefix + n, t.detach().clone());
  for (auto& [n, t] : buffers_) out.emplace_back(prefix + n, t.clone());
  for (auto& [n, c] : children_) c->export_state(wi, n.empty() ? prefix : prefix + n + ".", out);
}

NamedTensors Module::export_state(int wi) const {
  NamedTensors out;
  NoGradGuard ng;
  export_state(wi, "", out);
  return out;
}

void Module::to(Device device) {
  NoGradGuard ng;
  for (auto* list : {&params_, &buffers_})
    for (auto& [name, t] : *list) {
      if (!is_floating(t.dtype()) || t.device() == device) continue;
      t.set_data(t.detach().to(device));
      t.set_grad(Tensor());
    }
  for (auto& [n, c] : children_) c->to(device);
}

Device Module::device() const {
  for (auto& [n, t] : named_parameters()) return t.device();
  return Device::cpu();
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::zero_grad() const {
  for (auto& [n, t] : named_parameters()) t.zero_grad();
}

void Sequential::add(std::shared_ptr<Layer> layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
}

Tensor Sequential::forward(const Tensor& x, int wi) {
  Tensor h = x;
  for (auto& l : layers_) h = l->forward(h, wi);
  return h;
}

}  // namespace slimssl::models
