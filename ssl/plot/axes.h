// Axis arithmetic and decoration shared by the charts: "nice" tick positions (1, 2 or 5 x 10^k),
// tick labels with just enough decimals, data -> pixel mapping (linear or log10), Liang-Barsky
// clipping of segments to the plot area, and the frame with grid, ticks, labels and title.
#pragma once
#include <functional>
#include <string>
#include <vector>
#include "ssl/plot/canvas.h"

namespace slimssl::plot {

// Text sizes (line heights in pixels) used by every chart.
inline constexpr double kTitleSize = 24, kLabelSize = 16, kTickSize = 16, kSmallSize = 8;

struct Axis {
  double lo = 0, hi = 1;  // data range shown (log10 of it when log)
  bool log = false;
  std::vector<double> ticks;  // in data units
  int decimals = 0;
  // Range from finite values (positive ones only when log), padded by `pad` of the span each side,
  // with ticks; an empty or degenerate range is widened so the axis still means something.
  static Axis fit(std::vector<double> values, bool log = false, double pad = 0.04, int target_ticks = 6);
  static Axis fixed(double lo, double hi, bool log = false, int target_ticks = 6);
  double unit(double v) const;  // position in [0, 1] along the axis (outside for off-range data)
  std::string label(double tick) const;
};

struct Frame {
  double left = 0, top = 0, width = 0, height = 0;
  double px(const Axis& a, double v) const { return left + a.unit(v) * width; }
  double py(const Axis& a, double v) const { return top + (1 - a.unit(v)) * height; }
  double right() const { return left + width; }
  double bottom() const { return top + height; }
};

// Clips the segment to the frame; false if nothing remains.
bool clip_segment(const Frame& f, double& x0, double& y0, double& x1, double& y1);

// The widest tick label of an axis, in pixels at kTickSize.
double tick_label_width(const Axis& a);

// Background grid, frame, ticks and tick labels, axis labels (y vertical) and the title.
// The chart title above the plot area, kept inside the picture.
void draw_title(Canvas& c, const Frame& f, const std::string& title);
void draw_axes(Canvas& c, const Frame& f, const Axis& x, const Axis& y, const std::string& title,
               const std::string& xlabel, const std::string& ylabel);

// A vertical colour bar for [lo, hi] at (x, top) of the given size, with tick labels to its right.
// `color_at` maps the bar's position t in [0, 1] (bottom to top) to a colour.
void draw_color_bar(Canvas& c, double x, double top, double width, double height, const Axis& scale,
                    const std::function<Color(double t)>& color_at, const std::string& label);

}  // namespace slimssl::plot
