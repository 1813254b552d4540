// slimssl export RUN_DIR|CKPT --width W --out FILE.safetensors [--check FILE]: one width's backbone as a
// standalone compact network (sliced weights copied out, that width's norms), named like the
// torchvision / timm model (docs/export.md shows the PyTorch side).
#include <cstdio>
#include "engine/error.h"
#include "engine/init.h"
#include "engine/safetensors.h"
#include "ssl/report/run_files.h"
#include "ssl/train/checkpoint.h"
#include "ssl/train/input_spec.h"
#include "ssl/data/dataset.h"
#include "tools/commands.h"

namespace slimssl::tools {

namespace {
int run_export(const Args& args) {
  SLIMSSL_CHECK(args.positional().size() == 1, "expected one RUN_DIR or checkpoint, got ", args.positional().size(),
                " arguments (see slimssl export --help)");
  std::string out = args.get("--out", "");
  SLIMSSL_CHECK(!out.empty(), "--out FILE.safetensors is required");
  report::RunLocation where = report::locate_run(args.positional()[0], true);
  auto loaded = train::load_encoder(where.checkpoint);
  // The input preparation the network was trained with: recorded by the trainer, else from the data.
  std::optional<train::InputSpec> input = train::load_input_spec(where.run_dir);
  if (!input) {
    std::string source = args.get("--data", loaded.config.data);
    data::Dataset train_split;
    try {
      train_split = data::open_dataset(source, "train");
    } catch (const Error& e) {
      fail("the run has no input.json, and its data set (for the normalization) does not open; pass --data PATH: ",
           e.what());
    }
    input = train::input_spec(loaded.config, data::normalization_for(train_split));
  }
  const auto& widths = loaded.config.widths;
  double w = args.get_double("--width", 1.0);
  int wi = report::width_index(widths, w);
  auto& backbone = *loaded.encoder->backbone;
  auto tensors = backbone.export_state(wi);
  std::map<std::string, std::string> meta = {{"format", "slimssl-export-1"},
                                             {"model", loaded.config.model},
                                             {"width", std::to_string(w)},
                                             {"feature_dim", std::to_string(backbone.feature_dim(wi))},
                                             {"in_channels", std::to_string(loaded.config.in_channels)},
                                             {"source", loaded.checkpoint}};
  for (auto& [k, v] : input->metadata()) meta[k] = v;
  save_safetensors(out, tensors, meta);
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
  std::printf("input: %lld x %lld x %lld (resize %lld, centre crop), mean %s, std %s\n",
              static_cast<long long>(input->channels), static_cast<long long>(input->size),
              static_cast<long long>(input->size), static_cast<long long>(input->resize),
              nlohmann::json(input->mean).dump().c_str(), nlohmann::json(input->std).dump().c_str());
  return 0;
}
}  // namespace

Command export_command() {
  return {"export",
          "one width as a standalone network in safetensors (docs/export.md)",
          "RUN_DIR|CKPT",
          {{"--width", "W", "the width (default 1.0)"},
           {"--out", "FILE.safetensors", "(required) the output file"},
           {"--check", "FILE", "also write a fixed random input and the features slimssl computes for it "
                               "(scripts/check_export_torch.py)"},
           {"--data", "PATH", "the run's data set, only when the run has no input.json (to measure the normalization)"}},
          "Every slimmable weight's slice copied out and that width's own norms, under the names of a plain\n"
          "network of that width (torchvision's and timm's). Metadata: model, width, feature_dim, and how\n"
          "inputs are prepared: input_size, input_resize, input_channels, mean, std (per channel, after\n"
          "pixel / 255).",
          {"slimssl export runs/fmnist_demo --width 0.25 --out w025.safetensors"},
          run_export,
          {}};
}

}  // namespace slimssl::tools
