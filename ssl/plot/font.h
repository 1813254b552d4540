// A 5x7 bitmap font for printable ASCII, drawn for this project, so PNG figures can carry axis
// labels without a font library. Each glyph sits in a 6x8 cell (one column and one row of
// spacing); descenders are folded into the 7 rows. Non-ASCII bytes draw as '?'.
#pragma once
#include <array>
#include <cstdint>

namespace slimssl::plot {

constexpr int kGlyphWidth = 5, kGlyphHeight = 7;
constexpr int kCellWidth = 6, kCellHeight = 8;

// Row bits of glyph `c`: rows top to bottom, bit 4 = leftmost column.
const std::array<uint8_t, kGlyphHeight>& glyph(char c);

}  // namespace slimssl::plot
