#include "ssl/plot/png.h"
#include <zlib.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include "engine/error.h"

namespace slimssl::plot {
namespace {

void put_u32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

// length, type, data, CRC-32 of type + data.
void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  std::string body = std::string(type, 4) + data;
  out += body;
  put_u32(out, static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

}  // namespace

std::string encode_png(const Image& img) {
  SLIMSSL_CHECK(img.width > 0 && img.height > 0 && img.rgb.size() == static_cast<size_t>(img.width) * img.height * 3,
                "encode_png: image ", img.width, "x", img.height, " with ", img.rgb.size(), " bytes of RGB");
  std::string ihdr;
  put_u32(ihdr, static_cast<uint32_t>(img.width));
  put_u32(ihdr, static_cast<uint32_t>(img.height));
  ihdr += std::string{8, 2, 0, 0, 0};  // bit depth 8, colour type 2 (RGB), deflate, adaptive filters, no interlace

  size_t stride = static_cast<size_t>(img.width) * 3;
  std::string raw((stride + 1) * img.height, '\0');
  for (int y = 0; y < img.height; ++y) {
    char* row = &raw[y * (stride + 1)];
    const uint8_t* src = &img.rgb[y * stride];
    row[0] = 1;  // Sub: each byte minus the same channel of the pixel to its left
    for (size_t i = 0; i < stride; ++i) row[1 + i] = static_cast<char>(src[i] - (i >= 3 ? src[i - 3] : 0));
  }
  uLongf bound = compressBound(static_cast<uLong>(raw.size()));
  std::string idat(bound, '\0');
  int rc = compress2(reinterpret_cast<Bytef*>(idat.data()), &bound, reinterpret_cast<const Bytef*>(raw.data()),
                     static_cast<uLong>(raw.size()), 6);
  SLIMSSL_CHECK(rc == Z_OK, "encode_png: zlib compress2 failed with code ", rc);
  idat.resize(bound);

  std::string out("\x89PNG\r\n\x1a\n", 8);
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", idat);
  put_chunk(out, "IEND", "");
  return out;
}

void write_file_atomic(const std::string& path, const std::string& data) {
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    SLIMSSL_CHECK(f.good(), "plot: cannot open '", tmp, "' for writing");
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
    SLIMSSL_CHECK(f.good(), "plot: writing '", tmp, "' failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  SLIMSSL_CHECK(!ec, "plot: cannot rename '", tmp, "' to '", path, "': ", ec.message());
}

void write_png(const std::string& path, const Image& image) { write_file_atomic(path, encode_png(image)); }

}  // namespace slimssl::plot
