// The autograd engine: accumulation, views into bases, hooks, no-grad, graph freeing.
#include <catch2/catch.hpp>
#include "gradcheck.h"

using namespace slimssl;
using namespace slimssl::testing;

TEST_CASE("gradients accumulate across backward calls", "[autograd]") {
  Tensor x = Tensor::from_vector<double>({1, 2, 3}, {3}).set_requires_grad();
  sum(mul(x, x)).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 4, 6});
  sum(x).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{3, 5, 7});
  x.zero_grad();
  CHECK(!x.grad().defined());
}

TEST_CASE("a tensor used twice gets both gradients", "[autograd]") {
  Tensor x = Tensor::from_vector<double>({2}, {1}).set_requires_grad();
  Tensor y = mul(x, x);
  sum(add(y, mul(y, x))).backward();  // x^2 + x^3 -> 2x + 3x^2 = 16
  CHECK(x.grad().item() == Approx(16.0));
}

TEST_CASE("the gradient of a weight slice lands only in that region of the base", "[autograd][views]") {
  Tensor W = randu({6, 5, 3, 3}, 1).set_requires_grad();
  Tensor slice = W.narrow(0, 0, 3).narrow(1, 0, 2);  // W[:3, :2]
  CHECK(slice.storage() == W.storage());
  CHECK(slice.stride(0) == 45);
  sum(mul(slice, slice)).backward();
  Tensor g = W.grad();
  REQUIRE(g.defined());
  CHECK(g.shape() == W.shape());
  // inside: 2 * W ; outside: exactly zero
  CHECK(allclose(g.narrow(0, 0, 3).narrow(1, 0, 2), mul(W.detach().narrow(0, 0, 3).narrow(1, 0, 2), 2.0)));
  CHECK(sum(abs(g.narrow(0, 3, 3))).item() == 0.0);
  CHECK(sum(abs(g.narrow(0, 0, 3).narrow(1, 2, 3))).item() == 0.0);
}

TEST_CASE("hooks see each contribution and where it lands", "[autograd][hooks]") {
  Tensor W = randu({4, 4}, 2).set_requires_grad();
  std::vector<Shape> seen;
  std::vector<double> norms;
  W.add_hook([&](const Tensor& contribution, const Tensor& dest) {
    seen.push_back(dest.shape());
    norms.push_back(sum(mul(contribution, contribution)).item());
    CHECK(dest.storage() == W.grad().storage());
  });
  Tensor wide = sum(W);
  Tensor narrow = sum(W.narrow(0, 0, 2).narrow(1, 0, 2));
  add(wide, narrow).backward();
  REQUIRE(seen.size() == 2);
  CHECK(((seen[0] == Shape{4, 4} && seen[1] == Shape{2, 2}) || (seen[1] == Shape{4, 4} && seen[0] == Shape{2, 2})));
  // the full-width contribution is 16 ones, the slice 4 ones
  CHECK(norms[0] + norms[1] == Approx(20.0));
  CHECK(element_as_double(W.grad(), 0) == 2.0);
  CHECK(element_as_double(W.grad(), 15) == 1.0);
}

TEST_CASE("no-grad scopes record nothing and detach cuts history", "[autograd]") {
  Tensor x = randu({3}, 3).set_requires_grad();
  {
    NoGradGuard ng;
    Tensor y = mul(x, 2.0);
    CHECK(!y.requires_grad());
  }
  Tensor z = mul(x, 2.0).detach();
  CHECK(!z.requires_grad());
  CHECK(z.is_leaf());
}

TEST_CASE("backward frees the graph unless asked to keep it", "[autograd]") {
  Tensor x = randu({3}, 4).set_requires_grad();
  Tensor y = sum(exp(x));
  std::weak_ptr<Node> node = y.grad_fn();
  y.backward({}, true);
  y.backward();
  CHECK(allclose(x.grad(), mul(exp(x.detach()), 2.0)));
  CHECK_THROWS_WITH(y.backward(), Catch::Contains("already freed"));
}

TEST_CASE("backward on a non-scalar needs an explicit gradient", "[autograd][errors]") {
  Tensor x = randu({3}, 5).set_requires_grad();
  CHECK_THROWS_WITH(mul(x, 2.0).backward(), Catch::Contains("non-scalar"));
  Tensor y = randu({3}, 6);
  CHECK_THROWS_WITH(y.backward(), Catch::Contains("does not require grad"));
  CHECK_THROWS_WITH(Tensor::zeros({2}, DType::I64).set_requires_grad(), Catch::Contains("int64"));
}
