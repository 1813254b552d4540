// The evaluation commands end to end (slimssl eval knn|linear|metrics, features, plot), run
// in-process on one tiny real run of the stripes fixture shared by every test case: outputs exist
// and hold what they claim (JSON keys, valid PNG/SVG, an index.html that links them), the feature
// cache is reused, and broken run directories give a one-line error naming the file.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include "engine/autograd.h"
#include "engine/safetensors.h"
#include "ssl/data/augment.h"
#include "ssl/data/augment_presets.h"
#include "ssl/eval/feature_cache.h"
#include "ssl/report/run_plots.h"
#include "ssl/train/checkpoint.h"
#include "ssl/train/trainer.h"
#include "tools/commands.h"
#include "cli_fixture.h"
#include "train_fixture.h"

using namespace slimssl;
namespace fs = std::filesystem;

namespace {

// 6 steps (3 epochs of 2 steps on a 64-image subset) with slow start ending at epoch 1,
// diagnostics at every step and a kNN record per epoch: every figure has data.
const std::string& tiny_run() {
  static const std::string dir = [] {
    train::TrainConfig c = testing::tiny_config("mocov2");
    c.name = "cli_tiny";
    c.train_subset = 64, c.epochs = 3, c.slim_start_epoch = 1;
    c.diag_every = 1, c.knn_every = 1, c.knn_bank_size = 64, c.knn_test_size = 32;
    return testing::train_run("cli_run", c);
  }();
  return dir;
}

using testing::cli;
using testing::Outcome;
using testing::read_json;
using testing::read_text;

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

// A PNG as the spec has it: signature, then chunks whose CRCs hold, IHDR first, IEND last.
void check_png(const fs::path& p) {
  INFO(p.string());
  std::string s = read_text(p);
  REQUIRE(s.size() > 8);
  REQUIRE(s.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0);
  std::vector<std::string> types;
  for (size_t at = 8; at < s.size();) {
    REQUIRE(at + 12 <= s.size());
    uint32_t len = be32(s, at);
    REQUIRE(at + 12 + len <= s.size());
    auto crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(s.data() + at + 4), len + 4));
    REQUIRE(crc == be32(s, at + 8 + len));
    types.push_back(s.substr(at + 4, 4));
    at += 12 + len;
  }
  REQUIRE(types.size() >= 3);
  CHECK(types.front() == "IHDR");
  CHECK(types.back() == "IEND");
}

// Well-formed enough for a viewer: one <svg> root, every element closed in order.
void check_svg(const fs::path& p) {
  INFO(p.string());
  std::string s = read_text(p);
  REQUIRE(s.rfind("<svg", 0) == 0);
  std::vector<std::string> open;
  for (size_t at = s.find('<'); at != std::string::npos; at = s.find('<', at + 1)) {
    size_t end = s.find('>', at);
    REQUIRE(end != std::string::npos);
    std::string tag = s.substr(at + 1, end - at - 1);
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    if (tag[0] == '/') {
      REQUIRE(!open.empty());
      CHECK(open.back() == tag.substr(1));
      open.pop_back();
    } else if (tag.back() != '/') {
      open.push_back(tag.substr(0, tag.find_first_of(" \t\n")));
    }
  }
  CHECK(open.empty());
}

// `eval metrics` once per process (the plot test needs its t-SNE coordinates too).
const nlohmann::json& metrics_result() {
  static const nlohmann::json j = [] {
    std::string out = (fs::path(tiny_run()) / "eval" / "metrics.json").string();
    Outcome r = cli({"eval", "metrics", tiny_run(), "--samples", "48", "--tsne-iterations", "300", "--quiet"});
    INFO(r.error);
    REQUIRE(r.status == 0);
    return read_json(out);
  }();
  return j;
}

// A copy of the tiny run to break.
std::string broken_copy(const std::string& name) {
  std::string d = testing::fresh_dir(name);
  fs::copy(tiny_run(), d, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  return d;
}

void check_one_line_error(const Outcome& r, const std::string& must_name) {
  INFO(r.error);
  CHECK(r.status != 0);
  CHECK(r.error.find('\n') == std::string::npos);
  CHECK(r.error.find(must_name) != std::string::npos);
}

}  // namespace

