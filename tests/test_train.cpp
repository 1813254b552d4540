// The trainer: frameworks learn, slow start, loss weights, distillation, resume, SIGINT, bad configs.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>
#include <nlohmann/json.hpp>
#include "engine/safetensors.h"
#include "gradcheck.h"
#include "ssl/data/augment.h"
#include "ssl/data/augment_presets.h"
#include "ssl/data/subset.h"
#include "ssl/eval/knn.h"
#include "ssl/train/checkpoint.h"
#include "ssl/train/contrastive.h"
#include "ssl/train/learner.h"
#include "ssl/train/trainer.h"
#include "test_files.h"
#include "train_fixture.h"

using namespace slimssl;
using namespace slimssl::testing;
using train::TrainConfig;

namespace {
std::vector<nlohmann::json> read_metrics(const std::string& run_dir, const std::string& type = "train") {
  std::ifstream in(std::filesystem::path(run_dir) / "metrics.jsonl");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == type) out.push_back(j);
  }
  return out;
}

train::TrainResult run(const TrainConfig& c, const std::string& dir, bool resume = false) {
  train::TrainOptions o;
  o.run_dir = dir;
  o.resume = resume;
  o.quiet = true;
  return train::run_training(c, o);
}

double mean_loss(const std::vector<nlohmann::json>& m, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += m[i]["info_nce"]["1.00"].get<double>();
  return s / double(to - from);
}
}  // namespace

TEST_CASE("train: each framework lowers its loss on generated data", "[train]") {
  for (std::string fw : {"mocov2", "mocov3", "simclr"}) {
    DYNAMIC_SECTION(fw) {
      TrainConfig c = tiny_config(fw);
      c.widths = {1.0};
      c.epochs = 4;  // 32 steps of 32 images
      c.lr = 0.1;
      c.lr_schedule = "constant";  // a cosine would stop learning just where the loss is read
      c.temperature = 0.2;
      std::string dir = fresh_dir("learn_" + fw);
      auto r = run(c, dir);
      auto m = read_metrics(dir);
      REQUIRE(m.size() == 32);
      // Steps 1-2 are skipped: MoCo v2's queue still holds its random initial vectors then.
      double early = mean_loss(m, 2, 8), late = mean_loss(m, 26, 32);
      INFO(fw << ": early " << early << " late " << late);
      CHECK(late < 0.95 * early);  // batch-to-batch noise of these means is about 1%
      CHECK(r.knn.size() == 1);  // the final monitor
    }
  }
}

TEST_CASE("train: slow start switches sub-networks on at slim_start_epoch", "[train]") {
  TrainConfig c = tiny_config("mocov2");
  c.slim_start_epoch = 1;  // 256 / 32 = 8 steps per epoch
  std::string dir = fresh_dir("slow_start");
  run(c, dir);
  auto m = read_metrics(dir);
  REQUIRE(m.size() == 16);
  for (auto& rec : m) {
    int64_t step = rec["step"];
    // A record is written after its step: steps 1..8 ran in epoch 0.
    bool sub_on = step > 8;
    CHECK(rec["info_nce"].contains("0.50") == sub_on);
    CHECK(rec.contains("distill") == sub_on);
  }
}

TEST_CASE("train: loss weights follow the published rule", "[train]") {
  TrainConfig c = tiny_config("mocov2");
  c.widths = {1.0, 0.75, 0.5, 0.25};
  CHECK(train::resolve_loss_weights(c) == std::vector<double>{2.5, 1, 1, 1});
  c.widths = {1.0, 0.5, 0.25};
  CHECK(train::resolve_loss_weights(c) == std::vector<double>{1.75, 1, 1});
  c.loss_weights = "uniform";
  CHECK(train::resolve_loss_weights(c) == std::vector<double>{1, 1, 1});
  c.loss_weights = nlohmann::json::array({1.0, 0.0, 2.0});
  CHECK(train::resolve_loss_weights(c) == std::vector<double>{1, 0, 2});
}

