#include "tools/args.h"
#include <sstream>
#include "engine/error.h"

namespace slimssl::tools {

Args::Args(const std::vector<std::string>& argv, const std::string& command, const std::set<std::string>& options,
           const std::set<std::string>& flags)
    : command_(command) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.rfind("--", 0) != 0) {
      positional_.push_back(a);
      continue;
    }
    std::string name = a, value;
    bool inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq), value = a.substr(eq + 1), inline_value = true;
    }
    SLIMSSL_CHECK(options.count(name), "unknown option '", name, "' for '", command, "' (see slimssl ", command,
                  " --help)");
    if (flags.count(name)) {
      flags_.insert(name);
      continue;
    }
    if (!inline_value) {
      SLIMSSL_CHECK(i + 1 < argv.size(), "option '", name, "' of '", command, "' needs a value");
      value = argv[++i];
    }
    values_[name] = value;
  }
}

std::string Args::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

int64_t Args::get_int(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  try {
    size_t used = 0;
    int64_t v = std::stoll(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (...) {
  }
  fail("option '", name, "' expects an integer, got '", it->second, "'");
}

double Args::get_double(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  try {
    size_t used = 0;
    double v = std::stod(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (...) {
  }
  fail("option '", name, "' expects a number, got '", it->second, "'");
}

std::vector<double> Args::get_doubles(const std::string& name, const std::vector<double>& fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  std::vector<double> out;
  std::stringstream ss(it->second);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stod(item, &used));
      if (used != item.size()) throw 0;
    } catch (...) {
      fail("option '", name, "' expects comma-separated numbers, got '", it->second, "'");
    }
  }
  return out;
}

}  // namespace slimssl::tools
