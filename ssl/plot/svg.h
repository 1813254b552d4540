// An SVG canvas: each primitive becomes one element of a standalone SVG 1.1 document (no
// prolog, no external references), text escaped for XML.
#pragma once
#include <sstream>
#include <string>
#include "ssl/plot/canvas.h"

namespace slimssl::plot {

class SvgCanvas : public Canvas {
 public:
  SvgCanvas(int width, int height, Color background = kWhite);
  int width() const override { return width_; }
  int height() const override { return height_; }
  void line(double x0, double y0, double x1, double y1, Color c, double width, bool dashed = false) override;
  void polyline(const std::vector<std::pair<double, double>>& pts, Color c, double width) override;
  void circle(double cx, double cy, double r, Color fill) override;
  void rect(double x, double y, double w, double h, Color fill) override;
  void text(double x, double y, const std::string& s, double size, Color c, Anchor anchor = Anchor::Start,
            bool vertical = false) override;
  std::string document() const;  // the complete <svg>...</svg>

 private:
  int width_, height_;
  std::ostringstream body_;
};

// Escapes &, <, >, " and ' for XML text and attributes; bytes outside printable ASCII become '?'
// unless they form valid UTF-8 (passed through).
std::string xml_escape(const std::string& s);

}  // namespace slimssl::plot