TEST_CASE("train: gradients are linear in the loss weights", "[train]") {
  // g(weights [2, 1]) - g([1, 1]) must equal g([1, 0]): the full width's term alone.
  TrainConfig c = tiny_config("mocov2");
  c.distill = false;
  c.threads = 1;
  Tensor v1 = randu({8, 3, 16, 16}, 11, -1, 1, DType::F32), v2 = randu({8, 3, 16, 16}, 12, -1, 1, DType::F32);
  auto grad_of = [&](nlohmann::json w) {
    TrainConfig cw = c;
    cw.loss_weights = w;
    train::Learner l(cw);
    auto sl = l.compute_loss(v1, v2, 1.0, 0);
    sl.loss.backward();
    return l.query().backbone->named_parameters().front().second.grad().clone();
  };
  Tensor a = grad_of({2.0, 1.0}), b = grad_of({1.0, 1.0}), full = grad_of({1.0, 0.0});
  CHECK(allclose(sub(a, b), full, 1e-5, 1e-3));
  CHECK(sum(abs(full)).item() > 0);
}

TEST_CASE("train: distillation loss matches its formula and finite differences", "[train]") {
  Tensor zs = randu({3, 5}, 21).set_requires_grad(), zt = randu({3, 5}, 22);
  double ts = 2.0, tt = 3.0;
  Tensor kd = train::distill_loss(zs, zt, ts, tt);
  // -sum softmax(zt/tt) * log_softmax(zs/ts) * ts^2, mean over rows, by hand:
  auto s = zs.to_vector<double>(), t = zt.to_vector<double>();
  double expect = 0;
  for (int r = 0; r < 3; ++r) {
    double zt_sum = 0, zs_sum = 0;
    for (int j = 0; j < 5; ++j) zt_sum += std::exp(t[r * 5 + j] / tt), zs_sum += std::exp(s[r * 5 + j] / ts);
    for (int j = 0; j < 5; ++j)
      expect -= std::exp(t[r * 5 + j] / tt) / zt_sum * (s[r * 5 + j] / ts - std::log(zs_sum));
  }
  expect = expect / 3 * ts * ts;
  CHECK(kd.item() == Approx(expect).epsilon(1e-10));
  auto res = gradcheck([&](const std::vector<Tensor>& in) { return train::distill_loss(in[0], in[1], ts, tt); },
                       {zs, zt});
  INFO(res.message);
  CHECK(res.ok);
  // The teacher receives no gradient.
  Tensor zt2 = randu({3, 5}, 23).set_requires_grad();
  train::distill_loss(zs, zt2, ts, tt).backward();
  CHECK(!zt2.grad().defined());
}

TEST_CASE("train: the contrastive logits put the positive where the label says", "[train]") {
  Tensor q = normalize(randu({4, 6}, 31), 1), k = normalize(randu({4, 6}, 32), 1), queue = normalize(randu({8, 6}, 33), 1);
  auto l = train::moco_logits(q, k, queue);
  CHECK(l.values.shape() == Shape{4, 9});
  CHECK(element_as_double(l.values, 9 * 2) == Approx(sum(mul(q.select(0, 2), k.select(0, 2))).item()));
  auto nt = train::ntxent_logits(q, k);
  CHECK(nt.values.shape() == Shape{8, 8});
  CHECK(nt.labels.to_vector<int64_t>() == std::vector<int64_t>{4, 5, 6, 7, 0, 1, 2, 3});
  // self-similarity is masked: it contributes nothing to the softmax at T = 0.2
  Tensor p = softmax(mul(nt.values, 5.0), 1);
  CHECK(element_as_double(p, 0) < 1e-30);
}

