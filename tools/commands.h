#pragma once
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace slimssl::tools {

struct Command {
  std::string name;
  std::string summary;
  std::function<int(const std::vector<std::string>&)> run;
};

// Every subcommand, in the order --help lists them.
const std::vector<Command>& commands();
const Command* find_command(const std::string& name);
void print_usage(std::ostream& os);
bool slimssl_built_with_cuda();

}  // namespace slimssl::tools
