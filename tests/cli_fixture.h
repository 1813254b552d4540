// Running `slimssl` command lines in-process, as main() does, for the CLI tests.
#pragma once
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

namespace slimssl::testing {

struct Outcome {
  int status = 0;
  std::string error;   // what main() would print after "slimssl <cmd>: error: "
  std::string output;  // stdout (cli_output only)
};

// Runs a command line with stdout sent to /dev/null: an exception becomes status 1 and its message.
Outcome cli(const std::vector<std::string>& args);
// The same, keeping what it printed on stdout.
Outcome cli_output(const std::vector<std::string>& args);

// A whole file as bytes, and a JSON file parsed (a test failure when it does not open).
std::string read_text(const std::string& path);
nlohmann::json read_json(const std::string& path);

}  // namespace slimssl::testing
