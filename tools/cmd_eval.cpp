// slimssl eval knn|linear|metrics RUN_DIR|CKPT [options]: evaluations of a trained checkpoint per
// width (ssl/report/evaluations.h); each prints a table and writes its JSON document.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include "engine/error.h"
#include "ssl/plot/png.h"
#include "ssl/report/evaluations.h"
#include "ssl/util/progress.h"
#include "tools/commands.h"

namespace slimssl::tools {
namespace fs = std::filesystem;

namespace {

std::string json_path(const report::EvalSubject& s, const Args& a, const std::string& name) {
  return a.get("--json", (fs::path(s.where.run_dir) / "eval" / (name + ".json")).string());
}

void write_json(const std::string& path, const nlohmann::json& j) {
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  plot::write_file_atomic(path, j.dump(2) + "\n");
}

report::Log logger(const Args& a) { return a.flag("--quiet") ? report::Log{} : util::stdout_lines(); }

void header(const report::EvalSubject& s) {
  std::printf("evaluating %s (step %lld): %s %s, widths %s, data %s\n", s.where.checkpoint.c_str(),
              static_cast<long long>(s.loaded.step), s.config().framework.c_str(), s.config().model.c_str(),
              nlohmann::json(s.widths()).dump().c_str(), s.train.source.c_str());
}

// The positional RUN_DIR|CKPT.
std::string target(const Args& a) {
  SLIMSSL_CHECK(a.positional().size() == 1, "expected one RUN_DIR or checkpoint, got ", a.positional().size(),
                " arguments (see slimssl ", a.command(), " --help)");
  return a.positional()[0];
}

int eval_knn(const Args& a) {
  std::string path = target(a);
  report::KnnOptions o;
  report::EvalSubject s = report::open_subject(path, a.get("--data", ""));
  // Defaults: the run's own kNN monitor protocol (k, t, bank, test images, seed), so this table
  // and the one training printed agree.
  const train::TrainConfig& c = s.config();
  o.k = a.get_int("--k", c.knn_k), o.temperature = a.get_double("--t", c.knn_t);
  o.bank = a.get_int("--bank", c.knn_bank_size), o.test = a.get_int("--test", c.knn_test_size);
  o.max_k = a.get_int("--max-k", o.max_k), o.seed = static_cast<uint64_t>(a.get_int("--seed", static_cast<int64_t>(c.seed)));
  if (!a.flag("--quiet")) header(s);
  nlohmann::json j = report::evaluate_knn(s, o, logger(a));
  std::string out = json_path(s, a, "knn");
  write_json(out, j);
  std::printf("\nkNN on %lld test images against %lld training images (weighted: k=%lld, t=%g; best over odd k <= %lld)\n",
              j["test"].get<long long>(), j["bank"].get<long long>(), static_cast<long long>(o.k), o.temperature,
              static_cast<long long>(o.max_k));
  std::printf("%-7s %10s %10s %15s %7s\n", "width", "kNN top-1", "kNN top-5", "best-kNN top-1", "best k");
  for (auto& w : j["widths"])
    std::printf("%-7.2f %10.2f %10.2f %15.2f %7lld\n", w["width"].get<double>(), w["knn_top1"].get<double>(),
                w["knn_top5"].get<double>(), w["best_knn_top1"].get<double>(), w["best_k"].get<long long>());
  std::printf("written to %s\n", out.c_str());
  return 0;
}

int eval_linear(const Args& a) {
  std::string path = target(a);
  report::LinearOptions o;
  eval::ProbeConfig& p = o.probe;
  p.kind = eval::parse_probe_kind(a.get("--probe", "switchable"));
  p.distill = a.flag("--distill");
  p.epochs = a.get_int("--epochs", 100), p.lr = a.get_double("--lr", 0.1), p.batch_size = a.get_int("--batch", 256);
  p.schedule = a.get("--schedule", "cosine"), p.milestones = a.get_doubles("--milestones", {});
  p.weight_decay = a.get_double("--wd", 0.0), p.momentum = a.get_double("--momentum", 0.9);
  p.seed = static_cast<uint64_t>(a.get_int("--seed", 0));
  SLIMSSL_CHECK(p.schedule != "step" || !p.milestones.empty(), "--schedule step needs --milestones E1,E2,...");
  o.augment = a.flag("--augment");
  o.feature_norm = a.get("--norm", "standardize");
  o.train_subset = a.get_int("--train-subset", 0), o.test_subset = a.get_int("--test-subset", 0);
  SLIMSSL_CHECK(o.train_subset >= 0 && o.test_subset >= 0, "--train-subset and --test-subset must be >= 0");
  report::EvalSubject s = report::open_subject(path, a.get("--data", ""));
  if (!a.flag("--quiet")) header(s);
  nlohmann::json j = report::evaluate_linear(s, o, logger(a));
  std::string out = json_path(s, a, "linear");
  write_json(out, j);
  std::printf("\nlinear probe (%s%s, %lld epochs, lr %g %s, features %s%s): %lld train, %lld test images\n",
              j["probe"].get<std::string>().c_str(), p.distill ? " + distillation" : "", static_cast<long long>(p.epochs),
              p.lr, p.schedule.c_str(), o.feature_norm.c_str(), o.augment ? ", train-split augmented" : "",
              j["train_images"].get<long long>(), j["test_images"].get<long long>());
  std::printf("%-7s %8s %8s\n", "width", "top-1", "top-5");
  for (auto& w : j["widths"])
    std::printf("%-7.2f %8.2f %8.2f\n", w["width"].get<double>(), w["top1"].get<double>(), w["top5"].get<double>());
  std::printf("written to %s\n", out.c_str());
  return 0;
}

int eval_metrics(const Args& a) {
  std::string path = target(a);
  report::MetricsOptions o;
  o.samples = a.get_int("--samples", o.samples), o.seed = static_cast<uint64_t>(a.get_int("--seed", 0));
  o.tsne_points = a.get_int("--tsne-points", o.tsne_points);
  o.tsne_iterations = a.get_int("--tsne-iterations", o.tsne_iterations);
  SLIMSSL_CHECK(o.tsne_iterations >= 1, "--tsne-iterations must be positive, got ", o.tsne_iterations);
  report::EvalSubject s = report::open_subject(path, a.get("--data", ""));
  o.out_dir = a.get("--out", (fs::path(s.where.run_dir) / "eval").string());
  if (!a.flag("--quiet")) header(s);
  nlohmann::json j = report::evaluate_metrics(s, o, logger(a));
  std::string out = a.get("--json", (fs::path(o.out_dir) / "metrics.json").string());
  write_json(out, j);
  std::printf("\nrepresentation metrics on %lld training and %lld held-out images (seed %llu)\n",
              j["samples"].get<long long>(), j["held_out"].get<long long>(), static_cast<unsigned long long>(o.seed));
  std::printf("%-6s %8s %8s %8s %8s | %-13s %-13s | %-15s %-15s\n", "width", "align ov", "align vv", "intra", "unif",
              "retr train", "retr test", "k=C nmi/pur", "k=10C nmi/pur");
  for (auto& w : j["widths"]) {
    auto& rt = w["retrieval_train"];
    auto& rh = w["retrieval_test"];
    auto& cl = w["clustering"];
    std::printf("%-6.2f %8.3f %8.3f %8.3f %8.3f | %5.1f / %5.1f %5.1f / %5.1f | %.3f / %.3f   %.3f / %.3f\n",
                w["width"].get<double>(), w["alignment_original_view"].get<double>(),
                w["alignment_view_view"].get<double>(), w["intra_class_alignment"].get<double>(),
                w["uniformity"].get<double>(), rt[0].get<double>(), rt[4].get<double>(), rh[0].get<double>(),
                rh[4].get<double>(), cl[0]["nmi"].get<double>(), cl[0]["purity"].get<double>(),
                cl[1]["nmi"].get<double>(), cl[1]["purity"].get<double>());
  }
  std::printf("(retrieval: top-1 / top-5 %%; align ov: original vs view, vv: view vs view)\nwritten to %s",
              out.c_str());
  if (j["widths"].size() > 0 && j["widths"][0].contains("tsne")) std::printf("; t-SNE pictures in %s", o.out_dir.c_str());
  std::printf("\n");
  return 0;
}

const std::vector<Option> kCommon = {
    {"--data", "PATH", "the data set, when it moved since training (default: the run's)"},
    {"--json", "FILE", "where the JSON results go (default RUN_DIR/eval/<evaluation>.json)"},
    {"--quiet", "", "no progress lines"}};

std::vector<Option> with_common(std::vector<Option> own) {
  own.insert(own.end(), kCommon.begin(), kCommon.end());
  return own;
}

}  // namespace

Command eval_command() {
  Command knn{"knn",
              "weighted kNN and best-kNN top-1/top-5 per width",
              "RUN_DIR|CKPT",
              with_common({{"--k", "K", "neighbours of the weighted vote (default: the run's knn_k)"},
                           {"--t", "T", "temperature of the vote weights exp(cos / T) (default: the run's knn_t)"},
                           {"--bank", "N", "a seeded subset of N training images as the bank (default: the run's "
                                           "knn_bank_size; 0: all, cached)"},
                           {"--test", "N", "a seeded subset of N test images (default: the run's knn_test_size; 0: "
                                           "all)"},
                           {"--max-k", "K", "best-kNN: the best majority vote over odd k up to K (default 101)"},
                           {"--seed", "S", "which subsets (default: the run's seed)"}}),
              "Weighted kNN (the MoCo monitor) and best-kNN (the small-model study) of each width's pooled\n"
              "backbone features, eval transform: test images classified against a bank of training images.\n"
              "Whole splits go through the feature cache RUN_DIR/features/, shared with eval linear. Accuracies\n"
              "in percent; a progress line with rate and ETA while features are extracted.",
              {"slimssl eval knn runs/fmnist_demo --bank 5000 --test 1000"},
              eval_knn,
              {}};
  Command linear{
      "linear",
      "linear probe per width on frozen features (switchable or slimmable)",
      "RUN_DIR|CKPT",
      with_common({{"--probe", "switchable|slimmable", "independent classifier per width (default), or one shared "
                                                       "weight sliced per width"},
                   {"--distill", "", "sub-width loss = (soft-CE to the full probe + CE) / 2, as in the SlimCLR code"},
                   {"--epochs", "N", "probe epochs (default 100)"},
                   {"--lr", "X", "learning rate (default 0.1)"},
                   {"--batch", "N", "batch size (default 256)"},
                   {"--schedule", "cosine|step|constant", "lr schedule (default cosine)"},
                   {"--milestones", "E1,E2", "step schedule: epochs of the x0.1 steps"},
                   {"--wd", "X", "weight decay (default 0)"},
                   {"--momentum", "X", "SGD momentum (default 0.9)"},
                   {"--norm", "standardize|none", "features standardized per dimension with the training split's "
                                                  "mean and std (default), or raw"},
                   {"--augment", "", "training features from the run's training augmentation (one fixed view per "
                                     "image) instead of the eval transform"},
                   {"--train-subset", "N", "a seeded subset of N training images (default 0: all, cached)"},
                   {"--test-subset", "N", "a seeded subset of N test images (default 0: all, cached)"},
                   {"--seed", "S", "probe initialization, shuffles and subsets (default 0)"}}),
      "Features (pooled backbone outputs, backbone in eval mode) are extracted once per width and split\n"
      "and cached in RUN_DIR/features/ (reused while the checkpoint, data and transform match); subsets\n"
      "are extracted directly. Defaults: SGD momentum 0.9, lr 0.1, cosine, 100 epochs, batch 256, no\n"
      "weight decay, standardized features: one learning rate that works whatever the scale of a\n"
      "backbone's features. A common CIFAR probe: --norm none --schedule step --milestones 60,80.\n"
      "Published ImageNet schedules: MoCo v2 (and SlimCLR's MoCo v2 script): --norm none --lr 60\n"
      "--schedule step --milestones 60,80; MoCo v3: --lr 0.4 --epochs 90. Progress lines with rate and\n"
      "ETA for feature extraction and the probe's epochs.",
      {"slimssl eval linear runs/fmnist_demo --train-subset 10000 --test-subset 2000 --epochs 30"},
      eval_linear,
      {}};
  Command metrics{
      "metrics",
      "alignment, uniformity, retrieval, over-clustering and t-SNE per width",
      "RUN_DIR|CKPT",
      with_common({{"--samples", "N", "training images in the fixed seeded sample, and as many test images "
                                      "(default 2000)"},
                   {"--seed", "S", "the sample, the views, k-means and t-SNE (default 0)"},
                   {"--tsne-points", "N", "t-SNE of up to N points of (the first) 10 classes; 0: none (default 2000)"},
                   {"--tsne-iterations", "N", "t-SNE iterations (default 1000)"},
                   {"--out", "DIR", "t-SNE pictures and coordinates (default RUN_DIR/eval)"}}),
      "The small-model study's representation analysis on L2-normalized pooled backbone features:\n"
      "alignment original vs view and view vs view (views from the run's training augmentation),\n"
      "intra-class alignment, uniformity, instance-retrieval top-1..5 on train and held-out images,\n"
      "k-means with k = #classes and 10 x #classes scored by NMI and purity (over-clustering), and\n"
      "t-SNE pictures OUT/tsne_w<width>.png (coordinates in OUT/tsne.safetensors for slimssl plot).",
      {"slimssl eval metrics runs/fmnist_demo --samples 1000"},
      eval_metrics,
      {}};
  return {"eval", "evaluate a checkpoint per width: knn, linear or metrics", "", {},
          "RUN_DIR: its newest checkpoint is evaluated; outputs go to RUN_DIR/eval/ and RUN_DIR/features/.\n"
          "Accuracies are in percent; NMI and purity are fractions.",
          {"slimssl eval knn runs/fmnist_demo"}, {}, {knn, linear, metrics}};
}

}  // namespace slimssl::tools
