// A minimal PNG encoder: 8-bit RGB, no interlace, one IDAT chunk of zlib-compressed scanlines,
// each with filter type 1 ("Sub", which turns the flat colour runs of a chart into zeros).
// Chunk CRCs come from zlib's crc32.
#pragma once
#include <string>
#include "ssl/plot/raster.h"

namespace slimssl::plot {

std::string encode_png(const Image& image);
// Writes atomically (temporary file, then rename); an Error names the path on failure.
void write_png(const std::string& path, const Image& image);

// Writes `data` to `path` through a temporary file and a rename (shared by the SVG/HTML writers).
void write_file_atomic(const std::string& path, const std::string& data);

}  // namespace slimssl::plot
