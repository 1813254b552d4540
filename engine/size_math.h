// Checked products of sizes. Sizes that come from a file (a header's dimensions, a shape, a record
// count) are multiplied through these and nowhere else, so a hostile header gives an error naming
// the file instead of a wrapped product, undefined behaviour or a huge allocation.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

namespace slimssl {

// a * b for sizes: nullopt when either is negative or the product does not fit in int64.
inline std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  int64_t out = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// The product of sizes (1 for none); nullopt when any is negative or when the product of the
// nonzero sizes overflows: [0, 2^62, 2^62] holds no element, but its strides would not fit.
inline std::optional<int64_t> checked_product(const std::vector<int64_t>& sizes) {
  int64_t extent = 1;
  bool empty = false;
  for (int64_t s : sizes) {
    auto next = checked_mul(extent, s == 0 ? 1 : s);
    if (!next) return std::nullopt;
    extent = *next;
    empty |= s == 0;
  }
  return empty ? 0 : extent;
}

}  // namespace slimssl
