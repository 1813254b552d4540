// Option parsing shared by the subcommands: "--name value", "--name=value", "--flag", and
// positionals, against the options a command declares (tools/commands.h). Unknown options and
// missing values are errors that name the option and the command.
#pragma once
#include <map>
#include <set>
#include <string>
#include <vector>

namespace slimssl::tools {

class Args {
 public:
  // `options` lists every accepted option; those in `flags` take no value.
  Args(const std::vector<std::string>& argv, const std::string& command, const std::set<std::string>& options,
       const std::set<std::string>& flags);
  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback) const;
  int64_t get_int(const std::string& name, int64_t fallback) const;
  double get_double(const std::string& name, double fallback) const;
  std::vector<double> get_doubles(const std::string& name, const std::vector<double>& fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }
  const std::string& command() const { return command_; }

 private:
  std::string command_;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positional_;
};

}  // namespace slimssl::tools
