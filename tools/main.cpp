// slimssl: the command-line entry point. Each command lives in its own file and declares itself
// in tools/commands.h; errors become one line on stderr and a non-zero exit.
#include <cstdio>
#include <iostream>
#include "engine/error.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  using namespace slimssl::tools;
  // Line by line also into a file or a pipe: a log of a killed job shows how far it got.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--version") {
    std::cout << "slimssl " << SLIMSSL_VERSION << (slimssl_built_with_cuda() ? " (CUDA)" : " (CPU only)") << "\n";
    return 0;
  }
  std::string command;
  try {
    return run_command_line(args, &command);
  } catch (const std::exception& e) {
    std::cerr << "slimssl" << (command.empty() ? "" : " " + command) << ": error: " << e.what() << "\n";
    return 1;
  }
}
