#include "engine/layout.h"
#include <algorithm>
#include <numeric>
#include "engine/ops.h"

namespace slimssl {

std::vector<int64_t> dim_order(const Tensor& t) {
  std::vector<int64_t> order(t.dim());
  std::iota(order.begin(), order.end(), 0);
  // The dimensions that matter (size > 1), outermost (largest stride) first.
  std::vector<int64_t> big;
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.size(d) != 1) big.push_back(d);
  std::stable_sort(big.begin(), big.end(), [&](int64_t a, int64_t b) { return t.stride(a) > t.stride(b); });
  int64_t expected = 1;
  for (auto it = big.rbegin(); it != big.rend(); ++it) {
    if (t.stride(*it) != expected) return order;  // not dense: row-major
    expected *= t.size(*it);
  }
  // Size-1 dimensions do not affect the layout: they keep their own slots.
  for (int64_t d = 0, next = 0; d < t.dim(); ++d)
    if (t.size(d) != 1) order[d] = big[next++];
  return order;
}

Shape strides_in_order(const Shape& shape, const std::vector<int64_t>& order) {
  Shape st(shape.size());
  int64_t acc = 1;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    st[*it] = acc;
    acc *= std::max<int64_t>(shape[*it], 1);
  }
  return st;
}

Tensor empty_like_layout(const Tensor& like, const Shape& shape, DType dtype) {
  if (static_cast<int64_t>(shape.size()) != like.dim() || like.is_contiguous())
    return Tensor::empty(shape, dtype, like.device());
  Shape st = strides_in_order(shape, dim_order(like));
  Tensor flat = Tensor::empty({numel_of(shape)}, dtype, like.device());
  return flat.as_strided(shape, st, 0);
}

bool is_channels_last(const Tensor& t) {
  if (t.dim() != 4) return false;
  auto o = dim_order(t);
  return o == std::vector<int64_t>{0, 2, 3, 1} && !t.is_contiguous();
}

Tensor to_channels_last(const Tensor& t) {
  SLIMSSL_CHECK(t.dim() == 4, "to_channels_last: expected [N, C, H, W], got ", shape_str(t.shape()));
  if (is_channels_last(t)) return t;
  // A copy into NHWC memory through a permuted view: [N, H, W, C] contiguous, viewed as NCHW.
  return t.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2});
}

}  // namespace slimssl
