// A tiny generated data set and config for trainer tests: 16x16 gray images in IDX files, two
// classes (horizontal vs vertical stripes at random phases with noise), written once per process.
#pragma once
#include <string>
#include "ssl/train/config.h"

namespace slimssl::testing {

// Directory holding train/t10k IDX files (256 train, 64 test images).
const std::string& stripes_dataset();
// A small, fast config on that data: resnet20_cifar at widths {1.0, 0.5}, 16 px views.
train::TrainConfig tiny_config(const std::string& framework);
// tiny_config shrunk for whole steps on the emulated device (one OS thread per CUDA thread):
// 8 px views, batch 8, a small head, distillation on, the given precision, channels-last.
train::TrainConfig device_step_config(const std::string& framework, bool amp);
// A fresh empty directory under the system temp dir.
std::string fresh_dir(const std::string& name);
// Trains `c` quietly into fresh_dir(name); returns the run directory.
std::string train_run(const std::string& name, const train::TrainConfig& c);

}  // namespace slimssl::testing
