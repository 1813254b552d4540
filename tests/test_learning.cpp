// End-to-end: the ops, autograd and a hand-written SGD loop must be able to learn. A small CNN
// (conv -> relu -> max pool -> conv -> relu -> adaptive pool -> linear) learns which quadrant of
// an 8x8 image is bright; an MLP (linear -> relu -> linear) learns three Gaussian blobs. Data and
// initial weights come from the counter-based RNG, so every run is the same run.
#include <catch2/catch.hpp>
#include <cmath>
#include "engine/rng.h"
#include "gradcheck.h"

using namespace slimssl;
using namespace slimssl::testing;

namespace {

// A float32 leaf with entries uniform in +-1/sqrt(fan_in) (PyTorch's default init scale).
Tensor param(const Shape& shape, int64_t fan_in, uint64_t seed) {
  double a = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return randu(shape, seed, -a, a, DType::F32).set_requires_grad();
}

// Plain SGD: p -= lr * grad, then clear the gradient.
void sgd_step(const std::vector<Tensor>& params, double lr) {
  NoGradGuard ng;
  for (Tensor p : params) {  // a handle copy: add_ writes the shared storage
    REQUIRE(p.grad().defined());
    p.add_(p.grad(), -lr);
    p.zero_grad();
  }
}

double accuracy(const Tensor& logits, const std::vector<int64_t>& labels) {
  auto v = logits.to_vector<double>();
  int64_t n = logits.size(0), c = logits.size(1), right = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < c; ++j)
      if (v[i * c + j] > v[i * c + best]) best = j;
    right += best == labels[i];
  }
  return static_cast<double>(right) / static_cast<double>(n);
}

}  // namespace

TEST_CASE("a small CNN learns which quadrant of an image is bright", "[learn]") {
  // 64 single-channel 8x8 images: noise in [0, 0.4), plus 0.6 on the class's 4x4 quadrant.
  const int64_t N = 64, S = 8;
  std::vector<float> pixels(N * S * S);
  std::vector<int64_t> labels(N);
  for (int64_t i = 0; i < N; ++i) {
    labels[i] = i % 4;
    RandomStream rs(2024, 1, static_cast<uint32_t>(i));
    for (int64_t h = 0; h < S; ++h)
      for (int64_t w = 0; w < S; ++w) {
        int64_t quadrant = (h >= S / 2) * 2 + (w >= S / 2);
        pixels[(i * S + h) * S + w] = 0.4f * rs.uniform() + (quadrant == labels[i] ? 0.6f : 0.0f);
      }
  }
  Tensor images = Tensor::from_vector(pixels, {N, 1, S, S});
  Tensor targets = Tensor::from_vector(labels, {N});

  Tensor w1 = param({6, 1, 3, 3}, 9, 1), b1 = param({6}, 9, 2);
  Tensor w2 = param({8, 6, 3, 3}, 54, 3), b2 = param({8}, 54, 4);
  Tensor w3 = param({4, 32}, 32, 5), b3 = param({4}, 32, 6);
  Conv2dParams same;
  same.pad_h = same.pad_w = 1;
  auto forward = [&] {
    Tensor h = max_pool2d(relu(conv2d(images, w1, b1, same)), 2, 2);  // [N, 6, 4, 4]
    h = adaptive_avg_pool2d(relu(conv2d(h, w2, b2, same)), 2, 2);     // [N, 8, 2, 2]
    return linear(h.flatten(1), w3, b3);                             // [N, 4]
  };

  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    Tensor loss = cross_entropy(forward(), targets);
    if (step == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    sgd_step({w1, b1, w2, b2, w3, b3}, 0.5);
  }
  NoGradGuard ng;
  double acc = accuracy(forward(), labels);
  INFO("loss " << first << " -> " << last << ", training accuracy " << acc);
  CHECK(last < 0.5 * first);
  CHECK(acc >= 0.9);
}

TEST_CASE("an MLP learns three separable blobs", "[learn]") {
  // 90 points around three centres on a circle of radius 2, Gaussian noise of std 0.4.
  const int64_t N = 90;
  const double centres[3][2] = {{2.0, 0.0}, {-1.0, 1.732}, {-1.0, -1.732}};
  std::vector<float> points(N * 2);
  std::vector<int64_t> labels(N);
  for (int64_t i = 0; i < N; ++i) {
    labels[i] = i % 3;
    RandomStream rs(2024, 2, static_cast<uint32_t>(i));
    points[2 * i] = static_cast<float>(centres[labels[i]][0] + 0.4 * rs.normal());
    points[2 * i + 1] = static_cast<float>(centres[labels[i]][1] + 0.4 * rs.normal());
  }
  Tensor x = Tensor::from_vector(points, {N, 2});
  Tensor targets = Tensor::from_vector(labels, {N});

  Tensor w1 = param({16, 2}, 2, 11), b1 = param({16}, 2, 12);
  Tensor w2 = param({3, 16}, 16, 13), b2 = param({3}, 16, 14);
  auto forward = [&] { return linear(relu(linear(x, w1, b1)), w2, b2); };

  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    Tensor loss = cross_entropy(forward(), targets);
    if (step == 0) first = loss.item();
    last = loss.item();
    loss.backward();
    sgd_step({w1, b1, w2, b2}, 0.2);
  }
  NoGradGuard ng;
  double acc = accuracy(forward(), labels);
  INFO("loss " << first << " -> " << last << ", training accuracy " << acc);
  CHECK(last < 0.25 * first);
  CHECK(acc >= 0.95);
}
