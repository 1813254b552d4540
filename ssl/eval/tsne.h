// Exact t-SNE (van der Maaten & Hinton 2008) for the pictures of 10 classes: O(N^2) per
// iteration, meant for up to a few thousand points (the metrics command uses <= 2,000).
//
// Input affinities: Gaussian conditionals whose bandwidths are found by binary search so each
// row's perplexity matches `perplexity`, symmetrized P = (P_j|i + P_i|j) / 2N. Optimization:
// gradient descent with momentum (0.5 for the first `momentum_switch` iterations, then 0.8),
// per-coordinate adaptive gains (+0.2 / x0.8, floor 0.01), and early exaggeration of P for the
// first `exaggeration_iterations`. Start: N(0, 1e-4) from the counter-based RNG, so the same seed
// gives the same picture on any thread count.
#pragma once
#include <cstdint>
#include "engine/tensor.h"

namespace slimssl::eval {

struct TsneConfig {
  double perplexity = 30;
  int64_t iterations = 1000;
  double early_exaggeration = 12;
  int64_t exaggeration_iterations = 250;
  int64_t momentum_switch = 250;
  double learning_rate = 0;  // <= 0: max(N / 12, 50), the rule of Belkina et al. 2019; 200 is classic
  uint64_t seed = 0;
  int64_t max_points = 5000;  // refuse larger inputs rather than run for hours
};

// features [N, D] (used as given: normalize first if cosine geometry is wanted) -> float32 [N, 2].
Tensor tsne(const Tensor& features, const TsneConfig& cfg = {});

}  // namespace slimssl::eval
