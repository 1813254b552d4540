// slimssl data PATH: what a user runs before a long job. Loads every split of a data set the way
// training will, then reports its kind, sizes, classes, how fast it decodes, and every bad file.
#include <chrono>
#include <cstdio>
#include <iostream>
#include "engine/error.h"
#include "ssl/data/dataset.h"
#include "ssl/data/thread_pool.h"
#include "ssl/util/progress.h"
#include "tools/commands.h"

namespace slimssl::tools {

namespace {

void parse_size(const std::string& s, data::LoadOptions& o) {
  size_t x = s.find('x');
  try {
    o.storage_height = std::stoi(s.substr(0, x));
    o.storage_width = x == std::string::npos ? o.storage_height : std::stoi(s.substr(x + 1));
  } catch (const std::exception&) {
    fail("--size expects S or HxW, got '", s, "'");
  }
}

std::string class_summary(const std::vector<std::string>& classes) {
  std::string s = std::to_string(classes.size()) + " (";
  for (size_t k = 0; k < classes.size() && k < 10; ++k) s += (k ? ", " : "") + classes[k];
  return s + (classes.size() > 10 ? ", ...)" : ")");
}

int run_data(const Args& args) {
  SLIMSSL_CHECK(args.positional().size() == 1, "expected one PATH (or a data set name), got ", args.positional().size(),
                " arguments (see slimssl data --help)");
  const std::string path = args.positional()[0], only_split = args.get("--split", "");
  data::LoadOptions options;
  options.skip_bad_images = true;  // collect every bad file instead of stopping at the first
  options.quiet = true;
  options.threads = static_cast<int>(args.get_int("--threads", 0));
  if (args.has("--size")) parse_size(args.get("--size", ""), options);
  options.channels = static_cast<int>(args.get_int("--channels", 3));
  SLIMSSL_CHECK(options.channels == 1 || options.channels == 3, "--channels must be 1 or 3, got ", options.channels);
  std::string source = data::resolve_source(path);
  auto splits = only_split.empty() ? data::list_splits(source) : std::vector<std::string>{only_split};
  const int threads = data::resolve_threads(options.threads);
  std::cout << "source:   " << source << "\n";
  int errors = 0;
  bool header = false;
  for (auto& split : splits) {
    data::Dataset ds;
    auto t0 = std::chrono::steady_clock::now();
    util::Progress progress("split " + split + ": decoding", 0, "images", util::stdout_lines());
    options.progress = [&](int64_t images, double fraction) { progress.update(images, "", fraction); };
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

}  // namespace

Command data_command() {
  return {"data",
          "check a data set: kind, splits, classes, image size, decode speed, bad files",
          "PATH|fashion-mnist",
          {{"--split", "S", "only this split (train, test, val, all; default: every split there is)"},
           {"--threads", "N", "decoding threads (default: all hardware threads)"},
           {"--size", "S|HxW", "resize folder/archive images to this storage size on load"},
           {"--channels", "1|3", "decode folder/archive images as gray (1) or RGB (3, default)"}},
          "Loads each split the way training will, decoding every image. PATH is an image folder\n"
          "(CLASS/IMAGE or SPLIT/CLASS/IMAGE), a .tar/.tar.gz archive of one, a CIFAR binary batch folder,\n"
          "an IDX file pair, or a name (fashion-mnist). Bad files are listed as errors and make the exit\n"
          "status 1. Long loads show a progress line with the decode rate and an ETA (docs/data.md).",
          {"slimssl data fashion-mnist", "slimssl data ../shared/data/cifar10/cifar10-train-jpeg.tar.gz --threads 2"},
          run_data,
          {}};
}

}  // namespace slimssl::tools
