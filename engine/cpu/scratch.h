// Per-thread work buffers of the CPU convolution paths (im2col columns, Winograd tiles).
#pragma once
#include <cstdint>
#include <vector>

namespace slimssl::cpu {

// A growable buffer per thread and slot, kept between calls and never cleared, so repeated
// convolutions neither allocate nor zero their work matrices: callers write before they read.
// Slots 0-1: conv.cpp's column and output matrices; 2-5: winograd.cpp's (a Winograd pass runs
// instead of, never inside, an im2col pass, but distinct slots keep that from mattering).
inline constexpr int kScratchSlots = 6;

// The buffers start on a cache line: rows that are whole lines then fill lines instead of
// straddling two.
template <class T>
T* scratch(int slot, int64_t n) {
  constexpr int64_t kLine = 64, kSpare = kLine / sizeof(T);
  thread_local std::vector<T> buffers[kScratchSlots];
  auto& b = buffers[slot];
  if (static_cast<int64_t>(b.size()) < n + kSpare) b.resize(static_cast<size_t>(n + kSpare));
  const auto address = reinterpret_cast<std::uintptr_t>(b.data());
  return b.data() + (kLine - address % kLine) % kLine / sizeof(T);
}

}  // namespace slimssl::cpu
