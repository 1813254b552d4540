#include "ssl/report/run_plots.h"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include "engine/safetensors.h"

namespace slimssl::report {
namespace fs = std::filesystem;

namespace {

// Width labels present in the points, widest first (the order of the run's width list).
std::vector<std::string> widths_in(const std::vector<MetricPoint>& points) {
  std::map<double, std::string, std::greater<double>> found;
  for (const auto& p : points)
    for (auto& [w, v] : p.values) found[std::atof(w.c_str())] = w;
  std::vector<std::string> out;
  for (auto& [value, label] : found) out.push_back(label);
  return out;
}

// One series per width: x from the point (step or epoch), NaN where a width has no value yet.
std::vector<plot::Series> per_width(const std::vector<MetricPoint>& points, bool by_epoch) {
  std::vector<plot::Series> out;
  for (const std::string& w : widths_in(points)) {
    plot::Series s;
    s.name = "width " + w;
    for (const auto& p : points) {
      auto it = p.values.find(w);
      s.x.push_back(by_epoch ? p.epoch : static_cast<double>(p.step));
      s.y.push_back(it == p.values.end() ? NAN : it->second);
    }
    s.markers = points.size() <= 40;
    out.push_back(std::move(s));
  }
  return out;
}

int figure_height(int64_t rows) { return static_cast<int>(std::clamp<int64_t>(170 + 18 * rows, 600, 2400)); }

}  // namespace

std::optional<double> slow_start_step(const train::TrainConfig& c, const MetricsLog& log) {
  double spe = log.steps_per_epoch();
  if (c.widths.size() < 2 || c.slim_start_epoch <= 0 || spe <= 0) return std::nullopt;
  return c.slim_start_epoch * spe;
}

void mark_slow_start(plot::LineChart& chart, std::optional<double> at, bool from_zero) {
  if (from_zero) {
    plot::Series anchor;  // no name: not in the legend; NaN y: nothing drawn
    anchor.x = {0.0}, anchor.y = {NAN};
    chart.series.push_back(anchor);
  }
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : chart.series)
    for (double x : s.x) lo = std::min(lo, x), hi = std::max(hi, x);
  if (!at || !(*at > lo && *at < hi)) return;
  chart.vlines = {{*at, "slow start ends"}};
  chart.legend_outside = true;
}

namespace {
// A chart of values against the optimizer step, with the end of slow start marked.
plot::LineChart step_chart(std::string title, std::string ylabel, std::vector<plot::Series> series,
                           std::optional<double> slow_start) {
  plot::LineChart ch;
  ch.title = std::move(title);
  ch.xlabel = "step";
  ch.ylabel = std::move(ylabel);
  ch.series = std::move(series);
  mark_slow_start(ch, slow_start);
  return ch;
}
}  // namespace

plot::LineChart loss_chart(const MetricsLog& log, std::optional<double> slow_start) {
  return step_chart("InfoNCE per width", "InfoNCE loss", per_width(log.train, false), slow_start);
}

plot::LineChart distill_chart(const MetricsLog& log, std::optional<double> slow_start) {
  return step_chart("Distillation KL per sub-width", "T_s^2 KL(full width || width)", per_width(log.distill, false),
                    slow_start);
}

plot::LineChart total_loss_chart(const MetricsLog& log, std::optional<double> slow_start) {
  plot::Series s;
  for (const auto& p : log.total) s.x.push_back(static_cast<double>(p.step)), s.y.push_back(p.values.at("total"));
  s.markers = log.total.size() <= 40;
  return step_chart("Step loss (every width, weighted)", "loss", {std::move(s)}, slow_start);
}

plot::LineChart knn_chart(const MetricsLog& log, std::optional<double> slow_start_epoch) {
  plot::LineChart ch;
  ch.title = "kNN top-1 per width";
  ch.xlabel = "epoch";
  ch.ylabel = "kNN top-1 (%)";
  ch.series = per_width(log.knn, true);
  for (auto& s : ch.series) s.markers = true;
  if (log.raw_pixels && !log.knn.empty()) {
    // The baseline the widths are read against, across the whole plotted range.
    plot::Series pixels;
    pixels.name = "raw pixels";
    pixels.x = {std::min(0.0, log.knn.front().epoch), log.knn.back().epoch};
    pixels.y = {*log.raw_pixels, *log.raw_pixels};
    pixels.dashed = true;
    pixels.color = plot::Color{115, 115, 115};
    ch.series.push_back(std::move(pixels));
  }
  mark_slow_start(ch, slow_start_epoch);
  return ch;
}

