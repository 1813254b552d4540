// An RGB raster canvas with anti-aliased lines (distance-to-segment coverage, round caps) and
// circles, pixel-aligned rectangles, and text in the built-in bitmap font (font.h).
#pragma once
#include <cstdint>
#include <vector>
#include "ssl/plot/canvas.h"

namespace slimssl::plot {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel
};

class RasterCanvas : public Canvas {
 public:
  RasterCanvas(int width, int height, Color background = kWhite);
  int width() const override { return image_.width; }
  int height() const override { return image_.height; }
  void line(double x0, double y0, double x1, double y1, Color c, double width, bool dashed = false) override;
  void circle(double cx, double cy, double r, Color fill) override;
  void rect(double x, double y, double w, double h, Color fill) override;
  void text(double x, double y, const std::string& s, double size, Color c, Anchor anchor = Anchor::Start,
            bool vertical = false) override;
  const Image& image() const { return image_; }

 private:
  void blend(int x, int y, Color c, double alpha);
  void segment(double x0, double y0, double x1, double y1, Color c, double width);
  Image image_;
};

}  // namespace slimssl::plot
