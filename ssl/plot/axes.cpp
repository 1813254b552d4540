#include "ssl/plot/axes.h"
#include <algorithm>
#include <cmath>
#include <cstdio>

namespace slimssl::plot {
namespace {

// The step of the form 1, 2 or 5 x 10^k whose ticks inside [lo, hi] come closest in number to
// `target` (ties: the coarser step, for shorter labels).
double nice_step(double lo, double hi, int target) {
  double raw = (hi - lo) / std::max(1, target - 1);
  int e0 = static_cast<int>(std::floor(std::log10(raw)));
  double best = 0, best_score = INFINITY;
  for (int e = e0 - 1; e <= e0 + 1; ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      double step = m * std::pow(10.0, e);
      double count = std::floor(hi / step + 1e-9) - std::ceil(lo / step - 1e-9) + 1;
      double score = std::abs(count - target);
      if (score < best_score || (score == best_score && step > best)) best = step, best_score = score;
    }
  return best;
}

void add_ticks(Axis& a, int target) {
  a.ticks.clear();
  if (a.log) {
    // Decades inside the range; if the range is narrower than a decade, linear ticks of the values.
    for (double e = std::ceil(a.lo - 1e-9); e <= a.hi + 1e-9; e += 1) a.ticks.push_back(std::pow(10.0, e));
    if (a.ticks.size() >= 2) {
      a.decimals = 0;
      return;
    }
    a.ticks.clear();
  }
  double lo = a.log ? std::pow(10.0, a.lo) : a.lo, hi = a.log ? std::pow(10.0, a.hi) : a.hi;
  double step = nice_step(lo, hi, target);
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    a.ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  a.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
}

}  // namespace

Axis Axis::fit(std::vector<double> values, bool log, double pad, int target) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    if (!std::isfinite(v) || (log && v <= 0)) continue;
    double t = log ? std::log10(v) : v;
    lo = std::min(lo, t), hi = std::max(hi, t);
  }
  if (lo > hi) lo = 0, hi = 1;                                  // no usable data
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(lo))) {          // one value: show around it
    double w = log ? 0.5 : std::max(std::abs(lo) * 0.1, 1e-3);
    lo -= w, hi += w;
  }
  double span = hi - lo;
  Axis a;
  a.log = log;
  a.lo = lo - pad * span;
  a.hi = hi + pad * span;
  add_ticks(a, target);
  return a;
}

Axis Axis::fixed(double lo, double hi, bool log, int target) {
  Axis a;
  a.log = log;
  a.lo = log ? std::log10(lo) : lo;
  a.hi = log ? std::log10(hi) : hi;
  if (!(a.hi > a.lo)) a.hi = a.lo + 1;
  add_ticks(a, target);
  return a;
}

double Axis::unit(double v) const {
  double t = log ? (v > 0 ? std::log10(v) : -INFINITY) : v;
  return (t - lo) / (hi - lo);
}

std::string Axis::label(double tick) const {
  char buf[32];
  double mag = std::abs(tick);
  if (tick != 0 && (mag >= 1e6 || mag < 1e-4)) std::snprintf(buf, sizeof buf, "%.0e", tick);
  else if (log) std::snprintf(buf, sizeof buf, "%g", tick);
  else std::snprintf(buf, sizeof buf, "%.*f", decimals, tick);
  return buf;
}

bool clip_segment(const Frame& f, double& x0, double& y0, double& x1, double& y1) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return false;
  double t0 = 0, t1 = 1, dx = x1 - x0, dy = y1 - y0;
  // Each boundary as p * t <= q.
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {x0 - f.left, f.right() - x0, y0 - f.top, f.bottom() - y0};
  for (int k = 0; k < 4; ++k) {
    if (p[k] == 0) {
      if (q[k] < 0) return false;
      continue;
    }
    double r = q[k] / p[k];
    if (p[k] < 0) t0 = std::max(t0, r);
    else t1 = std::min(t1, r);
    if (t0 > t1) return false;
  }
  double ax = x0 + t0 * dx, ay = y0 + t0 * dy, bx = x0 + t1 * dx, by = y0 + t1 * dy;
  x0 = ax, y0 = ay, x1 = bx, y1 = by;
  return true;
}

double tick_label_width(const Axis& a) {
  double w = 0;
  for (double t : a.ticks) w = std::max(w, text_width(a.label(t), kTickSize));
  return w;
}

void draw_title(Canvas& c, const Frame& f, const std::string& title) {
  // Centred over the plot area, but never past the picture's edges (long titles, narrow plots).
  double half = text_width(title, kTitleSize) / 2, x = f.left + f.width / 2;
  x = std::max(x, half + 4.0);
  x = std::min(x, std::max(half + 4.0, c.width() - half - 4.0));
  c.text(x, f.top / 2, title, kTitleSize, kBlack, Anchor::Middle);
}

void draw_axes(Canvas& c, const Frame& f, const Axis& x, const Axis& y, const std::string& title,
               const std::string& xlabel, const std::string& ylabel) {
  for (double t : x.ticks) {
    double px = std::round(f.px(x, t)) + 0.5;
    if (px < f.left - 0.5 || px > f.right() + 0.5) continue;
    c.line(px, f.top, px, f.bottom(), kGrid, 1);
    c.line(px, f.bottom(), px, f.bottom() + 5, kAxis, 1);
    c.text(px, f.bottom() + 16, x.label(t), kTickSize, kAxis, Anchor::Middle);
  }
  for (double t : y.ticks) {
    double py = std::round(f.py(y, t)) + 0.5;
    if (py < f.top - 0.5 || py > f.bottom() + 0.5) continue;
    c.line(f.left, py, f.right(), py, kGrid, 1);
    c.line(f.left - 5, py, f.left, py, kAxis, 1);
    c.text(f.left - 9, py, y.label(t), kTickSize, kAxis, Anchor::End);
  }
  c.rect_outline(std::round(f.left) + 0.5, std::round(f.top) + 0.5, std::round(f.width), std::round(f.height), kAxis, 1);
  if (!xlabel.empty()) c.text(f.left + f.width / 2, f.bottom() + 42, xlabel, kLabelSize, kBlack, Anchor::Middle);
  if (!ylabel.empty())
    c.text(f.left - tick_label_width(y) - 26, f.top + f.height / 2, ylabel, kLabelSize, kBlack, Anchor::Middle, true);
  if (!title.empty()) draw_title(c, f, title);
}

void draw_color_bar(Canvas& c, double x, double top, double width, double height, const Axis& scale,
                    const std::function<Color(double)>& color_at, const std::string& label) {
  const int steps = 128;
  for (int i = 0; i < steps; ++i) {
    double y0 = top + height * (steps - 1 - i) / steps;
    c.rect(x, y0, width, height / steps + 1, color_at((i + 0.5) / steps));
  }
  c.rect_outline(std::round(x) + 0.5, std::round(top) + 0.5, std::round(width), std::round(height), kAxis, 1);
  for (double t : scale.ticks) {
    double u = scale.unit(t);
    if (u < -1e-9 || u > 1 + 1e-9) continue;
    double py = std::round(top + (1 - u) * height) + 0.5;
    c.line(x + width, py, x + width + 4, py, kAxis, 1);
    c.text(x + width + 8, py, scale.label(t), kTickSize, kAxis, Anchor::Start);
  }
  if (!label.empty())
    c.text(x + width + 16 + tick_label_width(scale), top + height / 2, label, kLabelSize, kBlack, Anchor::Middle, true);
}

}  // namespace slimssl::plot
