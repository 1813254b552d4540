#include "ssl/plot/canvas.h"
#include <algorithm>
#include <cmath>
#include "ssl/plot/font.h"

namespace slimssl::plot {

void Canvas::polyline(const std::vector<std::pair<double, double>>& pts, Color c, double width) {
  for (size_t i = 1; i < pts.size(); ++i) line(pts[i - 1].first, pts[i - 1].second, pts[i].first, pts[i].second, c, width);
}

void Canvas::rect_outline(double x, double y, double w, double h, Color c, double width) {
  line(x, y, x + w, y, c, width);
  line(x + w, y, x + w, y + h, c, width);
  line(x + w, y + h, x, y + h, c, width);
  line(x, y + h, x, y, c, width);
}

int text_scale(double size) { return std::max(1, static_cast<int>(std::lround(size / kCellHeight))); }

double text_width(const std::string& s, double size) {
  return static_cast<double>(s.size()) * kCellWidth * text_scale(size);
}

}  // namespace slimssl::plot
