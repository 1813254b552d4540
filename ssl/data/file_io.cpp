#include "ssl/data/file_io.h"
#include <zlib.h>
#include <algorithm>
#include <filesystem>
#include "engine/error.h"

namespace fs = std::filesystem;

namespace slimssl::data {

namespace {

gzFile open_gz(const std::string& path) {
  SLIMSSL_CHECK(!path.empty(), "data: empty path");
  std::error_code ec;
  SLIMSSL_CHECK(fs::exists(path, ec), path, ": no such file or directory");
  SLIMSSL_CHECK(!fs::is_directory(path, ec), path, ": is a directory, expected a file");
  gzFile gz = gzopen(path.c_str(), "rb");
  SLIMSSL_CHECK(gz != nullptr, path, ": cannot open for reading");
  gzbuffer(gz, 1 << 18);  // large reads: archives are streamed sequentially
  return gz;
}

// gzread reports a truncated or corrupt gzip stream as an error, not a short read; say which.
[[noreturn]] void gz_fail(gzFile gz, const std::string& path) {
  int code = 0;
  const char* msg = gzerror(gz, &code);
  fail(path, ": read failed (", code == Z_BUF_ERROR ? "gzip stream truncated" : msg, ")");
}

}  // namespace

// A plain file is read in one call into a buffer of exactly its size (+1 byte to see the end),
// so a loader holding many small files holds no slack. A gzip stream is larger than the file:
// the buffer doubles as it fills, and is trimmed at the end.
std::vector<uint8_t> read_file_bytes(const std::string& path) {
  ByteStream in(path);
  std::error_code ec;
  auto raw_size = fs::file_size(path, ec);
  std::vector<uint8_t> out(ec ? size_t(1) << 16 : static_cast<size_t>(raw_size) + 1);
  size_t filled = 0;
  for (;;) {
    filled += in.read(out.data() + filled, out.size() - filled);
    if (filled < out.size()) break;
    out.resize(out.size() * 2);
  }
  out.resize(filled);
  if (out.capacity() > filled + filled / 8 + 1) out.shrink_to_fit();
  return out;
}

ByteStream::ByteStream(const std::string& path) : path_(path), gz_(open_gz(path)) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  file_size_ = ec ? 0 : static_cast<uint64_t>(size);
}

double ByteStream::fraction_read() const {
  if (file_size_ == 0) return 0.0;
  // gzoffset: the raw file offset, which for a plain file is the position itself.
  auto raw = gzoffset(static_cast<gzFile>(gz_));
  return std::clamp(static_cast<double>(raw < 0 ? 0 : raw) / static_cast<double>(file_size_), 0.0, 1.0);
}

ByteStream::~ByteStream() {
  if (gz_) gzclose(static_cast<gzFile>(gz_));
}

size_t ByteStream::read(void* dst, size_t n) {
  auto* gz = static_cast<gzFile>(gz_);
  size_t total = 0;
  auto* p = static_cast<uint8_t*>(dst);
  while (total < n) {
    unsigned ask = static_cast<unsigned>(std::min<size_t>(n - total, 1u << 30));
    int got = gzread(gz, p + total, ask);
    if (got < 0) gz_fail(gz, path_);
    if (got == 0) {
      int code = 0;
      gzerror(gz, &code);
      if (code != Z_OK) gz_fail(gz, path_);
      break;
    }
    total += static_cast<size_t>(got);
  }
  position_ += total;
  return total;
}

size_t ByteStream::skip(size_t n) {
  uint8_t buf[1 << 14];
  size_t total = 0;
  while (total < n) {
    size_t want = std::min(n - total, sizeof(buf));
    size_t got = read(buf, want);
    total += got;
    if (got < want) break;
  }
  return total;
}

bool path_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

bool is_directory(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::string path_join(const std::string& a, const std::string& b) { return (fs::path(a) / b).string(); }

std::string file_name(const std::string& path) {
  fs::path p(path);
  if (!p.has_filename()) p = p.parent_path();  // "dir/" -> "dir"
  return p.filename().string();
}

bool is_tar_name(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  auto ends = [&](const char* s) {
    std::string suf(s);
    return n.size() > suf.size() && n.compare(n.size() - suf.size(), suf.size(), suf) == 0;
  };
  return ends(".tar") || ends(".tar.gz") || ends(".tgz");
}

}  // namespace slimssl::data
