// slimssl: the command-line entry point. Each subcommand lives in its own file and registers in
// tools/commands.h; errors become one line on stderr and a non-zero exit.
#include <cstring>
#include <iostream>
#include "engine/error.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  using namespace slimssl::tools;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage(std::cout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "slimssl " << SLIMSSL_VERSION << (slimssl_built_with_cuda() ? " (CUDA)" : " (CPU only)") << "\n";
    return 0;
  }
  const Command* cmd = find_command(args[0]);
  if (!cmd) {
    std::cerr << "slimssl: unknown command '" << args[0] << "' (see slimssl --help)\n";
    return 2;
  }
  try {
    return cmd->run(std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const std::exception& e) {
    std::cerr << "slimssl " << cmd->name << ": error: " << e.what() << "\n";
    return 1;
  }
}
