// slimssl eval metrics: the small-model study's representation analysis on a fixed, seeded sample.
#include <filesystem>
#include <map>
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "ssl/eval/clustering.h"
#include "ssl/eval/features.h"
#include "ssl/eval/metrics.h"
#include "ssl/eval/tsne.h"
#include "ssl/plot/charts.h"
#include "ssl/report/evaluations.h"
#include "ssl/report/run_plots.h"

namespace slimssl::report {
namespace fs = std::filesystem;

namespace {

Tensor labels_of(const data::Dataset& ds, const std::vector<int64_t>& idx) {
  return index_select(ds.labels, 0, Tensor::from_vector<int64_t>(idx, {static_cast<int64_t>(idx.size())}));
}

std::vector<double> percent(std::vector<double> v) {
  for (double& x : v) x *= 100;
  return v;
}

// Rows of the sample whose class is among the first `classes` ones, at most `limit` of them.
std::vector<int64_t> tsne_rows(const std::vector<int64_t>& labels, int64_t classes, int64_t limit) {
  std::vector<int64_t> rows;
  for (size_t i = 0; i < labels.size() && static_cast<int64_t>(rows.size()) < limit; ++i)
    if (labels[i] < classes) rows.push_back(static_cast<int64_t>(i));
  return rows;
}

}  // namespace

nlohmann::json evaluate_metrics(const EvalSubject& s, const MetricsOptions& o, const Log& log) {
  SLIMSSL_CHECK(o.samples >= 2, "eval metrics: --samples must be at least 2, got ", o.samples);
  const train::TrainConfig& c = s.config();
  auto train_idx = seeded_subset(s.train.size(), o.samples, o.seed, data::kSubsetMetricsTrain);
  auto test_idx = seeded_subset(s.test.size(), o.samples, o.seed, data::kSubsetMetricsTest);
  Tensor train_labels = labels_of(s.train, train_idx), test_labels = labels_of(s.test, test_idx);
  std::vector<int64_t> train_label_vec = train_labels.to_vector<int64_t>();
  const data::AugmentPipeline &eval_p = s.eval_transform, &v1 = s.train_views.first, &v2 = s.train_views.second;
  // The views come from the training augmentation under the metrics seed, views 0 and 1 of
  // "epoch 0": fixed for a given seed, so two checkpoints are compared on the same images.
  auto features = [&](const data::Dataset& ds, const std::vector<int64_t>& idx, const data::AugmentPipeline& p,
                      uint32_t view, int wi) {
    std::string what = "width " + width_label(c.widths[wi]) + ": " + std::to_string(idx.size()) + " " +
                       (&ds == &s.train ? "train" : "test") + " images, " + (&p == &eval_p ? "eval" : "view " + std::to_string(view + 1));
    return extract_features(s.encoder(), ds, idx, p, o.seed, view, wi, 256, log, what);
  };

  bool do_tsne = o.tsne_points > 0 && !o.out_dir.empty();
  std::vector<int64_t> rows = tsne_rows(train_label_vec, 10, std::min<int64_t>(o.tsne_points, 2000));
  do_tsne = do_tsne && rows.size() >= 4;
  Tensor tsne_index = Tensor::from_vector<int64_t>(rows, {static_cast<int64_t>(rows.size())});
  std::vector<std::pair<std::string, Tensor>> tsne_tensors;

  nlohmann::json out = {{"checkpoint", s.where.checkpoint}, {"step", s.loaded.step},
                        {"samples", train_idx.size()},      {"held_out", test_idx.size()},
                        {"seed", o.seed},                   {"features", "pooled backbone output"},
                        {"widths", nlohmann::json::array()}};
  for (size_t wi = 0; wi < s.widths().size(); ++wi) {
    int w = static_cast<int>(wi);
    std::string label = width_label(s.widths()[wi]);
    Tensor orig = features(s.train, train_idx, eval_p, 0, w);
    Tensor view1 = features(s.train, train_idx, v1, 0, w), view2 = features(s.train, train_idx, v2, 1, w);
    Tensor test_orig = features(s.test, test_idx, eval_p, 0, w), test_view = features(s.test, test_idx, v1, 0, w);
    if (log) log("width " + label + ": " + std::to_string(train_idx.size()) + " train and " +
                 std::to_string(test_idx.size()) + " test images encoded (original and views)");
    nlohmann::json row = {
        {"width", s.widths()[wi]},
        {"alignment_original_view", eval::alignment(orig, view1)},
        {"alignment_view_view", eval::alignment(view1, view2)},
        {"intra_class_alignment", eval::intra_class_alignment(orig, train_labels)},
        {"uniformity", eval::uniformity(orig)},
        {"retrieval_train", percent(eval::retrieval_accuracy(orig, view1, 5))},
        {"retrieval_test", percent(eval::retrieval_accuracy(test_orig, test_view, 5))},
        {"clustering", nlohmann::json::array()}};
    for (const auto& score : eval::overclustering(orig, train_labels, o.seed))
      row["clustering"].push_back({{"k", score.k}, {"nmi", score.nmi}, {"purity", score.purity}});

    if (do_tsne) {
      eval::TsneConfig tc;
      tc.seed = o.seed, tc.iterations = o.tsne_iterations;
      tc.perplexity = std::min(30.0, (static_cast<double>(rows.size()) - 1) / 3);
      Tensor xy = eval::tsne(eval::unit_rows("eval metrics", index_select(orig, 0, tsne_index)), tc);
      Tensor y = index_select(train_labels, 0, tsne_index);
      std::string png = "tsne_w" + label + ".png";
      fs::create_directories(o.out_dir);
      plot::save(tsne_chart(s.widths()[wi], xy, y, s.train.classes, c.name), (fs::path(o.out_dir) / png).string());
      tsne_tensors.emplace_back("w" + label + ".xy", xy);
      tsne_tensors.emplace_back("w" + label + ".labels", y);
      row["tsne"] = png;
      if (log) log("width " + label + ": t-SNE of " + std::to_string(rows.size()) + " points drawn in " + png);
    }
    out["widths"].push_back(row);
  }
  if (!tsne_tensors.empty()) {
    // The coordinates, so `slimssl plot` can redraw the pictures in either format.
    save_safetensors((fs::path(o.out_dir) / "tsne.safetensors").string(), tsne_tensors,
                     {{"classes", nlohmann::json(s.train.classes).dump()},
                      {"checkpoint", s.where.checkpoint},
                      {"step", std::to_string(s.loaded.step)},
                      {"run", c.name}});
  }
  return out;
}

}  // namespace slimssl::report