TEST_CASE("train: a resumed run reproduces the uninterrupted run bit for bit", "[train][resume]") {
  TrainConfig c = tiny_config("mocov2");
  c.slim_start_epoch = 0;
  std::string a = fresh_dir("resume_a"), b = fresh_dir("resume_b");
  TrainConfig whole = c;
  whole.max_steps = 10;
  run(whole, a);
  TrainConfig first = c;
  first.max_steps = 6;
  run(first, b);
  run(whole, b, true);
  auto ma = read_metrics(a), mb = read_metrics(b);
  REQUIRE(ma.size() == 10);
  REQUIRE(mb.size() == 10);
  for (size_t i = 0; i < 10; ++i) {
    INFO("step " << i + 1);
    CHECK(ma[i]["info_nce"] == mb[i]["info_nce"]);
    CHECK(ma[i]["loss"].get<double>() == mb[i]["loss"].get<double>());
  }
  auto fa = load_safetensors(train::latest_checkpoint(a)), fb = load_safetensors(train::latest_checkpoint(b));
  REQUIRE(fa.names == fb.names);
  for (size_t i = 0; i < fa.names.size(); ++i) {
    INFO(fa.names[i]);
    CHECK(max_violation(fa.tensors[i].to(DType::F64), fb.tensors[i].to(DType::F64), 0) == 0);
  }
}

