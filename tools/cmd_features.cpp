// slimssl features RUN_DIR|CKPT --split train|test --width W --out FILE.safetensors: one split's
// pooled backbone features at one width, for analysis in any tool (safetensors.torch.load_file).
#include <cstdio>
#include <iostream>
#include "engine/error.h"
#include "ssl/report/subject.h"
#include "tools/commands.h"

namespace slimssl::tools {

namespace {
int run_features(const Args& a) {
  SLIMSSL_CHECK(a.positional().size() == 1, "expected one RUN_DIR or checkpoint, got ", a.positional().size(),
                " arguments (see --help)");
  std::string split = a.get("--split", ""), out = a.get("--out", "");
  SLIMSSL_CHECK(split == "train" || split == "test", "--split must be train or test, got '", split, "'");
  SLIMSSL_CHECK(!out.empty(), "--out FILE.safetensors is required");
  report::EvalSubject s = report::open_subject(a.positional()[0], a.get("--data", ""));
  int wi = report::width_index(s.widths(), a.get_double("--width", s.widths().front()));
  auto t = a.flag("--augment") ? report::Transform::TrainAugment : report::Transform::Eval;
  report::SplitFeatures f = report::split_features(s, split, t, wi, a.flag("--quiet") ? report::Log{} : util::stdout_lines());
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
}  // namespace

Command features_command() {
  return {"features",
          "write a split's features at a width to a safetensors file",
          "RUN_DIR|CKPT",
          {{"--split", "train|test", "(required) the split"},
           {"--width", "W", "the width (default: the full width)"},
           {"--out", "FILE.safetensors", "(required) the output file"},
           {"--augment", "", "one fixed view per image from the run's training augmentation instead of the eval "
                             "transform"},
           {"--data", "PATH", "the data set, when it moved since training"},
           {"--quiet", "", "no progress line"}},
          "Writes \"features\" (float32 [N, D], the pooled backbone output at width W, backbone in eval mode)\n"
          "and \"labels\" (int64 [N]) of every image of the split, with metadata (width, split, run,\n"
          "checkpoint, step, transform, ...), for any tool (safetensors.torch.load_file). Shares the feature\n"
          "cache of slimssl eval (RUN_DIR/features/); a progress line with rate and ETA while extracting.",
          {"slimssl features runs/fmnist_demo --split test --width 0.25 --out test_w025.safetensors"},
          run_features,
          {}};
}

}  // namespace slimssl::tools
