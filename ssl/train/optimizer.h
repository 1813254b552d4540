// Optimizers over parameter groups (weight decay on conv/linear weights only, by default).
// SGD (momentum, nesterov), LARS (trust ratio; norms and biases excluded from adaptation and
// decay, as in the MoCo v3 / SimCLR code), AdamW. State is a list of tensors named after the
// parameters they belong to, so checkpoints store and restore it exactly and a changed model is
// caught by name rather than silently matched by position.
#pragma once
#include <string>
#include <vector>
#include <memory>
#include "engine/flat_parameters.h"
#include "engine/fused_optimizer.h"
#include "engine/tensor.h"
#include "models/module.h"

namespace slimssl::train {

enum class OptimizerKind { SGD, LARS, AdamW };
OptimizerKind parse_optimizer(const std::string& name);  // "sgd", "lars", "adamw"
const char* optimizer_name(OptimizerKind kind);

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
  std::vector<std::string> names;  // one per parameter, unique over all groups: the keys of its state
};
// A group of named parameters (as Module::named_parameters gives them).
ParamGroup named_group(const models::NamedTensors& params, bool weight_decay, bool lars_adapt);

class Optimizer {
 public:
  Optimizer(std::vector<ParamGroup> groups, OptimizerConfig cfg);
  // One update with learning rate `lr` from the accumulated .grad of every parameter (parameters
  // with no gradient are skipped). Returns the gradient norm before clipping; NaN on CUDA, where
  // the update is one fused launch over flat buffers (the norm stays on the device).
  double step(double lr);
  void zero_grad();
  // State tensors named "<parameter name>.<slot>" with PyTorch's slot names: momentum_buffer
  // (SGD, LARS), exp_avg and exp_avg_sq (AdamW). Parameters that never stepped have none.
  std::vector<std::pair<std::string, Tensor>> state() const;
  // Restores what state() gave. A key naming no parameter or a slot this optimizer does not have,
  // or a tensor of the wrong shape, is an error naming the key.
  void load_state(const std::vector<std::pair<std::string, Tensor>>& named);
  // Checkpoints before format 2 keyed the state by position ("<group>.<index>.m1|m2"); the name
  // that key has today (parameters are listed in the same order), or an error naming the key.
  std::string state_key_from_position(const std::string& key) const;
  // Bytes of the state once every parameter has stepped (checkpoint size estimates).
  int64_t full_state_bytes() const;
  // CUDA: the fused step reads its learning rate (and AdamW's step count) from `scalars` at an
  // offset reserved here, written by prepare_step() into the host image that the caller uploads
  // before the step; the launch's arguments are then the same on every step (a captured CUDA
  // graph replays them). Null: from step()'s arguments. The CPU path ignores it.
  void use_step_scalars(StepScalars* scalars);
  // Writes into the scalars' host image the values of the next step(lr).
  void prepare_step(double lr);
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
  FusedSgd sgd_args(double lr, bool first) const;
  FusedAdamW adamw_args(double lr, int64_t step, bool first) const;
  StepScalars* scalars_ = nullptr;
  size_t scalars_at_ = 0;
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
