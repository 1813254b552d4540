// Byte-level input for the loaders: whole files and sequential streams, gzipped or not.
// zlib's gzopen/gzread read plain files transparently, so one code path serves .gz and raw files.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace slimssl::data {

// The whole (decompressed) content of a file. Errors name the file: missing, unreadable, or a
// gzip stream that is truncated or corrupt.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// A forward-only reader over a plain or gzipped file (tar archives are streamed through it).
class ByteStream {
 public:
  explicit ByteStream(const std::string& path);
  ~ByteStream();
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;
  // Reads up to n bytes; returns how many were read (fewer only at the end of the data).
  size_t read(void* dst, size_t n);
  // Skips n bytes; returns how many were skipped.
  size_t skip(size_t n);
  uint64_t position() const { return position_; }
  // The fraction of the file (compressed bytes for a gzipped one) consumed so far, in [0, 1].
  double fraction_read() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* gz_ = nullptr;  // gzFile, kept opaque so zlib.h stays out of the headers
  uint64_t position_ = 0;
  uint64_t file_size_ = 0;
};

// Path helpers (std::filesystem wrappers that keep call sites short).
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
std::string path_join(const std::string& a, const std::string& b);
std::string file_name(const std::string& path);  // last component
// True for names ending in .tar, .tar.gz or .tgz (case-insensitive).
bool is_tar_name(const std::string& name);

}  // namespace slimssl::data
