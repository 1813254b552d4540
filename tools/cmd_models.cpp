// slimssl models: parameter and MAC counts of every architecture at every width, measured by
// running the real modules (a classifier head of --classes outputs included, as published tables do).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include "engine/error.h"
#include "models/zoo.h"
#include "ssl/util/progress.h"
#include "tools/commands.h"

namespace slimssl::tools {

namespace {
int run_models(const Args& args) {
  SLIMSSL_CHECK(args.positional().empty(), "models takes no positional arguments, got '", args.positional().front(), "'");
  int64_t classes = args.get_int("--classes", 1000);
  int64_t res_override = args.get_int("--resolution", 0);
  std::vector<double> widths = args.get_doubles("--widths", {1.0, 0.75, 0.5, 0.25});
  std::string only = args.get("--model", "");
  bool json = args.flag("--json");
  if (!only.empty()) {
    auto names = models::zoo_names();
    SLIMSSL_CHECK(std::find(names.begin(), names.end(), only) != names.end(), "--model: unknown architecture '", only,
                  "' (known: ", join_names(names), ")");
  }

  nlohmann::json rows = nlohmann::json::array();
  if (!json)
    std::printf("%-20s %6s %6s %12s %12s\n", "model", "width", "res", "params(M)", "MACs(G)");
  int64_t total = static_cast<int64_t>((only.empty() ? models::zoo().size() : 1) * widths.size());
  // Progress on stderr: stdout carries the table or the JSON document.
  util::Progress progress("models measured", total, "networks", util::stderr_lines(), 5.0);
  for (auto& entry : models::zoo()) {
    if (!only.empty() && entry.name != only) continue;
    auto backbone = entry.make(widths);
    models::Classifier model(backbone, classes);
    int64_t res = res_override > 0 ? res_override : backbone->default_resolution();
    for (size_t wi = 0; wi < widths.size(); ++wi) {
      auto cost = models::measure_cost(model, static_cast<int>(wi), res);
      rows.push_back({{"model", entry.name}, {"width", widths[wi]}, {"resolution", res},
                      {"params", cost.params}, {"macs", cost.macs}, {"feature_dim", backbone->feature_dim(wi)}});
      if (!json)
        std::printf("%-20s %6.2f %6lld %12.2f %12.3f\n", entry.name.c_str(), widths[wi], (long long)res,
                    cost.params / 1e6, cost.macs / 1e9);
      progress.add(1, entry.name);
    }
  }
  if (json) std::cout << rows.dump(2) << "\n";
  return 0;
}
}  // namespace

Command models_command() {
  return {"models",
          "parameters and MACs of every architecture at every width (--json)",
          "",
          {{"--model", "NAME", "only this architecture (default: the whole zoo)"},
           {"--widths", "W1,W2,...", "widths to measure (default 1.0,0.75,0.5,0.25)"},
           {"--resolution", "PX", "input size (default: each architecture's own, 32 for *_cifar, 224 otherwise)"},
           {"--classes", "N", "outputs of the classifier head counted in (default 1000)"},
           {"--json", "", "one JSON array on stdout instead of the table"}},
          "Counts come from running the real modules once per width (docs/models.md). A progress line with\n"
          "rate and ETA goes to stderr every few seconds.",
          {"slimssl models --model resnet20_cifar --widths 1.0,0.5,0.25 --classes 10"},
          run_models,
          {}};
}

}  // namespace slimssl::tools
