#include "tools/presets.h"
#include <unistd.h>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>
#include "engine/error.h"

namespace slimssl::tools {
namespace fs = std::filesystem;

namespace {
std::string binary_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "" : exe.parent_path().string();
}

std::string description_of(const fs::path& file) {
  std::ifstream in(file);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false, true);
  if (j.is_discarded() || !j.is_object() || !j.contains("description") || !j["description"].is_string()) return "";
  return j["description"].get<std::string>();
}
}  // namespace

std::vector<std::string> preset_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("SLIMSSL_CONFIG_PATH")) {
    std::string all = env;
    for (size_t at = 0; at <= all.size();) {
      size_t colon = all.find(':', at);
      if (colon == std::string::npos) colon = all.size();
      if (colon > at) dirs.push_back(all.substr(at, colon - at));
      at = colon + 1;
    }
  }
  std::string bin = binary_dir();
  if (!bin.empty()) dirs.push_back((fs::path(bin).parent_path() / "share" / "slimssl" / "configs").string());
  dirs.push_back(SLIMSSL_SOURCE_CONFIGS);
  return dirs;
}

std::vector<Preset> list_presets() {
  std::vector<Preset> out;
  std::set<std::string> seen;
  for (const auto& dir : preset_dirs()) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> files;
    for (auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".json" && e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (auto& f : files)
      if (seen.insert(f.stem().string()).second) out.push_back({f.stem().string(), f.string(), description_of(f)});
  }
  return out;
}

std::string resolve_config(const std::string& arg) {
  SLIMSSL_CHECK(!arg.empty(), "--config: empty name");
  std::error_code ec;
  if (fs::is_regular_file(arg, ec)) return arg;
  std::string name = fs::path(arg).extension() == ".json" ? fs::path(arg).stem().string() : arg;
  bool looks_like_path = arg.find('/') != std::string::npos;
  if (!looks_like_path)
    for (const auto& p : list_presets())
      if (p.name == name) return p.path;
  std::vector<std::string> names;
  for (const auto& p : list_presets()) names.push_back(p.name);
  std::string dirs;
  for (const auto& d : preset_dirs()) dirs += (dirs.empty() ? "" : ", ") + d;
  if (looks_like_path) fail("--config: '", arg, "': no such file");
  fail("--config: '", arg, "' is neither a file nor a preset (presets: ", names.empty() ? "none" : join_names(names),
       "; searched ", dirs, ")");
}

}  // namespace slimssl::tools
