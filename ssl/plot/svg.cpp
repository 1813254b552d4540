#include "ssl/plot/svg.h"
#include <cmath>
#include <cstdio>

namespace slimssl::plot {
namespace {

// Coordinates with two decimals: exact enough for a screen, compact in the file.
std::string num(double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  std::string s(buf);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

// Length of the UTF-8 sequence starting at s[i], or 0 if it is not valid.
size_t utf8_length(const std::string& s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c >= 0xF0 && c < 0xF5 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: {
        unsigned char u = static_cast<unsigned char>(c);
        if (u >= 0x80) {
          size_t n = utf8_length(s, i);
          if (n) out += s.substr(i, n), i += n - 1;
          else out += '?';
        } else if (u < 0x20 && c != '\n' && c != '\t') {
          out += '?';  // control characters are not allowed in XML 1.0
        } else {
          out += c;
        }
      }
    }
  }
  return out;
}

SvgCanvas::SvgCanvas(int width, int height, Color bg) : width_(width), height_(height) {
  body_ << "<rect x=\"0\" y=\"0\" width=\"" << width << "\" height=\"" << height << "\" fill=\"" << bg.hex()
        << "\"/>\n";
}

void SvgCanvas::line(double x0, double y0, double x1, double y1, Color c, double w, bool dashed) {
  body_ << "<line x1=\"" << num(x0) << "\" y1=\"" << num(y0) << "\" x2=\"" << num(x1) << "\" y2=\"" << num(y1)
        << "\" stroke=\"" << c.hex() << "\" stroke-width=\"" << num(w) << "\" stroke-linecap=\"round\"";
  if (dashed) body_ << " stroke-dasharray=\"" << num(6 * std::max(1.0, w)) << " " << num(4 * std::max(1.0, w)) << "\"";
  body_ << "/>\n";
}

void SvgCanvas::polyline(const std::vector<std::pair<double, double>>& pts, Color c, double w) {
  if (pts.size() < 2) return;
  body_ << "<polyline fill=\"none\" stroke=\"" << c.hex() << "\" stroke-width=\"" << num(w)
        << "\" stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\"";
  for (size_t i = 0; i < pts.size(); ++i) body_ << (i ? " " : "") << num(pts[i].first) << "," << num(pts[i].second);
  body_ << "\"/>\n";
}

void SvgCanvas::circle(double cx, double cy, double r, Color fill) {
  body_ << "<circle cx=\"" << num(cx) << "\" cy=\"" << num(cy) << "\" r=\"" << num(r) << "\" fill=\"" << fill.hex()
        << "\"/>\n";
}

void SvgCanvas::rect(double x, double y, double w, double h, Color fill) {
  body_ << "<rect x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(w) << "\" height=\"" << num(h)
        << "\" fill=\"" << fill.hex() << "\"/>\n";
}

void SvgCanvas::text(double x, double y, const std::string& s, double size, Color c, Anchor anchor, bool vertical) {
  const char* a = anchor == Anchor::Start ? "start" : anchor == Anchor::Middle ? "middle" : "end";
  // The baseline sits 0.35 em below the anchor so the text body is centred on it (renderers
  // disagree on dominant-baseline, a plain offset works everywhere); a rotation about the anchor
  // turns that offset sideways for vertical text. Monospace matches the raster font's fixed
  // advance, so layouts computed with text_width fit.
  body_ << "<text x=\"" << num(x) << "\" y=\"" << num(y + 0.35 * size) << "\" font-family=\"DejaVu Sans Mono, monospace\" font-size=\""
        << num(size) << "\" fill=\"" << c.hex() << "\" text-anchor=\"" << a << "\"";
  if (vertical) body_ << " transform=\"rotate(-90 " << num(x) << " " << num(y) << ")\"";
  body_ << ">" << xml_escape(s) << "</text>\n";
}

std::string SvgCanvas::document() const {
  std::ostringstream out;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" << width_ << "\" height=\"" << height_
      << "\" viewBox=\"0 0 " << width_ << " " << height_ << "\">\n"
      << body_.str() << "</svg>\n";
  return out.str();
}

}  // namespace slimssl::plot
