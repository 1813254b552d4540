// The user's path through the CLI: every command answers --help from its own declaration, the
// README lists every command, presets are found by name and listed, `config keys` is the
// parser's own table, `diag` records exactly the steps it says at the learning rate it says,
// `plot` takes in the diag sessions, `train --init` loads what matches and names the rest,
// augment=none trains on un-augmented views, and exports carry their input preparation.
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include "engine/safetensors.h"
#include "ssl/data/augment.h"
#include "ssl/data/augment_presets.h"
#include "ssl/report/run_files.h"
#include "ssl/report/run_plots.h"
#include "ssl/train/checkpoint.h"
#include "ssl/train/train_step.h"
#include "ssl/train/trainer.h"
#include "ssl/train/warm_start.h"
#include "tools/commands.h"
#include "cli_fixture.h"
#include "train_fixture.h"

using namespace slimssl;
using testing::cli;
using testing::cli_output;
using testing::Outcome;
using testing::read_json;
using testing::read_text;
namespace fs = std::filesystem;

namespace {

// Every command as (words, declaration), subcommands included.
std::vector<std::pair<std::vector<std::string>, const tools::Command*>> every_command() {
  std::vector<std::pair<std::vector<std::string>, const tools::Command*>> out;
  for (const auto& c : tools::commands()) {
    out.push_back({{c.name}, &c});
    for (const auto& s : c.subcommands) out.push_back({{c.name, s.name}, &s});
  }
  return out;
}

std::string joined(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

// A tiny slimmable run (3 epochs of 2 steps, widths 1.0/0.5) that keeps the checkpoints of steps
// 2, 4 and 6, for diag and plot.
const std::string& diag_run() {
  static const std::string dir = [] {
    train::TrainConfig c = testing::tiny_config("mocov2");
    c.train_subset = 64, c.epochs = 3, c.slim_start_epoch = 1;
    c.checkpoint_every = 2, c.keep_checkpoints = 5;
    return testing::train_run("cli_diag_run", c);
  }();
  return dir;
}

// The steps of the diagnostics records and the lr of each logged step of a diag session.
std::set<int64_t> gradient_steps(const fs::path& session) {
  std::set<int64_t> steps;
  for (auto& g : report::read_gradients((session / "diag" / "gradients.jsonl").string())) steps.insert(g.step);
  return steps;
}

std::map<int64_t, double> logged_lr(const fs::path& session) {
  std::map<int64_t, double> lr;
  for (auto& [line, r] : report::read_jsonl((session / "metrics.jsonl").string()))
    if (r["type"] == "train") lr[r["step"].get<int64_t>()] = r["lr"].get<double>();
  return lr;
}

}  // namespace

TEST_CASE("cli: every command answers --help with its usage, options and an example", "[cli][help]") {
  for (const auto& [words, cmd] : every_command()) {
    std::string path = joined(words);
    INFO(path);
    std::vector<std::string> args = words;
    args.push_back("--help");
    Outcome r = cli_output(args);
    REQUIRE(r.status == 0);
    CHECK(r.output.rfind("usage: slimssl " + path, 0) == 0);
    CHECK(r.output.find(cmd->summary) != std::string::npos);
    for (const auto& o : cmd->options) CHECK(r.output.find(o.name) != std::string::npos);
    CHECK(r.output.find("example") != std::string::npos);
    // `slimssl help WORDS` says the same; so does --help after other arguments.
    std::vector<std::string> help = {"help"};
    help.insert(help.end(), words.begin(), words.end());
    CHECK(cli_output(help).output == r.output);
    std::vector<std::string> late = words;
    late.insert(late.end(), {"some/run", "-h"});
    CHECK(cli_output(late).output == r.output);
    REQUIRE(!cmd->examples.empty());
    // Each example names this command and only options it declares.
    for (const auto& example : cmd->examples) {
      INFO(example);
      std::istringstream tokens(example);
      std::string t;
      tokens >> t;
      CHECK(t == "slimssl");
      for (const auto& w : words) {
        tokens >> t;
        CHECK(t == w);
      }
      while (tokens >> t) {
        if (t.rfind("--", 0) != 0) continue;
        bool declared = false;
        for (const auto& o : cmd->options) declared |= o.name == t;
        CHECK(declared);
      }
    }
  }
  // An option a command does not declare is refused, naming it and where help is.
  Outcome bad = cli({"plot", "some/run", "--colour", "red"});
  CHECK(bad.status == 1);
  CHECK(bad.error.find("'--colour'") != std::string::npos);
  CHECK(bad.error.find("slimssl plot --help") != std::string::npos);
  // The top level lists every command; unknown commands exit 2.
  std::string top = cli_output({"--help"}).output;
  for (const auto& [words, cmd] : every_command())
    if (cmd->subcommands.empty()) CHECK(top.find("  " + joined(words) + " ") != std::string::npos);
  CHECK(cli({"nosuch"}).status == 2);
  CHECK(cli({"eval", "nosuch"}).status == 2);
}

TEST_CASE("cli: the README lists every command", "[cli][help]") {
  std::string readme = read_text(fs::path(SLIMSSL_SOURCE_DIR) / "README.md");
  size_t from = readme.find("## Commands");
  REQUIRE(from != std::string::npos);
  std::string section = readme.substr(from, readme.find("\n## ", from + 1) - from);
  for (const auto& [words, cmd] : every_command()) {
    if (!cmd->subcommands.empty()) continue;
    INFO(joined(words));
    CHECK(section.find("slimssl " + joined(words)) != std::string::npos);
  }
}

TEST_CASE("cli: configs lists the presets and --config finds one by name", "[cli][config]") {
  Outcome r = cli_output({"configs"});
  REQUIRE(r.status == 0);
  int shipped = 0;
  for (auto& e : fs::directory_iterator(fs::path(SLIMSSL_SOURCE_DIR) / "configs")) {
    std::string name = e.path().stem().string();
    INFO(name);
    nlohmann::json j = read_json(e.path());
    REQUIRE(j.contains("description"));  // every preset says what it is
    std::string desc = j["description"];
    CHECK(r.output.find(name + " ") != std::string::npos);
    CHECK(r.output.find(desc.substr(0, 24)) != std::string::npos);
    ++shipped;
  }
  nlohmann::json listed = nlohmann::json::parse(cli_output({"configs", "--json"}).output);
  CHECK(static_cast<int>(listed.size()) >= shipped);

  // By name, with or without .json, and with overrides: the resolved configuration.
  Outcome show = cli_output({"config", "show", "--config", "fmnist_demo", "lr=0.25", "widths=1.0,0.5"});
  INFO(show.error);
  REQUIRE(show.status == 0);
  nlohmann::json j = nlohmann::json::parse(show.output);
  CHECK(j["name"] == "fmnist_demo");
  CHECK(j["lr"] == 0.25);
  CHECK(j["widths"] == nlohmann::json({1.0, 0.5}));
  for (const auto& k : train::config_keys()) CHECK(j.contains(k.name));
  CHECK(cli({"config", "show", "--config", "fmnist_demo.json"}).status == 0);
  Outcome missing = cli({"config", "show", "--config", "no_such_preset"});
  CHECK(missing.status == 1);
  CHECK(missing.error.find("fmnist_demo") != std::string::npos);  // lists the presets there are
  CHECK(cli({"config", "show", "--config", "/nonexistent/x.json"}).error.find("no such file") != std::string::npos);
  CHECK(cli({"config", "show", "--config", "fmnist_demo", "lr=-1"}).error.find("key 'lr'") != std::string::npos);

  // $SLIMSSL_CONFIG_PATH comes first: a user's preset is listed and found, and shadows a shipped one.
  fs::path mine = testing::fresh_dir("cli_presets");
  nlohmann::json own = read_json(fs::path(SLIMSSL_SOURCE_DIR) / "configs" / "fmnist_demo.json");
  own["description"] = "My own demo variant. Second sentence.";
  own["epochs"] = 7;
  std::ofstream(mine / "fmnist_demo.json") << own.dump();
  std::ofstream(mine / "tiny_mine.json") << nlohmann::json{{"description", "A tiny one."}, {"epochs", 2}}.dump();
  ::setenv("SLIMSSL_CONFIG_PATH", mine.c_str(), 1);
  std::string list = cli_output({"configs"}).output;
  Outcome shadowed = cli_output({"config", "show", "--config", "fmnist_demo"});
  Outcome tiny = cli_output({"config", "show", "--config", "tiny_mine"});
  ::unsetenv("SLIMSSL_CONFIG_PATH");
  CHECK(list.find("My own demo variant.") != std::string::npos);
  CHECK(list.find("Second sentence") == std::string::npos);  // one line: the first sentence
  CHECK(list.find("tiny_mine ") != std::string::npos);
  CHECK(nlohmann::json::parse(shadowed.output)["epochs"] == 7);
  CHECK(nlohmann::json::parse(tiny.output)["epochs"] == 2);
}

TEST_CASE("cli: config keys is the parser's own table of keys", "[cli][config]") {
  Outcome r = cli_output({"config", "keys", "--json"});
  REQUIRE(r.status == 0);
  nlohmann::json keys = nlohmann::json::parse(r.output);
  nlohmann::json defaults = train::TrainConfig{}.to_json();
  REQUIRE(keys.size() == defaults.size());
  for (const auto& k : keys) {
    std::string name = k["key"];
    INFO(name);
    REQUIRE(defaults.contains(name));
    CHECK(k["default"] == defaults[name]);
    CHECK(!k["type"].get<std::string>().empty());
    CHECK(k["meaning"].get<std::string>().size() > 10);
    // Every listed value is accepted and anything else is refused with the values named.
    for (const auto& v : k["choices"]) {
      nlohmann::json c = defaults;
      c[name] = v;
      CHECK_NOTHROW(train::config_from_json(c, "test"));
    }
    if (!k["choices"].empty()) {
      nlohmann::json c = defaults;
      c[name] = "no-such-value";
      CHECK_THROWS_WITH(train::config_from_json(c, "test"),
                        Catch::Contains("key '" + name + "'") && Catch::Contains(k["choices"][0].get<std::string>()));
    }
  }
  std::string text = cli_output({"config", "keys"}).output;
  for (const auto& k : keys) CHECK(text.find(k["key"].get<std::string>() + " ") != std::string::npos);
}

TEST_CASE("cli: diag records the requested steps from the chosen checkpoint at the stated lr", "[cli][diag]") {
  const std::string& run = diag_run();
  train::TrainConfig cfg = report::read_run_config(run);
  const double spe = 2;  // 64 images, batch 32
  std::map<std::string, fs::file_time_type> before;
  for (auto& e : fs::recursive_directory_iterator(run)) before[e.path().string()] = e.last_write_time();

  SECTION("a finished run: past the schedule's end, at its end value") {
    Outcome r = cli_output({"diag", run, "--steps", "3", "--quiet"});
    INFO(r.error);
    REQUIRE(r.status == 0);
    fs::path out = fs::path(run) / "diag_from_step_6";
    CHECK(gradient_steps(out) == std::set<int64_t>{7, 8, 9});
    report::PcaTrajectory pca = report::read_pca((out / "diag" / "pca.jsonl").string());
    CHECK(pca.steps == std::vector<int64_t>{7, 8, 9});
    for (auto& [step, lr] : logged_lr(out)) CHECK(lr == train::learning_rate(cfg, cfg.epochs));
    CHECK(r.output.find("diagnostics of steps 7..9 (3 steps)") != std::string::npos);
    // The same session again would mix two: refused, naming the directory.
    Outcome again = cli({"diag", run, "--steps", "3", "--quiet"});
    CHECK(again.status == 1);
    CHECK(again.error.find("diag_from_step_6") != std::string::npos);
  }
  SECTION("an earlier checkpoint: the run's schedule at those steps") {
    Outcome r = cli_output({"diag", run, "--checkpoint", "2", "--steps", "2", "--quiet"});
    INFO(r.error);
    REQUIRE(r.status == 0);
    fs::path out = fs::path(run) / "diag_from_step_2";
    CHECK(gradient_steps(out) == std::set<int64_t>{3, 4});
    auto lr = logged_lr(out);
    REQUIRE(lr.size() == 2);
    for (auto& [step, value] : lr) CHECK(value == Approx(train::learning_rate(cfg, (step - 1) / spe)));
    CHECK(lr[3] > lr[4]);  // cosine, still decaying
  }
  SECTION("a constant --lr, into --out") {
    fs::path out = fs::path(testing::fresh_dir("cli_diag_lr")) / "session";
    Outcome r = cli({"diag", run, "--checkpoint", train::latest_checkpoint(run), "--steps", "2", "--lr", "0.01",
                     "--out", out.string(), "--quiet"});
    INFO(r.error);
    REQUIRE(r.status == 0);
    CHECK(gradient_steps(out) == std::set<int64_t>{7, 8});
    for (auto& [step, lr] : logged_lr(out)) CHECK(lr == 0.01);
  }
  SECTION("a checkpoint the run does not have") {
    Outcome r = cli({"diag", run, "--checkpoint", "5"});
    CHECK(r.status == 1);
    CHECK(r.error.find("step_000000004.safetensors") != std::string::npos);  // lists those there are
  }
  // The run itself is never written to.
  for (auto& [path, stamp] : before) {
    INFO(path);
    REQUIRE(fs::exists(path));
    CHECK(fs::last_write_time(path) == stamp);
  }
}

TEST_CASE("cli: plot draws the run's diag sessions, their axes from their first step", "[cli][diag][plot]") {
  const std::string& run = diag_run();
  fs::path session = fs::path(run) / "diag_from_step_4";
  if (!fs::exists(session)) REQUIRE(cli({"diag", run, "--checkpoint", "4", "--steps", "2", "--quiet"}).status == 0);
  fs::path out = testing::fresh_dir("cli_plot_sessions");
  Outcome r = cli({"plot", run, "--out", out.string()});
  INFO(r.error);
  REQUIRE(r.status == 0);
  std::string index = read_text(out / "index.html");
  for (std::string stem : {"grad_ratios_from_4", "grad_cos_pairs_from_4", "grad_pca_from_4", "grad_pca_steps_from_4"}) {
    INFO(stem);
    CHECK(fs::exists(out / (stem + ".png")));
    CHECK(index.find(stem + ".png") != std::string::npos);
  }
  // The session's ratio chart spans its own steps (5, 6): no point at step 0.
  auto g = report::read_gradients((session / "diag" / "gradients.jsonl").string());
  train::TrainConfig cfg = report::read_run_config(run);
  plot::LineChart from_first = report::ratio_chart(g, cfg.widths, std::nullopt, false);
  plot::LineChart from_zero = report::ratio_chart(g, cfg.widths, std::nullopt, true);
  auto lowest = [](const plot::LineChart& ch) {
    double lo = INFINITY;
    for (auto& s : ch.series)
      for (double x : s.x) lo = std::min(lo, x);
    return lo;
  };
  CHECK(lowest(from_first) == 5.0);
  CHECK(lowest(from_zero) == 0.0);
}

TEST_CASE("cli: train --init loads what matches and names the rest", "[cli][init]") {
  // A plain (one-width) run to start from.
  train::TrainConfig plain = testing::tiny_config("mocov2");
  plain.name = "cli_plain";
  plain.widths = {1.0};
  plain.max_steps = 2;
  std::string source = testing::fresh_dir("cli_init_source");
  train::run_training(plain, {source, false, true});

  // SlimCLR from it, on un-augmented views: through the CLI, with the source's own configuration.
  std::string slim_dir = testing::fresh_dir("cli_init_slim");
  Outcome r = cli_output({"train", "--init", source, "--out", slim_dir, "widths=1.0,0.5", "max_steps=1",
                          "augment=none"});
  INFO(r.error);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("init from " + train::latest_checkpoint(source)) != std::string::npos);
  nlohmann::json report = read_json(fs::path(slim_dir) / "init.json");
  CHECK(report["kind"] == "checkpoint");
  CHECK(report["missing"].empty());
  CHECK(report["unexpected"].empty());
  CHECK(report["mismatched"].empty());
  CHECK(!report["sliced"].empty());  // width 0.5's own norms from the full width's leading channels
  train::TrainConfig used = report::read_run_config(slim_dir);
  CHECK(used.name == "cli_plain_init");
  CHECK(used.augment == "none");

