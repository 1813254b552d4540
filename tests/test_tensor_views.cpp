// Tensor storage, views and copies.
#include <catch2/catch.hpp>
#include "gpu_gate.h"
#include "gradcheck.h"

using namespace slimssl;
using namespace slimssl::testing;

TEST_CASE("views share storage and follow strides", "[tensor]") {
  Tensor t = Tensor::arange(24).reshape({2, 3, 4});
  CHECK(t.is_contiguous());
  Tensor n = t.narrow(2, 1, 2);
  CHECK(n.shape() == Shape{2, 3, 2});
  CHECK(!n.is_contiguous());
  CHECK(n.storage() == t.storage());
  CHECK(element_as_double(n, 0) == 1);
  CHECK(element_as_double(n, 1) == 2);
  CHECK(element_as_double(n, 2) == 5);
  Tensor p = t.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(element_as_double(p, 1) == 4);  // p[0,0,1] = t[0,1,0]
  Tensor s = t.select(1, 2);
  CHECK(s.shape() == Shape{2, 4});
  CHECK(element_as_double(s, 4) == 20);  // t[1,2,0]
  Tensor e = Tensor::arange(3).reshape({3, 1}).expand({3, 4});
  CHECK(e.stride(1) == 0);
  CHECK(element_as_double(e, 7) == 1);
  // Writing through a view changes the base.
  n.fill_(-1);
  CHECK(element_as_double(t, 1) == -1);
  CHECK(element_as_double(t, 0) == 0);
}

TEST_CASE("reshape views when possible and copies otherwise", "[tensor]") {
  Tensor t = Tensor::arange(12).reshape({3, 4});
  Tensor v = t.view({2, 6});
  CHECK(v.storage() == t.storage());
  Tensor tt = t.t();
  CHECK_THROWS_WITH(tt.view({12}), Catch::Contains("cannot be viewed"));
  Tensor r = tt.reshape({12});
  CHECK(r.is_contiguous());
  CHECK(r.to_vector<double>() == std::vector<double>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  CHECK(t.reshape({-1, 2}).shape() == Shape{6, 2});
  CHECK_THROWS_WITH(t.reshape({5, -1}), Catch::Contains("cannot reshape [3, 4]"));
  // A narrowed view whose rows are still contiguous can flatten its inner dims.
  Tensor big = Tensor::arange(2 * 3 * 4).reshape({2, 3, 4});
  Tensor inner = big.narrow(0, 1, 1);
  CHECK(inner.view({3, 4}).storage() == big.storage());
}

TEST_CASE("dtype conversion round trips and bfloat16 rounds to nearest even", "[tensor]") {
  Tensor f = Tensor::from_vector<float>({1.0f, 1.00390625f, 1.01171875f, -2.5f, 3e38f}, {5});
  auto b = f.to(DType::BF16).to(DType::F32).to_vector<float>();
  CHECK(b[0] == 1.0f);
  CHECK(b[1] == 1.0f);        // halfway between 1 and 1+2^-7: ties to even (1.0)
  CHECK(b[2] == 1.015625f);   // halfway, rounds up to the even neighbour
  CHECK(b[3] == -2.5f);
  Tensor i = Tensor::from_vector<int64_t>({-3, 7}, {2});
  CHECK(i.to(DType::F64).to_vector<double>() == std::vector<double>{-3, 7});
  CHECK(Tensor::from_vector<double>({2.9, 255.0}, {2}).to(DType::U8).to_vector<int>() == std::vector<int>{2, 255});
}

TEST_CASE("printing shows values, shape and dtype", "[tensor]") {
  std::string s = Tensor::arange(4).reshape({2, 2}).str();
  CHECK(s.find("[[0, 1], [2, 3]]") != std::string::npos);
  CHECK(s.find("shape=[2, 2]") != std::string::npos);
  CHECK(s.find("float32") != std::string::npos);
}

TEST_CASE("view errors name the op and the shapes", "[tensor][errors]") {
  Tensor t = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH(t.narrow(1, 2, 2), Catch::Contains("narrow") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_WITH(t.expand({4, 3}), Catch::Contains("expand") && Catch::Contains("[2, 3]"));
  CHECK_THROWS_WITH(t.permute({0, 0}), Catch::Contains("permute"));
  CHECK_THROWS_WITH(t.select(0, 5), Catch::Contains("select"));
  CHECK_THROWS_WITH(Tensor().shape(), Catch::Contains("undefined"));
}

TEST_CASE("CUDA tensors need the CUDA build and a GPU", "[tensor][cuda]") {
  if (!gpu_or_skip()) return;
  Tensor h = Tensor::arange(10);
  Tensor d = h.to(Device::cuda());
  CHECK(d.device().is_cuda());
  CHECK(d.cpu().to_vector<float>() == h.to_vector<float>());
}

TEST_CASE("shapes whose element count, strides or byte count overflow 64 bits are refused", "[tensor][errors]") {
  const int64_t big = int64_t(1) << 62;
  CHECK_THROWS_WITH(Tensor::empty({big, 4}), Catch::Contains("[4611686018427387904, 4]"));
  CHECK_THROWS_WITH(Tensor::empty({0, big, big}), Catch::Contains("overflows 64 bits"));  // empty, but its strides overflow
  CHECK_THROWS_WITH(Tensor::empty({big / 2, 2}, DType::F64), Catch::Contains("bytes"));
  CHECK_THROWS_WITH(numel_of({big, big, 0}), Catch::Contains("overflows 64 bits"));
  CHECK(numel_of({0, big}) == 0);  // empty, and its strides fit
  CHECK(Tensor::empty({0, big}).numel() == 0);
}
