#include <iostream>
#include <omp.h>
#include "engine/device.h"
#include "engine/error.h"
#include "tools/commands.h"

namespace slimssl::tools {

int run_info(const std::vector<std::string>& args) {
  SLIMSSL_CHECK(args.empty(), "info takes no arguments, got '", args.front(), "'");
  std::cout << "slimssl " << SLIMSSL_VERSION << "\n"
            << "cuda backend compiled: " << (slimssl_built_with_cuda() ? "yes" : "no") << "\n"
            << "cuda device available: " << (cuda_available() ? "yes" : "no") << "\n"
            << "cpu threads: " << omp_get_max_threads() << "\n";
  return 0;
}

}  // namespace slimssl::tools
