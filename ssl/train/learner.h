// The contrastive learner: MoCo v2, MoCo v3 or SimCLR, with the SlimCLR strategy on top.
//
// One step (SlimCLR): the key encoder runs once at full width; every active width runs its own
// forward pass on the same query view(s) and contrasts against the same keys; sub-network losses
// are w_i * ((1 - a) * InfoNCE_i + a * KD_i), KD from the full width's detached logits; the
// weighted sum gets ONE backward, so all widths' gradients add up in the shared full-size .grad.
// Before slim_start_epoch only the full width trains (slow start) with weight 1.
#pragma once
#include <memory>
#include "engine/step_scalars.h"
#include "ssl/train/config.h"
#include "engine/fused_infonce.h"
#include "ssl/train/encoder.h"

namespace slimssl::train {

struct WidthLoss {
  double total = 0;    // the width's weighted contribution to the step loss
  double info_nce = 0;
  double distill = 0;  // the distillation term as KL(teacher || student) * T_s^2: 0 when the width
                       // matches the full one (0 for the full width and without distillation)
};

struct StepLoss {
  Tensor loss;                    // scalar with its graph: call backward() on it
  std::vector<Tensor> terms;      // per width index: its weighted term (loss = sum); undefined if inactive
  std::vector<Tensor> info_nce;   // per width index: its InfoNCE (undefined if inactive)
  // Per width index: its distillation term as a KL divergence (the cross-entropy the loss uses
  // minus the teacher's entropy: the same gradient, and 0 at a perfect match), for the logs;
  // undefined when none.
  std::vector<Tensor> distill;
  std::vector<bool> active;
  // The values, once read back (read_values, or set_values from a ScalarReadback of scalars()):
  // per width index; inactive widths stay 0. Reading is a device round trip, so a training step
  // never does it itself.
  std::vector<WidthLoss> widths;
  double total = 0;
  bool has_values = false;

  // The scalars in a fixed order: the loss, then per active width its term, InfoNCE and
  // distillation (a zero when none).
  std::vector<Tensor> scalars() const;
  void set_values(const std::vector<double>& values);
  void read_values();  // synchronous
};

class Learner {
 public:
  explicit Learner(const TrainConfig& c);

  // Widths trained at fractional epoch `epoch` (slow start: only the full width before it).
  std::vector<bool> active_widths(double epoch) const;
  // Builds the step's loss for a batch of two views ([B, C, S, S] each). `step` keys the shuffled
  // sub-batches of the key encoder's BN statistics.
  StepLoss compute_loss(const Tensor& view1, const Tensor& view2, double epoch, int64_t step);
  // After the optimizer step: EMA update of the key encoder (momentum at `progress` in [0, 1])
  // and, for MoCo v2, enqueueing the keys of the step.
  void after_step(double progress);
  // On a GPU: the values of a step that change from step to step (the step number the key
  // permutations are drawn from, the key encoder's momentum, the queue's write position) are
  // read from slots of `scalars` reserved here; prepare_step() writes them into its host image,
  // which the caller uploads before the step. The step's launches are then the same on every
  // step (a captured CUDA graph replays them). Null: taken from the host per launch.
  void use_step_scalars(StepScalars* scalars);
  // The values of the step `step` (compute_loss, then after_step(progress)) on a batch of
  // `batch` samples, into the scalars' host image. No-op without scalars.
  void prepare_step(int64_t step, double progress, int64_t batch);
  double key_momentum(double progress) const;
  // The order in which the key encoder sees the batch at `step` for key view `view` (0, or 1 for
  // MoCo v3's second view): position i holds sample perm[i]; its BN sub-batches are consecutive
  // runs of this order. A function of (seed, step, view) only. The step draws it on its device
  // (random_permutation of engine/ops.h, the same numbers); this is the host reference.
  std::vector<int64_t> key_permutation(int64_t n, int64_t step, uint32_t view) const;

  // Tensors that make up the learner's state in a checkpoint: query, key, queue.
  std::vector<std::pair<std::string, Tensor>> state() const;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& named);
  int64_t queue_ptr() const { return queue_ptr_; }
  void set_queue_ptr(int64_t p) { queue_ptr_ = p; }
  // The host's record of a step's enqueue of `batch` keys (after_step does it; a replayed CUDA
  // graph of the step does not run after_step on the host).
  void advance_queue(int64_t batch);

  // Moves the encoders and the queue to `device` (tensors keep their identity).
  void to(Device device);
  Device device() const { return query_->device(); }

  Encoder& query() { return *query_; }
  const TrainConfig& config() const { return cfg_; }

 private:
  Tensor key_embeddings(const Tensor& x, uint32_t view);  // normalized full-width keys, shuffled BN
  Tensor embed(const Tensor& head_out) const;  // L2-normalized float32 embeddings
  // A contrastive problem of the config's temperature, with distillation from teacher_q when
  // defined and the config distills.
  ContrastiveProblem problem(ContrastKind kind, const Tensor& q, const Tensor& keys, const Tensor& pos,
                             const Tensor& teacher_q) const;
  StepLoss moco_v2(const Tensor& v1, const Tensor& v2, const std::vector<bool>& active);
  StepLoss moco_v3(const Tensor& v1, const Tensor& v2, const std::vector<bool>& active);
  // The step number (int64 scalar) on `d`, from which the key permutations are drawn there.
  Tensor& step_counter(Device d);
  StepLoss simclr(const Tensor& v1, const Tensor& v2, const std::vector<bool>& active);
  // Combines per-width InfoNCE / KD terms into the weighted total.
  StepLoss combine(const std::vector<Tensor>& nce, const std::vector<Tensor>& kd, const std::vector<Tensor>& kl,
                   const std::vector<bool>& active);

  TrainConfig cfg_;
  std::vector<double> weights_;
  std::shared_ptr<Encoder> query_, key_;
  Tensor queue_;        // [K, D], MoCo v2
  int64_t queue_ptr_ = 0;
  Tensor pending_keys_;  // keys of the current step, enqueued in after_step()
  Tensor step_counter_;
  // The slots of use_step_scalars (undefined without): momentum m and 1 - m (float32), the
  // queue's block to write (int64, queue_ptr_ / batch).
  StepScalars* scalars_ = nullptr;
  size_t counter_at_ = 0, momentum_at_ = 0, queue_block_at_ = 0;
  Tensor momentum_, one_minus_momentum_, queue_block_;
};

}  // namespace slimssl::train
