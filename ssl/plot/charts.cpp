#include "ssl/plot/charts.h"
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include "engine/error.h"
#include "ssl/plot/axes.h"
#include "ssl/plot/png.h"
#include "ssl/plot/raster.h"
#include "ssl/plot/svg.h"

namespace slimssl::plot {
namespace {

constexpr double kTop = 50, kBottom = 64, kRight = 24, kLegendRow = 22;

struct LegendEntry {
  std::string name;
  Color color;
  bool dot = false;  // a dot (scatter classes) instead of a line sample
  bool dashed = false;
};

double legend_width(const std::vector<LegendEntry>& entries) {
  double w = 0;
  for (auto& e : entries) w = std::max(w, text_width(e.name, kLabelSize));
  return w + 48;
}

// A label beside the mark at x: starting `gap` right of it, or ending `gap` left of it where it
// would leave the frame (a mark near the right edge).
void label_beside(Canvas& c, const Frame& f, double x, double gap, double y, const std::string& label, Color color) {
  if (x + gap + text_width(label, kLabelSize) > f.right()) c.text(x - gap, y, label, kLabelSize, color, Anchor::End);
  else c.text(x + gap, y, label, kLabelSize, color, Anchor::Start);
}

// A boxed legend with its top-left corner at (x, y).
void draw_legend(Canvas& c, double x, double y, const std::vector<LegendEntry>& entries) {
  if (entries.empty()) return;
  double w = legend_width(entries), h = kLegendRow * entries.size() + 8;
  c.rect(x, y, w, h, kWhite);
  c.rect_outline(std::round(x) + 0.5, std::round(y) + 0.5, std::round(w), std::round(h), {180, 180, 180}, 1);
  for (size_t i = 0; i < entries.size(); ++i) {
    double cy = y + 4 + kLegendRow * (i + 0.5);
    if (entries[i].dot) c.circle(x + 20, cy, 5, entries[i].color);
    else c.line(x + 8, cy, x + 32, cy, entries[i].color, 2.5, entries[i].dashed);
    c.text(x + 40, cy, entries[i].name, kLabelSize, kBlack, Anchor::Start);
  }
}

// The inside corner (top-right, top-left, bottom-right, bottom-left, in that preference) where a
// legend box would hide the fewest data points.
std::pair<double, double> legend_corner(const Frame& f, const std::vector<LegendEntry>& entries,
                                        const std::vector<std::pair<double, double>>& points) {
  double w = legend_width(entries), h = kLegendRow * entries.size() + 8, m = 8;
  const std::pair<double, double> corners[] = {{f.right() - w - m, f.top + m},
                                               {f.left + m, f.top + m},
                                               {f.right() - w - m, f.bottom() - h - m},
                                               {f.left + m, f.bottom() - h - m}};
  size_t best = 0, best_hidden = SIZE_MAX;
  for (size_t k = 0; k < 4; ++k) {
    size_t hidden = 0;
    for (auto& [px, py] : points)
      hidden += px >= corners[k].first - 4 && px <= corners[k].first + w + 4 && py >= corners[k].second - 4 &&
                py <= corners[k].second + h + 4;
    if (hidden < best_hidden) best = k, best_hidden = hidden;
  }
  return corners[best];
}

// The plot area left after margins for tick labels, axis labels, the title and a right column.
Frame layout(const Canvas& c, const Axis& y, bool has_ylabel, double right_column) {
  Frame f;
  f.left = 16 + tick_label_width(y) + (has_ylabel ? 30 : 4);
  f.top = kTop;
  f.width = std::max(40.0, c.width() - f.left - kRight - right_column);
  f.height = std::max(40.0, c.height() - kTop - kBottom);
  return f;
}

void check_xy(const char* what, size_t nx, size_t ny) {
  SLIMSSL_CHECK(nx == ny, "plot: ", what, " has ", nx, " x values but ", ny, " y values");
}

// Draws the finite stretches of a curve, clipped to the frame, as polylines.
void draw_curve(Canvas& c, const Frame& f, const Axis& ax, const Axis& ay, const Series& s, Color col) {
  std::vector<std::pair<double, double>> run;
  auto flush = [&] {
    if (run.size() >= 2) {
      if (s.dashed) {
        for (size_t i = 1; i < run.size(); ++i) c.line(run[i - 1].first, run[i - 1].second, run[i].first, run[i].second, col, 2, true);
      } else {
        c.polyline(run, col, 2);
      }
    }
    run.clear();
  };
  for (size_t i = 1; i < s.x.size(); ++i) {
    double x0 = f.px(ax, s.x[i - 1]), y0 = f.py(ay, s.y[i - 1]), x1 = f.px(ax, s.x[i]), y1 = f.py(ay, s.y[i]);
    bool whole = std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1);
    double cx0 = x0, cy0 = y0, cx1 = x1, cy1 = y1;
    if (!whole || !clip_segment(f, cx0, cy0, cx1, cy1)) {
      flush();
      continue;
    }
    if (run.empty() || cx0 != x0 || cy0 != y0) {
      flush();
      run.emplace_back(cx0, cy0);
    }
    run.emplace_back(cx1, cy1);
    if (cx1 != x1 || cy1 != y1) flush();  // left the frame
  }
  flush();
  if (s.markers || s.x.size() == 1)
    for (size_t i = 0; i < s.x.size(); ++i) {
      double px = f.px(ax, s.x[i]), py = f.py(ay, s.y[i]);
      if (px >= f.left && px <= f.right() && py >= f.top && py <= f.bottom()) c.circle(px, py, 3.5, col);
    }
}

template <class Chart>
void save_any(const Chart& chart, const std::string& path, FigureSize size) {
  auto ends_with = [&](const char* ext) {
    std::string e(ext);
    if (path.size() < e.size()) return false;
    std::string tail = path.substr(path.size() - e.size());
    std::transform(tail.begin(), tail.end(), tail.begin(), [](unsigned char ch) { return std::tolower(ch); });
    return tail == e;
  };
  if (ends_with(".png")) {
    RasterCanvas canvas(size.width, size.height);
    draw(canvas, chart);
    write_png(path, canvas.image());
  } else if (ends_with(".svg")) {
    SvgCanvas canvas(size.width, size.height);
    draw(canvas, chart);
    write_file_atomic(path, canvas.document());
  } else {
    fail("plot: cannot tell the format of '", path, "' (use a .png or .svg file name)");
  }
}

}  // namespace

