#include "ssl/train/checkpoint.h"
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include "engine/safetensors.h"

namespace slimssl::train {
namespace fs = std::filesystem;

namespace {
constexpr const char* kFormat = "slimssl-checkpoint-1";

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
  auto meta = [&](const char* key) {
    auto it = f.metadata.find(key);
    SLIMSSL_CHECK(it != f.metadata.end(), "checkpoint '", path, "': metadata key '", key, "' is missing");
    return it->second;
  };
  SLIMSSL_CHECK(meta("format") == kFormat, "checkpoint '", path, "': format '", meta("format"), "', expected ", kFormat);
  std::vector<std::pair<std::string, Tensor>> model, optim;
  for (size_t i = 0; i < f.names.size(); ++i) {
    if (f.names[i].rfind("optim.", 0) == 0) optim.emplace_back(f.names[i].substr(6), f.tensors[i]);
    else model.emplace_back(f.names[i], f.tensors[i]);
  }
  learner.load_state(model);
  opt.load_state(optim);
  opt.set_steps(std::stoll(meta("optimizer_steps")));
  learner.set_queue_ptr(std::stoll(meta("queue_ptr")));
  return std::stoll(meta("step"));
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
  out.step = std::stoll(f.metadata.at("step"));
  out.encoder = std::make_shared<Encoder>(out.config, out.config.framework == "mocov3");
  NoGradGuard ng;
  auto assign = [&](const models::NamedTensors& named) {
    for (auto& [name, t] : named) t.detach().copy_(f.at("query." + name));
  };
  assign(out.encoder->named_parameters());
  assign(out.encoder->named_buffers());
  out.encoder->eval();
  return out;
}

}  // namespace slimssl::train
