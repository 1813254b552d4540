// Gradient diagnostics of a slimmable network (SlimCLR's failure mode, docs/diagnostics.md).
//
// On a diagnostic step the per-width loss terms are back-propagated one at a time; a gradient hook
// on every conv and linear weight captures each width's own contribution (a region of the full
// weight). The total gradient (their sum) is left in .grad for the optimizer, exactly as one
// backward of the sum would have left it. Written per (step, layer, width) to
// RUN_DIR/diag/gradients.jsonl:
//   magnitude: the L2 norm of the TOTAL gradient restricted to the width's slice, |g_w|, and per
//     layer the ratios |g_1.0| / |g_min| and |g_{1.0 \ min}| / |g_min| with
//     |g_{1.0 \ min}| = sqrt(|g_1.0|^2 - |g_min|^2);
//   direction: the norm of each width's own contribution, the cosine of every pair of widths'
//     contributions on their shared slice, and the cosine of the layer's total gradient with the
//     previous diagnostic step's.
// The flattened gradient of one projection-head layer is kept over steps and reduced by PCA to a
// 2-D trajectory (RUN_DIR/diag/pca.jsonl) when finish() is called.
#pragma once
#include <array>
#include <fstream>
#include <map>
#include <string>
#include <vector>
#include "ssl/train/encoder.h"
#include "ssl/train/learner.h"

namespace slimssl::diag {

struct DiagLayer {
  std::string name;             // the weight's parameter name, e.g. "backbone.layer1.0.conv1.weight"
  Tensor weight;                // the full weight
  std::vector<Shape> slices;    // per width index: the shape of its slice (leading corner)
};

// Every SlimConv2d / SlimLinear weight of the encoder with its per-width slice shapes.
std::vector<DiagLayer> slimmable_layers(train::Encoder& enc);
// The region of a full-size gradient that a slice of `shape` (leading corner) covers.
Tensor slice_region(const Tensor& full, const Shape& shape);

class GradientDiagnostics {
 public:
  GradientDiagnostics(train::Encoder& enc, std::vector<double> widths, const std::string& out_dir);
  ~GradientDiagnostics();
  // Back-propagates each active width's term separately (zeroing .grad first), records, and leaves
  // the total gradient in .grad.
  void backward_and_record(const train::StepLoss& sl, int64_t step);
  // Writes the PCA trajectory of the tracked head layer's gradients.
  void finish();
  // Per width index, per layer: the contributions captured at the last diagnostic step.
  const std::vector<std::vector<Tensor>>& last_contributions() const { return contributions_; }
  const std::vector<DiagLayer>& layers() const { return layers_; }
  const std::string& pca_layer() const { return pca_layer_; }

 private:
  std::vector<DiagLayer> layers_;
  std::vector<double> widths_;
  std::string out_dir_;
  std::ofstream out_;
  int current_width_ = -1;
  std::vector<std::vector<Tensor>> contributions_;  // [width][layer], full-size, zeros outside
  std::vector<Tensor> previous_total_;               // per layer, last diagnostic step
  std::string pca_layer_;
  size_t pca_index_ = 0;
  std::vector<std::pair<int64_t, std::vector<float>>> pca_rows_;
};

// PCA of the rows of X (n x p), centered: the coordinates of each row on the first two principal
// components (n x 2), and the fraction of variance each explains.
struct Pca2 {
  std::vector<std::array<double, 2>> coords;
  double explained[2] = {0, 0};
};
Pca2 pca2(const std::vector<std::vector<float>>& rows);

}  // namespace slimssl::diag
