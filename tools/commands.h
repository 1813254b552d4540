// The command table behind `slimssl`: every command (and subcommand) declares its synopsis, its
// options, what it does and an example in one place; that declaration drives both the option
// parser (tools/args.h) and `--help` / `slimssl help CMD`, so the two cannot disagree.
#pragma once
#include <functional>
#include <ostream>
#include <string>
#include <vector>
#include "tools/args.h"

namespace slimssl::tools {

struct Option {
  std::string name;   // "--steps"
  std::string value;  // what it takes ("N", "FILE"); "" for a flag
  std::string help;   // meaning and default
};

struct Command {
  std::string name;      // "diag"; a subcommand's is its own word ("knn")
  std::string summary;   // one line, for the command list
  std::string synopsis;  // after "slimssl NAME ": positionals; the options are appended
  std::vector<Option> options;
  std::string details;                // paragraphs after the usage line
  std::vector<std::string> examples;  // whole command lines
  std::function<int(const Args&)> run;
  std::vector<Command> subcommands;   // when present, the first argument picks one (run unused)
};

// Every command, in the order the help lists them.
const std::vector<Command>& commands();
// A command by its words ({"eval", "knn"}); nullptr when there is none.
const Command* find_command(const std::vector<std::string>& words);
// The usage line, details, options and examples of a command; `path` is its full name
// ("eval knn").
std::string help_text(const Command& c, const std::string& path);
void print_usage(std::ostream& os);

// One command line without the program name, as main() runs it: "--help"/"-h" anywhere, or
// `help CMD...`, prints that command's help; otherwise the command runs. A command's error is
// thrown (main prints it on one line); `command` is set to the command's full name as soon as
// it is known, for that message. Unknown commands print a line on stderr and return 2.
int run_command_line(const std::vector<std::string>& argv, std::string* command = nullptr);

bool slimssl_built_with_cuda();

// Builders of each command's declaration (one per tools/cmd_*.cpp).
Command info_command();
Command data_command();
Command models_command();
Command configs_command();
Command config_command();
Command train_command();
Command diag_command();
Command eval_command();
Command features_command();
Command plot_command();
Command export_command();
Command bench_command();

}  // namespace slimssl::tools
