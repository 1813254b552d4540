// The caching host allocator behind CPU tensor storage: large freed blocks come back for requests
// of their size class, small ones and the excess over the cap go back to the C library, and every
// block is 64-byte aligned and as large as asked.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include "engine/cpu/host_allocator.h"
#include "engine/tensor.h"

using namespace slimssl;

TEST_CASE("host allocator reuses freed large blocks of the same size class", "[storage]") {
  const size_t big = (size_t{3} << 20) + 100;  // 3 MiB + 100: class 3.5 MiB
  void* a = cpu::host_alloc(big);
  REQUIRE(reinterpret_cast<uintptr_t>(a) % 64 == 0);
  std::memset(a, 1, big);  // the whole request is usable
  const size_t before = cpu::host_cached_bytes();
  cpu::host_free(a, big);
  if (!cpu::host_caching()) {
    CHECK(cpu::host_cached_bytes() == before);
    return;
  }
  CHECK(cpu::host_cached_bytes() > before);
  // A different size in the same class (eight classes per power of two) takes the block back.
  void* b = cpu::host_alloc((size_t{3} << 20) + 4096);
  CHECK(b == a);
  CHECK(cpu::host_cached_bytes() == before);
  std::memset(b, 2, (size_t{3} << 20) + 4096);
  // A size of another class does not.
  cpu::host_free(b, (size_t{3} << 20) + 4096);
  void* c = cpu::host_alloc(size_t{5} << 20);
  CHECK(c != b);
  cpu::host_free(c, size_t{5} << 20);
}

TEST_CASE("host allocator leaves small blocks to the C library and caps what it keeps", "[storage]") {
  const size_t before = cpu::host_cached_bytes();
  void* small = cpu::host_alloc(1000);
  REQUIRE(reinterpret_cast<uintptr_t>(small) % 64 == 0);
  cpu::host_free(small, 1000);
  CHECK(cpu::host_cached_bytes() == before);
  // Freeing far more than the cap (1 GiB) at once keeps at most the cap.
  std::vector<void*> blocks;
  const size_t each = size_t{256} << 20;
  for (int i = 0; i < 6; ++i) blocks.push_back(cpu::host_alloc(each));
  for (void* p : blocks) cpu::host_free(p, each);
  CHECK(cpu::host_cached_bytes() <= (size_t{1} << 30));
}

TEST_CASE("tensors on reused host blocks start from what they are given", "[storage]") {
  // zeros() on a block that held other values is still all zeros.
  for (int i = 0; i < 3; ++i) {
    Tensor t = Tensor::full({512, 1024}, 7.0);
    CHECK(t.to_vector<float>()[12345] == 7.0f);
  }
  Tensor z = Tensor::zeros({512, 1024});
  const auto v = z.to_vector<float>();
  bool all_zero = true;
  for (float x : v) all_zero = all_zero && x == 0.0f;
  CHECK(all_zero);
}
