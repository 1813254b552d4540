// The GPU gate (gpu_gate.h): a [cuda] test skips without a device, and fails instead when
// SLIMSSL_REQUIRE_GPU=1. The outcome of a test case is only visible from outside, so this runs the
// test binary itself (/proc/self/exe) on a hidden probe case, once in each mode. On a machine with
// a GPU both runs must pass; without one the plain run passes with the skip note and the required
// run must fail naming the variable.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/wait.h>
#include "gpu_gate.h"
#include "test_data_helpers.h"

using namespace slimssl::testing;

namespace {

struct Outcome {
  int rc;
  std::string output;
};

// This binary on the hidden probe case, with SLIMSSL_REQUIRE_GPU set to `require` or unset.
Outcome run_probe(const char* require) {
  TempDir dir;
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string(), log = dir / "probe.log";
  const std::string env = require ? std::string("SLIMSSL_REQUIRE_GPU=") + require : "-u SLIMSSL_REQUIRE_GPU";
  const std::string cmd = "env " + env + " '" + exe + "' '[.gpu_gate_probe]' > '" + log + "' 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(log);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, std::string(std::istreambuf_iterator<char>(in), {})};
}

}  // namespace

TEST_CASE("gpu gate probe (run by the gpu gate test)", "[.gpu_gate_probe]") {
  if (!gpu_or_skip()) return;
  SUCCEED("ran on a GPU");
}

TEST_CASE("SLIMSSL_REQUIRE_GPU: set to anything but empty or 0 requires a GPU", "[gpu_gate]") {
  const char* old = std::getenv("SLIMSSL_REQUIRE_GPU");
  const std::string saved = old ? old : "";
  for (auto [value, required] : {std::pair{"1", true}, {"yes", true}, {"0", false}, {"", false}}) {
    setenv("SLIMSSL_REQUIRE_GPU", value, 1);
    INFO("SLIMSSL_REQUIRE_GPU='" << value << "'");
    CHECK(gpu_required() == required);
  }
  unsetenv("SLIMSSL_REQUIRE_GPU");
  CHECK_FALSE(gpu_required());
  if (old) setenv("SLIMSSL_REQUIRE_GPU", saved.c_str(), 1);
}

TEST_CASE("a GPU test skips without a GPU, and fails instead when SLIMSSL_REQUIRE_GPU=1", "[gpu_gate]") {
  const std::string missing = gpu_missing_reason();
  const Outcome plain = run_probe(nullptr), required = run_probe("1");
  INFO("plain run:\n" << plain.output << "\nrequired run:\n" << required.output);
  CHECK(plain.output.find("No test cases matched") == std::string::npos);
  CHECK(plain.rc == 0);
  if (missing.empty()) {  // a GPU is here: both modes run the case
    CHECK(required.rc == 0);
    CHECK(plain.output.find("skipped") == std::string::npos);
  } else {
    CHECK(plain.output.find("skipped: " + missing) != std::string::npos);
    CHECK(required.rc != 0);
    CHECK(required.output.find("SLIMSSL_REQUIRE_GPU is set, but " + missing) != std::string::npos);
  }
}
