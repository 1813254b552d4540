// Module: a tree of named parameters, buffers and child modules, with train/eval mode.
// Names are dotted paths (torchvision's and timm's conventions) so checkpoints map onto PyTorch.
//
// Every slimmable module runs at a width given as an argument of forward: the index `wi` into the
// model's descending width list (0 = full width). There is no hidden global width state.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include "engine/ops.h"

namespace slimssl::models {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Weight decay applies to rank >= 2 parameters (conv and linear weights), never to norm affine
// parameters, biases or other 1-d tensors.
inline bool takes_weight_decay(const Tensor& param) { return param.dim() >= 2; }

class Module {
 public:
  virtual ~Module() = default;

  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;
  // Parameters that the sub-network at width index `wi` actually uses (its slices, its own BN).
  // Plain modules use all their parameters; slimmable layers override.
  virtual int64_t parameters_at(int wi) const;
  // The standalone sub-network at width index wi: every tensor it uses, sliced and copied out
  // (contiguous), under the name a plain network of that width has (per-width norms lose their
  // width index). `slimssl export` writes this; a plain network built at {w} loads it by name.
  virtual void export_state(int wi, const std::string& prefix, NamedTensors& out) const;
  NamedTensors export_state(int wi) const;

  // Moves every floating parameter and buffer to `device` in place (the tensors keep their
  // identity; gradients are dropped). Integer bookkeeping buffers (BatchNorm's
  // num_batches_tracked) stay on the host, where they are counted without a device round trip.
  void to(Device device);
  Device device() const;  // where the parameters live (the CPU for a module without any)

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad() const;

  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }

 protected:
  // Registers a parameter (made a leaf that requires grad) under `name`; returns it.
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void collect(const std::string& prefix, bool params, NamedTensors& out) const;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A module with a width-indexed forward pass.
class Layer : public Module {
 public:
  virtual Tensor forward(const Tensor& x, int wi) = 0;
};

// Children run in order; named "0", "1", ... like torch.nn.Sequential.
class Sequential : public Layer {
 public:
  void add(std::shared_ptr<Layer> layer);
  Tensor forward(const Tensor& x, int wi) override;
  size_t size() const { return layers_.size(); }
  const std::shared_ptr<Layer>& at(size_t i) const { return layers_[i]; }

 private:
  std::vector<std::shared_ptr<Layer>> layers_;
};

// Counts multiply-accumulates of conv and linear layers (and attention's products) during forward
// passes in its scope, over the whole batch (one counter per thread); `slimssl models` measures
// MACs per image by running the real modules on one image under it.
class MacCounter {
 public:
  MacCounter();
  ~MacCounter();
  int64_t macs() const { return macs_; }
  // Those counted while grad mode was off: forward passes that get no backward (a key encoder).
  int64_t no_grad_macs() const { return no_grad_macs_; }
  static void add(int64_t n);  // called by layers; no-op outside a counter's scope

 private:
  int64_t macs_ = 0, no_grad_macs_ = 0;
  MacCounter* previous_;
};

}  // namespace slimssl::models
