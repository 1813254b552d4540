#include "ssl/train/checkpoint.h"
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include "engine/printable.h"
#include "engine/safetensors.h"

namespace slimssl::train {
namespace fs = std::filesystem;

namespace {
// Format 2 names the optimizer state after the parameters; format 1 keyed it by position and is
// still read (its keys are mapped to today's names, the parameter order being the same).
constexpr const char* kFormat = "slimssl-checkpoint-2";
constexpr const char* kFormatPositional = "slimssl-checkpoint-1";

// A count from the metadata: a decimal integer >= 0, all of the text.
int64_t metadata_count(const SafetensorsFile& f, const char* key) {
  auto it = f.metadata.find(key);
  SLIMSSL_CHECK(it != f.metadata.end(), "checkpoint '", f.path, "': metadata key '", key, "' is missing");
  const std::string& text = it->second;
  int64_t v = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  SLIMSSL_CHECK(!text.empty() && ec == std::errc() && end == text.data() + text.size() && v >= 0, "checkpoint '", f.path,
                "': metadata '", key, "' must be a whole number >= 0, got '", printable(text, 40), "'");
  return v;
}

std::vector<std::pair<int64_t, std::string>> list_checkpoints(const std::string& run_dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  fs::path dir = checkpoint_dir(run_dir);
  if (!fs::is_directory(dir)) return out;
  for (auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    long long step = 0;
    if (std::sscanf(name.c_str(), "step_%lld.safetensors", &step) == 1 && name.size() > 17 &&
        name.substr(name.size() - 12) == ".safetensors")
      out.emplace_back(step, e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

std::string checkpoint_dir(const std::string& run_dir) { return (fs::path(run_dir) / "checkpoints").string(); }

std::string save_checkpoint(const std::string& run_dir, const Learner& learner, const Optimizer& opt, int64_t step,
                            int64_t keep) {
  fs::create_directories(checkpoint_dir(run_dir));
  auto tensors = learner.state();
  for (auto& [n, t] : opt.state()) tensors.emplace_back("optim." + n, t);
  std::map<std::string, std::string> meta = {
      {"format", kFormat},
      {"step", std::to_string(step)},
      {"optimizer_steps", std::to_string(opt.steps())},
      {"queue_ptr", std::to_string(learner.queue_ptr())},
      {"config", learner.config().to_json().dump()},
  };
  char name[64];
  std::snprintf(name, sizeof(name), "step_%09lld.safetensors", static_cast<long long>(step));
  std::string path = (fs::path(checkpoint_dir(run_dir)) / name).string();
  save_safetensors(path, tensors, meta);
  auto all = list_checkpoints(run_dir);
  for (size_t i = 0; i + keep < all.size(); ++i) fs::remove(all[i].second);
  return path;
}

std::string latest_checkpoint(const std::string& run_dir) {
  auto all = list_checkpoints(run_dir);
  return all.empty() ? "" : all.back().second;
}

int64_t load_checkpoint(const std::string& path, Learner& learner, Optimizer& opt) {
  SafetensorsFile f = load_safetensors(path);
  auto format = f.metadata.find("format");
  SLIMSSL_CHECK(format != f.metadata.end(), "checkpoint '", path, "': metadata key 'format' is missing");
  const bool positional = format->second == kFormatPositional;
  SLIMSSL_CHECK(positional || format->second == kFormat, "checkpoint '", path, "': format '", printable(format->second, 40),
                "', expected ", kFormat, " (or ", kFormatPositional, ")");
  // Every value is checked before anything is restored or used.
  const int64_t step = metadata_count(f, "step"), optimizer_steps = metadata_count(f, "optimizer_steps");
  const int64_t queue_ptr = metadata_count(f, "queue_ptr");
  const TrainConfig& c = learner.config();
  const int64_t queue_rows = f.contains("queue") && f.at("queue").dim() >= 1 ? f.at("queue").size(0) : 0;
  SLIMSSL_CHECK(queue_rows == 0 ? queue_ptr == 0 : queue_ptr < queue_rows && queue_ptr % c.batch_size == 0, "checkpoint '",
                path, "': metadata 'queue_ptr' ", queue_ptr, " is not a batch boundary of the ", queue_rows, "-key queue");
  std::vector<std::pair<std::string, Tensor>> model, optim;
  try {
    for (size_t i = 0; i < f.names.size(); ++i) {
      if (f.names[i].rfind("optim.", 0) != 0) {
        model.emplace_back(f.names[i], f.tensors[i]);
        continue;
      }
      std::string key = f.names[i].substr(6);
      optim.emplace_back(positional ? opt.state_key_from_position(key) : key, f.tensors[i]);
    }
    learner.load_state(model);
    opt.load_state(optim);
  } catch (const Error& e) {
    fail("checkpoint '", path, "': ", printable(e.what()));
  }
  opt.set_steps(optimizer_steps);
  learner.set_queue_ptr(queue_ptr);
  return step;
}

int64_t checkpoint_bytes_estimate(const Learner& learner, const Optimizer& opt) {
  int64_t bytes = opt.full_state_bytes();
  for (auto& [name, t] : learner.state()) bytes += t.numel() * static_cast<int64_t>(t.itemsize());
  return bytes;
}

LoadedEncoder load_encoder(const std::string& path) {
  LoadedEncoder out;
  out.checkpoint = fs::is_directory(path) ? latest_checkpoint(path) : path;
  SLIMSSL_CHECK(!out.checkpoint.empty(), "'", path, "' is neither a checkpoint file nor a run directory with checkpoints (",
                checkpoint_dir(path), "/step_*.safetensors)");
  SafetensorsFile f = load_safetensors(out.checkpoint);
  auto it = f.metadata.find("config");
  SLIMSSL_CHECK(it != f.metadata.end() && f.metadata.count("step"), "checkpoint '", out.checkpoint,
                "': no slimssl config/step metadata (not a slimssl training checkpoint?)");
  nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
  SLIMSSL_CHECK(!j.is_discarded(), "checkpoint '", out.checkpoint, "': the config metadata is not valid JSON");
  out.config = config_from_json(j, out.checkpoint);
  out.step = metadata_count(f, "step");
  out.encoder = std::make_shared<Encoder>(out.config, out.config.framework == "mocov3");
  NoGradGuard ng;
  auto assign = [&](const models::NamedTensors& named) {
    for (auto& [name, t] : named) {
      const Tensor& saved = f.at("query." + name);
      SLIMSSL_CHECK(saved.shape() == t.shape() && saved.dtype() == t.dtype(), "checkpoint '", out.checkpoint, "': tensor 'query.",
                    name, "' is ", dtype_name(saved.dtype()), " ", shape_str(saved.shape()), ", the model expects ",
                    dtype_name(t.dtype()), " ", shape_str(t.shape()));
      t.detach().copy_(saved);
    }
  };
  assign(out.encoder->named_parameters());
  assign(out.encoder->named_buffers());
  out.encoder->eval();
  return out;
}

}  // namespace slimssl::train
