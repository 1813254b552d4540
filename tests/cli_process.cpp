#include "cli_process.h"
#include <fcntl.h>
#include <filesystem>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace slimssl::testing {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

CliRun spawn(std::vector<std::string> argv_s, const std::string& log, const std::vector<std::string>& env) {
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  CliRun run;
  run.log = log;
  int rc = posix_spawn(&run.pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv_s[0]);
  return run;
}

CliExit reap(const CliRun& run, int options, bool& done) {
  CliExit out;
  int status = 0;
  pid_t got = waitpid(run.pid, &status, options);
  done = got == run.pid;
  if (!done) return out;
  if (WIFEXITED(status)) out.status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  out.output = read_text_file(run.log);
  return out;
}

// A program built beside the test binary (CMake puts every binary in one bin/ folder).
std::string sibling(const char* name) {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / name).string();
}

}  // namespace

CliRun start_cli(const std::vector<std::string>& args, const std::string& log, const std::vector<std::string>& env) {
  std::vector<std::string> argv = {sibling("slimssl")};
  argv.insert(argv.end(), args.begin(), args.end());
  return spawn(argv, log, env);
}

long peak_rss_kib(const std::vector<std::string>& args, const std::string& log, CliExit& exit) {
  std::vector<std::string> argv = {sibling("peak_rss"), sibling("slimssl")};
  argv.insert(argv.end(), args.begin(), args.end());
  exit = wait_cli(spawn(argv, log, {}));
  size_t at = exit.output.rfind("peak_rss_kib ");
  return at == std::string::npos ? -1 : std::stol(exit.output.substr(at + 13));
}

CliExit wait_cli(const CliRun& run, std::chrono::seconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool done = false;
    CliExit e = reap(run, WNOHANG, done);
    if (done) return e;
    if (std::chrono::steady_clock::now() > until) return kill_cli(run);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

CliExit run_cli(const std::vector<std::string>& args, const std::string& log, const std::vector<std::string>& env) {
  return wait_cli(start_cli(args, log, env));
}

bool wait_until(const CliRun& run, const std::function<bool()>& ready, std::chrono::seconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (ready()) return true;
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(run.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == run.pid)
      return ready();  // it ended (left unreaped for wait_cli)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

CliExit kill_cli(const CliRun& run) {
  ::kill(run.pid, SIGKILL);
  bool done = false;
  CliExit e = reap(run, 0, done);
  return e;
}

}  // namespace slimssl::testing
