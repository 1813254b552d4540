// Optimizers over parameter groups (weight decay on conv/linear weights only, by default).
// SGD (momentum, nesterov), LARS (trust ratio; norms and biases excluded from adaptation and
// decay, as in the MoCo v3 / SimCLR code), AdamW. State is a list of named tensors so checkpoints
// can store and restore it exactly.
#pragma once
#include <string>
#include <vector>
#include <memory>
#include "engine/flat_parameters.h"
#include "engine/fused_optimizer.h"
#include "engine/tensor.h"

namespace slimssl::train {

enum class OptimizerKind { SGD, LARS, AdamW };
OptimizerKind parse_optimizer(const std::string& name);  // "sgd", "lars", "adamw"

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::SGD;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 1e-4;
  double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;  // AdamW
  double lars_eta = 0.001;                              // LARS trust coefficient
  double grad_clip = 0.0;                               // global L2 norm clip; 0 = off
};

struct ParamGroup {
  std::vector<Tensor> params;
  bool weight_decay = true;  // false for norms and biases
  bool lars_adapt = true;    // LARS trust ratio applies (false for norms and biases)
};

class Optimizer {
 public:
  Optimizer(std::vector<ParamGroup> groups, OptimizerConfig cfg);
  // One update with learning rate `lr` from the accumulated .grad of every parameter (parameters
  // with no gradient are skipped). Returns the gradient norm before clipping; NaN on CUDA, where
  // the update is one fused launch over flat buffers (the norm stays on the device).
  double step(double lr);
  void zero_grad();
  // Named state tensors ("<group>.<index>.momentum", ...) and the step count, for checkpoints.
  std::vector<std::pair<std::string, Tensor>> state() const;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& named);
  int64_t steps() const { return steps_; }
  void set_steps(int64_t s) { steps_ = s; }
  const OptimizerConfig& config() const { return cfg_; }

 private:
  std::vector<ParamGroup> groups_;
  OptimizerConfig cfg_;
  std::vector<std::vector<Tensor>> buf1_, buf2_;  // momentum / Adam moments, per group and param
  int64_t steps_ = 0;
  // CUDA: the parameters' values and gradients in flat buffers (built on the first step) and the
  // fused kernels' slot table over them and the state.
  std::unique_ptr<FlatParameters> flat_;
  std::unique_ptr<FusedOptimizer> fused_;
  void step_fused(double lr);
};

// Learning-rate schedules as functions of the (fractional) epoch.
struct Schedule {
  std::string kind = "cosine";  // "cosine", "step", "constant"
  double base_lr = 0.03;
  double warmup_epochs = 0;     // linear warmup from 0
  double final_lr = 0.0;        // cosine floor
  std::vector<double> milestones;  // step: epochs at which the lr is multiplied by gamma
  double gamma = 0.1;
  double total_epochs = 1;
  double lr_at(double epoch) const;
};

}  // namespace slimssl::train