void draw(Canvas& c, const LineChart& ch) {
  std::vector<double> xs, ys;
  std::vector<LegendEntry> legend;
  for (size_t i = 0; i < ch.series.size(); ++i) {
    const Series& s = ch.series[i];
    check_xy(("series '" + s.name + "'").c_str(), s.x.size(), s.y.size());
    xs.insert(xs.end(), s.x.begin(), s.x.end());
    ys.insert(ys.end(), s.y.begin(), s.y.end());
    if (!s.name.empty()) legend.push_back({s.name, s.color.value_or(category_color(i)), false, s.dashed});
  }
  for (auto& [x, label] : ch.vlines) xs.push_back(x);
  if (ch.hline) {
    ys.push_back(*ch.hline);
    if (!ch.hline_label.empty()) legend.push_back({ch.hline_label, kAxis, false, true});
  }
  Axis ax = Axis::fit(xs, false, 0.02);
  Axis ay = ch.y_range ? Axis::fixed(ch.y_range->first, ch.y_range->second, ch.log_y) : Axis::fit(ys, ch.log_y);
  double right = ch.legend_outside && !legend.empty() ? legend_width(legend) + 16 : 0;
  Frame f = layout(c, ay, !ch.ylabel.empty(), right);
  draw_axes(c, f, ax, ay, ch.title, ch.xlabel, ch.ylabel);
  if (ch.hline) {
    double py = f.py(ay, *ch.hline);
    if (py >= f.top && py <= f.bottom()) c.line(f.left, py, f.right(), py, kAxis, 1.5, true);
  }
  for (auto& [x, label] : ch.vlines) {
    double px = f.px(ax, x);
    if (px < f.left || px > f.right()) continue;
    c.line(px, f.top, px, f.bottom(), {120, 120, 120}, 1.5, true);
    if (!label.empty()) label_beside(c, f, px, 4, f.top + 12, label, {90, 90, 90});
  }
  for (size_t i = 0; i < ch.series.size(); ++i)
    draw_curve(c, f, ax, ay, ch.series[i], ch.series[i].color.value_or(category_color(i)));
  if (ch.legend_outside) {
    draw_legend(c, f.right() + 16, f.top, legend);
  } else if (!legend.empty()) {
    std::vector<std::pair<double, double>> pts;
    for (const Series& s : ch.series)
      for (size_t i = 0; i < s.x.size(); ++i) pts.emplace_back(f.px(ax, s.x[i]), f.py(ay, s.y[i]));
    auto [lx, ly] = legend_corner(f, legend, pts);
    draw_legend(c, lx, ly, legend);
  }
}

