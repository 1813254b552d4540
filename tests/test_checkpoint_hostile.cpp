// Checkpoints that lie: metadata out of range or not numbers, tensors of the wrong dtype, headers
// with mutated bytes, and the optimizer state, which is keyed by parameter name (format 2) and
// still read from the positional keys of format 1. Every refusal names the file and the field.
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include "engine/safetensors.h"
#include "gradcheck.h"
#include "ssl/train/checkpoint.h"
#include "ssl/train/learner.h"
#include "ssl/train/trainer.h"
#include "train_fixture.h"

using namespace slimssl;
using namespace slimssl::testing;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

train::TrainResult run(const train::TrainConfig& c, const std::string& dir, bool resume = false) {
  train::TrainOptions o;
  o.run_dir = dir;
  o.resume = resume;
  o.quiet = true;
  return train::run_training(c, o);
}

// A mocov2 run of 3 steps (queue, momentum state, two widths), made once per process.
const std::string& sample_checkpoint() {
  static const std::string path = [] {
    train::TrainConfig c = tiny_config("mocov2");
    c.max_steps = 3;
    std::string dir = fresh_dir("ckpt_hostile_run");
    return run(c, dir).checkpoint;
  }();
  return path;
}

using Named = std::vector<std::pair<std::string, Tensor>>;

Named tensors_of(const SafetensorsFile& f) {
  Named out;
  for (size_t i = 0; i < f.names.size(); ++i) out.emplace_back(f.names[i], f.tensors[i]);
  return out;
}

// A copy of the sample checkpoint with `edit` applied to its tensors and metadata.
std::string edited_copy(const std::string& name, const std::function<void(Named&, std::map<std::string, std::string>&)>& edit) {
  SafetensorsFile f = load_safetensors(sample_checkpoint());
  Named named = tensors_of(f);
  edit(named, f.metadata);
  std::string path = (fs::path(fresh_dir("ckpt_hostile_" + name)) / "step_000000003.safetensors").string();
  save_safetensors(path, named, f.metadata);
  return path;
}

std::string with_metadata(const std::string& key, const std::string& value) {
  return edited_copy("meta", [&](Named&, std::map<std::string, std::string>& m) { m[key] = value; });
}

struct Fresh {
  train::TrainConfig c = tiny_config("mocov2");
  train::Learner learner{c};
  train::Optimizer opt = train::build_optimizer(c, learner.query());
};

}  // namespace

TEST_CASE("checkpoint metadata must be whole numbers in range, or the file and key are named", "[checkpoint][hostile]") {
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{{"step", "-5"},
                                                                            {"step", "abc"},
                                                                            {"step", ""},
                                                                            {"step", "99999999999999999999"},
                                                                            {"step", "3 "},
                                                                            {"optimizer_steps", "-1"},
                                                                            {"queue_ptr", "x"}}) {
    std::string path = with_metadata(key, value);
    INFO(key << " = '" << value << "'");
    Fresh f;
    CHECK_THROWS_WITH(train::load_checkpoint(path, f.learner, f.opt), Contains(path) && Contains("metadata '" + key + "'"));
  }
  // the queue pointer must sit on a batch boundary inside the queue (64 keys, batches of 32)
  for (std::string ptr : {"64", "65", "16"}) {
    std::string path = with_metadata("queue_ptr", ptr);
    Fresh f;
    CHECK_THROWS_WITH(train::load_checkpoint(path, f.learner, f.opt), Contains(path) && Contains("queue_ptr"));
  }
  std::string ok = with_metadata("queue_ptr", "32");
  Fresh f;
  CHECK(train::load_checkpoint(ok, f.learner, f.opt) == 3);
}