TEST_CASE("cli: eval knn prints and writes weighted and best kNN per width", "[cli]") {
  fs::path json = fs::path(testing::fresh_dir("cli_knn")) / "knn.json";
  Outcome r = cli({"eval", "knn", tiny_run(), "--k", "20", "--json", json.string(), "--quiet"});
  INFO(r.error);
  REQUIRE(r.status == 0);
  nlohmann::json j = read_json(json);
  CHECK(j["bank"] == 64);  // the run's knn_bank_size and knn_test_size by default
  CHECK(j["test"] == 32);
  REQUIRE(j["widths"].size() == 2);
  CHECK(j["widths"][0]["width"] == 1.0);
  CHECK(j["widths"][1]["width"] == 0.5);
  for (auto& w : j["widths"]) {
    for (const char* key : {"knn_top1", "knn_top5", "best_knn_top1"}) {
      CHECK(w[key].get<double>() >= 0.0);
      CHECK(w[key].get<double>() <= 100.0);
    }
    CHECK(w["best_k"].get<int>() % 2 == 1);
    CHECK(w["k_used"] == 20);
    CHECK(w["knn_top5"] == 100.0);  // two classes: top-5 always holds the truth
  }
  // The whole splits (--bank 0 --test 0) go through the run's feature cache.
  Outcome all = cli({"eval", "knn", tiny_run(), "--bank", "0", "--test", "0", "--json", json.string(), "--quiet"});
  INFO(all.error);
  REQUIRE(all.status == 0);
  CHECK(read_json(json)["bank"] == 256);
  CHECK(read_json(json)["test"] == 64);
  CHECK(fs::exists(fs::path(tiny_run()) / "features" / "step_000000006_train_eval_w1.00.safetensors"));
}

TEST_CASE("cli: eval knn with the run's defaults repeats the training monitor's last figures", "[cli]") {
  fs::path json = fs::path(testing::fresh_dir("cli_knn_monitor")) / "knn.json";
  Outcome r = cli({"eval", "knn", tiny_run(), "--json", json.string(), "--quiet"});
  INFO(r.error);
  REQUIRE(r.status == 0);
  nlohmann::json j = read_json(json);
  // The monitor's last record: the final step, whose checkpoint eval knn opened.
  nlohmann::json last;
  std::ifstream metrics(fs::path(tiny_run()) / "metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    auto rec = nlohmann::json::parse(line);
    if (rec["type"] == "knn") last = rec;
  }
  REQUIRE(last["step"] == j["step"]);
  for (auto& w : j["widths"]) {
    std::string label = w["width"] == 1.0 ? "1.00" : "0.50";
    INFO("width " << label);
    CHECK(w["knn_top1"].get<double>() == Approx(last["top1"][label].get<double>()).margin(1e-9));
  }
}

TEST_CASE("cli: eval linear trains the probe per width and reuses cached features", "[cli]") {
  fs::path dir = testing::fresh_dir("cli_linear");
  Outcome r = cli({"eval", "linear", tiny_run(), "--epochs", "3", "--json", (dir / "a.json").string(), "--quiet"});
  INFO(r.error);
  REQUIRE(r.status == 0);
  nlohmann::json j = read_json(dir / "a.json");
  CHECK(j["probe"] == "switchable");
  CHECK(j["train_images"] == 256);
  CHECK(j["test_images"] == 64);
  REQUIRE(j["widths"].size() == 2);
  for (auto& w : j["widths"]) {
    CHECK(w["top1"].get<double>() >= 0.0);
    CHECK(w["top1"].get<double>() <= 100.0);
    CHECK(w["top5"] == 100.0);
  }
  std::map<std::string, fs::file_time_type> stamps;
  for (auto& e : fs::directory_iterator(fs::path(tiny_run()) / "features")) stamps[e.path().string()] = e.last_write_time();
  CHECK(stamps.size() >= 4);  // train and test at two widths

  // Another probe on the same features: nothing is extracted or rewritten.
  r = cli({"eval", "linear", tiny_run(), "--epochs", "2", "--probe", "slimmable", "--distill", "--json",
           (dir / "b.json").string(), "--quiet"});
  INFO(r.error);
  REQUIRE(r.status == 0);
  CHECK(read_json(dir / "b.json")["probe"] == "slimmable");
  for (auto& [path, stamp] : stamps) {
    INFO(path);
    CHECK(fs::last_write_time(path) == stamp);
  }

  // --augment needs other training features: they are added, the eval ones stay untouched.
  r = cli({"eval", "linear", tiny_run(), "--epochs", "1", "--augment", "--json", (dir / "c.json").string(), "--quiet"});
  REQUIRE(r.status == 0);
  CHECK(fs::exists(fs::path(tiny_run()) / "features" / "step_000000006_train_augment_w0.50.safetensors"));
  for (auto& [path, stamp] : stamps) CHECK(fs::last_write_time(path) == stamp);
}

