// The emulated device's threads (kernels/dev/emu/fibers.h, emu_defs.h), which only the EMULATE
// build has: __syncthreads orders every thread of a block, blocks do not see each other's shared
// memory values (it is poisoned between blocks), warp shuffles exchange lanes, and a barrier
// that not every thread reaches stops the program with a message instead of hanging.
#include <catch2/catch.hpp>

#ifdef SLIMSSL_CUDA_EMULATED
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <string>
#include <vector>
#include "cuda_runtime.h"

namespace {

// Each thread writes its slot, waits for the block, then reads its neighbour's; twice, so a
// barrier that let a thread run on early would read the neighbour's old value or the poison.
void neighbours(int* out, int rounds) {
  int* slot = reinterpret_cast<int*>(emu::dyn_smem);  // the block's dynamic shared memory
  const unsigned n = blockDim.x, t = threadIdx.x;
  int acc = 0;
  for (int r = 0; r < rounds; ++r) {
    slot[t] = static_cast<int>(blockIdx.x * 100000 + r * 1000 + t);
    __syncthreads();
    acc += slot[(t + 1) % n];
    __syncthreads();
  }
  out[blockIdx.x * n + t] = acc;
}

void shuffle_xor(int* out, int lane_mask) { out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, static_cast<int>(threadIdx.x), lane_mask); }

// Thread 0 leaves before the barrier the others wait at: a hang on a GPU.
void divergent_barrier(int* out) {
  if (threadIdx.x == 0) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

}  // namespace

TEST_CASE("emulated threads: __syncthreads orders every thread of each block", "[cuda][emu]") {
  const unsigned blocks = 3, threads = 256;
  const int rounds = 2;
  std::vector<int> out(blocks * threads, -1);
  emu::launch(&neighbours, dim3(blocks), dim3(threads), threads * sizeof(int), nullptr, out.data(), rounds);
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < threads; ++t) {
      int expect = 0;
      for (int r = 0; r < rounds; ++r) expect += static_cast<int>(b * 100000 + r * 1000 + (t + 1) % threads);
      INFO("block " << b << " thread " << t);
      REQUIRE(out[b * threads + t] == expect);
    }
}

TEST_CASE("emulated threads: a warp shuffle returns the partner lane's value", "[cuda][emu]") {
  for (int mask : {1, 4, 16, 31}) {
    std::vector<int> out(64, -1);
    emu::launch(&shuffle_xor, dim3(1), dim3(64), 0, nullptr, out.data(), mask);
    for (int t = 0; t < 64; ++t) REQUIRE(out[t] == ((t % 32) ^ mask) + 32 * (t / 32));
  }
}

#ifndef SLIMSSL_EMU_OS_THREADS
TEST_CASE("emulated threads: a barrier not every thread reaches stops the program, naming it", "[cuda][emu]") {
  // In a child process: the emulation aborts, as a GPU would hang.
  int err[2];
  REQUIRE(pipe(err) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGABRT, SIG_DFL);  // not the test framework's handler: it would report a failure here
    dup2(err[1], 2);
    std::vector<int> out(64, 0);
    emu::launch(&divergent_barrier, dim3(1), dim3(64), 0, nullptr, out.data());
    _exit(0);  // not reached
  }
  close(err[1]);
  std::string message;
  char buf[256];
  for (ssize_t n; (n = read(err[0], buf, sizeof buf)) > 0;) message.append(buf, static_cast<size_t>(n));
  close(err[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGABRT);
  CHECK(message.find("deadlock") != std::string::npos);
}
#endif

#endif  // SLIMSSL_CUDA_EMULATED
