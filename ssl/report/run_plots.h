// The figures of one run directory (`slimssl plot`): training curves from metrics.jsonl, the
// gradient diagnostics from diag/ when present, the t-SNE pictures of `slimssl eval metrics`, and
// an index.html that shows them all with captions. Each chart builder is separate so it can be
// tested and reused (eval metrics draws its t-SNE pictures with tsne_chart).
#pragma once
#include <optional>
#include <string>
#include <vector>
#include "engine/tensor.h"
#include "ssl/plot/charts.h"
#include "ssl/plot/html.h"
#include "ssl/report/run_files.h"

namespace slimssl::report {

struct PlotOptions {
  std::string out_dir;          // "" = RUN_DIR/plots
  std::string format = "png";   // "png" or "svg"
};

struct PlotResult {
  std::string out_dir, index;              // index = the index.html written
  std::vector<plot::FigureEntry> figures;  // files relative to out_dir, with captions
  std::vector<std::string> skipped;        // "what: why" for each figure that had no data
};

// The run's figures, and the gradient figures of every RUN_DIR/diag_from_step_S/ (slimssl diag)
// with the suffix "_from_S".
PlotResult plot_run(const std::string& run_dir, const PlotOptions& o);

// The step at which slow start ends (sub-networks start training), from slim_start_epoch and the
// steps per epoch recorded in metrics.jsonl; none without slow start or without train records.
std::optional<double> slow_start_step(const train::TrainConfig& c, const MetricsLog& log);

// Training curves start their x axis at 0 (an invisible anchor point), so a slow start that ends
// at the first logged point still falls inside the frame; with the "slow start ends" line (drawn
// when `at` lies inside the x range) the legend goes right of the plot, clear of the line's label.
// `from_zero` false (a diagnostics session from a later checkpoint): no anchor, the axis starts at
// the data's first step.
void mark_slow_start(plot::LineChart& chart, std::optional<double> at, bool from_zero = true);

// ---- chart builders ----
// InfoNCE per width against the step.
plot::LineChart loss_chart(const MetricsLog& log, std::optional<double> slow_start);
// The step's loss (every width, weighted) against the step.
plot::LineChart total_loss_chart(const MetricsLog& log, std::optional<double> slow_start);
// The distillation KL of every sub-width against the step.
plot::LineChart distill_chart(const MetricsLog& log, std::optional<double> slow_start);
// kNN top-1 per width against the epoch, and the raw pixels' kNN (dashed) when the log has it.
plot::LineChart knn_chart(const MetricsLog& log, std::optional<double> slow_start_epoch);
// The "__mean__" magnitude ratios over steps, with the dashed 1.0 line.
plot::LineChart ratio_chart(const std::vector<GradientRecord>& g, const std::vector<double>& widths,
                            std::optional<double> slow_start, bool from_zero = true);
// Layers x width pairs: the cosine of two widths' gradient contributions on their shared slice,
// averaged over every diagnostic step at which both trained.
plot::Heatmap pair_cosine_heatmap(const std::vector<GradientRecord>& g, const std::vector<double>& widths);
// Layers x diagnostic steps: the cosine between the full and the smallest width's contributions
// (grey before slow start ends: the smallest width has no contribution yet).
plot::Heatmap step_cosine_heatmap(const std::vector<GradientRecord>& g, const std::vector<double>& widths);
// pc1 vs pc2 coloured by step, joined in order, slow start marked.
plot::ScatterChart pca_chart(const PcaTrajectory& p, std::optional<double> slow_start);
// pc1 and pc2 against the step (the SlimCLR paper's view of the same trajectory).
plot::LineChart pca_steps_chart(const PcaTrajectory& p, std::optional<double> slow_start, bool from_zero = true);
// t-SNE coordinates [N, 2] coloured by class.
plot::ScatterChart tsne_chart(double width, const Tensor& xy, const Tensor& labels,
                              const std::vector<std::string>& class_names, const std::string& run_name);

}  // namespace slimssl::report
