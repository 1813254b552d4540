// slimssl export RUN_DIR|CKPT --width W --out FILE.safetensors [--check FILE]: one width's backbone as a
// standalone compact network (sliced weights copied out, that width's norms), named like the
// torchvision / timm model (docs/export.md shows the PyTorch side).
#include <cstdio>
#include "engine/error.h"
#include "engine/init.h"
#include "engine/safetensors.h"
#include "ssl/report/run_files.h"
#include "ssl/train/checkpoint.h"
#include "tools/args.h"
#include "tools/commands.h"

namespace slimssl::tools {

int run_export(const std::vector<std::string>& argv) {
  Args args(argv, "export", {"--width", "--out", "--check"});
  SLIMSSL_CHECK(args.positional().size() == 1, "usage: slimssl export RUN_DIR|CHECKPOINT --width W --out FILE");
  std::string out = args.get("--out", "");
  SLIMSSL_CHECK(!out.empty(), "--out FILE.safetensors is required");
  auto loaded = train::load_encoder(args.positional()[0]);
  const auto& widths = loaded.config.widths;
  double w = args.get_double("--width", 1.0);
  int wi = report::width_index(widths, w);
  auto& backbone = *loaded.encoder->backbone;
  auto tensors = backbone.export_state(wi);
  save_safetensors(out, tensors,
                   {{"format", "slimssl-export-1"},
                    {"model", loaded.config.model},
                    {"width", std::to_string(w)},
                    {"feature_dim", std::to_string(backbone.feature_dim(wi))},
                    {"in_channels", std::to_string(loaded.config.in_channels)},
                    {"source", loaded.checkpoint}});
  // --check FILE: a fixed random input and the features this backbone computes for it, so another
  // framework that loads the export can be held to the same numbers (scripts/check_export_torch.py).
  std::string check = args.get("--check", "");
  if (!check.empty()) {
    int64_t res = backbone.default_resolution();
    Tensor x = Tensor::empty({4, 3, res, res});
    init::normal(x, 0.0, 1.0, 1234, 0);
    NoGradGuard ng;
    backbone.eval();
    save_safetensors(check, {{"input", x}, {"features", backbone.forward(x, wi)}},
                     {{"model", loaded.config.model}, {"width", std::to_string(w)}});
  }
  std::printf("exported %s at width %.2f (%zu tensors, feature dim %lld) to %s\n", loaded.config.model.c_str(), w,
              tensors.size(), static_cast<long long>(backbone.feature_dim(wi)), out.c_str());
  return 0;
}

}  // namespace slimssl::tools
