// slimssl data PATH: what a user runs before a long job. Loads every split of a data set the way
// training will, then reports its kind, sizes, classes, how fast it decodes, and every bad file.
#include <chrono>
#include <cstdio>
#include <iostream>
#include "engine/error.h"
#include "ssl/data/dataset.h"
#include "ssl/data/thread_pool.h"
#include "tools/commands.h"

namespace slimssl::tools {

namespace {

const char* kDataUsage =
    "usage: slimssl data PATH|fashion-mnist [--split S] [--threads N] [--size S|HxW] [--channels 1|3]\n"
    "  loads each split (or only S), decoding every image; bad files are listed as errors and\n"
    "  make the exit status 1. --size resizes folder/archive images to a storage size on load.\n";

void parse_size(const std::string& s, data::LoadOptions& o) {
  size_t x = s.find('x');
  try {
    o.storage_height = std::stoi(s.substr(0, x));
    o.storage_width = x == std::string::npos ? o.storage_height : std::stoi(s.substr(x + 1));
  } catch (const std::exception&) {
    fail("data: --size expects S or HxW, got '", s, "'");
  }
}

std::string class_summary(const std::vector<std::string>& classes) {
  std::string s = std::to_string(classes.size()) + " (";
  for (size_t k = 0; k < classes.size() && k < 10; ++k) s += (k ? ", " : "") + classes[k];
  return s + (classes.size() > 10 ? ", ...)" : ")");
}

}  // namespace

int run_data(const std::vector<std::string>& args) {
  std::string path, only_split;
  data::LoadOptions options;
  options.skip_bad_images = true;  // collect every bad file instead of stopping at the first
  options.quiet = true;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&]() -> std::string {
      SLIMSSL_CHECK(i + 1 < args.size(), "data: ", args[i], " needs a value\n", kDataUsage);
      return args[++i];
    };
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kDataUsage;
      return 0;
    } else if (args[i] == "--split") only_split = value();
    else if (args[i] == "--threads") options.threads = std::stoi(value());
    else if (args[i] == "--size") parse_size(value(), options);
    else if (args[i] == "--channels") options.channels = std::stoi(value());
    else if (!args[i].empty() && args[i][0] == '-') fail("data: unknown option '", args[i], "'\n", kDataUsage);
    else {
      SLIMSSL_CHECK(path.empty(), "data: one PATH expected, got '", path, "' and '", args[i], "'");
      path = args[i];
    }
  }
  SLIMSSL_CHECK(!path.empty(), "data: missing PATH\n", kDataUsage);
  std::string source = data::resolve_source(path);
  auto splits = only_split.empty() ? data::list_splits(source) : std::vector<std::string>{only_split};
  const int threads = data::resolve_threads(options.threads);
  std::cout << "source:   " << source << "\n";
  int errors = 0;
  bool header = false;
  for (auto& split : splits) {
    data::Dataset ds;
    auto t0 = std::chrono::steady_clock::now();
    try {
      ds = data::open_dataset(source, split, options);
    } catch (const std::exception& e) {
      std::cerr << "error: " << split << " split: " << e.what() << "\n";
      ++errors;
      continue;
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!header) {
      std::cout << "name:     " << ds.name << "\nkind:     " << ds.kind << "\nclasses:  " << class_summary(ds.classes)
                << "\nimage:    " << ds.height() << "x" << ds.width() << "x" << ds.channels() << " uint8 (HxWxC)\n";
      header = true;
    }
    double rate = (ds.size() + ds.skipped.size()) / std::max(seconds, 1e-9);
    char line[256];
    std::snprintf(line, sizeof(line),
                  "split %s: %lld images, %zu classes, %.1f MiB resident; loaded in %.2f s = %.0f images/s on %d "
                  "thread%s (%.0f per thread)\n",
                  ds.split.c_str(), static_cast<long long>(ds.size()), ds.classes.size(), ds.images.numel() / 1048576.0,
                  seconds, rate, threads, threads > 1 ? "s" : "", rate / threads);
    std::cout << line;
    for (auto& bad : ds.skipped) std::cerr << "error: " << bad << "\n";
    errors += static_cast<int>(ds.skipped.size());
  }
  std::cout << "bad files: " << (errors ? std::to_string(errors) + " (listed above as errors)" : "none") << "\n";
  return errors ? 1 : 0;
}

}  // namespace slimssl::tools
