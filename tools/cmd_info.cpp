// slimssl info: the build flavour, the visible GPUs and the thread count.
#include <iostream>
#include <omp.h>
#include "engine/device.h"
#include "engine/error.h"
#include "tools/commands.h"

namespace slimssl::tools {

namespace {
int run_info(const Args& args) {
  SLIMSSL_CHECK(args.positional().empty(), "info takes no arguments, got '", args.positional().front(), "'");
  std::cout << "slimssl " << SLIMSSL_VERSION << "\n"
            << "cuda backend compiled: " << (slimssl_built_with_cuda() ? "yes" : "no") << "\n"
            << "cuda device available: " << (cuda_available() ? "yes" : "no") << "\n"
            << "cpu threads: " << omp_get_max_threads() << "\n";
  return 0;
}
}  // namespace

Command info_command() {
  return {"info", "show the build (CUDA or CPU only), the visible GPUs and the thread count", "", {},
          "The thread count is OpenMP's (OMP_NUM_THREADS, or the config key `threads` for training).",
          {"slimssl info"}, run_info, {}};
}

}  // namespace slimssl::tools
