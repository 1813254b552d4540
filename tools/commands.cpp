#include "tools/commands.h"
#include <iostream>
#include "engine/device.h"

namespace slimssl::tools {

int run_info(const std::vector<std::string>& args);
int run_data(const std::vector<std::string>&);
int run_models(const std::vector<std::string>& args);
int run_train(const std::vector<std::string>& args);
int run_diag(const std::vector<std::string>& args);
int run_export(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
int run_features(const std::vector<std::string>& args);
int run_plot(const std::vector<std::string>& args);
int run_bench(const std::vector<std::string>& args);

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"info", "show the build (CUDA or CPU only), the visible GPUs and the thread count", run_info},
      {"data", "check a data set: kind, splits, classes, image size, decode speed, bad files", run_data},
      {"train", "pre-train an encoder: --config FILE [--out RUN_DIR] [--resume] [key=value ...]", run_train},
      {"diag", "gradient diagnostics from a run's checkpoint: RUN_DIR [--steps N] [--out DIR]", run_diag},
      {"eval", "evaluate a checkpoint per width: knn | linear | metrics RUN_DIR|CKPT [options]", run_eval},
      {"features", "write a split's features at a width: RUN_DIR|CKPT --split S --width W --out FILE", run_features},
      {"plot", "figures of a run and an index.html: RUN_DIR [--out DIR] [--format png|svg]", run_plot},
      {"export", "one width as a standalone network: RUN_DIR|CKPT --width W --out FILE.safetensors", run_export},
      {"models", "parameters and MACs of every architecture at every width (--json)", run_models},
      {"bench", "speed of a training step: step --config FILE|NAME | model --model NAME [--profile] [--json]", run_bench},
  };
  return all;
}

const Command* find_command(const std::string& name) {
  for (auto& c : commands())
    if (c.name == name) return &c;
  return nullptr;
}

void print_usage(std::ostream& os) {
  os << "slimssl: pre-train small and slimmable networks with contrastive self-supervision\n\n"
        "usage: slimssl <command> [options]\n"
        "       slimssl --version | --help\n\ncommands:\n";
  for (auto& c : commands()) os << "  " << c.name << std::string(10 - std::min<size_t>(c.name.size(), 9), ' ') << c.summary << "\n";
}

bool slimssl_built_with_cuda() {
#ifdef SLIMSSL_WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace slimssl::tools