TEST_CASE("cli: the feature cache recomputes only when its key changes", "[cli]") {
  std::string path = (fs::path(testing::fresh_dir("cli_cache")) / "f.safetensors").string();
  int calls = 0;
  auto compute = [&] {
    ++calls;
    return eval::FeatureFile{Tensor::full({3, 2}, calls, DType::F32), Tensor::zeros({3}, DType::I64), {}};
  };
  bool computed = false;
  auto a = eval::cached_features(path, {{"encoder", "abc"}}, compute, &computed);
  CHECK((computed && calls == 1));
  auto b = eval::cached_features(path, {{"encoder", "abc"}}, compute, &computed);
  CHECK((!computed && calls == 1));
  CHECK(b.features.to_vector<float>() == a.features.to_vector<float>());
  CHECK(b.metadata.at("encoder") == "abc");
  eval::cached_features(path, {{"encoder", "xyz"}}, compute, &computed);
  CHECK((computed && calls == 2));
  // A torn cache file is replaced, not trusted.
  fs::resize_file(path, fs::file_size(path) / 2);
  auto d = eval::cached_features(path, {{"encoder", "xyz"}}, compute, &computed);
  CHECK((computed && calls == 3));
  CHECK(d.features.to_vector<float>()[0] == 3.0f);
}

TEST_CASE("cli: eval metrics writes every metric per width and the t-SNE pictures", "[cli]") {
  const nlohmann::json& j = metrics_result();
  CHECK(j["samples"] == 48);
  CHECK(j["held_out"] == 48);
  REQUIRE(j["widths"].size() == 2);
  for (auto& w : j["widths"]) {
    for (const char* key : {"alignment_original_view", "alignment_view_view", "intra_class_alignment"}) {
      INFO(key);
      CHECK(w[key].get<double>() >= 0.0);
      CHECK(w[key].get<double>() <= 4.0);
    }
    CHECK(w["uniformity"].get<double>() <= 0.0);
    for (const char* key : {"retrieval_train", "retrieval_test"}) {
      REQUIRE(w[key].size() == 5);
      for (size_t k = 1; k < 5; ++k) CHECK(w[key][k].get<double>() >= w[key][k - 1].get<double>());  // top-k grows
    }
    REQUIRE(w["clustering"].size() == 2);
    CHECK(w["clustering"][0]["k"] == 2);   // the stripes set has two classes
    CHECK(w["clustering"][1]["k"] == 20);
    for (auto& c : w["clustering"]) {
      CHECK(c["nmi"].get<double>() >= 0.0);
      CHECK(c["nmi"].get<double>() <= 1.0);
      CHECK(c["purity"].get<double>() >= 0.5);  // a majority label is at least half of two classes
    }
    check_png(fs::path(tiny_run()) / "eval" / w["tsne"].get<std::string>());
  }
  SafetensorsFile t = load_safetensors((fs::path(tiny_run()) / "eval" / "tsne.safetensors").string());
  CHECK(t.at("w0.50.xy").shape() == Shape{48, 2});
  CHECK(t.at("w0.50.labels").shape() == Shape{48});
}

