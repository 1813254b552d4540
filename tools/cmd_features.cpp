// slimssl features RUN_DIR|CKPT --split train|test --width W --out FILE.safetensors: one split's
// pooled backbone features at one width, for analysis in any tool (safetensors.torch.load_file).
#include <cstdio>
#include <iostream>
#include "engine/error.h"
#include "ssl/report/subject.h"
#include "tools/args.h"
#include "tools/commands.h"

namespace slimssl::tools {

namespace {
const char* kHelp =
    "usage: slimssl features RUN_DIR|CKPT --split train|test [--width W] --out FILE.safetensors [--augment]\n"
    "                        [--data PATH]\n"
    "Writes \"features\" (float32 [N, D], the pooled backbone output at width W, backbone in eval mode; default\n"
    "W = the full width) and \"labels\" (int64 [N]) of every image of the split, with metadata (width, split,\n"
    "run, checkpoint, step, transform, ...). The eval transform is used, or with --augment one fixed view per\n"
    "image from the run's training augmentation. Shares the feature cache of slimssl eval (RUN_DIR/features/).\n";
}  // namespace

int run_features(const std::vector<std::string>& argv) {
  Args a(argv, "features", {"--split", "--width", "--out", "--augment", "--data", "--help"}, {"--augment", "--help"});
  if (a.flag("--help")) {
    std::cout << kHelp;
    return 0;
  }
  SLIMSSL_CHECK(a.positional().size() == 1, "expected one RUN_DIR or checkpoint, got ", a.positional().size(),
                " arguments (see --help)");
  std::string split = a.get("--split", ""), out = a.get("--out", "");
  SLIMSSL_CHECK(split == "train" || split == "test", "--split must be train or test, got '", split, "'");
  SLIMSSL_CHECK(!out.empty(), "--out FILE.safetensors is required");
  report::EvalSubject s = report::open_subject(a.positional()[0], a.get("--data", ""));
  int wi = report::width_index(s.widths(), a.get_double("--width", s.widths().front()));
  auto t = a.flag("--augment") ? report::Transform::TrainAugment : report::Transform::Eval;
  report::SplitFeatures f = report::split_features(s, split, t, wi);
  eval::FeatureFile file = f.file;
  file.metadata["run"] = s.where.run_dir;
  file.metadata["checkpoint"] = s.where.checkpoint;
  file.metadata["step"] = std::to_string(s.loaded.step);
  eval::save_feature_file(out, file);
  std::printf("%s: %lld x %lld features of the %s split at width %s (%s), %s\n", out.c_str(),
              static_cast<long long>(file.features.size(0)), static_cast<long long>(file.features.size(1)),
              split.c_str(), report::width_label(s.widths()[wi]).c_str(), report::transform_name(t),
              f.summary().c_str());
  return 0;
}

}  // namespace slimssl::tools
