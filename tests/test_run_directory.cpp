// Run-directory ownership: one run at a time (a lock naming its owner, gone with its process), no
// silent mixing with an earlier run (--resume or --force), stale checkpoint temporaries of killed
// writers removed (a live writer's kept), and an unwritable directory or a full disk found before
// the first step. The CLI cases run the real binary as child processes.
#include <catch2/catch.hpp>
#include <sys/wait.h>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include "cli_process.h"
#include "ssl/train/checkpoint.h"
#include "ssl/train/run_directory.h"
#include "train_fixture.h"

using namespace slimssl;
using namespace slimssl::testing;
using train::RunDirectory;
using train::RunStart;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// A tiny mocov2 config file for the CLI (the stripes data of the fixture): 8 steps per epoch.
std::string write_config(const std::string& dir, int64_t max_steps, int64_t checkpoint_every = 2) {
  train::TrainConfig c = tiny_config("mocov2");
  c.max_steps = max_steps;
  c.checkpoint_every = checkpoint_every;
  c.keep_checkpoints = 1;
  std::string path = (fs::path(dir) / ("config_" + std::to_string(max_steps) + ".json")).string();
  std::ofstream(path) << c.to_json().dump(2);
  return path;
}

pid_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string lock_owner(const std::string& dir) { return read_text_file((fs::path(dir) / RunDirectory::kLockName).string()); }

}  // namespace

TEST_CASE("a run directory has one owner, and the lock names it and leaves with it", "[rundir]") {
  std::string dir = fresh_dir("rundir_lock");
  {
    RunDirectory first(dir, RunStart::Fresh, true);
    CHECK_THAT(lock_owner(dir), Contains("pid " + std::to_string(::getpid())));
    CHECK_THROWS_WITH(RunDirectory(dir, RunStart::Resume, true),
                      Contains(dir) && Contains("in use by another slimssl train") && Contains("pid " + std::to_string(::getpid())) &&
                          Contains("on host"));
  }
  CHECK(!fs::exists(fs::path(dir) / RunDirectory::kLockName));  // released and removed
  // A lock file left by a process that died holds no lock: it does not block, and is taken over.
  std::ofstream(fs::path(dir) / RunDirectory::kLockName) << "pid " << dead_pid() << " on host elsewhere since yesterday\n";
  RunDirectory again(dir, RunStart::Resume, true);
  CHECK_THAT(lock_owner(dir), Contains("pid " + std::to_string(::getpid())));
}

TEST_CASE("checkpoint temporaries of dead writers are removed on resume, a live writer's are kept", "[rundir]") {
  std::string dir = fresh_dir("rundir_tmp");
  fs::path ck = fs::path(dir) / "checkpoints";
  fs::create_directories(ck);
  const std::string dead = "step_000000004.safetensors.tmp." + std::to_string(dead_pid()) + ".0";
  const std::string ours = "step_000000006.safetensors.tmp." + std::to_string(::getpid()) + ".3";
  const std::string live = "step_000000008.safetensors.tmp.1.0";  // pid 1 always runs
  for (auto& n : {dead, ours, live, std::string("step_000000002.safetensors"), std::string("notes.tmp.txt")})
    std::ofstream(ck / n) << "x";
  std::ofstream(fs::path(dir) / ("export.safetensors.tmp." + std::to_string(dead_pid()) + ".1")) << "x";
  { RunDirectory run(dir, RunStart::Resume, true); }
  CHECK(names_in(ck) == std::vector<std::string>{"notes.tmp.txt", "step_000000002.safetensors", ours, live});
  CHECK(names_in(dir) == std::vector<std::string>{"checkpoints"});
}

TEST_CASE("an unwritable run directory, a checkpoints file or a full disk is found before training", "[rundir]") {
  std::string dir = fresh_dir("rundir_write");
  {
    RunDirectory run(dir, RunStart::Fresh, true);
    std::ofstream(fs::path(dir) / "checkpoints") << "not a folder";
    CHECK_THROWS_WITH(run.check_writable(1000), Contains("checkpoints") && Contains("not a directory"));
    fs::remove(fs::path(dir) / "checkpoints");
    // a directory no one may create files in, root included
    fs::create_directory_symlink("/proc/self", fs::path(dir) / "checkpoints");
    CHECK_THROWS_WITH(run.check_writable(1000), Contains("checkpoints") && Contains("does not accept new files"));
    fs::remove(fs::path(dir) / "checkpoints");
    CHECK_NOTHROW(run.check_writable(1000));
    // more than the whole file system holds
    CHECK_THROWS_WITH(run.check_writable(int64_t(1) << 62), Contains("MiB free but a checkpoint needs about"));
  }
  CHECK_THROWS_WITH(RunDirectory("/proc/self/slimssl_run", RunStart::Fresh, true), Contains("/proc/self/slimssl_run"));
}