TEST_CASE("cli: features writes one split at one width as safetensors", "[cli]") {
  std::string out = (fs::path(testing::fresh_dir("cli_features")) / "test_w050.safetensors").string();
  // Given the checkpoint file: its run directory is found from it.
  Outcome r = cli({"features", train::latest_checkpoint(tiny_run()), "--split", "test", "--width", "0.5", "--out", out});
  INFO(r.error);
  REQUIRE(r.status == 0);
  SafetensorsFile f = load_safetensors(out);
  const Tensor& x = f.at("features");
  const Tensor& y = f.at("labels");
  CHECK(x.dtype() == DType::F32);
  CHECK(y.dtype() == DType::I64);
  REQUIRE(x.size(0) == 64);
  CHECK(f.metadata.at("width") == "0.50");
  CHECK(f.metadata.at("split") == "test");
  CHECK(f.metadata.at("run") == tiny_run());

  // The same numbers straight from the checkpoint: its encoder at width index 1 on the eval view.
  train::LoadedEncoder enc = train::load_encoder(tiny_run());
  data::Dataset train_split = data::open_dataset(enc.config.data, "train");
  data::Dataset test_split = data::open_dataset(enc.config.data, "test");
  auto eval_view = data::augment_preset("eval", static_cast<int>(enc.config.image_size),
                                        data::normalization_for(train_split), static_cast<int>(enc.config.in_channels))
                       .first;
  std::vector<int64_t> idx = {0, 17, 63};
  NoGradGuard ng;
  Tensor expect = enc.encoder->features(data::augment_batch(test_split, idx, eval_view, 0, 0, 0), 1).contiguous();
  REQUIRE(x.size(1) == expect.size(1));
  auto got = x.to_vector<float>(), want = expect.to_vector<float>();
  int64_t d = x.size(1);
  for (size_t i = 0; i < idx.size(); ++i) {
    CHECK(y.to_vector<int64_t>()[idx[i]] == test_split.label(idx[i]));
    for (int64_t k = 0; k < d; ++k) CHECK(std::abs(got[idx[i] * d + k] - want[i * d + k]) <= 1e-4f * (1 + std::abs(want[i * d + k])));
  }

  Outcome bad = cli({"features", tiny_run(), "--split", "test", "--width", "0.3", "--out", out});
  check_one_line_error(bad, "0.50");  // lists the widths there are
}

TEST_CASE("cli: plot draws every figure of the run and an index page", "[cli]") {
  metrics_result();  // so the t-SNE pictures are there to include
  std::vector<std::string> expected = {"loss", "loss_total", "distill", "knn", "grad_ratios", "grad_cos_pairs", "grad_cos_steps",
                                       "grad_pca", "grad_pca_steps", "tsne_w1.00", "tsne_w0.50"};
  for (std::string format : {"png", "svg"}) {
    INFO(format);
    fs::path out = testing::fresh_dir("cli_plot_" + format);
    Outcome r = cli({"plot", tiny_run(), "--out", out.string(), "--format", format});
    INFO(r.error);
    REQUIRE(r.status == 0);
    std::string index = read_text(out / "index.html");
    for (const auto& stem : expected) {
      fs::path file = out / (stem + "." + format);
      INFO(file.string());
      REQUIRE(fs::exists(file));
      if (format == "png") check_png(file);
      else check_svg(file);
      CHECK(index.find("\"" + stem + "." + format + "\"") != std::string::npos);
    }
  }
  // The kNN figure draws the raw pixels' baseline, the distillation figure the sub-width only.
  auto log = report::read_metrics((fs::path(tiny_run()) / "metrics.jsonl").string());
  REQUIRE(log.raw_pixels.has_value());
  auto knn = report::knn_chart(log, std::nullopt);
  auto pixels = std::find_if(knn.series.begin(), knn.series.end(), [](auto& s) { return s.name == "raw pixels"; });
  REQUIRE(pixels != knn.series.end());
  CHECK(pixels->y.front() == *log.raw_pixels);
  CHECK(pixels->dashed);
  auto distill = report::distill_chart(log, std::nullopt);
  std::vector<std::string> names;
  for (auto& s : distill.series) if (!s.name.empty()) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{"width 0.50"});
  // Default output directory.
  REQUIRE(cli({"plot", tiny_run()}).status == 0);
  CHECK(fs::exists(fs::path(tiny_run()) / "plots" / "index.html"));
}