  // The values: every tensor of the full width exactly, width 0.5's norms the leading channels.
  train::TrainConfig slim = plain;
  slim.widths = {1.0, 0.5};
  train::Learner learner(slim);
  train::WarmStartReport ws = train::warm_start(learner, train::latest_checkpoint(source));
  SafetensorsFile src = load_safetensors(train::latest_checkpoint(source));
  std::map<std::string, Tensor> state;
  for (auto& [n, t] : learner.state()) state[n] = t;
  REQUIRE(!ws.loaded.empty());
  for (const auto& [name, from] : ws.loaded) {
    INFO(name);
    CHECK(state.at("query." + name).to(DType::F64).to_vector<double>() ==
          src.at("query." + from).to(DType::F64).to_vector<double>());
  }
  for (const auto& [name, from] : ws.sliced) {
    INFO(name);
    Tensor t = state.at("query." + name);
    Tensor s = src.at("query." + from);
    for (int64_t d = 0; d < t.dim(); ++d) s = s.narrow(d, 0, t.size(d));
    CHECK(t.to(DType::F64).to_vector<double>() == s.to(DType::F64).to_vector<double>());
  }
  for (auto& [n, t] : state)  // the key encoder starts as the query
    if (n.rfind("key.", 0) == 0)
      CHECK(t.to(DType::F64).to_vector<double>() == state.at("query." + n.substr(4)).to(DType::F64).to_vector<double>());

