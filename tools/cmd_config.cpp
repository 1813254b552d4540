// slimssl configs: the presets with their descriptions. slimssl config keys: every configuration
// key with its type, default and meaning. slimssl config show: a resolved configuration.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include "engine/error.h"
#include "ssl/train/config.h"
#include "tools/commands.h"
#include "tools/presets.h"

namespace slimssl::tools {

namespace {

// The first sentence of a description, cut at a word to `limit` characters: one line per preset.
std::string one_line(const std::string& s, size_t limit) {
  size_t end = s.find(". ");
  std::string first = end == std::string::npos ? s : s.substr(0, end + 1);
  if (first.size() <= limit) return first;
  size_t cut = first.rfind(' ', limit - 4);
  return first.substr(0, cut == std::string::npos ? limit - 4 : cut) + " ...";
}

int run_configs(const Args& a) {
  SLIMSSL_CHECK(a.positional().empty(), "configs takes no positional arguments, got '", a.positional().front(), "'");
  auto presets = list_presets();
  if (a.flag("--json")) {
    nlohmann::json out = nlohmann::json::array();
    for (auto& p : presets) out.push_back({{"name", p.name}, {"path", p.path}, {"description", p.description}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  size_t width = 0;
  for (auto& p : presets) width = std::max(width, p.name.size());
  for (auto& p : presets)
    std::printf("%-*s  %s\n", static_cast<int>(width), p.name.c_str(),
                p.description.empty() ? "(no description)" : one_line(p.description, 110 - width).c_str());
  std::printf("\n%zu presets (slimssl train --config NAME; slimssl config show --config NAME for one in full)\n"
              "searched:", presets.size());
  for (auto& d : preset_dirs()) std::printf(" %s", d.c_str());
  std::printf("\n");
  return 0;
}

int run_keys(const Args& a) {
  SLIMSSL_CHECK(a.positional().empty(), "config keys takes no positional arguments, got '", a.positional().front(), "'");
  auto keys = train::config_keys();
  if (a.flag("--json")) {
    nlohmann::json out = nlohmann::json::array();
    for (auto& k : keys)
      out.push_back({{"key", k.name}, {"type", k.type}, {"default", k.default_value}, {"meaning", k.meaning},
                     {"choices", k.choices}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (auto& k : keys) {
    std::printf("%-18s %-16s default %s\n", k.name.c_str(), k.type.c_str(), k.default_value.dump().c_str());
    std::string meaning = k.meaning;
    if (!k.choices.empty()) meaning += "; one of " + join_names(k.choices);
    std::printf("    %s\n", meaning.c_str());
  }
  std::printf("\n%zu keys. A config file is one JSON object of these; \"description\" and \"_comment*\" keys are "
              "documentation\nand ignored. On the command line: key=value (a bare list like 1.0,0.5 is a list).\n",
              keys.size());
  return 0;
}

int run_show(const Args& a) {
  std::vector<std::string> overrides;
  for (auto& p : a.positional()) {
    SLIMSSL_CHECK(p.find('=') != std::string::npos, "unexpected argument '", p, "' (expected key=value overrides)");
    overrides.push_back(p);
  }
  SLIMSSL_CHECK(a.has("--config"), "--config FILE|NAME is required (slimssl configs lists the presets)");
  std::string path = resolve_config(a.get("--config", ""));
  train::TrainConfig c = train::load_config(path, overrides);
  std::cout << c.to_json().dump(2) << "\n";
  return 0;
}

}  // namespace

Command configs_command() {
  return {"configs",
          "list the configuration presets with their descriptions",
          "",
          {{"--json", "", "name, path and full description of each, as JSON"}},
          "Presets are the configs/*.json files, found by name with --config NAME. Searched in order:\n"
          "$SLIMSSL_CONFIG_PATH (colon-separated directories), <binary>/../share/slimssl/configs (an\n"
          "installed binary), and the configs/ of the source tree the binary was built from.",
          {"slimssl configs"},
          run_configs,
          {}};
}

Command config_command() {
  Command keys{"keys",
               "every configuration key with its type, default and meaning",
               "",
               {{"--json", "", "the same as a JSON array"}},
               "Generated from the definitions the configuration parser and validator use (ssl/train/config.cpp).",
               {"slimssl config keys", "slimssl config keys --json"},
               run_keys,
               {}};
  Command show{"show",
               "print a configuration resolved: a file or preset, its overrides, every default filled in",
               "[key=value ...]",
               {{"--config", "FILE|NAME", "(required) a config file, or a preset name (slimssl configs)"}},
               "Validates as training does, so a bad key or value fails here with the key named.",
               {"slimssl config show --config fmnist_demo epochs=2 widths=1.0,0.5"},
               run_show,
               {}};
  return {"config", "configuration keys and resolved configurations", "", {}, "", {"slimssl config keys"}, {},
          {keys, show}};
}

}  // namespace slimssl::tools
