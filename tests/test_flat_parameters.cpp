// FlatParameters: values move into one buffer per dtype without changing, gradients accumulate
// into a persistent flat buffer at fixed addresses, and zero_grad zeroes in place.
#include <catch2/catch.hpp>
#include "engine/flat_parameters.h"
#include "engine/ops.h"
#include "gradcheck.h"

using namespace slimssl;
using namespace slimssl::testing;

namespace {
// A small step through a sliced weight (as a slimmable layer uses it) and a plain bias.
Tensor step_loss(const Tensor& w, const Tensor& b, const Tensor& x) {
  Tensor y = linear(x.narrow(1, 0, 4), w.narrow(0, 0, 3).narrow(1, 0, 4), b.narrow(0, 0, 3));
  Tensor z = linear(x, w, b);
  return add(sum(mul(y, y)), sum(z));
}
}  // namespace

TEST_CASE("flat parameters: values move in place and gradients land in the flat buffer", "[flat]") {
  Tensor w = randu({5, 6}, 1, -1, 1, DType::F32).set_requires_grad();
  Tensor b = randu({5}, 2, -1, 1, DType::F32).set_requires_grad();
  Tensor x = randu({2, 6}, 3, -1, 1, DType::F32);
  Tensor w_ref = w.detach().clone().set_requires_grad(), b_ref = b.detach().clone().set_requires_grad();
  auto w_before = w.to_vector<float>();

  FlatParameters flat({w, b});
  REQUIRE(flat.groups().size() == 1);
  const auto& g = flat.groups()[0];
  CHECK(w.storage() == g.values.storage());
  CHECK(b.storage() == g.values.storage());
  CHECK(g.slots[1].offset % 64 == 0);
  CHECK(w.to_vector<float>() == w_before);

  step_loss(w, b, x).backward();
  step_loss(w_ref, b_ref, x).backward();
  CHECK(allclose(w.grad(), w_ref.grad(), 1e-6, 1e-6));
  CHECK(allclose(b.grad(), b_ref.grad(), 1e-6, 1e-6));
  CHECK(w.grad().storage() == g.grads.storage());

  // A second pass accumulates; zero_grad zeroes at the same address.
  void* address = w.grad().raw();
  flat.zero_grad();
  CHECK(w.grad().raw() == address);
  CHECK(sum(abs(g.grads)).item() == 0.0);
  step_loss(w, b, x).backward();
  CHECK(allclose(w.grad(), w_ref.grad(), 1e-6, 1e-6));
  w.zero_grad();  // a pinned gradient is zeroed, not dropped
  REQUIRE(w.grad().defined());
  CHECK(w.grad().raw() == address);
  CHECK(sum(abs(w.grad())).item() == 0.0);
}

TEST_CASE("flat parameters: refuses duplicates and non-leaves", "[flat]") {
  Tensor w = randu({3}, 1).set_requires_grad();
  CHECK_THROWS_WITH(FlatParameters({w, w}), Catch::Contains("twice"));
  CHECK_THROWS_WITH(FlatParameters({mul(w, 2.0)}), Catch::Contains("leaf"));
}
