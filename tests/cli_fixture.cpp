#include "cli_fixture.h"
#include <fcntl.h>
#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include "tools/commands.h"

namespace slimssl::testing {

namespace {

// Sends stdout (the commands' tables and progress) to a file while it lives.
struct RedirectStdout {
  int saved = -1;
  explicit RedirectStdout(const std::string& to) {
    std::cout.flush(), std::fflush(stdout);
    saved = ::dup(1);
    int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1), ::close(fd);
  }
  ~RedirectStdout() {
    std::cout.flush(), std::fflush(stdout);
    ::dup2(saved, 1), ::close(saved);
  }
};

Outcome run(const std::vector<std::string>& args, const std::string& to) {
  RedirectStdout redirect(to);
  try {
    return {tools::run_command_line(args), "", ""};
  } catch (const std::exception& e) {
    return {1, e.what(), ""};
  }
}

}  // namespace

Outcome cli(const std::vector<std::string>& args) { return run(args, "/dev/null"); }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("'" + path + "' does not open");
  return nlohmann::json::parse(in);
}

Outcome cli_output(const std::vector<std::string>& args) {
  std::string file = (std::filesystem::temp_directory_path() / ("slimssl_cli_out_" + std::to_string(::getpid()))).string();
  Outcome r = run(args, file);
  r.output = read_text(file);
  std::filesystem::remove(file);
  return r;
}

}  // namespace slimssl::testing