TEST_CASE("train: SIGINT saves a loadable checkpoint and stops", "[train][signal]") {
  TrainConfig c = tiny_config("simclr");
  c.epochs = 50;
  std::string dir = fresh_dir("sigint");
  std::thread interrupter([dir] {
    auto path = std::filesystem::path(dir) / "metrics.jsonl";
    for (int i = 0; i < 6000; ++i) {
      std::ifstream in(path);
      std::string line;
      if (in && std::getline(in, line) && !line.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::raise(SIGINT);
  });
  auto r = run(c, dir);
  interrupter.join();
  CHECK(r.interrupted);
  CHECK(r.steps < 50 * 8);
  REQUIRE(!r.checkpoint.empty());
  train::Learner fresh(c);
  train::Optimizer opt = train::build_optimizer(c, fresh.query());
  CHECK(train::load_checkpoint(r.checkpoint, fresh, opt) == r.steps);
}

TEST_CASE("train: bad configurations are refused with the key named", "[train][errors]") {
  auto refuse = [](const std::string& kv, const std::string& needle) {
    nlohmann::json j = tiny_config("mocov2").to_json();
    train::apply_override(j, kv);
    INFO(kv);
    CHECK_THROWS_WITH(train::config_from_json(j, "test.json"), Catch::Contains(needle));
  };
  refuse("bogus_key=1", "unknown key 'bogus_key'");
  refuse("lr=\"fast\"", "key 'lr' must be a number");
  refuse("widths=1.0,1.5", "key 'widths'");
  refuse("widths=[0.5,1.0]", "descending");
  refuse("queue_size=100", "key 'queue_size'");
  refuse("framework=byol", "key 'framework'");
  refuse("epochs=0", "key 'epochs'");
  refuse("distill_alpha=2", "key 'distill_alpha'");
  refuse("loss_weights=[1,2,3]", "key 'loss_weights'");
  refuse("model=resnet7", "key 'model'");
  refuse("augment=wild", "key 'augment'");
  TrainConfig missing = tiny_config("mocov2");
  missing.data = "/nonexistent/slimssl/data";
  CHECK_THROWS_WITH(run(missing, fresh_dir("missing")), Catch::Contains("key 'data'") && Catch::Contains("/nonexistent"));
  CHECK_THROWS_WITH(train::load_config("/nonexistent.json", {}), Catch::Contains("/nonexistent.json"));
}

TEST_CASE("train: every shipped config parses and validates", "[train][configs]") {
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(configs_dir())) {
    if (e.path().extension() != ".json") continue;
    INFO(e.path());
    CHECK_NOTHROW(train::load_config(e.path().string(), {}));
    ++n;
  }
  CHECK(n >= 16);
}

TEST_CASE("train: the kNN monitor measures the raw pixels and the untrained network beside the widths", "[train]") {
  TrainConfig c = tiny_config("mocov2");
  c.max_steps = 4, c.knn_every = 0.25;  // 8 steps per epoch: a kNN at steps 0, 2 and the end
  c.knn_bank_size = 128, c.knn_test_size = 48;
  std::string dir = fresh_dir("knn_baseline");
  auto r = run(c, dir);
  // Stripes at random phases: the pixels' cosine kNN is above chance but far from perfect.
  INFO("raw pixels " << r.knn_raw_pixels);
  CHECK(r.knn_raw_pixels >= 0);
  CHECK(r.knn_raw_pixels <= 100);
  CHECK(r.knn_test_images == 48);
  auto base = read_metrics(dir, "knn_baseline");
  REQUIRE(base.size() == 1);
  CHECK(base[0]["raw_pixels"].get<double>() == r.knn_raw_pixels);
  CHECK(base[0]["test"] == 48);
  CHECK(base[0]["bank"] == 128);
  auto knn = read_metrics(dir, "knn");
  REQUIRE(knn.size() == 3);
  CHECK(knn[0]["step"] == 0);  // the untrained network
  CHECK(knn[1]["step"] == 2);
  CHECK(knn[2]["step"] == 4);
  REQUIRE(r.knn.size() == 3);
  CHECK(r.knn.front().epoch == 0);
}

TEST_CASE("train: the kNN baseline of the raw pixels is the kNN of the flattened eval images", "[train]") {
  TrainConfig c = tiny_config("mocov2");
  c.max_steps = 1, c.knn_every = 0, c.knn_bank_size = 100, c.knn_test_size = 40, c.knn_k = 5;
  auto r = run(c, fresh_dir("knn_pixels"));
  // The same figure from the parts: the seeded subsets, the eval transform, one kNN.
  data::Dataset train_split = data::open_dataset(c.data, "train"), test_split = data::open_dataset(c.data, "test");
  auto norm = data::normalization_for(train_split);
  auto eval_pipeline = data::augment_preset("eval", static_cast<int>(c.image_size), norm, static_cast<int>(c.in_channels)).first;
  auto pixels = [&](const data::Dataset& ds, int64_t count, uint32_t purpose) {
    auto idx = data::seeded_subset(ds.size(), count, c.seed, purpose);
    Tensor images = data::augment_batch(ds, idx, eval_pipeline, c.seed, 0, 0);
    std::vector<int64_t> all = ds.labels.to_vector<int64_t>(), labels;
    for (int64_t i : idx) labels.push_back(all[i]);
    return std::pair{images.reshape({images.size(0), -1}), Tensor::from_vector(labels, {int64_t(labels.size())})};
  };
  auto [bank, bank_labels] = pixels(train_split, 100, data::kSubsetKnnBank);
  auto [test, test_labels] = pixels(test_split, 40, data::kSubsetKnnTest);
  eval::KnnConfig kc;
  kc.k = 5, kc.temperature = c.knn_t, kc.num_classes = 2;
  double expect = 100 * eval::knn_weighted(bank, bank_labels, test, test_labels, kc).top1;
  CHECK(r.knn_raw_pixels == Approx(expect).margin(1e-9));
  CHECK(r.knn_test_images == 40);
}

TEST_CASE("train: the standard error of a kNN figure is the binomial one", "[train]") {
  CHECK(eval::top1_standard_error(50.0, 100) == Approx(5.0));
  CHECK(eval::top1_standard_error(75.0, 1000) == Approx(100 * std::sqrt(0.75 * 0.25 / 1000)));
  CHECK(eval::top1_standard_error(100.0, 10) == 0.0);
  CHECK(eval::top1_standard_error(40.0, 0) == 0.0);
}

TEST_CASE("train: the logged distillation is a KL divergence: never below 0", "[train][distill]") {
  TrainConfig c = tiny_config("mocov2");
  c.slim_start_epoch = 0, c.max_steps = 4;
  std::string dir = fresh_dir("distill_kl");
  run(c, dir);
  auto m = read_metrics(dir);
  REQUIRE(m.size() == 4);
  for (auto& rec : m) {
    double kl = rec["distill"]["0.50"].get<double>();
    CHECK(kl >= -1e-4);
    CHECK(kl < 25.0 * std::log(1 + c.queue_size));  // far below the cross-entropy's T^2 ln(1 + K)
  }
}