TEST_CASE("resuming from a checkpoint with a negative or too large step is refused before any step", "[checkpoint][hostile][resume]") {
  // A negative step once indexed the epoch's order before its start (a use-after-free under ASan).
  train::TrainConfig c = tiny_config("mocov2");
  c.max_steps = 6;
  for (std::string step : {"-5", "7"}) {
    std::string ckpt = with_metadata("step", step);
    std::string dir = fs::path(ckpt).parent_path().string();
    fs::create_directories(fs::path(dir) / "checkpoints");
    fs::rename(ckpt, fs::path(dir) / "checkpoints" / fs::path(ckpt).filename());
    INFO("step " << step);
    CHECK_THROWS_WITH(run(c, dir, true), Contains("step_000000003.safetensors") && Contains("step"));
  }
}

TEST_CASE("checkpoint tensors of the wrong dtype or shape are refused, naming the file and tensor", "[checkpoint][hostile]") {
  std::string as_int = edited_copy("dtype", [](Named& n, auto&) {
    for (auto& [name, t] : n)
      if (name.rfind("query.", 0) == 0 && t.dim() == 1) {
        t = t.to(DType::I32);
        break;
      }
  });
  Fresh f;
  CHECK_THROWS_WITH(train::load_checkpoint(as_int, f.learner, f.opt), Contains(as_int) && Contains("dtype int32"));
  CHECK_THROWS_WITH(train::load_encoder(as_int), Contains(as_int) && Contains("int32"));
}

TEST_CASE("mutated checkpoint headers are loaded or refused with the file and the field named", "[checkpoint][hostile]") {
  // Bytes of the header (length, JSON text with dtypes, shapes, offsets, metadata) are overwritten
  // at random; the file is cut at random points. Every outcome is a load or an slimssl::Error
  // naming the file and what was wrong; anything else (another exception, a crash) fails.
  std::ifstream in(sample_checkpoint(), std::ios::binary);
  std::vector<char> original((std::istreambuf_iterator<char>(in)), {});
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t(uint8_t(original[i])) << (8 * i);
  REQUIRE(header_len + 8 < original.size());
  const std::string path = (fs::path(fresh_dir("ckpt_mutants")) / "step_000000003.safetensors").string();
  const std::vector<std::string> fields = {"header",   "JSON",    "dtype",  "shape", "data_offsets", "metadata",
                                           "__metadata__", "format", "tensor", "optimizer state", "trailing", "unused bytes",
                                           "overlaps", "config", "key '"};
  std::mt19937_64 gen(13);
  Fresh f;
  int loaded = 0, refused = 0;
  for (int k = 0; k < 400; ++k) {
    std::vector<char> bytes = original;
    if (k % 10 == 9) {
      bytes.resize(gen() % original.size());  // truncated
    } else {
      const int flips = 1 + int(gen() % 3);
      for (int j = 0; j < flips; ++j) bytes[gen() % (8 + header_len)] = static_cast<char>(gen() % 256);
    }
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
    try {
      train::load_checkpoint(path, f.learner, f.opt);
      ++loaded;
    } catch (const Error& e) {
      ++refused;
      const std::string msg = e.what();
      INFO("mutant " << k << ": " << msg);
      CHECK_THAT(msg, Contains(path));
      CHECK(msg.find('\n') == std::string::npos);
      CHECK(std::any_of(fields.begin(), fields.end(), [&](const std::string& w) { return msg.find(w) != std::string::npos; }));
    }
  }
  CHECK(refused > 300);  // most mutations break something; the rest changed a value that still loads
  CHECK(loaded + refused == 400);
}