  // From an export (plain backbone names): the backbone loads, the projector is named missing.
  std::string exported = (fs::path(source) / "w1.safetensors").string();
  REQUIRE(cli({"export", source, "--width", "1.0", "--out", exported}).status == 0);
  std::string cfg_file = (fs::path(testing::fresh_dir("cli_init_cfg")) / "slim.json").string();
  nlohmann::json cj = slim.to_json();
  cj["max_steps"] = 1;
  std::ofstream(cfg_file) << cj.dump();
  std::string from_export = testing::fresh_dir("cli_init_export");
  r = cli({"train", "--init", exported, "--config", cfg_file, "--out", from_export, "--quiet"});
  INFO(r.error);
  REQUIRE(r.status == 0);
  report = read_json(fs::path(from_export) / "init.json");
  CHECK(report["kind"] == "weights");
  REQUIRE(!report["missing"].empty());
  for (auto& m : report["missing"]) CHECK(m.get<std::string>().rfind("projector.", 0) == 0);
  CHECK(report["unexpected"].empty());
  CHECK(cli({"train", "--init", exported, "--out", from_export + "_x"}).error.find("--config") != std::string::npos);

  // Another architecture: shapes are named as mismatched; a foreign file matches nothing.
  train::TrainConfig wide = slim;
  wide.model = "resnet20x4_cifar";
  train::Learner other(wide);
  train::WarmStartReport mm = train::warm_start(other, exported);
  bool conv1 = false;
  for (auto& m : mm.mismatched) conv1 |= m.rfind("backbone.conv1.weight: source [16, 3, 3, 3]", 0) == 0;
  CHECK(conv1);
  std::string foreign = (fs::path(source) / "foreign.safetensors").string();
  save_safetensors(foreign, {{"weight", Tensor::zeros({2, 2})}});
  CHECK_THROWS_WITH(train::warm_start(other, foreign), Catch::Contains("no tensor of"));
}

