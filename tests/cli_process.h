// The `slimssl` binary as a child process, for tests that need a real process: one that is
// killed (SIGKILL at a chosen moment), that competes with another for a run directory, or whose
// peak memory is measured.
#pragma once
#include <sys/types.h>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace slimssl::testing {

struct CliRun {
  pid_t pid = -1;
  std::string log;  // stdout and stderr of the child, together
};

struct CliExit {
  int status = -1;      // exit status, or -1 when killed by a signal
  int signal = 0;       // the signal that ended it, or 0
  std::string output;   // what it printed (stdout and stderr)
};

// Starts `slimssl ARGS...` with `env` ("NAME=value") added to this process's environment; its
// output goes to `log` (created or truncated).
CliRun start_cli(const std::vector<std::string>& args, const std::string& log, const std::vector<std::string>& env = {});
// Waits for the child to end (killing it with SIGKILL after `timeout`) and reaps it.
CliExit wait_cli(const CliRun& run, std::chrono::seconds timeout = std::chrono::seconds(300));
// start_cli + wait_cli.
CliExit run_cli(const std::vector<std::string>& args, const std::string& log, const std::vector<std::string>& env = {});
// Polls `ready` every 5 ms until it holds (true) or the child exits or `timeout` passes (false).
bool wait_until(const CliRun& run, const std::function<bool()>& ready, std::chrono::seconds timeout = std::chrono::seconds(120));
// Sends SIGKILL and reaps the child.
CliExit kill_cli(const CliRun& run);
// Runs `slimssl ARGS...` to the end and returns its peak resident memory in KiB (measured by the
// peak_rss helper, see there), or -1 when it failed; `exit` gets its status and output.
long peak_rss_kib(const std::vector<std::string>& args, const std::string& log, CliExit& exit);

std::string read_text_file(const std::string& path);

}  // namespace slimssl::testing
