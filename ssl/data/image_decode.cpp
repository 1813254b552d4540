#include "ssl/data/image_decode.h"
#include <stb/stb_image.h>
#include <zlib.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include "engine/error.h"

namespace slimssl::data {

namespace {

constexpr int64_t kMaxImagePixels = int64_t(1) << 26;  // 8192 x 8192

bool is_jpeg(const uint8_t* d, size_t n) { return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF; }

const uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
bool is_png(const uint8_t* d, size_t n) { return n >= 8 && std::memcmp(d, kPngSignature, 8) == 0; }

// Walks the marker segments; entropy-coded data after SOS contains 0xFF only as FF00 (stuffing),
// FFD0-FFD7 (restarts) or FFFF (fill), so the next other FFxx is a real marker.
std::string jpeg_problem(const uint8_t* d, size_t n) {
  size_t pos = 2;
  for (;;) {
    if (pos >= n) return "truncated JPEG (no end-of-image marker)";
    if (d[pos] != 0xFF) return "corrupt JPEG (expected a marker at byte " + std::to_string(pos) + ")";
    while (pos < n && d[pos] == 0xFF) ++pos;
    if (pos >= n) return "truncated JPEG (no end-of-image marker)";
    uint8_t m = d[pos++];
    if (m == 0xD9) return "";
    if (m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) continue;  // markers without a length
    if (pos + 2 > n) return "truncated JPEG (in a marker segment)";
    size_t len = size_t(d[pos]) << 8 | d[pos + 1];
    if (len < 2) return "corrupt JPEG (marker segment of length " + std::to_string(len) + ")";
    if (pos + len > n) return "truncated JPEG (in a marker segment)";
    pos += len;
    if (m != 0xDA) continue;
    for (;;) {  // entropy-coded data of this scan
      const void* ff = pos < n ? std::memchr(d + pos, 0xFF, n - pos) : nullptr;
      if (!ff) return "truncated JPEG (image data ends without an end-of-image marker)";
      pos = static_cast<const uint8_t*>(ff) - d;
      if (pos + 1 >= n) return "truncated JPEG (image data ends without an end-of-image marker)";
      uint8_t next = d[pos + 1];
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) pos += 2;
      else if (next == 0xFF) pos += 1;
      else break;  // a marker: back to the segment walk
    }
  }
}

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

std::string png_problem(const uint8_t* d, size_t n) {
  size_t pos = 8;
  bool first = true;
  for (;;) {
    if (pos + 12 > n) return "truncated PNG (no IEND chunk)";
    uint32_t len = be32(d + pos);
    if (pos + 12 + size_t(len) > n) return "truncated PNG (chunk data cut short)";
    const uint8_t* type = d + pos + 4;
    uint32_t crc = static_cast<uint32_t>(crc32(0L, type, 4 + len));
    if (crc != be32(d + pos + 8 + len))
      return "corrupt PNG (CRC mismatch in chunk '" + std::string(reinterpret_cast<const char*>(type), 4) + "')";
    if (first && std::memcmp(type, "IHDR", 4) != 0) return "corrupt PNG (first chunk is not IHDR)";
    first = false;
    if (std::memcmp(type, "IEND", 4) == 0) return "";
    pos += 12 + len;
  }
}

// Output sample o of a 1-D resize covers input [o*scale, (o+1)*scale); the triangle filter's
// half-width is max(scale, 1) input pixels. Taps outside the image are dropped and the rest
// renormalised.
struct Taps {
  std::vector<int> first, count;
  std::vector<float> weights;  // `max_taps` per output sample
  int max_taps = 0;
};

Taps make_taps(int in, int out) {
  Taps t;
  double scale = double(in) / out, support = std::max(scale, 1.0);
  t.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out);
  t.count.resize(out);
  t.weights.assign(size_t(out) * t.max_taps, 0.0f);
  for (int o = 0; o < out; ++o) {
    double center = (o + 0.5) * scale;
    int lo = std::max(0, static_cast<int>(std::floor(center - support)));
    int hi = std::min(in, static_cast<int>(std::ceil(center + support)));
    double total = 0;
    std::vector<double> w;
    for (int i = lo; i < hi; ++i) {
      double x = std::abs((i + 0.5 - center) / support);
      w.push_back(x < 1 ? 1 - x : 0);
      total += w.back();
    }
    t.first[o] = lo;
    t.count[o] = hi - lo;
    for (int k = 0; k < hi - lo; ++k) t.weights[size_t(o) * t.max_taps + k] = static_cast<float>(w[k] / total);
  }
  return t;
}

}  // namespace

std::string image_structure_problem(const uint8_t* data, size_t size) {
  if (is_jpeg(data, size)) return jpeg_problem(data, size);
  if (is_png(data, size)) return png_problem(data, size);
  return "not a JPEG or PNG image";
}

DecodedImage decode_image(const uint8_t* data, size_t size, int channels) {
  SLIMSSL_CHECK(channels == 1 || channels == 3, "decode_image: channels must be 1 or 3, got ", channels);
  std::string problem = image_structure_problem(data, size);
  SLIMSSL_CHECK(problem.empty(), problem);
  SLIMSSL_CHECK(size < (size_t(1) << 31), "image file too large (", size, " bytes)");
  int w = 0, h = 0, comp = 0;
  // The header's size is checked before stb_image allocates for it: a few corrupt bytes can claim
  // a 60000 x 60000 image.
  SLIMSSL_CHECK(stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &comp), "cannot decode image (stb_image: ",
                stbi_failure_reason(), ")");
  SLIMSSL_CHECK(int64_t(w) * h <= kMaxImagePixels, "image header says ", w, "x", h, " pixels, more than the ",
                kMaxImagePixels, " a data set image may have");
  uint8_t* px = stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &comp, channels);
  SLIMSSL_CHECK(px != nullptr, "cannot decode image (stb_image: ", stbi_failure_reason(), ")");
  DecodedImage img;
  img.height = h;
  img.width = w;
  img.channels = channels;
  img.pixels.assign(px, px + size_t(w) * h * channels);
  stbi_image_free(px);
  return img;
}

void resize_bilinear_antialias(const uint8_t* src, int height, int width, int channels, uint8_t* dst,
                               int out_height, int out_width) {
  Taps tx = make_taps(width, out_width), ty = make_taps(height, out_height);
  // Horizontal pass into floats, then vertical pass with rounding.
  std::vector<float> mid(size_t(height) * out_width * channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < out_width; ++x)
      for (int c = 0; c < channels; ++c) {
        float acc = 0;
        const float* w = &tx.weights[size_t(x) * tx.max_taps];
        for (int k = 0; k < tx.count[x]; ++k) acc += w[k] * src[(size_t(y) * width + tx.first[x] + k) * channels + c];
        mid[(size_t(y) * out_width + x) * channels + c] = acc;
      }
  for (int y = 0; y < out_height; ++y)
    for (int x = 0; x < out_width; ++x)
      for (int c = 0; c < channels; ++c) {
        float acc = 0;
        const float* w = &ty.weights[size_t(y) * ty.max_taps];
        for (int k = 0; k < ty.count[y]; ++k) acc += w[k] * mid[((size_t(ty.first[y]) + k) * out_width + x) * channels + c];
        dst[(size_t(y) * out_width + x) * channels + c] = static_cast<uint8_t>(std::clamp(std::lround(acc), 0L, 255L));
      }
}

}  // namespace slimssl::data
