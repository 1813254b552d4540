// Reading what `slimssl train` and `slimssl diag` leave in a run directory (docs/training.md,
// docs/diagnostics.md): config.json, metrics.jsonl, diag/gradients.jsonl and diag/pca.jsonl.
// Anything missing or malformed is an Error of one line that names the file (and the line of a
// JSONL file) and what is wrong, so `slimssl eval/plot` on a broken directory says why.
#pragma once
#include "models/backbone.h"
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "ssl/train/config.h"

namespace slimssl::report {

// A command's RUN_DIR|CKPT argument, resolved.
struct RunLocation {
  std::string run_dir;     // where outputs go: features/, eval/, plots/
  std::string checkpoint;  // the checkpoint to evaluate ("" when not needed and absent)
};
// A directory is a run directory (its newest checkpoint is used); a file is a checkpoint, and its
// run directory is the parent of checkpoints/ (else the file's own directory).
RunLocation locate_run(const std::string& path, bool need_checkpoint);

using models::width_label;  // one spelling of a width for writers and readers
// The index of `width` in the run's width list; an Error lists the widths when it is not there.
int width_index(const std::vector<double>& widths, double width);

// RUN_DIR/config.json, parsed and validated.
train::TrainConfig read_run_config(const std::string& run_dir);

// Every non-empty line of a JSONL file as a JSON object, with its line number (from 1).
struct JsonLine {
  int64_t line = 0;
  nlohmann::json value;
};
std::vector<JsonLine> read_jsonl(const std::string& path);

// metrics.jsonl: the "train" records (InfoNCE, distillation KL per width, the step loss), the
// "knn" records (top-1 % per width), keyed by width label, and the "knn_baseline" record. Records
// of other types are skipped.
struct MetricPoint {
  int64_t step = 0;
  double epoch = 0;
  std::map<std::string, double> values;  // width label -> value
};
struct MetricsLog {
  std::vector<MetricPoint> train, knn;
  std::vector<MetricPoint> distill;  // the train records' distillation KL per sub-width (when logged)
  std::vector<MetricPoint> total;    // the train records' step loss, under the label "total"
  std::optional<double> raw_pixels;  // the kNN of the raw pixels (the "knn_baseline" record)
  // Optimizer steps per epoch, from the train records (step / epoch); 0 when none tells.
  double steps_per_epoch() const;
};
MetricsLog read_metrics(const std::string& path);

// diag/gradients.jsonl (one record per step, layer, width, plus the "__mean__" summaries).
struct GradientRecord {
  int64_t step = 0;
  std::string layer;
  std::optional<double> width;  // none for "__mean__"
  std::optional<double> ratio_full_min, ratio_rest_min, cos_prev;
  std::map<std::string, double> cos;  // other width's label -> cosine of the contributions
};
std::vector<GradientRecord> read_gradients(const std::string& path);

// diag/pca.jsonl: the head layer's gradient trajectory on its first two principal components.
struct PcaTrajectory {
  std::string layer;
  double explained[2] = {0, 0};
  std::vector<int64_t> steps;
  std::vector<double> pc1, pc2;
};
PcaTrajectory read_pca(const std::string& path);

}  // namespace slimssl::report
