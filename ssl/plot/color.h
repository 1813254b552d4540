// Colours for the figures: a qualitative palette for series and classes, and two continuous
// maps (a perceptually ordered dark-blue -> green -> yellow one for magnitudes and steps, and a
// blue -> white -> red one for signed values such as cosines).
#pragma once
#include <cstdint>
#include <string>

namespace slimssl::plot {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
  std::string hex() const;  // "#rrggbb"
  bool operator==(const Color&) const = default;
};

inline constexpr Color kBlack{0, 0, 0};
inline constexpr Color kWhite{255, 255, 255};
inline constexpr Color kGrid{225, 225, 225};
inline constexpr Color kAxis{60, 60, 60};

// The i-th of 10 well-separated colours (cycles for i >= 10).
Color category_color(int64_t i);

enum class ColorMap { Sequential, Diverging };
// t in [0, 1] (clamped); NaN gives grey.
Color colormap(ColorMap map, double t);

// Linear interpolation between two colours, t in [0, 1].
Color mix(Color a, Color b, double t);

}  // namespace slimssl::plot
