// Figures: PNG files are checked by an independent reader here (signature, chunk CRCs, IHDR,
// inflated size, filters undone to compare pixels); SVG by a small well-formedness checker.
// Set SLIMSSL_KEEP_PLOTS=DIR to keep the rendered figures for a look.
#include <catch2/catch.hpp>
#include <zlib.h>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>
#include "ssl/plot/axes.h"
#include "ssl/plot/charts.h"
#include "ssl/plot/font.h"
#include "ssl/plot/html.h"
#include "ssl/plot/png.h"
#include "ssl/plot/raster.h"
#include "ssl/plot/svg.h"

using namespace slimssl;
using namespace slimssl::plot;
namespace fs = std::filesystem;

namespace {

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

// Parses and verifies a PNG as written by encode_png (8-bit RGB); returns the decoded pixels.
Image read_png(const std::string& s) {
  REQUIRE(s.size() > 8);
  REQUIRE(s.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0);
  size_t at = 8;
  Image img;
  std::string idat;
  std::vector<std::string> types;
  while (at < s.size()) {
    REQUIRE(at + 12 <= s.size());
    uint32_t len = be32(s, at);
    REQUIRE(at + 12 + len <= s.size());
    std::string type = s.substr(at + 4, 4), data = s.substr(at + 8, len);
    uint32_t crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data() + at + 4), len + 4));
    INFO("chunk " << type);
    REQUIRE(crc == be32(s, at + 8 + len));
    types.push_back(type);
    if (type == "IHDR") {
      REQUIRE(len == 13);
      img.width = static_cast<int>(be32(data, 0));
      img.height = static_cast<int>(be32(data, 4));
      CHECK(data[8] == 8);   // bit depth
      CHECK(data[9] == 2);   // RGB
      CHECK(data[10] == 0);  // deflate
      CHECK(data[11] == 0);  // adaptive filtering
      CHECK(data[12] == 0);  // no interlace
    } else if (type == "IDAT") {
      idat += data;
    }
    at += 12 + len;
  }
  REQUIRE(types.size() >= 3);
  CHECK(types.front() == "IHDR");
  CHECK(types.back() == "IEND");
  REQUIRE(img.width > 0);
  size_t stride = size_t(img.width) * 3, expect = (stride + 1) * img.height;
  std::string raw(expect + 16, '\0');  // room to detect a stream that inflates too large
  uLongf got = static_cast<uLongf>(raw.size());
  int rc = uncompress(reinterpret_cast<Bytef*>(raw.data()), &got, reinterpret_cast<const Bytef*>(idat.data()),
                      static_cast<uLong>(idat.size()));
  REQUIRE(rc == Z_OK);
  REQUIRE(got == expect);
  img.rgb.resize(stride * img.height);
  for (int y = 0; y < img.height; ++y) {
    uint8_t filter = uint8_t(raw[y * (stride + 1)]);
    REQUIRE(filter <= 4);
    REQUIRE((filter == 0 || filter == 1));  // the encoder uses None or Sub only
    for (size_t i = 0; i < stride; ++i) {
      uint8_t v = uint8_t(raw[y * (stride + 1) + 1 + i]);
      uint8_t left = i >= 3 ? img.rgb[y * stride + i - 3] : 0;
      img.rgb[y * stride + i] = filter == 1 ? uint8_t(v + left) : v;
    }
  }
  return img;
}

// Well-formedness of the SVG subset we write: starts with <svg, tags balance and nest, attribute
// values are quoted, text holds no raw '<' and only known entities.
void check_svg(const std::string& s) {
  REQUIRE(s.rfind("<svg", 0) == 0);
  std::vector<std::string> stack;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '<') {
      size_t end = s.find('>', i);
      REQUIRE(end != std::string::npos);
      std::string tag = s.substr(i + 1, end - i - 1);
      bool closing = !tag.empty() && tag[0] == '/';
      bool self = !tag.empty() && tag.back() == '/';
      std::string name = tag.substr(closing ? 1 : 0);
      name = name.substr(0, name.find_first_of(" /\n"));
      REQUIRE(!name.empty());
      // Quotes in a tag come in pairs and no '<' hides inside.
      CHECK(std::count(tag.begin(), tag.end(), '"') % 2 == 0);
      CHECK(tag.find('<') == std::string::npos);
      if (closing) {
        REQUIRE(!stack.empty());
        CHECK(stack.back() == name);
        stack.pop_back();
      } else if (!self) {
        stack.push_back(name);
      }
      i = end + 1;
    } else {
      if (s[i] == '&') {
        size_t semi = s.find(';', i);
        REQUIRE(semi != std::string::npos);
        std::string ent = s.substr(i, semi - i + 1);
        CHECK((ent == "&amp;" || ent == "&lt;" || ent == "&gt;" || ent == "&quot;" || ent == "&apos;"));
      }
      CHECK(s[i] != '>');
      ++i;
    }
    if (stack.empty()) break;
  }
  CHECK(stack.empty());
  CHECK(s.find_first_not_of(" \n", i) == std::string::npos);  // nothing after </svg>
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

