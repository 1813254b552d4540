// Counter-based random numbers (Philox-4x32, 10 rounds). A value depends only on (key, counter),
// never on call order, so CPU and GPU code, threads, and resumed runs all draw the same numbers:
// the key is the seed, the counter encodes (purpose, step, sample, view, ...).
// Plain arithmetic only, usable from CUDA as well (SLIMSSL_HD).
#pragma once
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>
#include "base/hd.h"

namespace slimssl {

struct Philox4x32 {
  uint32_t v[4];
};

SLIMSSL_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// A random word as a uniform in [0, 1): its top 24 bits, exactly representable in float32.
SLIMSSL_HD float word_uniform(uint32_t w) { return static_cast<float>(w >> 8) * (1.0f / 16777216.0f); }

// One block of four 32-bit random words for a 128-bit counter and 64-bit key.
SLIMSSL_HD Philox4x32 philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint64_t key) {
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo32(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0, c1 = n1, c2 = n2, c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// A stream of uniforms for one (seed, a, b, c) tuple: the i-th draw is word i%4 of block i/4.
// Typical use: RandomStream rs(seed, step, sample, view); rs.uniform();
class RandomStream {
 public:
  SLIMSSL_HD RandomStream(uint64_t seed, uint32_t a, uint32_t b = 0, uint32_t c = 0)
      : seed_(seed), a_(a), b_(b), c_(c) {}
  SLIMSSL_HD uint32_t next_u32() {
    if (i_ % 4 == 0) block_ = philox4x32(i_ / 4, a_, b_, c_, seed_);
    return block_.v[i_++ % 4];
  }
  // Uniform in [0, 1) with 24 bits (exactly representable in float32 on both sides).
  SLIMSSL_HD float uniform() { return word_uniform(next_u32()); }
  SLIMSSL_HD float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal by Box-Muller (one value per call; deterministic).
  SLIMSSL_HD float normal() {
    float u1 = (static_cast<float>(next_u32() >> 8) + 1.0f) * (1.0f / 16777216.0f);  // (0, 1]
    float u2 = uniform();
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
  }
  SLIMSSL_HD uint32_t position() const { return i_; }

 private:
  uint64_t seed_;
  uint32_t a_, b_, c_;
  uint32_t i_ = 0;
  Philox4x32 block_{};
};

// The uniform of element e of a tensor filled under (seed, counter): draw e % 4 of
// RandomStream(seed, counter low, counter high, e / 4), i.e. one Philox block serves four
// elements. It depends on nothing but (seed, counter, e): any device, thread count or order.
// element_block(seed, counter, g) is that block for elements 4g .. 4g+3, so a kernel can draw it
// once for four elements.
SLIMSSL_HD Philox4x32 element_block(uint64_t seed, uint64_t counter, uint64_t group) {
  return philox4x32(0, static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                    static_cast<uint32_t>(group), seed);
}
SLIMSSL_HD float element_uniform(uint64_t seed, uint64_t counter, uint64_t e) {
  return word_uniform(element_block(seed, counter, e / 4).v[e % 4]);
}

// Draw k of RandomStream(seed, a, b, c) (its k-th next_u32) without the draws before it, so a
// kernel can make every draw of a stream at once.
SLIMSSL_HD uint32_t stream_word(uint64_t seed, uint32_t a, uint32_t b, uint32_t c, uint32_t k) {
  return philox4x32(k / 4, a, b, c, seed).v[k % 4];
}

// The shuffle of random_permutation (Fisher-Yates from the back): for i = n-1 down to 1, position
// i swaps with position shuffle_partner(word, i), `word` being the stream's draw n-1-i. Written
// once for the host loop below and the device kernel (kernels/random.h), which draws the words in
// parallel and swaps in this order.
SLIMSSL_HD int64_t shuffle_partner(uint32_t word, int64_t i) {
  return static_cast<int64_t>(word % static_cast<uint64_t>(i + 1));
}

// A uniformly shuffled permutation of [0, n) drawn from `rs`. Host only.
inline std::vector<int64_t> random_permutation(int64_t n, RandomStream rs) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[shuffle_partner(rs.next_u32(), i)]);
  return p;
}

}  // namespace slimssl
