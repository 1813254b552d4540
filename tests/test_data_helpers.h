// Helpers for the [data] tests: a temporary directory, and independent writers for the formats
// the loaders read (IDX, CIFAR binary, PNG/JPEG via stb_image_write, ustar archives, gzip).
#pragma once
#include <stb/stb_image_write.h>
#include <zlib.h>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace slimssl::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "slimssl_data_XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& rel) const { return (std::filesystem::path(path_) / rel).string(); }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

using Bytes = std::vector<uint8_t>;

inline void write_file(const std::string& path, const Bytes& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

inline void write_text(const std::string& path, const std::string& text) { write_file(path, Bytes(text.begin(), text.end())); }

inline void write_gz(const std::string& path, const Bytes& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  gzFile gz = gzopen(path.c_str(), "wb");
  gzwrite(gz, data.data(), static_cast<unsigned>(data.size()));
  gzclose(gz);
}

// IDX: magic 0 0 8 ndim, big-endian sizes, bytes.
inline Bytes idx_bytes(const std::vector<uint32_t>& dims, const Bytes& data, uint8_t magic_type = 0x08) {
  Bytes b = {0, 0, magic_type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// Encoded images in memory.
inline void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<Bytes*>(ctx);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}
inline Bytes png_bytes(int w, int h, int c, const Bytes& pixels) {
  Bytes out;
  stbi_write_png_to_func(append_bytes, &out, w, h, c, pixels.data(), w * c);
  return out;
}
inline Bytes jpg_bytes(int w, int h, int c, const Bytes& pixels, int quality = 95) {
  Bytes out;
  stbi_write_jpg_to_func(append_bytes, &out, w, h, c, pixels.data(), quality);
  return out;
}

// A deterministic RGB (or gray) test pattern, distinct per `seed`.
inline Bytes pattern(int w, int h, int c, int seed) {
  Bytes p(size_t(w) * h * c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) p[(size_t(y) * w + x) * c + k] = static_cast<uint8_t>((seed * 37 + y * 16 + x * 5 + k * 80) % 256);
  return p;
}

// A ustar archive writer, independent of the reader under test.
class TarWriter {
 public:
  void file(const std::string& path, const Bytes& data, bool gnu_long_name = false) {
    if (gnu_long_name) {
      std::string n = path + '\0';
      header("././@LongLink", n.size(), 'L');
      pad_data(Bytes(n.begin(), n.end()));
      header(path.substr(0, 99), data.size(), '0');
    } else {
      header(path, data.size(), '0');
    }
    pad_data(data);
  }
  void directory(const std::string& path) { header(path, 0, '5'); }
  Bytes finish() {
    out_.insert(out_.end(), 1024, 0);
    return out_;
  }

 private:
  void header(const std::string& path, size_t size, char type) {
    uint8_t h[512] = {};
    std::string name = path, prefix;
    if (name.size() > 100) {  // ustar: split at a '/' into prefix (155) and name (100)
      size_t cut = name.rfind('/', 155);
      prefix = name.substr(0, cut);
      name = name.substr(cut + 1);
    }
    std::memcpy(h, name.data(), name.size());
    std::snprintf(reinterpret_cast<char*>(h + 100), 8, "%07o", 0644);
    std::snprintf(reinterpret_cast<char*>(h + 108), 8, "%07o", 0);
    std::snprintf(reinterpret_cast<char*>(h + 116), 8, "%07o", 0);
    std::snprintf(reinterpret_cast<char*>(h + 124), 12, "%011lo", static_cast<unsigned long>(size));
    std::snprintf(reinterpret_cast<char*>(h + 136), 12, "%011o", 0);
    h[156] = static_cast<uint8_t>(type);
    std::memcpy(h + 257, "ustar", 6);
    std::memcpy(h + 263, "00", 2);
    std::memcpy(h + 345, prefix.data(), prefix.size());
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (uint8_t b : h) sum += b;
    std::snprintf(reinterpret_cast<char*>(h + 148), 8, "%06o", sum);
    h[155] = ' ';
    out_.insert(out_.end(), h, h + 512);
  }
  void pad_data(const Bytes& data) {
    out_.insert(out_.end(), data.begin(), data.end());
    out_.insert(out_.end(), (512 - data.size() % 512) % 512, 0);
  }
  Bytes out_;
};

}  // namespace slimssl::testing
