#include "ssl/report/run_files.h"
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include "engine/error.h"
#include "ssl/train/checkpoint.h"

namespace slimssl::report {
namespace fs = std::filesystem;

namespace {

// "FILE line N" for messages about one JSONL line.
std::string where(const std::string& path, int64_t line) { return "'" + path + "' line " + std::to_string(line); }

// nlohmann's messages start with "[json.exception.parse_error.101] "; the rest is the useful part.
std::string short_json_error(const std::string& what) {
  auto close = what.find("] ");
  return what.rfind("[json.", 0) == 0 && close != std::string::npos ? what.substr(close + 2) : what;
}

double number(const nlohmann::json& rec, const char* key, const std::string& at) {
  auto it = rec.find(key);
  SLIMSSL_CHECK(it != rec.end() && it->is_number(), at, ": '", key, "' is missing or not a number");
  return it->get<double>();
}

std::optional<double> optional_number(const nlohmann::json& rec, const char* key, const std::string& at) {
  auto it = rec.find(key);
  if (it == rec.end() || it->is_null()) return std::nullopt;
  SLIMSSL_CHECK(it->is_number(), at, ": '", key, "' is not a number");
  return it->get<double>();
}

// {"1.00": 5.2, ...}; absent is empty, anything but numbers (or null: not measured) is an error.
std::map<std::string, double> width_map(const nlohmann::json& rec, const char* key, const std::string& at) {
  std::map<std::string, double> out;
  auto it = rec.find(key);
  if (it == rec.end() || it->is_null()) return out;
  SLIMSSL_CHECK(it->is_object(), at, ": '", key, "' must be an object of width -> number");
  for (auto& [w, v] : it->items()) {
    if (v.is_null()) continue;
    SLIMSSL_CHECK(v.is_number(), at, ": '", key, "' entry '", w, "' is not a number");
    out[w] = v.get<double>();
  }
  return out;
}

void require_file(const std::string& path, const std::string& what) {
  SLIMSSL_CHECK(fs::is_regular_file(path), "'", path, "': missing (", what, ")");
}

}  // namespace

RunLocation locate_run(const std::string& path, bool need_checkpoint) {
  SLIMSSL_CHECK(fs::exists(path), "'", path, "': no such file or directory");
  RunLocation loc;
  if (fs::is_directory(path)) {
    loc.run_dir = path;
    loc.checkpoint = train::latest_checkpoint(path);
    SLIMSSL_CHECK(!need_checkpoint || !loc.checkpoint.empty(), "'", train::checkpoint_dir(path),
                  "': no step_*.safetensors checkpoint (not a slimssl run directory, or it saved none yet)");
    return loc;
  }
  loc.checkpoint = path;
  fs::path parent = fs::path(path).parent_path();
  loc.run_dir = (parent.filename() == "checkpoints" ? parent.parent_path() : parent).string();
  if (loc.run_dir.empty()) loc.run_dir = ".";
  return loc;
}

int width_index(const std::vector<double>& widths, double width) {
  std::string listed;
  for (size_t i = 0; i < widths.size(); ++i) {
    if (std::abs(widths[i] - width) < 1e-6) return static_cast<int>(i);
    listed += (i ? ", " : "") + width_label(widths[i]);
  }
  fail("width ", width, " is not one of the run's widths (", listed, ")");
}

train::TrainConfig read_run_config(const std::string& run_dir) {
  std::string path = (fs::path(run_dir) / "config.json").string();
  require_file(path, "a run directory holds the resolved configuration here; is this a slimssl run directory?");
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  SLIMSSL_CHECK(!j.is_discarded() && j.is_object(), "'", path, "': not a JSON object");
  return train::config_from_json(j, path);
}

std::vector<JsonLine> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  SLIMSSL_CHECK(in, "'", path, "': cannot open");
  std::vector<JsonLine> out;
  std::string text;
  for (int64_t line = 1; std::getline(in, text); ++line) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      fail(where(path, line), ": not valid JSON (", short_json_error(e.what()), ")");
    }
    SLIMSSL_CHECK(j.is_object(), where(path, line), ": expected a JSON object, got ", j.type_name());
    out.push_back({line, std::move(j)});
  }
  return out;
}

