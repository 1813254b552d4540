// The three kinds of figure slimssl draws, as plain data, each renderable on any Canvas and
// saved as PNG or SVG by the file's extension:
//   LineChart:    curves over steps/epochs (loss and kNN per width, gradient-magnitude ratios with
//                 the 1.0 reference line, PCA components against the step);
//   ScatterChart: points coloured by class (t-SNE) or by a value on a colour scale (the PCA
//                 trajectory coloured by step), optionally joined in order and with marked points;
//   Heatmap:      a matrix with row/column labels and a colour bar (per-layer width-pair cosines).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include "ssl/plot/canvas.h"

namespace slimssl::plot {

struct Series {
  std::string name;  // legend entry; empty: not listed
  std::vector<double> x, y;  // equal length; non-finite y breaks the line
  std::optional<Color> color;  // default: category_color(series index)
  bool markers = false;        // a dot at every point
  bool dashed = false;
};

struct LineChart {
  std::string title, xlabel, ylabel;
  std::vector<Series> series;
  std::optional<double> hline;  // horizontal reference line (e.g. ratio 1.0)
  std::string hline_label;
  std::vector<std::pair<double, std::string>> vlines;  // vertical markers (e.g. slow start)
  bool log_y = false;
  std::optional<std::pair<double, double>> y_range;  // fixed y limits; data outside is clipped
  bool legend_outside = false;                        // legend right of the plot instead of inside
};

struct ScatterChart {
  std::string title, xlabel, ylabel;
  std::vector<double> x, y;
  // Colour by class: labels per point (>= 0), optional names for the legend ...
  std::vector<int64_t> classes;
  std::vector<std::string> class_names;
  // ... or by value on a colour scale with a colour bar (used when `classes` is empty).
  std::vector<double> values;
  std::string value_label;
  bool connect = false;  // join the points in order with a thin grey line (a trajectory)
  std::vector<std::pair<size_t, std::string>> marks;  // points to circle and label
  double radius = 3;
};

struct Heatmap {
  std::string title, xlabel, ylabel;
  int64_t rows = 0, cols = 0;
  std::vector<double> values;  // row-major rows * cols; NaN cells are grey
  std::vector<std::string> row_labels, col_labels;
  std::optional<std::pair<double, double>> range;  // colour limits; default: data (symmetric if diverging)
  bool diverging = true;  // blue-white-red around 0 (cosines); else the sequential map
  std::string value_label;
  bool annotate = true;  // print values in cells that are large enough
};

void draw(Canvas& c, const LineChart& chart);
void draw(Canvas& c, const ScatterChart& chart);
void draw(Canvas& c, const Heatmap& chart);

struct FigureSize {
  int width = 960, height = 600;
};

// Renders to `path`, PNG or SVG by its extension (".png" / ".svg"); other extensions are an error.
void save(const LineChart& chart, const std::string& path, FigureSize size = {});
void save(const ScatterChart& chart, const std::string& path, FigureSize size = {});
void save(const Heatmap& chart, const std::string& path, FigureSize size = {});

}  // namespace slimssl::plot
