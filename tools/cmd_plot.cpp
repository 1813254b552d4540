// slimssl plot RUN_DIR [--out DIR] [--format png|svg]: the figures of a run and an index.html.
#include <cstdio>
#include <iostream>
#include "engine/error.h"
#include "ssl/report/run_plots.h"
#include "tools/commands.h"

namespace slimssl::tools {

namespace {
int run_plot(const Args& a) {
  SLIMSSL_CHECK(a.positional().size() == 1, "expected one RUN_DIR, got ", a.positional().size(), " arguments (see --help)");
  report::PlotOptions o;
  o.out_dir = a.get("--out", "");
  o.format = a.get("--format", "png");
  report::PlotResult r = report::plot_run(a.positional()[0], o);
  for (auto& f : r.figures) std::printf("  %s\n", f.file.c_str());
  for (auto& s : r.skipped) std::printf("  (skipped %s)\n", s.c_str());
  std::printf("%zu figures in %s; open %s\n", r.figures.size(), r.out_dir.c_str(), r.index.c_str());
  return 0;
}
}  // namespace

Command plot_command() {
  return {"plot",
          "figures of a run and an index.html",
          "RUN_DIR",
          {{"--out", "DIR", "where (default RUN_DIR/plots)"}, {"--format", "png|svg", "figure format (default png)"}},
          "Figures of a run directory, in DIR with an index.html showing them all:\n"
          "  loss            InfoNCE per width against the step (metrics.jsonl)\n"
          "  knn             kNN top-1 per width against the epoch (metrics.jsonl)\n"
          "  grad_ratios     the two gradient-magnitude ratios over steps, dashed line at 1 (diag/gradients.jsonl)\n"
          "  grad_cos_pairs  per layer x width pair: cosine of the widths' gradient contributions, averaged\n"
          "                  over the diagnostic steps at which both train\n"
          "  grad_cos_steps  per layer x step: cosine of the full and smallest widths\n"
          "  grad_pca        head-gradient PCA trajectory, pc1 vs pc2 coloured by step (diag/pca.jsonl)\n"
          "  grad_pca_steps  the same components against the step\n"
          "  tsne_w<width>   t-SNE pictures, when slimssl eval metrics wrote RUN_DIR/eval/tsne.safetensors\n"
          "The gradient figures are also drawn for each RUN_DIR/diag_from_step_S/ that slimssl diag wrote\n"
          "(suffix _from_S), their axes starting at the session's first step. The end of slow start is marked.",
          {"slimssl plot runs/fmnist_demo", "slimssl plot runs/fmnist_demo --format svg --out figures"},
          run_plot,
          {}};
}

}  // namespace slimssl::tools
