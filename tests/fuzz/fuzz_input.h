// What every fuzz target shares: the loaders read paths, so an input is written to a scratch
// file (one per process, rewritten for each input); a slimssl::Error is the expected answer to a
// bad input, anything else (a crash, a sanitizer report, another exception) is a finding.
#pragma once
#include <unistd.h>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include "engine/error.h"

namespace slimssl::fuzz {

// A scratch file named `name` in a per-process directory, holding `size` bytes of `data`.
inline std::string scratch_file(const std::string& name, const uint8_t* data, size_t size) {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("slimssl_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  std::string path = (dir / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// Runs `fn`; a slimssl::Error (a clear refusal) is fine, every other exception aborts.
template <class F>
void expect_clean(F&& fn) {
  try {
    fn();
  } catch (const slimssl::Error&) {
  }
}

}  // namespace slimssl::fuzz