void draw(Canvas& c, const ScatterChart& ch) {
  check_xy("scatter chart", ch.x.size(), ch.y.size());
  size_t n = ch.x.size();
  bool by_class = !ch.classes.empty();
  SLIMSSL_CHECK(!by_class || ch.classes.size() == n, "plot: scatter chart has ", n, " points but ", ch.classes.size(),
                " class labels");
  SLIMSSL_CHECK(by_class || ch.values.empty() || ch.values.size() == n, "plot: scatter chart has ", n,
                " points but ", ch.values.size(), " colour values");
  bool by_value = !by_class && !ch.values.empty();
  std::vector<LegendEntry> legend;
  if (by_class) {
    std::map<int64_t, bool> seen;
    for (int64_t k : ch.classes) seen[k] = true;
    for (auto& [k, unused] : seen) {
      std::string name = k >= 0 && k < static_cast<int64_t>(ch.class_names.size()) ? ch.class_names[k] : std::to_string(k);
      legend.push_back({name, category_color(k), true});
    }
  }
  Axis av = Axis::fit(by_value ? ch.values : std::vector<double>{}, false, 0.0);
  double bar_column = 30 + tick_label_width(av) + (ch.value_label.empty() ? 0 : 24);
  double right = by_class ? legend_width(legend) + 16 : by_value ? bar_column : 0;
  Axis ax = Axis::fit(ch.x, false, 0.05), ay = Axis::fit(ch.y, false, 0.05);
  Frame f = layout(c, ay, !ch.ylabel.empty(), right);
  draw_axes(c, f, ax, ay, ch.title, ch.xlabel, ch.ylabel);
  if (ch.connect) {
    Series path{"", ch.x, ch.y, Color{170, 170, 170}};
    draw_curve(c, f, ax, ay, path, {170, 170, 170});
  }
  auto color_of = [&](size_t i) {
    if (by_class) return category_color(ch.classes[i]);
    if (by_value) return colormap(ColorMap::Sequential, av.unit(ch.values[i]));
    return category_color(0);
  };
  for (size_t i = 0; i < n; ++i) {
    double px = f.px(ax, ch.x[i]), py = f.py(ay, ch.y[i]);
    if (std::isfinite(px) && std::isfinite(py)) c.circle(px, py, ch.radius, color_of(i));
  }
  for (auto& [i, label] : ch.marks) {
    SLIMSSL_CHECK(i < n, "plot: marked point ", i, " of a scatter chart with ", n, " points");
    double px = f.px(ax, ch.x[i]), py = f.py(ay, ch.y[i]);
    c.circle(px, py, ch.radius + 5, kBlack);
    c.circle(px, py, ch.radius + 3, color_of(i));
    if (!label.empty())
      label_beside(c, f, px, ch.radius + 9, std::clamp(py - 12, f.top + 10, f.bottom() - 10), label, kBlack);
  }
  if (by_class) draw_legend(c, f.right() + 16, f.top, legend);
  if (by_value)
    draw_color_bar(c, f.right() + 16, f.top, 18, f.height, av,
                   [](double t) { return colormap(ColorMap::Sequential, t); }, ch.value_label);
}

