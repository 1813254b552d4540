// TensorBoard event files, written by slimssl itself: the TFRecord framing (length, masked
// CRC32C of the length, data, masked CRC32C of the data) around Event protocol buffers that carry
// one Summary of scalar values each, encoded by hand (varints and fixed-width fields). The
// first record names the file version, as TensorBoard expects. Each record is flushed at once,
// so a running job can be watched (`tensorboard --logdir runs`).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace slimssl::train {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), and TFRecord's masked form of it.
uint32_t crc32c(const void* data, size_t n);
uint32_t masked_crc32c(const void* data, size_t n);

// The serialized Event{wall_time, step, summary{value{tag, simple_value}...}}.
std::string scalar_event(double wall_time, int64_t step, const std::vector<std::pair<std::string, float>>& scalars);
// The serialized Event{wall_time, file_version: "brain.Event:2"}.
std::string file_version_event(double wall_time);
// One TFRecord around `data`.
std::string tf_record(const std::string& data);

class EventFileWriter {
 public:
  // Creates DIR/events.out.tfevents.<seconds>.<host>.<pid>.slimssl and writes the version record.
  explicit EventFileWriter(const std::string& dir);
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;
  void write_scalars(int64_t step, const std::vector<std::pair<std::string, float>>& scalars, double wall_time);
  const std::string& path() const { return path_; }

 private:
  void write_record(const std::string& event);
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace slimssl::train
