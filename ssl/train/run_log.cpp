#include "ssl/train/run_log.h"
#include <chrono>
#include <cstdio>
#include <filesystem>
#include "engine/error.h"

namespace slimssl::train {
namespace fs = std::filesystem;

std::vector<std::pair<std::string, double>> record_scalars(const nlohmann::json& record) {
  std::vector<std::pair<std::string, double>> out;
  std::string type = record.value("type", std::string("metrics"));
  for (auto& [key, value] : record.items()) {
    if (key == "type" || key == "step") continue;
    if (value.is_number()) out.emplace_back(type + "/" + key, value.get<double>());
    if (value.is_object())
      for (auto& [sub, v] : value.items())
        if (v.is_number()) out.emplace_back(type + "/" + key + "/w" + sub, v.get<double>());
  }
  return out;
}

RunLog::RunLog(const std::string& run_dir, bool append) : run_dir_(run_dir) {
  auto mode = append ? std::ios::app : std::ios::trunc;
  fs::path csv = fs::path(run_dir) / "scalars.csv";
  bool header = !append || !fs::exists(csv) || fs::file_size(csv) == 0;
  jsonl_.open(fs::path(run_dir) / "metrics.jsonl", mode);
  csv_.open(csv, mode);
  SLIMSSL_CHECK(jsonl_.good() && csv_.good(), "'", run_dir, "': cannot write the run's logs (metrics.jsonl, scalars.csv)");
  if (header) csv_ << "wall_time,step,tag,value\n" << std::flush;
  events_ = std::make_unique<EventFileWriter>(run_dir);
}

void RunLog::write(const nlohmann::json& record) {
  SLIMSSL_CHECK(record.contains("step") && record["step"].is_number_integer(), "run log: a record without a step");
  int64_t step = record["step"].get<int64_t>();
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  jsonl_ << record.dump() << "\n" << std::flush;
  std::vector<std::pair<std::string, float>> tb;
  char line[512];
  for (auto& [tag, v] : record_scalars(record)) {
    std::snprintf(line, sizeof line, "%.3f,%lld,%s,%.9g\n", now, static_cast<long long>(step), tag.c_str(), v);
    csv_ << line;
    tb.emplace_back(tag, static_cast<float>(v));
  }
  csv_ << std::flush;
  if (!tb.empty()) events_->write_scalars(step, tb, now);
}

}  // namespace slimssl::train