fs::path out_dir() {
  if (const char* keep = std::getenv("SLIMSSL_KEEP_PLOTS")) return keep;
  return fs::temp_directory_path() / ("slimssl_test_plot_" + std::to_string(::getpid()));
}

struct Cleanup {
  fs::path dir;
  ~Cleanup() {
    if (!std::getenv("SLIMSSL_KEEP_PLOTS")) fs::remove_all(dir);
  }
};

LineChart sample_lines() {
  LineChart ch;
  ch.title = "kNN top-1 per width";
  ch.xlabel = "epoch";
  ch.ylabel = "accuracy (%)";
  const char* names[] = {"1.0x", "0.75x", "0.5x", "0.25x"};
  for (int w = 0; w < 4; ++w) {
    Series s;
    s.name = names[w];
    for (int e = 0; e <= 100; ++e) {
      s.x.push_back(e);
      s.y.push_back((80 - 8 * w) * (1 - std::exp(-e / 20.0)) + (e == 50 && w == 3 ? NAN : 0.0));
    }
    ch.series.push_back(s);
  }
  ch.hline = 70;
  ch.hline_label = "reference 70%";
  ch.vlines = {{50, "slow start"}};
  return ch;
}

ScatterChart sample_scatter() {
  ScatterChart ch;
  ch.title = "t-SNE of 10 classes";
  const char* names[] = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  ch.class_names.assign(names, names + 10);
  for (int i = 0; i < 500; ++i) {
    int c = i % 10;
    double a = 2 * M_PI * c / 10, r = 10 + std::sin(i * 12.9898) * 2;
    ch.x.push_back(r * std::cos(a) + std::sin(i * 78.233) * 1.5);
    ch.y.push_back(r * std::sin(a) + std::cos(i * 37.719) * 1.5);
    ch.classes.push_back(c);
  }
  return ch;
}

Heatmap sample_heatmap() {
  Heatmap h;
  h.title = "cosine of width-pair gradients";
  h.xlabel = "width pair";
  h.rows = 6;
  h.cols = 6;
  for (int r = 0; r < 6; ++r) {
    h.row_labels.push_back("layer" + std::to_string(r + 1) + ".conv.weight");
    for (int c = 0; c < 6; ++c) h.values.push_back(std::cos(0.4 * (r + 1) * (c + 1)));
  }
  h.col_labels = {"1.0-.75", "1.0-.5", "1.0-.25", ".75-.5", ".75-.25", ".5-.25"};
  h.values[7] = NAN;
  h.value_label = "cosine";
  return h;
}

}  // namespace

TEST_CASE("PNG encoding round-trips pixels exactly", "[plot]") {
  RasterCanvas c(37, 23, {10, 20, 30});
  c.rect(5, 3, 10, 4, {200, 0, 0});
  Image img = read_png(encode_png(c.image()));
  REQUIRE(img.width == 37);
  REQUIRE(img.height == 23);
  CHECK(img.rgb == c.image().rgb);
  // the rectangle covers pixels [5, 15) x [3, 7) and nothing else
  auto px = [&](int x, int y) { return std::array<int, 3>{img.rgb[(y * 37 + x) * 3], img.rgb[(y * 37 + x) * 3 + 1], img.rgb[(y * 37 + x) * 3 + 2]}; };
  CHECK(px(5, 3) == std::array<int, 3>{200, 0, 0});
  CHECK(px(14, 6) == std::array<int, 3>{200, 0, 0});
  CHECK(px(15, 6) == std::array<int, 3>{10, 20, 30});
  CHECK(px(4, 3) == std::array<int, 3>{10, 20, 30});
  CHECK_THROWS_WITH(encode_png(Image{2, 2, {}}), Catch::Contains("encode_png"));
}

