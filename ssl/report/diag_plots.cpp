// The gradient-diagnostics figures of a run (docs/diagnostics.md): magnitude ratios, width-pair
// cosines per layer, and the head-gradient PCA trajectory.
#include <cmath>
#include <map>
#include "ssl/report/run_plots.h"

namespace slimssl::report {

namespace {

// "backbone.layer1.0.conv1.weight" -> "layer1.0.conv1": the prefix and suffix are the same on
// every row and only push the informative part out of the label column.
std::string short_layer(std::string name) {
  if (name.rfind("backbone.", 0) == 0) name.erase(0, 9);
  if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0) name.resize(name.size() - 7);
  return name;
}

// Layers in the order the records first name them (the network's order), "__mean__" excluded.
std::vector<std::string> layer_order(const std::vector<GradientRecord>& g) {
  std::vector<std::string> out;
  std::map<std::string, bool> seen;
  for (const auto& r : g)
    if (r.width && !seen[r.layer]) seen[r.layer] = true, out.push_back(r.layer);
  return out;
}

bool same_width(const std::optional<double>& a, double b) { return a && std::abs(*a - b) < 1e-6; }

}  // namespace

plot::LineChart ratio_chart(const std::vector<GradientRecord>& g, const std::vector<double>& widths,
                            std::optional<double> slow_start, bool from_zero) {
  std::string full = width_label(widths.front()), small = width_label(widths.back());
  plot::LineChart ch;
  ch.title = "Gradient magnitude ratios";
  ch.xlabel = "step";
  ch.ylabel = "ratio (mean over layers)";
  plot::Series whole, rest;
  whole.name = "|g" + full + "| / |g" + small + "|";
  rest.name = "|g" + full + " \\ " + small + "| / |g" + small + "|";
  for (const auto& r : g) {
    if (r.layer != "__mean__") continue;
    whole.x.push_back(static_cast<double>(r.step)), whole.y.push_back(r.ratio_full_min.value_or(NAN));
    rest.x.push_back(static_cast<double>(r.step)), rest.y.push_back(r.ratio_rest_min.value_or(NAN));
  }
  whole.markers = rest.markers = whole.x.size() <= 40;
  ch.series = {whole, rest};
  ch.hline = 1.0;
  ch.hline_label = "ratio 1";
  mark_slow_start(ch, slow_start, from_zero);
  return ch;
}

plot::Heatmap pair_cosine_heatmap(const std::vector<GradientRecord>& g, const std::vector<double>& widths) {
  auto layers = layer_order(g);
  std::vector<std::pair<size_t, size_t>> pairs;
  for (size_t a = 0; a < widths.size(); ++a)
    for (size_t b = a + 1; b < widths.size(); ++b) pairs.emplace_back(a, b);
  std::map<std::string, size_t> row_of;
  for (size_t i = 0; i < layers.size(); ++i) row_of[layers[i]] = i;
  std::vector<double> sum(layers.size() * pairs.size(), 0.0), count(sum.size(), 0.0);
  for (const auto& r : g) {
    if (!r.width) continue;
    for (size_t p = 0; p < pairs.size(); ++p) {
      if (!same_width(r.width, widths[pairs[p].first])) continue;
      auto it = r.cos.find(width_label(widths[pairs[p].second]));
      if (it == r.cos.end()) continue;
      size_t cell = row_of[r.layer] * pairs.size() + p;
      sum[cell] += it->second, count[cell] += 1;
    }
  }
  plot::Heatmap h;
  h.title = "Width-pair gradient cosines per layer";
  h.xlabel = "width pair (mean over diagnostic steps where both train)";
  h.ylabel = "layer";
  h.rows = static_cast<int64_t>(layers.size()), h.cols = static_cast<int64_t>(pairs.size());
  for (size_t i = 0; i < sum.size(); ++i) h.values.push_back(count[i] > 0 ? sum[i] / count[i] : NAN);
  for (auto& l : layers) h.row_labels.push_back(short_layer(l));
  for (auto& [a, b] : pairs) h.col_labels.push_back(width_label(widths[a]) + "-" + width_label(widths[b]));
  h.range = std::make_pair(-1.0, 1.0);
  h.value_label = "cosine";
  return h;
}

