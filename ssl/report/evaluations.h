// The three evaluations of a checkpoint behind `slimssl eval knn|linear|metrics`, per width.
// Each returns its results as the JSON document the command writes (and prints as a table).
// Accuracies (kNN, probe, retrieval) are in percent; NMI and purity are fractions in [0, 1].
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "ssl/eval/linear_probe.h"
#include "ssl/report/subject.h"

namespace slimssl::report {

struct KnnOptions {
  int64_t k = 200;
  double temperature = 0.1;
  int64_t bank = 0;     // training images in the bank (0: all; then the feature cache is used)
  int64_t test = 0;     // test images scored (0: all)
  int64_t max_k = 101;  // best-kNN: odd k up to this
  uint64_t seed = 0;    // which subsets
};
// {"checkpoint", "step", "k", "temperature", "bank", "test", "max_k",
//  "widths": [{"width", "knn_top1", "knn_top5", "k_used", "best_knn_top1", "best_k"}]}
nlohmann::json evaluate_knn(const EvalSubject& s, const KnnOptions& o, const Log& log = {});

struct LinearOptions {
  eval::ProbeConfig probe;
  bool augment = false;                // train-split features from the training augmentation
  std::string feature_norm = "standardize";  // "standardize" (train mean/std per dim) or "none"
  int64_t train_subset = 0, test_subset = 0;  // seeded subsets of the splits (0: all, through the cache)
};
// {"checkpoint", "step", "probe", "distill", "augment", "feature_norm", "epochs", "lr", "schedule",
//  "milestones", "momentum", "weight_decay", "batch_size", "seed", "train_images", "test_images",
//  "final_loss" (the last epoch's mean loss, summed over widths), "widths": [{"width", "top1", "top5"}]}
nlohmann::json evaluate_linear(const EvalSubject& s, const LinearOptions& o, const Log& log = {});

struct MetricsOptions {
  int64_t samples = 2000;     // training images in the fixed sample (and held-out test images)
  uint64_t seed = 0;          // the sample, the views, k-means and t-SNE
  int64_t tsne_points = 2000; // at most this many points of (at most) 10 classes; 0: no t-SNE
  int64_t tsne_iterations = 1000;
  std::string out_dir;        // t-SNE pictures (tsne_w<width>.png) and coordinates (tsne.safetensors)
};
// {"checkpoint", "step", "samples", "held_out", "seed", "widths": [{"width",
//   "alignment_original_view", "alignment_view_view", "intra_class_alignment", "uniformity",
//   "retrieval_train": [top1..top5 %], "retrieval_test": [...],
//   "clustering": [{"k", "nmi", "purity"}, ...], "tsne": "tsne_w1.00.png"}]}
nlohmann::json evaluate_metrics(const EvalSubject& s, const MetricsOptions& o, const Log& log = {});

}  // namespace slimssl::report
