// Representation metrics of the small-model study (observations (i) and (ii)); every function
// L2-normalizes its features first. Definitions: /work/shared/brief/reference.md, section B.
#pragma once
#include <cstdint>
#include <vector>
#include "engine/tensor.h"

namespace slimssl::eval {

// Alignment A = mean_i ||x_i - y_i||^2 of paired rows (two views, or original and view); in [0, 4].
double alignment(const Tensor& x, const Tensor& y);

// Per class, the mean squared distance over pairs of distinct same-class samples; averaged over
// the classes that have at least two samples (each class counts once, whatever its size).
double intra_class_alignment(const Tensor& x, const Tensor& labels);

// Uniformity U = log mean_{i<j} exp(-2 ||x_i - x_j||^2) (Wang & Isola), from a blocked Gram matrix
// and a log-sum-exp over the upper triangle; 0 when all features coincide, lower the more spread
// they are (about -4 + log I0(4) = -1.575 for points evenly covering a circle). Needs N >= 2.
double uniformity(const Tensor& x, int64_t block = 512);

// Instance-discrimination retrieval: query i is original i; its candidates are view i and the
// other N - 1 originals (original i itself is left out: it would match trivially). Result[k-1] is
// the fraction of queries whose view ranks within the top k, for k = 1..max_k. A candidate with a
// similarity EQUAL to the view's counts as ahead of it (ties are scored against the model).
std::vector<double> retrieval_accuracy(const Tensor& originals, const Tensor& views, int64_t max_k = 5,
                                       int64_t block = 512);

}  // namespace slimssl::eval
