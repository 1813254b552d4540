// Named augmentation recipes (the names configs use) and per-data-set normalization constants.
// Definitions, with their sources and the small-image scaling, are tabulated in docs/data.md.
#pragma once
#include <string>
#include <vector>
#include "ssl/data/augment_params.h"
#include "ssl/data/dataset.h"

namespace slimssl::data {

struct Normalization {
  int channels = 3;
  float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.5f, 0.5f, 0.5f};
};

// Published constants for known sets (cifar10, cifar100, fashion-mnist, mnist, imagenet-like
// folders get the ImageNet ones only by name "imagenet"); other sets are measured from their pixels.
Normalization normalization_for(const Dataset& ds);
Normalization measure_normalization(const Dataset& ds);

struct ViewPipelines {
  AugmentPipeline first, second;  // identical for the symmetric recipes
};

// "mocov2", "small-strong", "simclr", "byol" (asymmetric), "eval", and "none" (= eval: training
// on un-augmented views). At out_size <= 64 (CIFAR's 32, Fashion-MNIST's 28) the small-image
// scaling applies: no Gaussian blur (a 3-pixel kernel on a
// 32-pixel image mostly erases it) and SimCLR's colour strength 0.5 instead of 1.0.
// `channels`: 0 keeps the data set's; 3 on a gray set replicates it to RGB (norm is replicated too).
ViewPipelines augment_preset(const std::string& name, int out_size, const Normalization& norm, int channels = 0);
const std::vector<std::string>& augment_preset_names();

}  // namespace slimssl::data
