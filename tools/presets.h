// Configuration presets: the configs/*.json a user names with `--config NAME`.
//
// Where presets are found, in this order (the first file of a name wins):
//   1. every directory in $SLIMSSL_CONFIG_PATH (colon-separated), for a user's own presets;
//   2. <binary>/../share/slimssl/configs, where `cmake --install` puts them beside bin/slimssl;
//   3. the source tree's configs/ that the binary was built from (a build-tree binary).
// `--config` takes a file path first: an existing file is always read as given.
#pragma once
#include <string>
#include <vector>

namespace slimssl::tools {

struct Preset {
  std::string name;         // file stem: "fmnist_demo"
  std::string path;         // the file
  std::string description;  // its "description" key ("" when absent)
};

// The search directories in order (whether they exist or not).
std::vector<std::string> preset_dirs();
// Every preset found, by name, the first of each name in search order.
std::vector<Preset> list_presets();
// The file a --config argument means: an existing file, else the preset of that name (with or
// without .json). An Error lists the directories searched and the presets there are.
std::string resolve_config(const std::string& arg);

}  // namespace slimssl::tools
