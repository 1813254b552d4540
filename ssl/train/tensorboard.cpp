#include "ssl/train/tensorboard.h"
#include <unistd.h>
#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include "engine/error.h"

namespace slimssl::train {

namespace {

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}

// Protocol buffer wire format: a key is (field << 3) | wire type; 0 = varint, 1 = 64-bit,
// 2 = length-delimited, 5 = 32-bit. Fixed-width values are little-endian.
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
void key(std::string& out, int field, int wire) { varint(out, static_cast<uint64_t>(field << 3 | wire)); }
template <class T>
void little_endian(std::string& out, T v) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // x86 and ARM Linux are little-endian, as the format
  out.append(reinterpret_cast<const char*>(b), sizeof(T));
}
void bytes_field(std::string& out, int field, const std::string& bytes) {
  key(out, field, 2);
  varint(out, bytes.size());
  out += bytes;
}

// Event fields: 1 wall_time (double), 2 step (int64), 3 file_version (string), 5 summary.
std::string event_head(double wall_time, int64_t step) {
  std::string e;
  key(e, 1, 1);
  little_endian(e, wall_time);
  if (step != 0) {  // proto3: a zero is the default and not written
    key(e, 2, 0);
    varint(e, static_cast<uint64_t>(step));
  }
  return e;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  static const std::array<uint32_t, 256> table = make_crc_table();
  uint32_t c = 0xFFFFFFFFu;
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string scalar_event(double wall_time, int64_t step, const std::vector<std::pair<std::string, float>>& scalars) {
  // Summary: repeated Value value = 1; Value: string tag = 1, float simple_value = 2.
  std::string summary;
  for (const auto& [tag, v] : scalars) {
    std::string value;
    bytes_field(value, 1, tag);
    key(value, 2, 5);
    little_endian(value, v);
    bytes_field(summary, 1, value);
  }
  std::string e = event_head(wall_time, step);
  bytes_field(e, 5, summary);
  return e;
}

std::string file_version_event(double wall_time) {
  std::string e = event_head(wall_time, 0);
  bytes_field(e, 3, "brain.Event:2");
  return e;
}

std::string tf_record(const std::string& data) {
  std::string r;
  uint64_t len = data.size();
  little_endian(r, len);
  little_endian(r, masked_crc32c(r.data(), 8));
  r += data;
  little_endian(r, masked_crc32c(data.data(), data.size()));
  return r;
}

EventFileWriter::EventFileWriter(const std::string& dir) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  path_ = (fs::path(dir) / ("events.out.tfevents." + std::to_string(static_cast<int64_t>(now)) + "." + host + "." +
                            std::to_string(::getpid()) + ".slimssl"))
              .string();
  file_ = std::fopen(path_.c_str(), "ab");
  SLIMSSL_CHECK(file_ != nullptr, "'", path_, "': cannot create the TensorBoard event file");
  write_record(file_version_event(now));
}

EventFileWriter::~EventFileWriter() {
  if (file_) std::fclose(file_);
}

void EventFileWriter::write_scalars(int64_t step, const std::vector<std::pair<std::string, float>>& scalars,
                                    double wall_time) {
  write_record(scalar_event(wall_time, step, scalars));
}

void EventFileWriter::write_record(const std::string& event) {
  std::string r = tf_record(event);
  SLIMSSL_CHECK(std::fwrite(r.data(), 1, r.size(), file_) == r.size() && std::fflush(file_) == 0, "'", path_,
                "': write failed (disk full?)");
}

}  // namespace slimssl::train
