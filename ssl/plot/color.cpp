#include "ssl/plot/color.h"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>

namespace slimssl::plot {
namespace {

// Piecewise-linear colour ramps through a few anchor colours, evenly spaced on [0, 1].
template <size_t N>
Color ramp(const Color (&stops)[N], double t) {
  double pos = std::clamp(t, 0.0, 1.0) * (N - 1);
  size_t i = std::min(static_cast<size_t>(pos), N - 2);
  return mix(stops[i], stops[i + 1], pos - static_cast<double>(i));
}

// Sequential: dark violet-blue through teal and green to yellow (monotone in lightness, so the
// order survives greyscale printing).
constexpr Color kSequential[] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
// Diverging: saturated blue, white at the centre, saturated red.
constexpr Color kDiverging[] = {{33, 102, 172}, {146, 197, 222}, {247, 247, 247}, {244, 165, 130}, {178, 24, 43}};
constexpr Color kCategories[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
                                 {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

}  // namespace

std::string Color::hex() const {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, b);
  return buf;
}

Color mix(Color a, Color b, double t) {
  t = std::clamp(t, 0.0, 1.0);
  auto lerp = [t](uint8_t u, uint8_t v) { return static_cast<uint8_t>(std::lround(u + (v - u) * t)); };
  return {lerp(a.r, b.r), lerp(a.g, b.g), lerp(a.b, b.b)};
}

Color category_color(int64_t i) {
  int64_t n = static_cast<int64_t>(std::size(kCategories));
  return kCategories[((i % n) + n) % n];
}

Color colormap(ColorMap map, double t) {
  if (std::isnan(t)) return {160, 160, 160};
  return map == ColorMap::Sequential ? ramp(kSequential, t) : ramp(kDiverging, t);
}

}  // namespace slimssl::plot
