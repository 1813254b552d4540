// The run's logs beside metrics.jsonl: the CRC32C of the TFRecord framing against published
// check values, the Event protocol buffer against its hand-computed encoding, scalars.csv and
// the TensorBoard event files against metrics.jsonl (the event files read by TensorBoard's own
// loader where the tensorboard Python package is installed), and the progress lines.
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include "ssl/report/run_files.h"
#include "ssl/train/run_log.h"
#include "ssl/train/tensorboard.h"
#include "ssl/train/trainer.h"
#include "ssl/util/progress.h"
#include "train_fixture.h"

using namespace slimssl;
namespace fs = std::filesystem;

namespace {

std::string hex(const std::string& bytes) {
  std::string s;
  char b[4];
  for (unsigned char c : bytes) std::snprintf(b, sizeof b, "%02x", c), s += b;
  return s;
}

// A tiny run that logs every step and ends with a kNN record.
const std::string& logged_run() {
  static const std::string dir = [] {
    train::TrainConfig c = testing::tiny_config("mocov2");
    c.max_steps = 3, c.knn_bank_size = 64, c.knn_test_size = 32;
    return testing::train_run("run_logs", c);
  }();
  return dir;
}

// Every scalar metrics.jsonl holds: tag -> step -> value.
std::map<std::string, std::map<int64_t, double>> expected_scalars(const std::string& run) {
  std::map<std::string, std::map<int64_t, double>> out;
  for (auto& [line, r] : report::read_jsonl((fs::path(run) / "metrics.jsonl").string()))
    for (auto& [tag, v] : train::record_scalars(r)) out[tag][r["step"].get<int64_t>()] = v;
  return out;
}

}  // namespace

