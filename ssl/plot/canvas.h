// The drawing surface the charts are written against: a handful of primitives in pixel
// coordinates (origin top-left, y down). Two implementations render the same chart code: an SVG
// document (svg.h) and an RGB raster saved as PNG (raster.h, png.h), so a figure looks the same
// in both formats.
#pragma once
#include <string>
#include <utility>
#include <vector>
#include "ssl/plot/color.h"

namespace slimssl::plot {

enum class Anchor { Start, Middle, End };

class Canvas {
 public:
  virtual ~Canvas() = default;
  virtual int width() const = 0;
  virtual int height() const = 0;
  virtual void line(double x0, double y0, double x1, double y1, Color c, double width, bool dashed = false) = 0;
  // Connected segments; a default in terms of line() is provided.
  virtual void polyline(const std::vector<std::pair<double, double>>& pts, Color c, double width);
  virtual void circle(double cx, double cy, double r, Color fill) = 0;
  virtual void rect(double x, double y, double w, double h, Color fill) = 0;
  void rect_outline(double x, double y, double w, double h, Color c, double width = 1);
  // Text whose anchor point is (x, y): horizontally per `anchor`, vertically centred. `size` is
  // the line height in pixels. Vertical text reads bottom to top (rotated -90 degrees) and is
  // anchored along the vertical axis.
  virtual void text(double x, double y, const std::string& s, double size, Color c, Anchor anchor = Anchor::Start,
                    bool vertical = false) = 0;
};

// The bitmap font's integer scale for a text size, and the advance width of a string at that
// size: the layout code uses it for both canvases, so labels never overlap in the PNG.
int text_scale(double size);
double text_width(const std::string& s, double size);

}  // namespace slimssl::plot
