// A minimal streaming reader for POSIX ustar archives (plain or gzipped), enough for data sets:
// regular files and directories, with GNU long names ('L') and pax 'path' records ('x').
// Members are visited in archive order; nothing is unpacked to disk.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include "ssl/data/file_io.h"

namespace slimssl::data {

struct TarMember {
  std::string path;  // as stored, without a leading "./"
  uint64_t size = 0;
  bool regular = false;  // a regular file (directories, links, devices are not)
};

class TarReader {
 public:
  explicit TarReader(const std::string& archive) : in_(archive) {}
  // Advances to the next member; false at the end of the archive. The previous member's data is
  // skipped if it was not read.
  bool next(TarMember& member);
  // The current member's data (call at most once per member).
  std::vector<uint8_t> read_data();
  const std::string& path() const { return in_.path(); }
  double fraction_read() const { return in_.fraction_read(); }

 private:
  void skip_rest();
  std::vector<uint8_t> read_exact(uint64_t n, const std::string& what);
  ByteStream in_;
  TarMember current_;
  uint64_t remaining_ = 0;  // data bytes of the current member not yet consumed
  uint64_t padding_ = 0;    // zero bytes after it up to the next 512-byte boundary
};

}  // namespace slimssl::data
