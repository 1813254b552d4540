// `--config FILE|NAME`: the path of a config file, or the name of a shipped one (configs/NAME.json,
// with or without ".json"), looked up in $SLIMSSL_CONFIGS_DIR, ./configs and the configs/ folder of
// the source tree the binary sits in (build/bin/../../configs).
#pragma once
#include <string>

namespace slimssl::tools {

// Throws an Error naming the argument and the folders searched when nothing matches.
std::string find_config(const std::string& file_or_name);

}  // namespace slimssl::tools
