// Test helpers shared by the op suites: finite-difference gradient checks, non-contiguous copies,
// seeded random tensors, and closeness checks with readable failure messages.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>
#include "engine/ops.h"

namespace slimssl::testing {

// Random float64 (or `dtype`) tensor with values in [lo, hi), from a fixed seed.
Tensor randu(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0, DType dtype = DType::F64);

// The same values as `t` in a tensor whose strides are NOT contiguous (every other element of a
// larger poisoned buffer along the last dimension), as a fresh leaf on `device` (t's own by
// default). Scalars are returned as a plain copy.
Tensor noncontiguous(const Tensor& t, std::optional<Device> device = std::nullopt);

// Largest |a - b| - rtol*|b| over all elements (<= atol means close). Shapes must match.
double max_violation(const Tensor& a, const Tensor& b, double rtol);
bool allclose(const Tensor& a, const Tensor& b, double atol = 1e-6, double rtol = 1e-5);

struct GradcheckResult {
  bool ok = true;
  std::string message;  // which input and element failed, analytic vs numeric
};

// Compares backward of f at `inputs` (float64 leaves; those with requires_grad are checked) with
// central finite differences. f's output is reduced with a fixed random weighting so every
// output element contributes a different amount.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps = 1e-6, double atol = 1e-6,
                          double rtol = 1e-4);

}  // namespace slimssl::testing
