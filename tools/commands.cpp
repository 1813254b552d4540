#include "tools/commands.h"
#include <algorithm>
#include <iostream>
#include <sstream>

namespace slimssl::tools {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      info_command(),  data_command(),     models_command(), configs_command(), config_command(), train_command(),
      diag_command(),  eval_command(),     features_command(), plot_command(), export_command(), bench_command(),
  };
  return all;
}

const Command* find_command(const std::vector<std::string>& words) {
  const std::vector<Command>* level = &commands();
  const Command* found = nullptr;
  for (const auto& w : words) {
    auto it = std::find_if(level->begin(), level->end(), [&](const Command& c) { return c.name == w; });
    if (it == level->end()) return nullptr;
    found = &*it;
    level = &found->subcommands;
  }
  return found;
}

namespace {

// The synopsis with every option appended: "RUN_DIR [--steps N] [--quiet]".
std::string usage_line(const Command& c, const std::string& path) {
  std::string u = "usage: slimssl " + path;
  if (!c.subcommands.empty()) {
    u += " ";
    for (size_t i = 0; i < c.subcommands.size(); ++i) u += (i ? "|" : "") + c.subcommands[i].name;
    u += " ...";
  }
  if (!c.synopsis.empty()) u += " " + c.synopsis;
  for (const auto& o : c.options) u += " [" + o.name + (o.value.empty() ? "" : " " + o.value) + "]";
  return u;
}

// `left` in a column of `width`, then `right` wrapped at 100 characters, its lines indented under
// the column.
void columns(std::ostringstream& os, const std::string& left, const std::string& right, size_t width) {
  const size_t limit = 100;
  os << "  " << left;
  if (left.size() + 2 >= width) os << "\n" << std::string(width, ' ');
  else os << std::string(width - 2 - left.size(), ' ');
  size_t col = width;
  std::istringstream words(right);
  std::string w;
  bool first = true;
  while (words >> w) {
    if (!first && col + 1 + w.size() > limit) {
      os << "\n" << std::string(width, ' ');
      col = width;
      first = true;
    }
    if (!first) os << ' ', ++col;
    os << w;
    col += w.size();
    first = false;
  }
  os << "\n";
}

}  // namespace

std::string help_text(const Command& c, const std::string& path) {
  std::ostringstream os;
  os << usage_line(c, path) << "\n";
  os << "\n" << c.summary << "\n";
  if (!c.details.empty()) os << "\n" << c.details << (c.details.back() == '\n' ? "" : "\n");
  if (!c.subcommands.empty()) {
    os << "\ncommands (slimssl " << path << " COMMAND --help for each):\n";
    for (const auto& s : c.subcommands) columns(os, s.name, s.summary, 12);
  }
  os << "\noptions:\n";
  for (const auto& o : c.options) columns(os, o.name + (o.value.empty() ? "" : " " + o.value), o.help, 26);
  columns(os, "-h, --help", "this help", 26);
  if (!c.examples.empty()) {
    os << "\nexample" << (c.examples.size() > 1 ? "s" : "") << ":\n";
    for (const auto& e : c.examples) os << "  " << e << "\n";
  }
  return os.str();
}

void print_usage(std::ostream& os) {
  os << "slimssl: pre-train small and slimmable networks with contrastive self-supervision\n\n"
        "usage: slimssl COMMAND [options]      (slimssl COMMAND --help, or slimssl help COMMAND)\n"
        "       slimssl --version | --help\n\ncommands:\n";
  for (const auto& c : commands()) {
    if (c.subcommands.empty()) {
      os << "  " << c.name << std::string(18 - std::min<size_t>(c.name.size(), 17), ' ') << c.summary << "\n";
      continue;
    }
    for (const auto& s : c.subcommands) {
      std::string name = c.name + " " + s.name;
      os << "  " << name << std::string(18 - std::min<size_t>(name.size(), 17), ' ') << s.summary << "\n";
    }
  }
}

int run_command_line(const std::vector<std::string>& argv, std::string* command) {
  bool help = !argv.empty() && argv[0] == "help";
  std::vector<std::string> rest(argv.begin() + (help ? 1 : 0), argv.end());
  if (rest.empty() || rest[0] == "--help" || rest[0] == "-h") {
    print_usage(std::cout);
    return rest.empty() && !help ? 2 : 0;
  }
  // The command's words: a command, then a subcommand while it has them.
  const Command* cmd = nullptr;
  std::string path;
  size_t used = 0;
  for (const std::vector<Command>* level = &commands(); used < rest.size(); ++used) {
    auto it = std::find_if(level->begin(), level->end(), [&](const Command& c) { return c.name == rest[used]; });
    if (it == level->end()) break;
    cmd = &*it;
    path += (path.empty() ? "" : " ") + cmd->name;
    level = &cmd->subcommands;
    if (level->empty()) {
      ++used;
      break;
    }
  }
  if (!cmd) {
    std::cerr << "slimssl: unknown command '" << rest[0] << "' (see slimssl --help)\n";
    return 2;
  }
  if (command) *command = path;
  std::vector<std::string> args(rest.begin() + static_cast<std::ptrdiff_t>(used), rest.end());
  bool asks_help = help || std::any_of(args.begin(), args.end(), [](const std::string& a) { return a == "--help" || a == "-h"; });
  if (!cmd->subcommands.empty() && !asks_help) {
    if (args.empty()) {
      std::cerr << help_text(*cmd, path);
      return 2;
    }
    std::string known;
    for (const auto& s : cmd->subcommands) known += (known.empty() ? "" : ", ") + s.name;
    std::cerr << "slimssl " << path << ": unknown command '" << args[0] << "' (expected " << known << ")\n";
    return 2;
  }
  if (asks_help) {
    if (help && !args.empty()) {
      std::cerr << "slimssl help: '" << path << "' has no command '" << args[0] << "'\n";
      return 2;
    }
    std::cout << help_text(*cmd, path);
    return 0;
  }
  std::set<std::string> names, flags;
  for (const auto& o : cmd->options) {
    names.insert(o.name);
    if (o.value.empty()) flags.insert(o.name);
  }
  return cmd->run(Args(args, path, names, flags));
}

bool slimssl_built_with_cuda() {
#ifdef SLIMSSL_WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace slimssl::tools