TEST_CASE("cli: train refuses a directory that holds a run unless --resume or --force", "[rundir][cli]") {
  std::string dir = fresh_dir("rundir_cli");
  std::string run_dir = (fs::path(dir) / "run").string();
  CliExit e = run_cli({"train", "--config", write_config(dir, 6), "--out", run_dir, "--quiet"}, dir + "/log1");
  INFO(e.output);
  REQUIRE(e.status == 0);
  const std::string metrics = read_text_file(run_dir + "/metrics.jsonl");
  // again without a flag: refused, nothing touched
  e = run_cli({"train", "--config", write_config(dir, 4), "--out", run_dir, "--quiet"}, dir + "/log2");
  CHECK(e.status == 1);
  CHECK_THAT(e.output, Contains(run_dir) && Contains("already holds a run") && Contains("--resume") && Contains("--force"));
  CHECK(read_text_file(run_dir + "/metrics.jsonl") == metrics);
  e = run_cli({"train", "--config", write_config(dir, 4), "--out", run_dir, "--resume", "--force"}, dir + "/log3");
  CHECK(e.status == 1);
  CHECK_THAT(e.output, Contains("choose one"));
  // --force: the old run moves aside whole, the new one starts clean (its step 4 checkpoint is
  // not pruned in favour of the old run's step 6)
  e = run_cli({"train", "--config", write_config(dir, 4), "--out", run_dir, "--force"}, dir + "/log4");
  INFO(e.output);
  REQUIRE(e.status == 0);
  CHECK_THAT(e.output, Contains("--force: moved the previous contents of " + run_dir));
  std::vector<std::string> aside;
  for (auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().rfind("run.old-", 0) == 0) aside.push_back(entry.path().string());
  REQUIRE(aside.size() == 1);
  CHECK(read_text_file(aside[0] + "/metrics.jsonl") == metrics);
  CHECK(fs::path(train::latest_checkpoint(aside[0])).filename() == "step_000000006.safetensors");
  CHECK(fs::path(train::latest_checkpoint(run_dir)).filename() == "step_000000004.safetensors");
  CHECK(read_text_file(run_dir + "/metrics.jsonl") != metrics);
}

TEST_CASE("cli: a second train on a running directory is refused, naming the owner", "[rundir][cli]") {
  std::string dir = fresh_dir("rundir_two");
  std::string run_dir = (fs::path(dir) / "run").string();
  // the first run pauses 3 s inside every checkpoint write, so it is surely still running
  CliRun first = start_cli({"train", "--config", write_config(dir, 8), "--out", run_dir, "--quiet"}, dir + "/log1",
                           {"SLIMSSL_TEST_PAUSE_IN_SAVE_MS=3000"});
  REQUIRE(wait_until(first, [&] { return lock_owner(run_dir).find("pid " + std::to_string(first.pid)) != std::string::npos; }));
  CliExit second = run_cli({"train", "--config", write_config(dir, 8), "--out", run_dir, "--resume"}, dir + "/log2");
  CHECK(second.status == 1);
  CHECK_THAT(second.output, Contains("in use by another slimssl train") && Contains("pid " + std::to_string(first.pid)));
  CliExit killed = kill_cli(first);
  CHECK(killed.signal == SIGKILL);
  // its lock died with it: a new run takes the directory over
  CliExit third = run_cli({"train", "--config", write_config(dir, 8), "--out", run_dir, "--force", "--quiet"}, dir + "/log3");
  INFO(third.output);
  CHECK(third.status == 0);
}

TEST_CASE("cli: a checkpoints path that is a file stops a resumed run before its first step", "[rundir][cli]") {
  std::string dir = fresh_dir("rundir_ckfile");
  std::string run_dir = (fs::path(dir) / "run").string();
  fs::create_directories(run_dir);
  std::ofstream(fs::path(run_dir) / "checkpoints") << "not a folder";
  CliExit e = run_cli({"train", "--config", write_config(dir, 4), "--out", run_dir, "--resume"}, dir + "/log");
  CHECK(e.status == 1);
  CHECK_THAT(e.output, Contains(run_dir + "/checkpoints") && Contains("not a directory"));
  CHECK(read_text_file(run_dir + "/metrics.jsonl").empty());
}
