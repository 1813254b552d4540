#include "ssl/plot/html.h"
#include <cstdio>
#include <sstream>
#include "ssl/plot/png.h"
#include "ssl/plot/svg.h"

namespace slimssl::plot {
namespace {

// Relative file names go into src/href attributes: escape as text, and percent-encode the
// characters a URL reads specially (a '#' or '?' in a file name would otherwise cut the path).
std::string url_path(const std::string& file) {
  std::string out;
  for (unsigned char c : file) {
    if (c == '#' || c == '?' || c == '%' || c == ' ' || c == '"' || c < 0x20) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return xml_escape(out);
}

}  // namespace

std::string html_page(const std::string& title, const std::vector<FigureEntry>& figures, const std::string& intro) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << xml_escape(title)
    << "</title>\n<style>\n"
    << "body { font-family: sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }\n"
    << "figure { margin: 2em 0; } img { max-width: 100%; border: 1px solid #ddd; }\n"
    << "figcaption { margin-top: 0.4em; color: #444; }\n</style>\n</head>\n<body>\n<h1>" << xml_escape(title)
    << "</h1>\n";
  if (!intro.empty()) o << "<p>" << xml_escape(intro) << "</p>\n";
  for (const FigureEntry& f : figures) {
    std::string src = url_path(f.file);
    o << "<figure>\n<a href=\"" << src << "\"><img src=\"" << src << "\" alt=\"" << xml_escape(f.caption)
      << "\"></a>\n<figcaption>" << xml_escape(f.caption) << "</figcaption>\n</figure>\n";
  }
  o << "</body>\n</html>\n";
  return o.str();
}

void write_html_page(const std::string& path, const std::string& title, const std::vector<FigureEntry>& figures,
                     const std::string& intro) {
  write_file_atomic(path, html_page(title, figures, intro));
}

}  // namespace slimssl::plot
