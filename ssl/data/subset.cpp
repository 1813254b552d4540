#include "ssl/data/subset.h"
#include <algorithm>
#include <cstring>
#include "engine/rng.h"

namespace slimssl::data {

std::vector<int64_t> seeded_subset(int64_t n, int64_t count, uint64_t seed, uint32_t purpose) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  if (count <= 0 || count >= n) return p;
  // A partial Fisher-Yates shuffle from the counter RNG: the first `count` entries are a uniform
  // sample, the same for the same (seed, purpose) on every machine.
  RandomStream rs(seed, 0x53554253u /* "SUBS" */, purpose);
  for (int64_t i = 0; i < count; ++i) std::swap(p[i], p[i + rs.next_u32() % static_cast<uint32_t>(n - i)]);
  p.resize(count);
  std::sort(p.begin(), p.end());
  return p;
}

Dataset subset_of(const Dataset& ds, const std::vector<int64_t>& indices) {
  const int64_t n = static_cast<int64_t>(indices.size());
  if (n == ds.size()) return ds;
  Dataset out = ds;
  Shape shape = ds.images.shape();
  shape[0] = n;
  out.images = Tensor::empty(shape, DType::U8);
  out.labels = Tensor::empty({n}, DType::I64);
  const int64_t bytes = ds.images.numel() / std::max<int64_t>(ds.size(), 1);
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(out.images.data<uint8_t>() + i * bytes, ds.image(indices[i]), bytes);
    out.labels.data<int64_t>()[i] = ds.label(indices[i]);
  }
  return out;
}

}  // namespace slimssl::data