TEST_CASE("optimizer state is keyed by parameter name in checkpoints", "[checkpoint][optimizer]") {
  SafetensorsFile file = load_safetensors(sample_checkpoint());
  CHECK(file.metadata.at("format") == "slimssl-checkpoint-2");
  Fresh f;
  std::set<std::string> params;
  for (auto& [name, t] : f.learner.query().named_parameters()) params.insert(name);
  int optim = 0;
  for (auto& name : file.names) {
    if (name.rfind("optim.", 0) != 0) continue;
    ++optim;
    INFO(name);
    const std::string suffix = ".momentum_buffer";
    REQUIRE(name.size() > 6 + suffix.size());
    CHECK(name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0);
    CHECK(params.count(name.substr(6, name.size() - 6 - suffix.size())) == 1);
  }
  CHECK(optim > 0);

  // The state follows names when the optimizer lists parameters in another order: a position
  // would have put it on the wrong parameter.
  train::Learner a(f.c), b(f.c);
  auto named = a.query().named_parameters();
  train::OptimizerConfig oc;
  oc.momentum = 0.9;
  train::Optimizer forward({train::named_group(named, true, true)}, oc);
  models::NamedTensors reversed(named.rbegin(), named.rend());
  train::Optimizer backward({train::named_group(reversed, true, true)}, oc);
  for (auto& [n, t] : named) t.set_grad(Tensor::full(t.shape(), static_cast<double>(n.size()), t.dtype()));
  forward.step(0.1);
  backward.load_state(forward.state());
  auto sa = forward.state(), sb = backward.state();
  std::map<std::string, Tensor> by_name(sb.begin(), sb.end());
  REQUIRE(sa.size() == sb.size());
  for (auto& [key, t] : sa) {
    INFO(key);
    REQUIRE(by_name.count(key));
    CHECK(max_violation(by_name[key].to(DType::F64), t.to(DType::F64), 0) == 0);
  }
  // unknown names and slots of another optimizer are refused
  CHECK_THROWS_WITH(backward.load_state({{"backbone.nowhere.weight.momentum_buffer", sa[0].second}}),
                    Contains("no parameter 'backbone.nowhere.weight'"));
  train::OptimizerConfig adam = oc;
  adam.kind = train::OptimizerKind::AdamW;
  train::Optimizer adamw({train::named_group(named, true, true)}, adam);
  CHECK_THROWS_WITH(adamw.load_state(forward.state()), Contains("adamw") && Contains("momentum_buffer"));
}

TEST_CASE("format-1 checkpoints with positional optimizer keys still load, to the same state", "[checkpoint][optimizer]") {
  // Rewrite the sample in the old layout: optim.<group>.<index>.m1 in build_optimizer's order.
  Fresh ref;
  train::load_checkpoint(sample_checkpoint(), ref.learner, ref.opt);
  std::map<std::string, std::string> position_of;
  models::NamedTensors decay, plain;
  for (auto& named : ref.learner.query().named_parameters())
    (models::takes_weight_decay(named.second) ? decay : plain).push_back(named);
  for (size_t i = 0; i < decay.size(); ++i) position_of[decay[i].first] = "0." + std::to_string(i);
  for (size_t i = 0; i < plain.size(); ++i) position_of[plain[i].first] = "1." + std::to_string(i);
  std::string old = edited_copy("format1", [&](Named& n, std::map<std::string, std::string>& m) {
    m["format"] = "slimssl-checkpoint-1";
    for (auto& [name, t] : n) {
      if (name.rfind("optim.", 0) != 0) continue;
      std::string param = name.substr(6, name.rfind('.') - 6);
      REQUIRE(position_of.count(param));
      name = "optim." + position_of[param] + ".m1";
    }
  });
  Fresh f;
  CHECK(train::load_checkpoint(old, f.learner, f.opt) == 3);
  auto want = ref.opt.state(), got = f.opt.state();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO(want[i].first);
    CHECK(got[i].first == want[i].first);
    CHECK(max_violation(got[i].second.to(DType::F64), want[i].second.to(DType::F64), 0) == 0);
  }
  // a positional key that matches no parameter is named
  std::string bad = edited_copy("format1_bad", [&](Named& n, std::map<std::string, std::string>& m) {
    m["format"] = "slimssl-checkpoint-1";
    for (auto& [name, t] : n)
      if (name.rfind("optim.", 0) == 0) {
        name = "optim.7.0.m1";
        break;
      }
  });
  CHECK_THROWS_WITH(train::load_checkpoint(bad, f.learner, f.opt), Contains(bad) && Contains("optim") && Contains("7.0.m1"));
}