TEST_CASE("raster primitives put ink where they should", "[plot]") {
  RasterCanvas c(100, 60);
  auto dark = [&](int x, int y) { return c.image().rgb[(y * 100 + x) * 3] < 128; };
  c.line(10, 20.5, 90, 20.5, kBlack, 2);
  CHECK(dark(50, 20));
  CHECK(!dark(50, 25));
  c.circle(50, 45, 5, kBlack);
  CHECK(dark(50, 45));
  CHECK(!dark(50, 52));
  // Text: ink only inside the string's cell box (6 px per char at scale 1, 7 rows high).
  RasterCanvas t(60, 20);
  t.text(5, 10, "Ab1", 8, kBlack, Anchor::Start);
  int ink = 0, outside = 0;
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 60; ++x)
      if (t.image().rgb[(y * 60 + x) * 3] < 128) {
        ++ink;
        outside += x < 5 || x >= 5 + 18 || y < 6 || y > 12;
      }
  CHECK(ink > 20);
  CHECK(outside == 0);
  // The 7-row body spans y = 6..12 (centred on 10, rounded up); a descender adds rows 13 and 14.
  RasterCanvas g(20, 20);
  g.text(5, 10, "g", 8, kBlack, Anchor::Start);
  int low = 0;
  for (int x = 0; x < 20; ++x) low += g.image().rgb[(14 * 20 + x) * 3] < 128;
  CHECK(low > 0);
  // Vertical text runs upward from its anchor.
  RasterCanvas v(20, 60);
  v.text(10, 50, "abc", 8, kBlack, Anchor::Start, true);
  int above = 0, below = 0;
  for (int y = 0; y < 60; ++y)
    for (int x = 0; x < 20; ++x)
      if (v.image().rgb[(y * 20 + x) * 3] < 128) (y <= 50 ? above : below)++;
  CHECK(above > 10);
  CHECK(below == 0);
}

TEST_CASE("the bitmap font has a distinct glyph for every printable character", "[plot]") {
  for (int ch = 33; ch < 127; ++ch) {
    INFO("char " << char(ch));
    const auto& g = glyph(static_cast<char>(ch));
    int bits = 0;
    for (uint8_t row : g) {
      bits += __builtin_popcount(row);
      CHECK(row < 32);
    }
    CHECK(bits > 0);
  }
  CHECK(glyph('A') != glyph('B'));
  CHECK(glyph('0') != glyph('O'));
  CHECK(glyph('\x80') == glyph('?'));
}

TEST_CASE("axis ticks are round numbers with just enough decimals", "[plot]") {
  Axis a = Axis::fixed(0, 1);
  REQUIRE(a.ticks.size() == 6);
  CHECK(a.ticks[1] == Approx(0.2));
  CHECK(a.label(a.ticks[1]) == "0.2");
  Axis b = Axis::fixed(0, 250);
  CHECK(b.label(b.ticks.back()) == "250");
  Axis l = Axis::fixed(1e-3, 10, true);
  CHECK(l.ticks.size() == 5);
  CHECK(l.label(1e-3) == "0.001");
  Axis e = Axis::fit({}, false);  // no data still gives a usable axis
  CHECK(e.hi > e.lo);
  Frame f{0, 0, 100, 100};
  double x0 = -50, y0 = 50, x1 = 50, y1 = 50;
  REQUIRE(clip_segment(f, x0, y0, x1, y1));
  CHECK(x0 == 0);
  CHECK(x1 == 50);
  double u0 = -5, v0 = -5, u1 = -1, v1 = 200;
  CHECK(!clip_segment(f, u0, v0, u1, v1));
}

