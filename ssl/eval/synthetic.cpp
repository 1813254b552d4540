#include "ssl/eval/synthetic.h"
#include <vector>
#include "engine/rng.h"

namespace slimssl::eval {

LabelledFeatures gaussian_blobs(int64_t classes, int64_t per_class, int64_t dim, double radius, double spread,
                                uint64_t seed) {
  SLIMSSL_CHECK(classes >= 1 && per_class >= 1 && classes <= dim, "gaussian_blobs: need 1 <= classes (", classes,
                ") <= dim (", dim, ") and per_class >= 1 (", per_class, ")");
  int64_t n = classes * per_class;
  std::vector<float> x(n * dim);
  std::vector<int64_t> y(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t c = i / per_class;
    y[i] = c;
    RandomStream rs(seed, 0x626c6f62u /* "blob" */, static_cast<uint32_t>(i));
    for (int64_t j = 0; j < dim; ++j) x[i * dim + j] = static_cast<float>((j == c ? radius : 0.0) + spread * rs.normal());
  }
  return {Tensor::from_vector<float>(x, {n, dim}), Tensor::from_vector<int64_t>(y, {n})};
}

}  // namespace slimssl::eval
