#include "tools/config_lookup.h"
#include <cstdlib>
#include <filesystem>
#include <vector>
#include "engine/error.h"

namespace slimssl::tools {
namespace fs = std::filesystem;

std::string find_config(const std::string& arg) {
  SLIMSSL_CHECK(!arg.empty(), "--config FILE|NAME is required (a config file, or a name from configs/)");
  if (fs::is_regular_file(arg)) return arg;
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("SLIMSSL_CONFIGS_DIR"); env && *env) dirs.emplace_back(env);
  dirs.emplace_back("configs");
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path().parent_path().parent_path() / "configs");
  const std::string file = arg.size() > 5 && arg.ends_with(".json") ? arg : arg + ".json";
  std::string searched;
  if (arg.find('/') == std::string::npos)
    for (auto& d : dirs) {
      if (fs::is_regular_file(d / file)) return (d / file).string();
      searched += (searched.empty() ? "" : ", ") + d.string();
    }
  fail("--config: '", arg, "' is neither a file nor the name of a config",
       searched.empty() ? std::string() : " in " + searched);
}

}  // namespace slimssl::tools
