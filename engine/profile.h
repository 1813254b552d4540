// The engine's op-level profiler, off by default. While it is on, backend_for() hands out a
// decorator around each device's Backend that times every primitive call, per primitive and op
// kind ("unary:relu", "binary:add", "gemm", "conv2d", "conv2d_backward_weight", ...); the engine
// also counts storage allocations and times autograd's backward passes. The report splits a
// span of work into time in primitives, autograd's own time around them in backward passes, and
// the rest (op fronts, graph recording, host work between ops).
//
// Times are self times: a primitive that calls another (the CPU convolution widening through
// `copy`) is charged without the nested call, which has its own entry, so entries add up.
//
// On a GPU every profiled primitive synchronizes the device before and after it, so that its time
// is its own; the work then loses its asynchrony and the total slows down. Profiling perturbs GPU
// timing: use it to see where the time goes, not to measure speed.
//
// Off, the cost is one relaxed atomic load per backend lookup, storage allocation and backward
// pass. Primitives are expected to be called from one host thread at a time (the op fronts are);
// the bookkeeping is locked regardless.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>
#include "engine/device.h"

namespace slimssl {
class Backend;
}

namespace slimssl::profile {

struct Entry {
  std::string name;   // "gemm", "unary:relu", ...
  int64_t calls = 0;
  double seconds = 0;  // self time
};

struct Report {
  double wall_seconds = 0;                // while profiling was on
  double primitive_seconds = 0;           // in primitives (outermost calls: the sum of all entries)
  double backward_seconds = 0;            // in autograd backward passes
  double backward_primitive_seconds = 0;  // in primitives inside backward passes
  int64_t backward_passes = 0;
  int64_t allocations = 0;                // storages allocated (any device)
  int64_t allocated_bytes = 0;
  std::vector<Entry> entries;             // by time, the largest first
  int64_t primitive_calls() const;
  // Autograd's own time: backward passes less the primitives they ran.
  double autograd_seconds() const { return backward_seconds - backward_primitive_seconds; }
  // Neither primitives nor autograd: op fronts, graph recording, host work.
  double other_seconds() const { return wall_seconds - primitive_seconds - autograd_seconds(); }
};

namespace detail {
extern std::atomic<bool> g_on;
}
inline bool enabled() { return detail::g_on.load(std::memory_order_relaxed); }

// Clears every count and turns profiling on.
void start();
// Turns profiling off and returns what was recorded since start().
Report stop();

// A plain-text table: the summary lines and the `top` entries by time, per step of `steps`.
std::string format(const Report& r, int top = 15, int64_t steps = 1);

// ---- hooks for the engine ----
// The profiling decorator of `inner` (the backend of `d`): backend_for() returns it while on.
Backend& wrap(Backend& inner, Device d);
// Storage::allocate reports every allocation.
void note_allocation(size_t nbytes);
// run_backward's lifetime is a backward pass.
class BackwardScope {
 public:
  BackwardScope();
  ~BackwardScope();
  BackwardScope(const BackwardScope&) = delete;
  BackwardScope& operator=(const BackwardScope&) = delete;

 private:
  bool entered_;      // profiling was on when the pass began
  bool outer_ = false;  // not nested in another pass
  double started_ = 0, primitives_before_ = 0;
};
// Work that reaches the device outside the Backend (a fused kernel called directly) is timed as
// a primitive named `name` by one of these around it.
class PrimitiveScope {
 public:
  PrimitiveScope(const char* name, Device d);
  ~PrimitiveScope();
  PrimitiveScope(const PrimitiveScope&) = delete;
  PrimitiveScope& operator=(const PrimitiveScope&) = delete;

 private:
  bool on_;
  Device device_;
  const char* name_;
  double started_ = 0;
};

}  // namespace slimssl::profile
