// The emulated wmma (kernels/dev/emu/mma.h), which only the EMULATE build has: an accumulator is
// lane-exact, so the 32 lanes' stores of one tile are disjoint and cover it (a lane writing the
// whole tile would hide a missing barrier from the tests and report false races under
// ThreadSanitizer), and a chain of mma_sync is, element by element, the float sum in k order that
// the kernels' tests were written against (bit for bit).
#include <catch2/catch.hpp>

#ifdef SLIMSSL_CUDA_EMULATED
#include <mma.h>
#include <cstdint>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>
#include "cuda_bf16.h"

namespace wmma = nvcuda::wmma;

namespace {

constexpr int kSteps = 3;  // k steps chained through the accumulator
constexpr int kTile = 16 * 16;

// Every lane computes D = sum over steps of A_s B_s and stores its fragment into a tile of its own.
template <class LA, class LB>
void lane_tiles(const __nv_bfloat16* a, const __nv_bfloat16* b, float* tiles, bool store_col_major) {
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.f);
  for (int s = 0; s < kSteps; ++s) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, LA> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, LB> fb;
    wmma::load_matrix_sync(fa, a + s * kTile, 16);
    wmma::load_matrix_sync(fb, b + s * kTile, 16);
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(tiles + threadIdx.x * kTile, acc, 16, store_col_major ? wmma::mem_col_major : wmma::mem_row_major);
}

bool unwritten(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u == 0xFFFFFFFFu;
}

template <class LA, class LB>
void check_layouts(bool store_col_major) {
  constexpr bool a_row = std::is_same_v<LA, wmma::row_major>, b_row = std::is_same_v<LB, wmma::row_major>;
  INFO("A " << (a_row ? "row" : "col") << "-major, B " << (b_row ? "row" : "col") << "-major, stored "
            << (store_col_major ? "col" : "row") << "-major");
  std::mt19937 gen(11);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  alignas(64) __nv_bfloat16 a[kSteps * kTile], b[kSteps * kTile];
  for (auto& x : a) x = __float2bfloat16_rn(u(gen));
  for (auto& x : b) x = __float2bfloat16_rn(u(gen));
  // (s, r, k) of A and (s, k, c) of B in their memory layouts.
  auto at = [&](int s, int r, int k) { return __bfloat162float(a[s * kTile + (a_row ? r * 16 + k : k * 16 + r)]); };
  auto bt = [&](int s, int k, int c) { return __bfloat162float(b[s * kTile + (b_row ? k * 16 + c : c * 16 + k)]); };

  std::vector<float> buf(32 * kTile + 16);
  float* tiles = buf.data() + (16 - reinterpret_cast<uintptr_t>(buf.data()) / 4 % 16) % 16;  // 64-byte aligned
  std::memset(tiles, 0xFF, 32 * kTile * sizeof(float));
  emu::launch(&lane_tiles<LA, LB>, dim3(1), dim3(32), 0, nullptr, a, b, tiles, store_col_major);

  int per_lane[32] = {};
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) {
      float s = 0.f;  // the reference: one float sum in k order, steps one after another
      for (int st = 0; st < kSteps; ++st)
        for (int k = 0; k < 16; ++k) s += at(st, r, k) * bt(st, k, c);
      const int at_mem = store_col_major ? c * 16 + r : r * 16 + c;
      int writers = 0;
      for (int lane = 0; lane < 32; ++lane) {
        const float got = tiles[lane * kTile + at_mem];
        if (unwritten(got)) continue;
        ++writers, ++per_lane[lane];
        INFO("element (" << r << ", " << c << ") from lane " << lane);
        CHECK(std::memcmp(&got, &s, 4) == 0);
      }
      INFO("element (" << r << ", " << c << ")");
      REQUIRE(writers == 1);
    }
  for (int lane = 0; lane < 32; ++lane) CHECK(per_lane[lane] == 8);
}

}  // namespace

TEST_CASE("emulated wmma: each lane stores only its own accumulator elements, each a k-ordered float sum",
          "[cuda][emu]") {
  for (bool col : {false, true}) {
    check_layouts<wmma::row_major, wmma::row_major>(col);
    check_layouts<wmma::row_major, wmma::col_major>(col);
    check_layouts<wmma::col_major, wmma::row_major>(col);
    check_layouts<wmma::col_major, wmma::col_major>(col);
  }
}
#endif