void draw(Canvas& c, const Heatmap& ch) {
  SLIMSSL_CHECK(ch.rows >= 1 && ch.cols >= 1 && static_cast<int64_t>(ch.values.size()) == ch.rows * ch.cols,
                "plot: heatmap of ", ch.rows, "x", ch.cols, " cells has ", ch.values.size(), " values");
  double lo, hi;
  if (ch.range) {
    lo = ch.range->first, hi = ch.range->second;
  } else {
    lo = INFINITY, hi = -INFINITY;
    for (double v : ch.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    if (lo > hi) lo = 0, hi = 1;
    if (ch.diverging) hi = std::max(std::abs(lo), std::abs(hi)), lo = -hi;
    if (hi <= lo) hi = lo + 1;
  }
  Axis scale = Axis::fixed(lo, hi);
  ColorMap map = ch.diverging ? ColorMap::Diverging : ColorMap::Sequential;

  // Margins from the labels: row labels left (capped at 40% of the width), column labels below.
  double row_w = 0;
  for (auto& l : ch.row_labels) row_w = std::max(row_w, text_width(l, kTickSize));
  row_w = std::min(row_w, 0.4 * c.width());
  Frame f;
  f.left = 16 + row_w + (ch.ylabel.empty() ? 4 : 30);
  f.top = kTop;
  double bar_column = 16 + 18 + 12 + tick_label_width(scale) + (ch.value_label.empty() ? 0 : 24);
  f.width = std::max(40.0, c.width() - f.left - kRight - bar_column);
  f.height = std::max(40.0, c.height() - kTop - kBottom);
  double cw = f.width / ch.cols, rh = f.height / ch.rows;
  int text_px = 8 * text_scale(kTickSize);

  for (int64_t r = 0; r < ch.rows; ++r)
    for (int64_t k = 0; k < ch.cols; ++k) {
      double v = ch.values[r * ch.cols + k];
      double t = std::isfinite(v) ? (v - lo) / (hi - lo) : NAN;
      double x0 = std::round(f.left + k * cw), x1 = std::round(f.left + (k + 1) * cw);
      double y0 = std::round(f.top + r * rh), y1 = std::round(f.top + (r + 1) * rh);
      Color col = colormap(map, t);
      c.rect(x0, y0, x1 - x0, y1 - y0, col);
      if (ch.annotate && std::isfinite(v)) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%.2f", v);
        if (text_width(buf, kSmallSize) + 4 <= cw && rh >= 10) {
          double lum = 0.299 * col.r + 0.587 * col.g + 0.114 * col.b;
          c.text((x0 + x1) / 2, (y0 + y1) / 2, buf, kSmallSize, lum < 128 ? kWhite : kBlack, Anchor::Middle);
        }
      }
    }
  c.rect_outline(std::round(f.left) + 0.5, std::round(f.top) + 0.5, std::round(f.width), std::round(f.height), kAxis, 1);
  // Labels, thinned so neighbours never overlap.
  int64_t row_every = std::max<int64_t>(1, static_cast<int64_t>(std::ceil((text_px + 2) / rh)));
  for (int64_t r = 0; r < ch.rows && r < static_cast<int64_t>(ch.row_labels.size()); r += row_every) {
    std::string l = ch.row_labels[r];
    while (!l.empty() && text_width(l, kTickSize) > row_w) l.erase(0, 1);  // keep the informative tail
    c.text(f.left - 8, f.top + (r + 0.5) * rh, l, kTickSize, kAxis, Anchor::End);
  }
  double col_w = 0;
  for (auto& l : ch.col_labels) col_w = std::max(col_w, text_width(l, kTickSize));
  int64_t col_every = std::max<int64_t>(1, static_cast<int64_t>(std::ceil((col_w + 8) / cw)));
  for (int64_t k = 0; k < ch.cols && k < static_cast<int64_t>(ch.col_labels.size()); k += col_every)
    c.text(f.left + (k + 0.5) * cw, f.bottom() + 16, ch.col_labels[k], kTickSize, kAxis, Anchor::Middle);
  if (!ch.xlabel.empty()) c.text(f.left + f.width / 2, f.bottom() + 42, ch.xlabel, kLabelSize, kBlack, Anchor::Middle);
  if (!ch.ylabel.empty()) c.text(16, f.top + f.height / 2, ch.ylabel, kLabelSize, kBlack, Anchor::Middle, true);
  if (!ch.title.empty()) draw_title(c, f, ch.title);
  draw_color_bar(c, f.right() + 16, f.top, 18, f.height, scale, [map](double t) { return colormap(map, t); },
                 ch.value_label);
}

void save(const LineChart& chart, const std::string& path, FigureSize size) { save_any(chart, path, size); }
void save(const ScatterChart& chart, const std::string& path, FigureSize size) { save_any(chart, path, size); }
void save(const Heatmap& chart, const std::string& path, FigureSize size) { save_any(chart, path, size); }

}  // namespace slimssl::plot
