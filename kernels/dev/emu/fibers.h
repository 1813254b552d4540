// Cooperative threads for the emulated device (emu_defs.h): the threads of one block run as
// user-level contexts (ucontext) on the launching OS thread, and switch only where a CUDA thread
// waits for others (__syncthreads, a warp shuffle). A block of 256 OS threads on a 2-core machine
// costs hundreds of kernel context switches per barrier; here a barrier costs one user-level
// switch per thread. Scheduling is round-robin in thread order.
//
// A barrier that some thread of the block never reaches hangs a GPU; here a full round in which
// no thread arrived anywhere, no barrier opened and no thread finished is that hang, and stops the
// program with a message instead.
//
// ThreadSanitizer needs real threads to see races: scripts/tsan_emulated.sh builds with
// SLIMSSL_EMU_OS_THREADS, which keeps every CUDA thread an OS thread (emu_defs.h).
#pragma once
#include <sys/mman.h>
#include <ucontext.h>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>
#include "emu_die.h"

namespace emu::fibers {

struct Fiber {
  ucontext_t ctx;
  void* stack = nullptr;
  bool done = false;
};

// Kernels keep small local arrays and wmma fragments (1 KiB each) on their stack; pages are
// committed only when touched.
constexpr size_t kStackBytes = 256 * 1024;

inline ucontext_t scheduler;
inline std::vector<std::unique_ptr<Fiber>> pool;  // stacks reused from launch to launch
inline unsigned current = 0;
inline uint64_t events = 0;  // arrivals, openings, completions: what makes a round progress
inline const std::function<void(unsigned)>* body = nullptr;
inline bool running = false;

// Back to the scheduler; resumes when this thread's turn comes again.
inline void yield() { swapcontext(&pool[current]->ctx, &scheduler); }

inline void entry() {
  try {
    (*body)(current);
  } catch (...) {
    die("a kernel thread threw an exception");
  }
  pool[current]->done = true;
  ++events;
  // Returning resumes uc_link: the scheduler.
}

// Runs body(t) for every t in [0, n) as n cooperative threads; `on_resume(t)` runs before each
// switch to thread t (it sets threadIdx). Returns when all n have returned.
template <class OnResume>
void run(unsigned n, const std::function<void(unsigned)>& f, OnResume on_resume) {
  if (running) die("a kernel launched from inside a kernel");
  running = true;
  body = &f;
  while (pool.size() < n) {
    auto fb = std::make_unique<Fiber>();
    fb->stack = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (fb->stack == MAP_FAILED) die("cannot map a thread stack");
    pool.push_back(std::move(fb));
  }
  for (unsigned t = 0; t < n; ++t) {
    Fiber& fb = *pool[t];
    getcontext(&fb.ctx);
    fb.ctx.uc_stack.ss_sp = fb.stack;
    fb.ctx.uc_stack.ss_size = kStackBytes;
    fb.ctx.uc_link = &scheduler;
    makecontext(&fb.ctx, entry, 0);
    fb.done = false;
  }
  unsigned live = n;
  while (live > 0) {
    const uint64_t before = events;
    for (unsigned t = 0; t < n; ++t) {
      if (pool[t]->done) continue;
      current = t;
      on_resume(t);
      swapcontext(&scheduler, &pool[t]->ctx);
      if (pool[t]->done) --live;
    }
    if (live > 0 && events == before)
      die("deadlock: a barrier (__syncthreads or a warp shuffle) that not every thread of its block or warp reaches");
  }
  running = false;
}

// A barrier of `expected` cooperative threads (a block, or the 32 lanes of a warp).
class Barrier {
 public:
  explicit Barrier(unsigned expected) : expected_(expected) {}
  void arrive_and_wait() {
    const uint64_t generation = generation_;
    ++events;
    if (++arrived_ == expected_) {  // the last one opens it and runs on
      arrived_ = 0;
      ++generation_;
      return;
    }
    while (generation_ == generation) yield();
  }

 private:
  unsigned expected_, arrived_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace emu::fibers
