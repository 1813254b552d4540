// Shared plumbing of the evaluation code: every evaluator takes cached features (float32 [N, D],
// any device, any strides) and int64 labels [N]; these helpers check them and bring them into the
// one form the CPU code reads (contiguous float32 on the host), and compute the blocked
// similarity top-k that kNN and retrieval both need.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>
#include "engine/tensor.h"

namespace slimssl::eval {

// x as contiguous host float32 [N, D], detached; names `op` on a wrong rank or dtype.
Tensor host_features(const char* op, const Tensor& x);
// x as above with every row scaled to unit L2 norm (zero rows stay zero).
Tensor unit_rows(const char* op, const Tensor& x);
// Labels as a host vector; checks int64 [n] and (when n >= 0) the length against the features.
std::vector<int64_t> host_labels(const char* op, const Tensor& labels, int64_t n);
// 1 + the largest label; labels must be non-negative.
int64_t count_classes(const char* op, const std::vector<int64_t>& labels);

// Visits the similarity matrix queries @ bank^T ([Q, N]) in blocks of `block` query rows, so a
// 10k x 50k comparison never holds more than block * N floats. f(first_row, sims) receives a
// contiguous [rows, N] float32 block. Both inputs are host float32 [*, D] with equal D.
void for_each_similarity_block(const Tensor& queries, const Tensor& bank, int64_t block,
                               const std::function<void(int64_t first_row, const Tensor& sims)>& f);

// For each row of a contiguous [rows, n] block, the indices of its k largest entries, in
// descending order of value with ties broken by the smaller index (so results never depend on the
// thread count or the sort implementation). Output: rows * k indices, row-major.
std::vector<int64_t> topk_rows(const float* sims, int64_t rows, int64_t n, int64_t k);

}  // namespace slimssl::eval
