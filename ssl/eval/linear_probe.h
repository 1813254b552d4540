// Linear evaluation on cached frozen features, one feature matrix per width (index 0 = full width,
// widths descending as everywhere in slimssl).
//
// Kinds (reference.md, section A):
//   switchable: an independent linear classifier per width (models::SwitchableLinear), the
//               SlimCLR probe;
//   slimmable:  ONE shared weight [classes, D_full]; width wi uses its first D_wi input columns
//               (models::SlimLinear), the sub-optimal alternative the paper compares against.
// Loss per step: the full width's cross-entropy plus, for each sub-width, either its own
// cross-entropy or, with in-place distillation, (soft-CE to the full probe's detached softmax
// + CE) / 2, as in the SlimCLR code. All widths step together: one backward, one SGD step.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "engine/tensor.h"
#include "models/module.h"

namespace slimssl::eval {

enum class ProbeKind { Switchable, Slimmable };
ProbeKind parse_probe_kind(const std::string& name);  // "switchable" or "slimmable"

struct ProbeConfig {
  ProbeKind kind = ProbeKind::Switchable;
  bool distill = false;
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 0.0;  // on weights and biases alike, as torch.optim.SGD over all parameters
  int64_t epochs = 100;
  int64_t batch_size = 256;
  std::string schedule = "cosine";  // "cosine", "step" (x gamma at each milestone epoch), "constant"
  std::vector<double> milestones;
  double gamma = 0.1;
  double warmup_epochs = 0;
  double init_std = 0.01;  // weights N(0, init_std), biases 0 (the MoCo linear-probe init)
  uint64_t seed = 0;       // initialization and the per-epoch shuffles
};

// Features per width (float32 [N, D_wi], equal N) and int64 labels [N].
struct ProbeSplit {
  std::vector<Tensor> features;
  Tensor labels;
};

struct ProbeWidthResult {
  double top1 = 0, top5 = 0;  // fractions; top5 uses min(5, classes)
};

struct ProbeResult {
  std::vector<ProbeWidthResult> widths;  // on the test split, per width index
  std::vector<double> epoch_loss;        // mean summed-over-widths loss of each epoch
  std::shared_ptr<models::Layer> probe;  // forward(features_wi, wi) -> logits
};

// Called after each epoch (for logs and progress).
using ProbeLog = std::function<void(int64_t epoch, double lr, double mean_loss)>;

ProbeResult train_linear_probe(const ProbeSplit& train, const ProbeSplit& test, int64_t num_classes,
                               const ProbeConfig& cfg, const ProbeLog& log = {});

// Top-1 / top-5 of a trained probe at width index wi (no gradients recorded).
ProbeWidthResult evaluate_probe(models::Layer& probe, const Tensor& features, const Tensor& labels, int wi);

}  // namespace slimssl::eval
