// Seeded subsets of a data set: the kNN monitor's bank and test images, `slimssl eval`'s subsets
// and a run's train_subset all come from here, so the same (seed, count, purpose) names the same
// images in every command (the monitor's kNN and `slimssl eval knn` agree).
#pragma once
#include <cstdint>
#include <vector>
#include "ssl/data/dataset.h"

namespace slimssl::data {

// Purposes of the subsets drawn with one seed.
enum SubsetPurpose : uint32_t { kSubsetKnnBank = 1, kSubsetKnnTest = 2, kSubsetMetricsTrain = 3,
                                kSubsetMetricsTest = 4, kSubsetProbeTrain = 5, kSubsetProbeTest = 6,
                                kSubsetTrain = 7 };

// A sorted, seeded subset of [0, n) of min(count, n) indices (count <= 0: all of them).
std::vector<int64_t> seeded_subset(int64_t n, int64_t count, uint64_t seed, uint32_t purpose);

// The images `indices` of ds as a data set of their own (labels, classes and name kept).
Dataset subset_of(const Dataset& ds, const std::vector<int64_t>& indices);

}  // namespace slimssl::data