TEST_CASE("train: augment=none gives two identical un-augmented views", "[train][augment]") {
  data::Dataset ds = data::open_dataset(testing::stripes_dataset(), "train");
  auto norm = data::normalization_for(ds);
  data::ViewPipelines none = data::augment_preset("none", 16, norm, 3);
  data::AugmentPipeline eval = data::augment_preset("eval", 16, norm, 3).first;
  std::vector<int64_t> idx = {0, 5, 9};
  data::TwoViewBatch b = data::make_views(ds, idx, none.first, none.second, 3, 1);
  Tensor plain = data::augment_batch(ds, idx, eval, 0, 0, 0);
  CHECK(b.view1.to_vector<float>() == b.view2.to_vector<float>());
  CHECK(b.view1.to_vector<float>() == plain.to_vector<float>());
}

TEST_CASE("cli: an export carries the input size, channels and normalization", "[cli][export]") {
  const std::string& run = diag_run();
  data::Dataset ds = data::open_dataset(testing::stripes_dataset(), "train");
  data::Normalization norm = data::normalization_for(ds);  // the stripes set is measured: 1 channel
  for (bool recorded : {true, false}) {
    INFO((recorded ? "from input.json" : "measured from the data"));
    std::string d = testing::fresh_dir(recorded ? "cli_export_meta" : "cli_export_meta_old");
    fs::copy(run, d, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    if (!recorded) fs::remove(fs::path(d) / "input.json");
    std::string out = (fs::path(d) / "w050.safetensors").string();
    Outcome r = cli({"export", d, "--width", "0.5", "--out", out});
    INFO(r.error);
    REQUIRE(r.status == 0);
    auto meta = load_safetensors(out).metadata;
    CHECK(meta.at("input_size") == "16");
    CHECK(meta.at("input_resize") == "16");
    CHECK(meta.at("input_channels") == "3");
    auto mean = nlohmann::json::parse(meta.at("mean")).get<std::vector<double>>();
    auto std = nlohmann::json::parse(meta.at("std")).get<std::vector<double>>();
    REQUIRE(mean.size() == 3);
    REQUIRE(std.size() == 3);
    for (int c = 0; c < 3; ++c) {
      CHECK(mean[c] == Approx(norm.mean[0]));  // the gray statistics, replicated
      CHECK(std[c] == Approx(norm.std[0]));
    }
  }
}

TEST_CASE("cli: stdout is line-buffered into a pipe", "[cli][progress]") {
  fs::path binary = fs::read_symlink("/proc/self/exe").parent_path() / "slimssl";
  if (!fs::exists(binary)) {
    WARN("skipped: " << binary << " is not built");
    return;
  }
  // `models` prints a table row per network measured; with line buffering each row reaches the
  // pipe while the command still runs, not all at its exit.
  int out[2];
  REQUIRE(::pipe(out) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]), ::close(out[1]);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 2);
    ::execl(binary.c_str(), "slimssl", "models", "--model", "resnet50", "--widths", "1.0,0.75,0.5,0.25,0.2,0.15",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string got;
  char buf[256];
  while (std::count(got.begin(), got.end(), '\n') < 2) {  // the header and the first row
    pollfd p{out[0], POLLIN, 0};
    REQUIRE(::poll(&p, 1, 120000) == 1);
    ssize_t n = ::read(out[0], buf, sizeof buf);
    REQUIRE(n > 0);
    got.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  bool still_running = ::waitpid(pid, &status, WNOHANG) == 0;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  ::close(out[0]);
  INFO(got);
  CHECK(still_running);
  CHECK(got.find("resnet50") != std::string::npos);
}

TEST_CASE("cli: eval linear probes seeded subsets without touching the feature cache", "[cli][eval]") {
  const std::string& run = diag_run();
  fs::path json = fs::path(testing::fresh_dir("cli_linear_subset")) / "linear.json";
  fs::path cache = fs::path(run) / "features";
  size_t cached_before = fs::exists(cache) ? std::distance(fs::directory_iterator(cache), fs::directory_iterator()) : 0;
  Outcome r = cli({"eval", "linear", run, "--train-subset", "100", "--test-subset", "40", "--epochs", "2", "--json",
                   json.string(), "--quiet"});
  INFO(r.error);
  REQUIRE(r.status == 0);
  nlohmann::json j = read_json(json);
  CHECK(j["train_images"] == 100);
  CHECK(j["test_images"] == 40);
  size_t cached_after = fs::exists(cache) ? std::distance(fs::directory_iterator(cache), fs::directory_iterator()) : 0;
  CHECK(cached_after == cached_before);
  CHECK(cli({"eval", "linear", run, "--train-subset", "-1"}).error.find("--train-subset") != std::string::npos);
}

TEST_CASE("cli: train ends with every width beside its untrained network and the raw pixels, with errors", "[cli]") {
  train::TrainConfig c = testing::tiny_config("mocov2");
  c.name = "cli_table";
  c.max_steps = 2, c.knn_every = 0.125, c.knn_bank_size = 96, c.knn_test_size = 40;
  fs::path dir = testing::fresh_dir("cli_table");
  fs::path config = dir / "config_in.json";
  std::ofstream(config) << c.to_json().dump(2);
  Outcome r = cli_output({"train", "--config", config.string(), "--out", (dir / "run").string()});
  INFO(r.error << r.output);
  REQUIRE(r.status == 0);
  CHECK(r.output.find("40 test images; +- one standard error") != std::string::npos);
  CHECK(r.output.find("untrained") != std::string::npos);
  // One row per width and one for the pixels, each "top-1 +- its standard error".
  std::regex row(R"((1\.00|0\.50|raw pixels) +\d+\.\d\d \+- \d+\.\d\d)");
  auto rows = std::distance(std::sregex_iterator(r.output.begin(), r.output.end(), row), std::sregex_iterator());
  CHECK(rows == 3);
}
