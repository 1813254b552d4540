// A self-contained HTML page that shows a run's figures (PNG or SVG files, linked by relative
// path) with captions, so `slimssl plot` output opens in any browser.
#pragma once
#include <string>
#include <vector>

namespace slimssl::plot {

struct FigureEntry {
  std::string file;     // path relative to the page
  std::string caption;  // plain text (escaped)
};

std::string html_page(const std::string& title, const std::vector<FigureEntry>& figures,
                      const std::string& intro = "");
// Writes html_page(...) to `path` atomically.
void write_html_page(const std::string& path, const std::string& title, const std::vector<FigureEntry>& figures,
                     const std::string& intro = "");

}  // namespace slimssl::plot