plot::ScatterChart tsne_chart(double width, const Tensor& xy, const Tensor& labels,
                              const std::vector<std::string>& class_names, const std::string& run_name) {
  SLIMSSL_CHECK(xy.dim() == 2 && xy.size(1) == 2 && labels.dim() == 1 && labels.size(0) == xy.size(0),
                "tsne_chart: expected coordinates [N, 2] and labels [N], got ", shape_str(xy.shape()), " and ",
                shape_str(labels.shape()));
  plot::ScatterChart ch;
  ch.title = "t-SNE of width " + width_label(width) + " features" + (run_name.empty() ? "" : " (" + run_name + ")");
  ch.xlabel = "t-SNE 1";
  ch.ylabel = "t-SNE 2";
  Tensor c = xy.to(DType::F64).contiguous();
  for (int64_t i = 0; i < c.size(0); ++i) ch.x.push_back(c.data<double>()[2 * i]), ch.y.push_back(c.data<double>()[2 * i + 1]);
  ch.classes = labels.to_vector<int64_t>();
  ch.class_names = class_names;
  ch.radius = c.size(0) > 1000 ? 2.5 : 3.5;
  return ch;
}

PlotResult plot_run(const std::string& run_dir, const PlotOptions& o) {
  SLIMSSL_CHECK(o.format == "png" || o.format == "svg", "plot: unknown format '", o.format, "' (expected png or svg)");
  SLIMSSL_CHECK(fs::is_directory(run_dir), "'", run_dir, "': not a directory (expected a run directory)");
  train::TrainConfig cfg = read_run_config(run_dir);
  MetricsLog log = read_metrics((fs::path(run_dir) / "metrics.jsonl").string());
  std::optional<double> slow = slow_start_step(cfg, log);
  std::optional<double> slow_epoch;
  if (slow) slow_epoch = cfg.slim_start_epoch;

  PlotResult r;
  r.out_dir = o.out_dir.empty() ? (fs::path(run_dir) / "plots").string() : o.out_dir;
  fs::create_directories(r.out_dir);
  auto save = [&](const auto& chart, const std::string& stem, const std::string& caption, plot::FigureSize size = {}) {
    std::string file = stem + "." + o.format;
    plot::save(chart, (fs::path(r.out_dir) / file).string(), size);
    r.figures.push_back({file, caption});
  };
  std::string slow_note = slow ? " The dashed vertical line marks the end of slow start (epoch " +
                                     nlohmann::json(cfg.slim_start_epoch).dump() + "), when the sub-networks start training."
                               : "";

  // Captions mention the slow-start line only where the chart could draw it.
  auto note = [&](const auto& chart) { return chart.vlines.empty() ? std::string() : slow_note; };
  if (!log.train.empty()) {
    plot::LineChart ch = loss_chart(log, slow);
    save(ch, "loss", "InfoNCE loss of each width against the optimizer step (metrics.jsonl)." + note(ch));
  } else {
    r.skipped.push_back("loss curves: metrics.jsonl has no train records");
  }
  if (!log.total.empty()) {
    plot::LineChart ch = total_loss_chart(log, slow);
    save(ch, "loss_total", "The step's loss against the optimizer step: every width's weighted term, "
                           "(1 - alpha) InfoNCE + alpha distillation for the sub-widths (distillation as the "
                           "cross-entropy the optimizer minimizes, which adds the teacher's entropy to the KL)." +
                               note(ch));
  }
  if (!log.distill.empty()) {
    plot::LineChart ch = distill_chart(log, slow);
    save(ch, "distill", "Online distillation of each sub-width as T_s^2 times the KL divergence from the full "
                        "width's logits (0: the sub-network matches the full one) against the optimizer step." +
                            note(ch));
  }
  if (!log.knn.empty()) {
    plot::LineChart ch = knn_chart(log, slow_epoch);
    save(ch, "knn", "Weighted kNN top-1 (k = " + std::to_string(cfg.knn_k) +
                        ") of each width's backbone features against the epoch" +
                        (log.raw_pixels ? "; dashed: the same kNN on the normalized raw pixels." : ".") + note(ch));
  } else {
    r.skipped.push_back("kNN curves: metrics.jsonl has no knn records");
  }

  // The gradient figures of one diagnostics directory; `suffix` and `session` tell a slimssl diag
  // session's apart from the run's own, and its axes start at its first step.
  auto draw_diagnostics = [&](const fs::path& diag, const std::string& suffix, const std::string& session) {
    bool from_zero = suffix.empty();
    if (fs::is_regular_file(diag / "gradients.jsonl") && cfg.widths.size() > 1) {
      auto g = read_gradients((diag / "gradients.jsonl").string());
      std::string full = width_label(cfg.widths.front()), small = width_label(cfg.widths.back());
      plot::LineChart ratios = ratio_chart(g, cfg.widths, slow, from_zero);
      if (!from_zero) ratios.title += session;
      save(ratios, "grad_ratios" + suffix,
           "Gradient magnitude imbalance" + session + ", averaged over conv/linear layers: |g" + full + "| / |g" +
               small + "| (total gradient on the full weight vs on the smallest width's slice) and |g" + full + " \\ " +
               small + "| / |g" + small + "| (the parameters only wider widths use vs the shared slice). Dashed "
               "horizontal line: 1." + note(ratios));
      plot::Heatmap pairs = pair_cosine_heatmap(g, cfg.widths);
      if (pairs.rows > 0) {
        if (!from_zero) pairs.title += session;
        save(pairs, "grad_cos_pairs" + suffix,
             "Direction" + session + ": cosine between two widths' own gradient contributions on their shared slice, "
             "per layer (rows, network order) and width pair (columns), averaged over the diagnostic steps at which "
             "both widths train. Red: the widths agree; blue: they pull the shared weights apart.",
             {960, figure_height(pairs.rows)});
        plot::Heatmap steps = step_cosine_heatmap(g, cfg.widths);
        if (!from_zero) steps.title += session;
        save(steps, "grad_cos_steps" + suffix,
             "The cosine between widths " + full + " and " + small + " per layer and diagnostic step" + session +
                 "; grey cells: the smallest width has no contribution yet (slow start).",
             {1100, figure_height(steps.rows)});
      }
    } else if (from_zero) {
      r.skipped.push_back("gradient diagnostics: no diag/gradients.jsonl (diag_every in the config or slimssl diag)");
    }
    if (fs::is_regular_file(diag / "pca.jsonl")) {
      PcaTrajectory p = read_pca((diag / "pca.jsonl").string());
      if (!p.steps.empty()) {
        plot::ScatterChart trajectory = pca_chart(p, slow);
        if (!from_zero) trajectory.title += session;
        save(trajectory, "grad_pca" + suffix,
             "Direction over time" + session + ": the flattened gradient of " + p.layer + " at each diagnostic step "
             "projected on its first two principal components, coloured by step and joined in order. A smooth path is "
             "a consistent optimization; jumps are divergent directions.");
        plot::LineChart steps = pca_steps_chart(p, slow, from_zero);
        if (!from_zero) steps.title += session;
        save(steps, "grad_pca_steps" + suffix,
             "The same projections against the step (the SlimCLR paper's view)" + session + "." + note(steps));
      }
    }
  };
  draw_diagnostics(fs::path(run_dir) / "diag", "", "");
  std::vector<std::pair<long long, fs::path>> sessions;
  for (auto& e : fs::directory_iterator(run_dir)) {
    long long from = 0;
    std::string name = e.path().filename().string();
    if (e.is_directory() && std::sscanf(name.c_str(), "diag_from_step_%lld", &from) == 1 &&
        name == "diag_from_step_" + std::to_string(from))
      sessions.emplace_back(from, e.path());
  }
  std::sort(sessions.begin(), sessions.end());
  for (auto& [from, dir] : sessions)
    draw_diagnostics(dir / "diag", "_from_" + std::to_string(from),
                     " (slimssl diag from step " + std::to_string(from) + ")");

  fs::path tsne = fs::path(run_dir) / "eval" / "tsne.safetensors";
  if (fs::is_regular_file(tsne)) {
    SafetensorsFile f = load_safetensors(tsne.string());
    std::vector<std::string> classes;
    if (f.metadata.count("classes")) {
      auto j = nlohmann::json::parse(f.metadata["classes"], nullptr, false);
      if (j.is_array())
        for (auto& c : j) classes.push_back(c.is_string() ? c.get<std::string>() : c.dump());
    }
    for (double w : cfg.widths) {
      std::string key = "w" + width_label(w);
      if (!f.contains(key + ".xy") || !f.contains(key + ".labels")) continue;
      save(tsne_chart(w, f.at(key + ".xy"), f.at(key + ".labels"), classes, cfg.name), "tsne_" + key,
           "t-SNE of width " + width_label(w) + " backbone features of a fixed sample of training images (up to 10 "
           "classes), from slimssl eval metrics" + (f.metadata.count("step") ? " at step " + f.metadata["step"] : "") + ".");
    }
  } else {
    r.skipped.push_back("t-SNE: no eval/tsne.safetensors (run slimssl eval metrics)");
  }

  std::string intro = cfg.framework + ", " + cfg.model + ", widths " + nlohmann::json(cfg.widths).dump() + ", data " +
                      cfg.data + ", " + std::to_string(cfg.epochs) + " epochs of batch " + std::to_string(cfg.batch_size) +
                      (log.train.empty() ? "" : "; last logged step " + std::to_string(log.train.back().step)) + ".";
  r.index = (fs::path(r.out_dir) / "index.html").string();
  plot::write_html_page(r.index, "slimssl run " + cfg.name, r.figures, intro);
  return r;
}

}  // namespace slimssl::report
