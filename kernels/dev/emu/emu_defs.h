// CPU emulation of the small part of CUDA the custom kernels use, so their sources (and the
// [cuda] tests) can run on a machine without a GPU: every CUDA thread is a cooperative thread
// (fibers.h; an OS thread in the ThreadSanitizer build, SLIMSSL_EMU_OS_THREADS), blocks run one
// after another, __syncthreads is a barrier over the block, warp shuffles exchange through
// a per-warp slot array, and a wmma accumulator is lane-exact: each lane holds and stores only its
// 8 of the tile's 256 elements (mma.h). It checks what it can: wmma pointer alignment and leading dimensions,
// dynamic shared-memory limits; shared memory starts poisoned with NaN bytes before every block.
// Not a timing model. Built under ThreadSanitizer (scripts/tsan_emulated.sh) it reports races
// between the threads of a block; blocks run one after another, so not races between blocks.
// Used by the EMULATE build and scripts/emulate_kernels.sh only; never part of a real build.
#pragma once
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>
#include "emu_die.h"
#include "fibers.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __restrict__ __restrict
#define __shared__ static

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline dim3 blockDim, gridDim;

using std::max;
using std::min;
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline int __float_as_int(float f) {
  int i;
  std::memcpy(&i, &f, 4);
  return i;
}

namespace emu {

#ifdef SLIMSSL_EMU_OS_THREADS
using Barrier = std::barrier<>;
#else
using Barrier = fibers::Barrier;
#endif

struct Warp {
  Barrier bar{32};
  uint64_t slots[32];
};

inline Barrier* block_barrier = nullptr;
inline std::vector<std::unique_ptr<Warp>> warps;
inline unsigned char* dyn_smem = nullptr;

// Stream capture (CUDA graphs): while a capture runs, work queued on a stream (kernel launches,
// asynchronous copies and sets, the emulated cuBLAS and cuDNN calls) is recorded instead of run,
// arguments by value, as a GPU records it into a graph; launching the graph runs the recording
// in order. Calls that a GPU cannot capture (synchronizing, synchronous copies) fail while
// capturing, as they do there. One capture at a time (the engine queues on one stream).
struct Recording {
  std::vector<std::function<void()>> work;
};
inline Recording* capturing = nullptr;

inline void run_or_record(std::function<void()> work) {
  if (capturing) capturing->work.push_back(std::move(work));
  else work();
}
// For calls a capture cannot hold: an error (the capture then fails), as on a GPU.
inline void refuse_while_capturing(const char* what) {
  if (capturing) throw std::runtime_error(std::string(what) + ": not permitted while a stream is being captured");
}

template <class... KA>
void run_launch(void (*kern)(KA...), dim3 grid, dim3 block, size_t smem, const std::tuple<KA...>& targs) {
  const unsigned n = block.x * block.y * block.z;
  gridDim = grid, blockDim = block;
  std::vector<unsigned char> buf(smem + 256);
  dyn_smem = buf.data() + (128 - reinterpret_cast<uintptr_t>(buf.data()) % 128);
  std::memset(dyn_smem, 0xFF, smem);
  warps.clear();
  for (unsigned w = 0; w < n / 32; ++w) warps.push_back(std::make_unique<Warp>());
  Barrier bar(n);
  block_barrier = &bar;
  // Thread t of every block in turn, the blocks one after another.
  auto thread_body = [&](unsigned t) {
    for (unsigned z = 0; z < grid.z; ++z)
      for (unsigned y = 0; y < grid.y; ++y)
        for (unsigned x = 0; x < grid.x; ++x) {
          blockIdx = {x, y, z};
          std::apply(kern, targs);
          bar.arrive_and_wait();  // the block is done
          if (t == 0) std::memset(dyn_smem, 0xFF, smem);
          bar.arrive_and_wait();
        }
  };
#ifdef SLIMSSL_EMU_OS_THREADS
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < n; ++t)
    ts.emplace_back([&, t] {
      threadIdx = {t, 0, 0};
      thread_body(t);
    });
  for (auto& th : ts) th.join();
#else
  fibers::run(n, thread_body, [](unsigned t) { threadIdx = {t, 0, 0}; });
#endif
  block_barrier = nullptr;
}

template <class... KA, class... A>
void launch(void (*kern)(KA...), dim3 grid, dim3 block, size_t smem, void* /*stream*/, A&&... args) {
  const unsigned n = block.x * block.y * block.z;
  if (block.y != 1 || block.z != 1 || n % 32 != 0 || n > 1024) die("launch: blocks must be 1-D multiples of 32");
  if (smem > 227 * 1024) die("launch: more than 227 KB of dynamic shared memory");
  std::tuple<KA...> targs(std::forward<A>(args)...);
  run_or_record([=] { run_launch(kern, grid, block, smem, targs); });
}

}  // namespace emu

inline void __syncthreads() { emu::block_barrier->arrive_and_wait(); }

template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask) {
  static_assert(sizeof(T) <= 8);
  if (mask != 0xffffffffu) emu::die("shuffle: only full-warp masks are emulated");
  emu::Warp& w = *emu::warps[threadIdx.x / 32];
  const unsigned lane = threadIdx.x % 32;
  std::memcpy(&w.slots[lane], &v, sizeof(T));
  w.bar.arrive_and_wait();
  T r;
  std::memcpy(&r, &w.slots[lane ^ lane_mask], sizeof(T));
  w.bar.arrive_and_wait();
  return r;
}

// Atomics act on the host memory that stands in for device memory.
inline unsigned atomicOr(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).fetch_or(v); }
inline int atomicOr(int* p, int v) { return std::atomic_ref<int>(*p).fetch_or(v); }