TEST_CASE("cli: plot marks slow start at the step the metrics imply", "[cli]") {
  train::TrainConfig c = testing::tiny_config("mocov2");
  c.slim_start_epoch = 1.5;
  report::MetricsLog log;
  log.train = {{4, 0.5, {}}, {16, 2.0, {}}};  // 8 steps per epoch
  REQUIRE(report::slow_start_step(c, log).has_value());
  CHECK(*report::slow_start_step(c, log) == Approx(12.0));
  c.widths = {1.0};
  CHECK_FALSE(report::slow_start_step(c, log).has_value());  // one width: no slow start

  // Width-pair cosines are averaged over the steps where both widths have a contribution.
  std::vector<report::GradientRecord> g(3);
  g[0] = {1, "backbone.conv1.weight", 1.0, {}, {}, {}, {}};  // slow start: no cosine yet
  g[1] = {2, "backbone.conv1.weight", 1.0, {}, {}, {}, {{"0.50", 0.2}}};
  g[2] = {3, "backbone.conv1.weight", 1.0, {}, {}, {}, {{"0.50", 0.6}}};
  plot::Heatmap h = report::pair_cosine_heatmap(g, {1.0, 0.5});
  REQUIRE(h.rows == 1);
  REQUIRE(h.cols == 1);
  CHECK(h.values[0] == Approx(0.4));
  CHECK(h.row_labels[0] == "conv1");
  plot::Heatmap s = report::step_cosine_heatmap(g, {1.0, 0.5});
  REQUIRE(s.cols == 3);
  CHECK(std::isnan(s.values[0]));
  CHECK(s.values[2] == Approx(0.6));
}

TEST_CASE("cli: broken run directories give one clear line naming the file", "[cli]") {
  SECTION("missing path") {
    check_one_line_error(cli({"eval", "knn", "/nonexistent/run", "--quiet"}), "/nonexistent/run");
  }
  SECTION("missing config.json") {
    std::string d = broken_copy("cli_noconfig");
    fs::remove(fs::path(d) / "config.json");
    check_one_line_error(cli({"plot", d}), "config.json");
  }
  SECTION("no checkpoint") {
    std::string d = broken_copy("cli_nockpt");
    fs::remove_all(fs::path(d) / "checkpoints");
    check_one_line_error(cli({"eval", "knn", d, "--quiet"}), "checkpoints");
  }
  SECTION("truncated checkpoint") {
    std::string d = broken_copy("cli_truncated");
    std::string ckpt = train::latest_checkpoint(d);
    fs::resize_file(ckpt, fs::file_size(ckpt) / 3);
    check_one_line_error(cli({"eval", "linear", d, "--quiet"}), ckpt);
  }
  SECTION("a safetensors file that is not a slimssl checkpoint") {
    std::string d = testing::fresh_dir("cli_foreign");
    std::string path = (fs::path(d) / "model.safetensors").string();
    save_safetensors(path, {{"weight", Tensor::zeros({2, 2})}});
    Outcome r = cli({"eval", "metrics", path, "--quiet"});
    check_one_line_error(r, path);
    CHECK(r.error.find("not a slimssl") != std::string::npos);
  }
  SECTION("garbage line in metrics.jsonl") {
    std::string d = broken_copy("cli_garbage");
    fs::path metrics = fs::path(d) / "metrics.jsonl";
    int64_t lines = 0;
    {
      std::ifstream in(metrics);
      std::string l;
      while (std::getline(in, l)) ++lines;
    }
    std::ofstream(metrics, std::ios::app) << "{\"type\": \"train\", \"step\": 7, garbage\n";
    Outcome r = cli({"plot", d});
    check_one_line_error(r, "metrics.jsonl' line " + std::to_string(lines + 1));
    CHECK(r.error.find("not valid JSON") != std::string::npos);
  }
  SECTION("a train record without its step") {
    std::string d = broken_copy("cli_nostep");
    std::ofstream(fs::path(d) / "metrics.jsonl", std::ios::app) << "{\"type\": \"train\", \"epoch\": 4}\n";
    check_one_line_error(cli({"plot", d}), "'step' is missing");
  }
}