TEST_CASE("charts render to valid PNG and SVG files, and an HTML page lists them", "[plot]") {
  fs::path dir = out_dir();
  Cleanup cleanup{dir};
  save(sample_lines(), (dir / "lines.png").string());
  save(sample_lines(), (dir / "lines.svg").string());
  save(sample_scatter(), (dir / "tsne.png").string());
  save(sample_scatter(), (dir / "tsne.svg").string());
  ScatterChart traj;
  traj.title = "gradient PCA trajectory";
  traj.xlabel = "PC1";
  traj.ylabel = "PC2";
  traj.connect = true;
  traj.value_label = "step";
  for (int s = 0; s < 60; ++s) traj.x.push_back(std::cos(s * 0.2) * s), traj.y.push_back(std::sin(s * 0.2) * s), traj.values.push_back(s * 100);
  traj.marks = {{30, "slow start"}};
  save(traj, (dir / "trajectory.png").string(), {640, 480});
  save(traj, (dir / "trajectory.svg").string(), {640, 480});
  save(sample_heatmap(), (dir / "cosines.png").string());
  save(sample_heatmap(), (dir / "cosines.svg").string());

  for (const char* name : {"lines.png", "tsne.png", "cosines.png"}) {
    INFO(name);
    Image img = read_png(slurp(dir / name));
    CHECK(img.width == 960);
    CHECK(img.height == 600);
    // Not blank: a chart uses many colours.
    std::set<std::array<uint8_t, 3>> colours;
    for (size_t i = 0; i < img.rgb.size(); i += 3) colours.insert({img.rgb[i], img.rgb[i + 1], img.rgb[i + 2]});
    CHECK(colours.size() > 10);
  }
  Image t = read_png(slurp(dir / "trajectory.png"));
  CHECK(t.width == 640);
  for (const char* name : {"lines.svg", "tsne.svg", "trajectory.svg", "cosines.svg"}) {
    INFO(name);
    std::string svg = slurp(dir / name);
    check_svg(svg);
    CHECK(svg.find("<text") != std::string::npos);
  }
  CHECK(slurp(dir / "lines.svg").find("slow start") != std::string::npos);

  write_html_page((dir / "index.html").string(), "run <demo> & co",
                  {{"lines.png", "kNN top-1 per width"}, {"cosines.svg", "cosines \"per layer\""}});
  std::string html = slurp(dir / "index.html");
  CHECK(html.find("<img src=\"lines.png\"") != std::string::npos);
  CHECK(html.find("<img src=\"cosines.svg\"") != std::string::npos);
  CHECK(html.find("run &lt;demo&gt; &amp; co") != std::string::npos);
  CHECK(html.find("cosines &quot;per layer&quot;") != std::string::npos);
  CHECK(!fs::exists(dir / "lines.png.tmp"));
}

TEST_CASE("a vertical line's label stays inside the frame", "[plot]") {
  // Right of its line where it fits; a line near the right edge gets its label on its left.
  LineChart ch = sample_lines();
  ch.vlines = {{20, "slow start ends"}, {98, "late line label"}};
  SvgCanvas canvas(960, 600);
  draw(canvas, ch);
  const std::string svg = canvas.document();
  auto anchor_of = [&](const std::string& label) {
    size_t at = svg.find(">" + label + "</text>");
    REQUIRE(at != std::string::npos);
    size_t open = svg.rfind("<text", at);
    std::string tag = svg.substr(open, at - open);
    size_t a = tag.find("text-anchor=\"");
    REQUIRE(a != std::string::npos);
    return tag.substr(a + 13, tag.find('"', a + 13) - (a + 13));
  };
  CHECK(anchor_of("slow start ends") == "start");
  CHECK(anchor_of("late line label") == "end");
}

TEST_CASE("plot errors name the problem", "[plot]") {
  CHECK_THROWS_WITH(save(sample_lines(), "figure.jpg"), Catch::Contains("figure.jpg") && Catch::Contains(".png or .svg"));
  Heatmap h = sample_heatmap();
  h.values.pop_back();
  CHECK_THROWS_WITH(save(h, "x.svg"), Catch::Contains("heatmap") && Catch::Contains("35 values"));
  LineChart l = sample_lines();
  l.series[0].y.pop_back();
  CHECK_THROWS_WITH(save(l, "x.svg"), Catch::Contains("1.0x") && Catch::Contains("101 x values but 100"));
  CHECK(xml_escape("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&apos;");
  CHECK(xml_escape("caf\xc3\xa9 \x01") == "caf\xc3\xa9 ?");
}