double MetricsLog::steps_per_epoch() const {
  for (auto it = train.rbegin(); it != train.rend(); ++it)
    if (it->epoch > 0) return it->step / it->epoch;
  for (auto it = knn.rbegin(); it != knn.rend(); ++it)
    if (it->epoch > 0 && it->step > 0) return it->step / it->epoch;
  return 0;
}

MetricsLog read_metrics(const std::string& path) {
  require_file(path, "the training log of a run; is this a slimssl run directory?");
  MetricsLog log;
  for (const auto& [line, r] : read_jsonl(path)) {
    std::string at = where(path, line);
    auto type = r.find("type");
    SLIMSSL_CHECK(type != r.end() && type->is_string(), at, ": 'type' is missing or not a string");
    MetricPoint p;
    if (*type == "train") {
      p.step = static_cast<int64_t>(number(r, "step", at));
      p.epoch = number(r, "epoch", at);
      p.values = width_map(r, "info_nce", at);
      if (r.contains("distill")) log.distill.push_back({p.step, p.epoch, width_map(r, "distill", at)});
      if (r.contains("loss")) log.total.push_back({p.step, p.epoch, {{"total", number(r, "loss", at)}}});
      log.train.push_back(std::move(p));
    } else if (*type == "knn") {
      p.step = static_cast<int64_t>(number(r, "step", at));
      p.epoch = number(r, "epoch", at);
      p.values = width_map(r, "top1", at);
      log.knn.push_back(std::move(p));
    } else if (*type == "knn_baseline") {
      log.raw_pixels = number(r, "raw_pixels", at);
    }
  }
  return log;
}

std::vector<GradientRecord> read_gradients(const std::string& path) {
  std::vector<GradientRecord> out;
  for (const auto& [line, r] : read_jsonl(path)) {
    std::string at = where(path, line);
    GradientRecord g;
    g.step = static_cast<int64_t>(number(r, "step", at));
    auto layer = r.find("layer");
    SLIMSSL_CHECK(layer != r.end() && layer->is_string(), at, ": 'layer' is missing or not a string");
    g.layer = layer->get<std::string>();
    g.width = optional_number(r, "width", at);
    SLIMSSL_CHECK(g.width || g.layer == "__mean__", at, ": 'width' is missing for layer '", g.layer, "'");
    g.ratio_full_min = optional_number(r, "ratio_full_min", at);
    g.ratio_rest_min = optional_number(r, "ratio_rest_min", at);
    g.cos_prev = optional_number(r, "cos_prev", at);
    g.cos = width_map(r, "cos", at);
    out.push_back(std::move(g));
  }
  return out;
}

PcaTrajectory read_pca(const std::string& path) {
  auto records = read_jsonl(path);
  SLIMSSL_CHECK(!records.empty(), "'", path, "': empty (expected a header and one record per diagnostic step)");
  PcaTrajectory t;
  const nlohmann::json& head = records[0].value;
  auto layer = head.find("layer");
  auto explained = head.find("explained");
  SLIMSSL_CHECK(layer != head.end() && layer->is_string() && explained != head.end() && explained->is_array() &&
                    explained->size() == 2 && (*explained)[0].is_number() && (*explained)[1].is_number(),
                where(path, records[0].line), ": expected {\"layer\": name, \"explained\": [pc1, pc2]}");
  t.layer = layer->get<std::string>();
  t.explained[0] = (*explained)[0].get<double>(), t.explained[1] = (*explained)[1].get<double>();
  for (size_t i = 1; i < records.size(); ++i) {
    const auto& [line, r] = records[i];
    std::string at = where(path, line);
    t.steps.push_back(static_cast<int64_t>(number(r, "step", at)));
    t.pc1.push_back(number(r, "pc1", at));
    t.pc2.push_back(number(r, "pc2", at));
  }
  return t;
}

}  // namespace slimssl::report
