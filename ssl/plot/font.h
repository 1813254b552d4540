// A 5x7 bitmap font for printable ASCII, drawn for this project, so PNG figures can carry axis
// labels without a font library. Capitals and digits are 7 rows high; g, j, p, q and y hang two
// rows below the baseline (9 rows in all). Glyphs advance by 6 columns (one of spacing); text is
// centred vertically on the 7-row body. Non-ASCII bytes draw as '?'.
#pragma once
#include <array>
#include <cstdint>

namespace slimssl::plot {

constexpr int kGlyphWidth = 5, kGlyphHeight = 9, kBodyHeight = 7;
constexpr int kCellWidth = 6, kCellHeight = 8;

// Row bits of glyph `c`: rows top to bottom (rows 7-8 are the descender), bit 4 = leftmost column.
const std::array<uint8_t, kGlyphHeight>& glyph(char c);

}  // namespace slimssl::plot
