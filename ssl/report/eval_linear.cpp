// slimssl eval linear: frozen features extracted once per width (cached), then the linear probe.
#include <cmath>
#include <cstdio>
#include <vector>
#include "ssl/report/evaluations.h"

namespace slimssl::report {

namespace {

// Per-dimension standardization with the training split's mean and std, applied to both splits:
// the parameter-free BatchNorm the MAE paper puts in front of its linear probe. It makes one
// learning rate work whatever the feature scale of the backbone (pooled ReLU features of a
// ResNet range from 1e-2 to 1e1 per dimension depending on the model and its training).
void standardize(Tensor& train, Tensor& test) {
  int64_t n = train.size(0), d = train.size(1);
  std::vector<double> mean(d, 0.0), var(d, 0.0);
  const float* x = train.data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) mean[j] += x[i * d + j];
  for (auto& m : mean) m /= std::max<int64_t>(n, 1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) var[j] += (x[i * d + j] - mean[j]) * (x[i * d + j] - mean[j]);
  std::vector<float> shift(d), scale(d);
  for (int64_t j = 0; j < d; ++j) {
    shift[j] = static_cast<float>(mean[j]);
    // A dimension that never varies (a dead ReLU channel) stays zero instead of dividing by 0.
    scale[j] = static_cast<float>(1.0 / std::sqrt(var[j] / std::max<int64_t>(n, 1) + 1e-5));
  }
  for (Tensor* t : {&train, &test}) {
    Tensor c = t->contiguous().clone();
    float* p = c.data<float>();
    for (int64_t i = 0; i < c.size(0); ++i)
      for (int64_t j = 0; j < d; ++j) p[i * d + j] = (p[i * d + j] - shift[j]) * scale[j];
    *t = c;
  }
}

const char* probe_name(eval::ProbeKind k) { return k == eval::ProbeKind::Switchable ? "switchable" : "slimmable"; }

}  // namespace

nlohmann::json evaluate_linear(const EvalSubject& s, const LinearOptions& o, const Log& log) {
  SLIMSSL_CHECK(o.feature_norm == "standardize" || o.feature_norm == "none", "eval linear: unknown feature "
                "normalization '", o.feature_norm, "' (expected standardize or none)");
  eval::ProbeSplit train, test;
  Transform train_transform = o.augment ? Transform::TrainAugment : Transform::Eval;
  for (size_t wi = 0; wi < s.widths().size(); ++wi) {
    // The probe draws its own subsets, not kNN's bank and test.
    auto [x_train, y_train] = split_or_subset(s, "train", train_transform, o.train_subset, o.probe.seed, data::kSubsetProbeTrain,
                                              static_cast<int>(wi), log);
    auto [x_test, y_test] = split_or_subset(s, "test", Transform::Eval, o.test_subset, o.probe.seed, data::kSubsetProbeTest,
                                            static_cast<int>(wi), log);
    if (o.feature_norm == "standardize") standardize(x_train, x_test);
    train.features.push_back(x_train), test.features.push_back(x_test);
    train.labels = y_train, test.labels = y_test;
  }
  const eval::ProbeConfig& pc = o.probe;
  util::Progress epochs("probe", pc.epochs, "epochs", log);
  auto progress = [&](int64_t epoch, double lr, double loss) {
    char note[96];
    std::snprintf(note, sizeof note, "lr %.4g, loss (summed over widths) %.4f", lr, loss);
    epochs.update(epoch + 1, note);
    if (epoch + 1 == pc.epochs) epochs.finish(note);
  };
  eval::ProbeResult r = eval::train_linear_probe(train, test, s.num_classes(), pc, progress);

  nlohmann::json out = {{"checkpoint", s.where.checkpoint}, {"step", s.loaded.step},
                        {"probe", probe_name(pc.kind)},    {"distill", pc.distill},
                        {"augment", o.augment},            {"feature_norm", o.feature_norm},
                        {"epochs", pc.epochs},             {"lr", pc.lr},
                        {"schedule", pc.schedule},         {"milestones", pc.milestones},
                        {"momentum", pc.momentum},         {"weight_decay", pc.weight_decay},
                        {"batch_size", pc.batch_size},     {"seed", pc.seed},
                        {"train_images", train.labels.size(0)}, {"test_images", test.labels.size(0)},
                        {"final_loss", r.epoch_loss.empty() ? 0.0 : r.epoch_loss.back()},
                        {"widths", nlohmann::json::array()}};
  for (size_t wi = 0; wi < s.widths().size(); ++wi)
    out["widths"].push_back(
        {{"width", s.widths()[wi]}, {"top1", 100 * r.widths[wi].top1}, {"top5", 100 * r.widths[wi].top5}});
  return out;
}

}  // namespace slimssl::report
