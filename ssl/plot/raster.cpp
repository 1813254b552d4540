#include "ssl/plot/raster.h"
#include <algorithm>
#include <cmath>
#include "engine/error.h"
#include "ssl/plot/font.h"

namespace slimssl::plot {

RasterCanvas::RasterCanvas(int width, int height, Color bg) {
  SLIMSSL_CHECK(width > 0 && height > 0 && width <= 16384 && height <= 16384, "plot: image size ", width, "x",
                height, " must be in [1, 16384]");
  image_.width = width;
  image_.height = height;
  image_.rgb.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < image_.rgb.size(); i += 3) image_.rgb[i] = bg.r, image_.rgb[i + 1] = bg.g, image_.rgb[i + 2] = bg.b;
}

void RasterCanvas::blend(int x, int y, Color c, double a) {
  if (x < 0 || y < 0 || x >= image_.width || y >= image_.height || a <= 0) return;
  a = std::min(a, 1.0);
  uint8_t* p = &image_.rgb[(static_cast<size_t>(y) * image_.width + x) * 3];
  p[0] = static_cast<uint8_t>(std::lround(p[0] + (c.r - p[0]) * a));
  p[1] = static_cast<uint8_t>(std::lround(p[1] + (c.g - p[1]) * a));
  p[2] = static_cast<uint8_t>(std::lround(p[2] + (c.b - p[2]) * a));
}

// Coverage of each pixel centre by a capsule of the given width around the segment: full inside,
// fading over one pixel at the edge. Visits only the capsule's bounding box.
void RasterCanvas::segment(double x0, double y0, double x1, double y1, Color c, double width) {
  double half = std::max(width, 0.5) / 2;
  double pad = half + 1;
  int xa = std::max(0, static_cast<int>(std::floor(std::min(x0, x1) - pad)));
  int xb = std::min(image_.width - 1, static_cast<int>(std::ceil(std::max(x0, x1) + pad)));
  int ya = std::max(0, static_cast<int>(std::floor(std::min(y0, y1) - pad)));
  int yb = std::min(image_.height - 1, static_cast<int>(std::ceil(std::max(y0, y1) + pad)));
  double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  for (int py = ya; py <= yb; ++py) {
    for (int px = xa; px <= xb; ++px) {
      double cx = px + 0.5, cy = py + 0.5;
      double t = len2 > 0 ? std::clamp(((cx - x0) * dx + (cy - y0) * dy) / len2, 0.0, 1.0) : 0.0;
      double ex = cx - (x0 + t * dx), ey = cy - (y0 + t * dy);
      double cover = half + 0.5 - std::sqrt(ex * ex + ey * ey);
      if (cover > 0) blend(px, py, c, cover);
    }
  }
}

void RasterCanvas::line(double x0, double y0, double x1, double y1, Color c, double width, bool dashed) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  if (!dashed) return segment(x0, y0, x1, y1, c, width);
  double len = std::hypot(x1 - x0, y1 - y0);
  double on = 6 * std::max(1.0, width), off = 4 * std::max(1.0, width);
  for (double s = 0; s < len; s += on + off) {
    double e = std::min(len, s + on);
    segment(x0 + (x1 - x0) * s / len, y0 + (y1 - y0) * s / len, x0 + (x1 - x0) * e / len, y0 + (y1 - y0) * e / len, c,
            width);
  }
}

void RasterCanvas::circle(double cx, double cy, double r, Color fill) {
  if (!std::isfinite(cx) || !std::isfinite(cy)) return;
  int xa = static_cast<int>(std::floor(cx - r - 1)), xb = static_cast<int>(std::ceil(cx + r + 1));
  int ya = static_cast<int>(std::floor(cy - r - 1)), yb = static_cast<int>(std::ceil(cy + r + 1));
  for (int py = std::max(0, ya); py <= std::min(image_.height - 1, yb); ++py)
    for (int px = std::max(0, xa); px <= std::min(image_.width - 1, xb); ++px) {
      double cover = r + 0.5 - std::hypot(px + 0.5 - cx, py + 0.5 - cy);
      if (cover > 0) blend(px, py, fill, cover);
    }
}

void RasterCanvas::rect(double x, double y, double w, double h, Color fill) {
  int xa = std::max(0, static_cast<int>(std::lround(x))), xb = std::min(image_.width, static_cast<int>(std::lround(x + w)));
  int ya = std::max(0, static_cast<int>(std::lround(y))), yb = std::min(image_.height, static_cast<int>(std::lround(y + h)));
  for (int py = ya; py < yb; ++py)
    for (int px = xa; px < xb; ++px) blend(px, py, fill, 1.0);
}

void RasterCanvas::text(double x, double y, const std::string& s, double size, Color c, Anchor anchor, bool vertical) {
  int scale = text_scale(size);
  double len = text_width(s, size);
  double shift = anchor == Anchor::Start ? 0 : anchor == Anchor::Middle ? len / 2 : len;
  // Glyph-local coordinates (u along the text, v down the glyph) map to the image either
  // directly or rotated by -90 degrees (u up the image, v to the right).
  int u0 = static_cast<int>(std::lround(-shift));
  int v0 = static_cast<int>(std::lround(-kBodyHeight * scale / 2.0));
  int ox = static_cast<int>(std::lround(x)), oy = static_cast<int>(std::lround(y));
  for (size_t k = 0; k < s.size(); ++k) {
    const auto& rows = glyph(s[k]);
    for (int r = 0; r < kGlyphHeight; ++r)
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (!((rows[r] >> (kGlyphWidth - 1 - col)) & 1)) continue;
        for (int a = 0; a < scale; ++a)
          for (int b = 0; b < scale; ++b) {
            int u = u0 + static_cast<int>(k) * kCellWidth * scale + col * scale + b;
            int v = v0 + r * scale + a;
            if (vertical) blend(ox + v, oy - u, c, 1.0);
            else blend(ox + u, oy + v, c, 1.0);
          }
      }
  }
}

}  // namespace slimssl::plot