plot::Heatmap step_cosine_heatmap(const std::vector<GradientRecord>& g, const std::vector<double>& widths) {
  auto layers = layer_order(g);
  std::vector<int64_t> steps;
  for (const auto& r : g)
    if (steps.empty() || steps.back() != r.step) steps.push_back(r.step);
  std::map<int64_t, size_t> col_of;
  for (size_t i = 0; i < steps.size(); ++i) col_of[steps[i]] = i;
  std::map<std::string, size_t> row_of;
  for (size_t i = 0; i < layers.size(); ++i) row_of[layers[i]] = i;
  std::string small = width_label(widths.back());
  plot::Heatmap h;
  h.rows = static_cast<int64_t>(layers.size()), h.cols = static_cast<int64_t>(steps.size());
  h.values.assign(h.rows * h.cols, NAN);
  for (const auto& r : g) {
    if (!same_width(r.width, widths.front())) continue;
    auto it = r.cos.find(small);
    if (it != r.cos.end()) h.values[row_of[r.layer] * h.cols + col_of[r.step]] = it->second;
  }
  h.title = "Cosine of widths " + width_label(widths.front()) + " and " + small + " per step";
  h.xlabel = "step";
  h.ylabel = "layer";
  for (auto& l : layers) h.row_labels.push_back(short_layer(l));
  for (int64_t s : steps) h.col_labels.push_back(std::to_string(s));
  h.range = std::make_pair(-1.0, 1.0);
  h.value_label = "cosine";
  h.annotate = h.cols <= 12;
  return h;
}

plot::ScatterChart pca_chart(const PcaTrajectory& p, std::optional<double> slow_start) {
  plot::ScatterChart ch;
  char buf[160];
  std::snprintf(buf, sizeof buf, "Gradient PCA trajectory of %s", short_layer(p.layer).c_str());
  ch.title = buf;
  std::snprintf(buf, sizeof buf, "PC1 (%.0f%% of variance)", 100 * p.explained[0]);
  ch.xlabel = buf;
  std::snprintf(buf, sizeof buf, "PC2 (%.0f%% of variance)", 100 * p.explained[1]);
  ch.ylabel = buf;
  ch.x = p.pc1, ch.y = p.pc2;
  for (int64_t s : p.steps) ch.values.push_back(static_cast<double>(s));
  ch.value_label = "step";
  ch.connect = true;
  ch.radius = p.steps.size() > 200 ? 2 : 4;
  if (!p.steps.empty()) ch.marks.emplace_back(0, "step " + std::to_string(p.steps.front()));
  if (slow_start)
    for (size_t i = 0; i < p.steps.size(); ++i)
      if (p.steps[i] > *slow_start) {
        if (i > 0) ch.marks.emplace_back(i, "slow start ends (step " + std::to_string(p.steps[i]) + ")");
        break;
      }
  if (p.steps.size() > 1) ch.marks.emplace_back(p.steps.size() - 1, "step " + std::to_string(p.steps.back()));
  return ch;
}

plot::LineChart pca_steps_chart(const PcaTrajectory& p, std::optional<double> slow_start, bool from_zero) {
  plot::LineChart ch;
  ch.title = "Gradient PCA of " + short_layer(p.layer);
  ch.xlabel = "step";
  ch.ylabel = "projection";
  plot::Series a, b;
  a.name = "PC1", b.name = "PC2";
  for (size_t i = 0; i < p.steps.size(); ++i) {
    a.x.push_back(static_cast<double>(p.steps[i])), a.y.push_back(p.pc1[i]);
    b.x.push_back(static_cast<double>(p.steps[i])), b.y.push_back(p.pc2[i]);
  }
  a.markers = b.markers = p.steps.size() <= 40;
  ch.series = {a, b};
  mark_slow_start(ch, slow_start, from_zero);
  return ch;
}

}  // namespace slimssl::report