TEST_CASE("tensorboard: CRC32C matches the published check values", "[logs][tensorboard]") {
  std::string digits = "123456789";
  CHECK(train::crc32c(digits.data(), digits.size()) == 0xE3069283u);
  // RFC 3720 B.4: 32 bytes of zeros, of ones, ascending and descending.
  unsigned char zeros[32] = {}, ones[32], up[32], down[32];
  for (int i = 0; i < 32; ++i) ones[i] = 0xFF, up[i] = static_cast<unsigned char>(i), down[i] = static_cast<unsigned char>(31 - i);
  CHECK(train::crc32c(zeros, 32) == 0x8A9136AAu);
  CHECK(train::crc32c(ones, 32) == 0x62A8AB43u);
  CHECK(train::crc32c(up, 32) == 0x46DD794Eu);
  CHECK(train::crc32c(down, 32) == 0x113FDB5Cu);
  // TFRecord's mask: rotate right by 15, add 0xa282ead8.
  uint32_t c = train::crc32c(digits.data(), digits.size());
  CHECK(train::masked_crc32c(digits.data(), digits.size()) == ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

TEST_CASE("tensorboard: events are the protocol buffer encoding in TFRecord framing", "[logs][tensorboard]") {
  // Event{wall_time: 1.0 (field 1, 64-bit), step: 3 (field 2, varint), summary (field 5):
  //   Summary{value (field 1): Value{tag: "a" (field 1), simple_value: 2.0f (field 2, 32-bit)}}}
  std::string e = train::scalar_event(1.0, 3, {{"a", 2.0f}});
  CHECK(hex(e) == "09000000000000f03f" "1003" "2a0a" "0a08" "0a0161" "1500000040");
  // Event{wall_time: 1.0, file_version (field 3): "brain.Event:2"}
  CHECK(hex(train::file_version_event(1.0)) == "09000000000000f03f" "1a0d" + hex("brain.Event:2"));
  // A step needing a multi-byte varint: 300 = 0xac 0x02.
  CHECK(hex(train::scalar_event(0.0, 300, {})).find("10ac02") != std::string::npos);
  std::string r = train::tf_record(e);
  REQUIRE(r.size() == 8 + 4 + e.size() + 4);
  uint64_t len;
  std::memcpy(&len, r.data(), 8);
  CHECK(len == e.size());
  uint32_t len_crc, data_crc;
  std::memcpy(&len_crc, r.data() + 8, 4);
  std::memcpy(&data_crc, r.data() + 12 + e.size(), 4);
  CHECK(len_crc == train::masked_crc32c(r.data(), 8));
  CHECK(data_crc == train::masked_crc32c(e.data(), e.size()));
  CHECK(r.substr(12, e.size()) == e);
}

TEST_CASE("logs: scalars.csv holds every scalar of metrics.jsonl", "[logs]") {
  const std::string& run = logged_run();
  auto expected = expected_scalars(run);
  REQUIRE(expected.count("train/loss"));
  REQUIRE(expected.count("train/info_nce/w1.00"));
  REQUIRE(expected.count("knn/top1/w0.50"));
  std::ifstream csv(fs::path(run) / "scalars.csv");
  std::string line;
  REQUIRE(std::getline(csv, line));
  CHECK(line == "wall_time,step,tag,value");
  size_t rows = 0;
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    std::string wall, step, tag, value;
    std::getline(ss, wall, ','), std::getline(ss, step, ','), std::getline(ss, tag, ','), std::getline(ss, value);
    INFO(line);
    REQUIRE(expected.count(tag));
    CHECK(std::stod(value) == Approx(expected[tag].at(std::stoll(step))).epsilon(1e-8));
    ++rows;
  }
  size_t total = 0;
  for (auto& [tag, steps] : expected) total += steps.size();
  CHECK(rows == total);
}

TEST_CASE("logs: TensorBoard's own loader reads the event files", "[logs][tensorboard]") {
  const std::string& run = logged_run();
  const char* python = std::getenv("SLIMSSL_PYTHON");
  std::string cmd = std::string(python ? python : "python3") + " " + SLIMSSL_SOURCE_DIR + "/scripts/read_tensorboard.py " +
                    run + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = ::pclose(p);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
    WARN("skipped: " << out << "(pip install tensorboard, or set SLIMSSL_PYTHON; scripts/check_tensorboard.sh does)");
    return;
  }
  INFO(out);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  nlohmann::json got = nlohmann::json::parse(out);
  auto expected = expected_scalars(run);
  CHECK(got.size() == expected.size());
  for (auto& [tag, steps] : expected) {
    INFO(tag);
    REQUIRE(got.contains(tag));
    REQUIRE(got[tag].size() == steps.size());
    for (auto& point : got[tag]) {
      int64_t step = point[0];
      REQUIRE(steps.count(step));
      CHECK(point[1].get<double>() == Approx(steps.at(step)).epsilon(1e-6));  // float32 in the event
    }
  }
}

TEST_CASE("progress: lines with rate and ETA, at most one per interval, and the last", "[progress]") {
  double now = 0;
  std::vector<std::string> lines;
  util::Progress p("features", 1000, "images", [&](const std::string& l) { lines.push_back(l); }, 5.0,
                   [&] { return now; });
  now = 2, p.update(100);  // within the interval: nothing
  CHECK(lines.empty());
  now = 5, p.update(250);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "features: 250/1000 images (25%) | 50.0 images/s | ETA 15s");
  now = 6, p.update(300);
  CHECK(lines.size() == 1);
  now = 200, p.update(900, "width 0.50");
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] == "features: 900/1000 images (90%) | width 0.50 | 4.50 images/s | ETA 22s");
  now = 203, p.add(100);  // within the interval of the last line
  CHECK(lines.size() == 2);
  now = 210, p.finish();
  REQUIRE(lines.size() == 3);
  CHECK(lines[2] == "features: 1000/1000 images | 4.76 images/s | done in 3m30s");
  p.finish();  // once
  CHECK(lines.size() == 3);
  // Without a total, a fraction gives the percentage and ETA.
  util::Progress q("decoding", 0, "images", [&](const std::string& l) { lines.push_back(l); }, 0.0, [&] { return now; });
  now = 220, q.update(500, "", 0.25);
  CHECK(lines.back() == "decoding: 500 images (25%) | 50.0 images/s | ETA 30s");
  CHECK(util::format_duration(3725) == "1h02m");
  // An empty sink makes it silent.
  util::Progress silent("x", 10, "steps", {});
  silent.update(5);
  silent.finish();
}
