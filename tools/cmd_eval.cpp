// slimssl eval knn|linear|metrics RUN_DIR|CKPT [options]: evaluations of a trained checkpoint per
// width (ssl/report/evaluations.h); each prints a table and writes its JSON document.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include "engine/error.h"
#include "ssl/plot/png.h"
#include "ssl/report/evaluations.h"
#include "tools/args.h"
#include "tools/commands.h"

namespace slimssl::tools {
namespace fs = std::filesystem;

namespace {

const char* kUsage =
    "usage: slimssl eval knn|linear|metrics RUN_DIR|CHECKPOINT [options]   (slimssl eval SUBCOMMAND --help)\n"
    "  RUN_DIR: its newest checkpoint is evaluated; outputs go to RUN_DIR/eval/ and RUN_DIR/features/.\n"
    "  Accuracies are in percent; NMI and purity are fractions. Common options: --data PATH (the data set,\n"
    "  when it moved since training), --json FILE (default RUN_DIR/eval/<subcommand>.json), --quiet.\n";

const char* kKnnHelp =
    "usage: slimssl eval knn RUN_DIR|CKPT [--k 200] [--t 0.1] [--bank N] [--test N] [--max-k 101] [--seed 0]\n"
    "                        [--data PATH] [--json FILE] [--quiet]\n"
    "Weighted kNN (the MoCo monitor: k neighbours vote with weight exp(cos / t)) and best-kNN (majority vote,\n"
    "best over odd k up to --max-k) of each width's pooled backbone features, eval transform; test images are\n"
    "classified against a bank of training images. --bank/--test: seeded subsets (0 = the whole split, whose\n"
    "features are then cached in RUN_DIR/features/ and shared with eval linear).\n";

const char* kLinearHelp =
    "usage: slimssl eval linear RUN_DIR|CKPT [--probe switchable|slimmable] [--distill] [--epochs 100] [--lr 0.1]\n"
    "       [--batch 256] [--schedule cosine|step|constant] [--milestones 60,80] [--wd 0] [--momentum 0.9]\n"
    "       [--norm standardize|none] [--augment] [--seed 0] [--data PATH] [--json FILE] [--quiet]\n"
    "Linear evaluation per width. Features (pooled backbone outputs, backbone in eval mode) are extracted ONCE\n"
    "per width and split and cached in RUN_DIR/features/ (reused while the checkpoint, data and transform match);\n"
    "--augment takes the training-split features from the run's training augmentation (one fixed view per\n"
    "image) instead of the eval transform. Probes: switchable = an independent classifier per width (SlimCLR);\n"
    "slimmable = one shared weight sliced per width (the paper's weaker alternative). --distill: each\n"
    "sub-width's loss is (soft-CE to the full probe's softmax + CE) / 2, as in the SlimCLR code.\n"
    "Defaults: SGD momentum 0.9, lr 0.1, cosine, 100 epochs, batch 256, no weight decay, on features\n"
    "standardized per dimension with the training split's mean and std (a parameter-free batch norm).\n"
    "Our choice: cheap on a CPU once the features are cached, and one learning rate that works whatever the\n"
    "scale of a backbone's pooled features (a common CIFAR probe uses the same lr, wd and epochs with\n"
    "steps at 60/80 on raw features: --norm none --schedule step --milestones 60,80). Published ImageNet\n"
    "schedules: MoCo v2 (and SlimCLR's MoCo v2 script): SGD lr 60, wd 0, 100 epochs, x0.1 at 60 and 80, on\n"
    "unnormalized features (--norm none --lr 60 --schedule step --milestones 60,80); MoCo v3: SGD lr 0.4,\n"
    "cosine, 90 epochs (--lr 0.4 --epochs 90).\n";

const char* kMetricsHelp =
    "usage: slimssl eval metrics RUN_DIR|CKPT [--samples 2000] [--seed 0] [--tsne-points 2000]\n"
    "       [--tsne-iterations 1000] [--data PATH] [--json FILE] [--out DIR] [--quiet]\n"
    "The small-model study's representation analysis per width, on a fixed seeded sample of --samples training\n"
    "images (and as many held-out test images), L2-normalized pooled backbone features:\n"
    "  alignment original vs view and view vs view (views from the run's training augmentation),\n"
    "  intra-class alignment, uniformity, instance-retrieval accuracy top-1..5 on train and on held-out images,\n"
    "  k-means with k = #classes and 10 x #classes scored by NMI and purity (over-clustering),\n"
    "  and a t-SNE picture of up to 2,000 sampled points of (the first) 10 classes: OUT/tsne_w<width>.png, with\n"
    "  the coordinates in OUT/tsne.safetensors for slimssl plot. OUT defaults to RUN_DIR/eval.\n";

std::string json_path(const report::EvalSubject& s, const Args& a, const std::string& name) {
  return a.get("--json", (fs::path(s.where.run_dir) / "eval" / (name + ".json")).string());
}

void write_json(const std::string& path, const nlohmann::json& j) {
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  plot::write_file_atomic(path, j.dump(2) + "\n");
}

report::Log logger(const Args& a) {
  if (a.flag("--quiet")) return {};
  return [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
}

void header(const report::EvalSubject& s) {
  std::printf("evaluating %s (step %lld): %s %s, widths %s, data %s\n", s.where.checkpoint.c_str(),
              static_cast<long long>(s.loaded.step), s.config().framework.c_str(), s.config().model.c_str(),
              nlohmann::json(s.widths()).dump().c_str(), s.train.source.c_str());
}

// The positional RUN_DIR|CKPT, with the subcommand's help on --help or a wrong count.
bool target(const Args& a, const char* help, std::string& path) {
  if (a.flag("--help")) {
    std::cout << help;
    return false;
  }
  SLIMSSL_CHECK(a.positional().size() == 1, "expected one RUN_DIR or checkpoint, got ", a.positional().size(),
                " arguments (see --help)");
  path = a.positional()[0];
  return true;
}

int eval_knn(const std::vector<std::string>& argv) {
  Args a(argv, "eval knn", {"--k", "--t", "--bank", "--test", "--max-k", "--seed", "--data", "--json", "--quiet", "--help"},
         {"--quiet", "--help"});
  std::string path;
  if (!target(a, kKnnHelp, path)) return 0;
  report::KnnOptions o;
  o.k = a.get_int("--k", o.k), o.temperature = a.get_double("--t", o.temperature);
  o.bank = a.get_int("--bank", 0), o.test = a.get_int("--test", 0);
  o.max_k = a.get_int("--max-k", o.max_k), o.seed = static_cast<uint64_t>(a.get_int("--seed", 0));
  report::EvalSubject s = report::open_subject(path, a.get("--data", ""));
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

int eval_linear(const std::vector<std::string>& argv) {
  Args a(argv, "eval linear",
         {"--probe", "--distill", "--epochs", "--lr", "--batch", "--schedule", "--milestones", "--wd", "--momentum",
          "--norm", "--augment", "--seed", "--data", "--json", "--quiet", "--help"},
         {"--distill", "--augment", "--quiet", "--help"});
  std::string path;
  if (!target(a, kLinearHelp, path)) return 0;
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

int eval_metrics(const std::vector<std::string>& argv) {
  Args a(argv, "eval metrics",
         {"--samples", "--seed", "--tsne-points", "--tsne-iterations", "--data", "--json", "--out", "--quiet", "--help"},
         {"--quiet", "--help"});
  std::string path;
  if (!target(a, kMetricsHelp, path)) return 0;
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

}  // namespace

int run_eval(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h") {
    std::cout << kUsage;
    return argv.empty() ? 2 : 0;
  }
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (argv[0] == "knn") return eval_knn(rest);
  if (argv[0] == "linear") return eval_linear(rest);
  if (argv[0] == "metrics") return eval_metrics(rest);
  fail("unknown evaluation '", argv[0], "' (expected knn, linear or metrics)");
}

}  // namespace slimssl::tools
