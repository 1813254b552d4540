// slimssl models: parameter and MAC counts of every architecture at every width, measured by
// running the real modules (a classifier head of --classes outputs included, as published tables do).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include "engine/error.h"
#include "models/zoo.h"
#include "tools/args.h"
#include "tools/commands.h"

namespace slimssl::tools {

int run_models(const std::vector<std::string>& argv) {
  Args args(argv, "models", {"--json", "--classes", "--resolution", "--widths", "--model"});
  int64_t classes = args.get_int("--classes", 1000);
  int64_t res_override = args.get_int("--resolution", 0);
  std::vector<double> widths = args.get_doubles("--widths", {1.0, 0.75, 0.5, 0.25});
  std::string only = args.get("--model", "");
  bool json = args.flag("--json");

  nlohmann::json rows = nlohmann::json::array();
  if (!json)
    std::printf("%-20s %6s %6s %12s %12s\n", "model", "width", "res", "params(M)", "MACs(G)");
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
    }
  }
  SLIMSSL_CHECK(!rows.empty(), "--model: unknown architecture '", only, "'");
  if (json) std::cout << rows.dump(2) << "\n";
  return 0;
}

}  // namespace slimssl::tools
