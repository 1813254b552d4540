#include "ssl/data/tar_reader.h"
#include <algorithm>
#include <cstring>
#include "engine/error.h"

namespace slimssl::data {

namespace {

constexpr size_t kBlock = 512;
// Sizes a header may claim: a member up to 2^62 bytes (so size + padding cannot wrap), a long
// name or pax record set up to 1 MiB (they are read into memory).
constexpr uint64_t kMaxMemberBytes = uint64_t(1) << 62;
constexpr uint64_t kMaxExtendedHeaderBytes = uint64_t(1) << 20;

// Numeric header fields are octal text, or base-256 (high bit of the first byte set) for big sizes.
uint64_t parse_number(const uint8_t* field, size_t len) {
  if (field[0] & 0x80) {
    uint64_t v = field[0] & 0x7f;
    for (size_t i = 1; i < len; ++i) v = (v << 8) | field[i];
    return v;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < len && field[i]; ++i) {
    if (field[i] == ' ') continue;
    if (field[i] < '0' || field[i] > '7') break;
    v = v * 8 + (field[i] - '0');
  }
  return v;
}

std::string field_string(const uint8_t* field, size_t len) {
  size_t n = 0;
  while (n < len && field[n]) ++n;
  return std::string(reinterpret_cast<const char*>(field), n);
}

// The checksum is the byte sum of the header with its own field read as eight spaces.
bool checksum_ok(const uint8_t* h) {
  uint64_t stored = parse_number(h + 148, 8), sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : h[i];
  return stored == sum;
}

// pax extended header: records "LEN key=value\n"; only "path" matters here.
std::string pax_path(const std::vector<uint8_t>& data) {
  std::string s(data.begin(), data.end()), path;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t space = s.find(' ', pos);
    if (space == std::string::npos) break;
    size_t len = std::strtoull(s.c_str() + pos, nullptr, 10);
    if (len > s.size() - pos || space + 2 > pos + len) break;  // a record must hold "LEN " and '\n'
    std::string rec = s.substr(space + 1, pos + len - space - 2);  // drop the trailing '\n'
    if (rec.rfind("path=", 0) == 0) path = rec.substr(5);
    pos += len;
  }
  return path;
}

std::string clean_path(std::string p) {
  while (p.rfind("./", 0) == 0) p = p.substr(2);
  return p;
}

}  // namespace

// The size comes from a header, so the buffer grows with the data actually read (doubling from
// 1 MiB): a header that claims terabytes costs nothing before the archive runs out.
std::vector<uint8_t> TarReader::read_exact(uint64_t n, const std::string& what) {
  std::vector<uint8_t> buf;
  uint64_t got = 0;
  while (got < n) {
    const uint64_t step = std::min<uint64_t>(n - got, std::max<uint64_t>(got, uint64_t(1) << 20));
    buf.resize(got + step);
    const size_t r = in_.read(buf.data() + got, step);
    got += r;
    if (r < step) break;
  }
  SLIMSSL_CHECK(got == n, in_.path(), ": tar archive truncated in ", what, " (", got, " of ", n, " bytes)");
  return buf;
}

void TarReader::skip_rest() {
  uint64_t n = remaining_ + padding_;
  SLIMSSL_CHECK(in_.skip(n) == n, in_.path(), ": tar archive truncated in member '", current_.path, "'");
  remaining_ = padding_ = 0;
}

std::vector<uint8_t> TarReader::read_data() {
  auto data = read_exact(remaining_, "member '" + current_.path + "'");
  remaining_ = 0;
  skip_rest();
  return data;
}

bool TarReader::next(TarMember& member) {
  skip_rest();
  std::string long_name;
  for (;;) {
    uint8_t h[kBlock];
    size_t got = in_.read(h, kBlock);
    if (got == 0) return false;  // end of data without the two zero blocks: tolerated
    SLIMSSL_CHECK(got == kBlock, in_.path(), ": tar archive truncated in a header at byte ", in_.position() - got);
    bool zero = true;
    for (size_t i = 0; i < kBlock && zero; ++i) zero = h[i] == 0;
    if (zero) return false;  // end-of-archive marker
    SLIMSSL_CHECK(checksum_ok(h), in_.path(), ": not a tar archive or corrupt tar header at byte ",
                  in_.position() - kBlock);
    uint64_t size = parse_number(h + 124, 12);
    char type = static_cast<char>(h[156]);
    SLIMSSL_CHECK(size < kMaxMemberBytes, in_.path(), ": tar header at byte ", in_.position() - kBlock,
                  " gives an implausible member size of ", size, " bytes");
    const bool extended = type == 'L' || type == 'x' || type == 'g';
    SLIMSSL_CHECK(!extended || size <= kMaxExtendedHeaderBytes, in_.path(), ": tar extended header at byte ",
                  in_.position() - kBlock, " is ", size, " bytes (at most ", kMaxExtendedHeaderBytes, " expected)");
    current_ = {};
    remaining_ = size;
    padding_ = (kBlock - size % kBlock) % kBlock;
    if (extended) {  // metadata for the member that follows
      current_.path = "(extended header)";
      auto data = read_data();
      if (type == 'L') long_name = field_string(data.data(), data.size());
      if (type == 'x') {
        std::string p = pax_path(data);
        if (!p.empty()) long_name = p;
      }
      continue;
    }
    std::string name = field_string(h, 100), prefix;
    if (std::memcmp(h + 257, "ustar", 5) == 0) prefix = field_string(h + 345, 155);
    current_.path = clean_path(!long_name.empty() ? long_name : prefix.empty() ? name : prefix + "/" + name);
    current_.size = size;
    current_.regular = type == '0' || type == '\0' || type == '7';  // directories, links: skipped by the caller
    member = current_;
    return true;
  }
}

}  // namespace slimssl::data
