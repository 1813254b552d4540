// Run checkpoints: one safetensors file per save under RUN_DIR/checkpoints/, holding the query and
// key encoders (parameters and buffers), the queue, the optimizer state, and in its metadata the
// step, the queue pointer and the resolved config. Written atomically (temp file + rename); only
// the newest `keep` files are kept. Loadable in PyTorch with safetensors.
#pragma once
#include <string>
#include "ssl/train/learner.h"
#include "ssl/train/optimizer.h"

namespace slimssl::train {

std::string checkpoint_dir(const std::string& run_dir);
// Saves the state after `step` optimizer steps; returns the file written.
std::string save_checkpoint(const std::string& run_dir, const Learner& learner, const Optimizer& opt, int64_t step,
                            int64_t keep);
// The newest checkpoint of a run directory, or "" when it has none.
std::string latest_checkpoint(const std::string& run_dir);
// Restores learner and optimizer; returns the step the checkpoint was taken after. Every
// metadata value and tensor is checked first; errors name the file and what is wrong.
int64_t load_checkpoint(const std::string& path, Learner& learner, Optimizer& opt);
// About how many bytes a checkpoint of this learner and optimizer takes (once every parameter
// has optimizer state): what a run directory must have room for.
int64_t checkpoint_bytes_estimate(const Learner& learner, const Optimizer& opt);

// A trained query encoder for evaluation: `path` is a run directory (its newest checkpoint) or a
// checkpoint file. The config comes from the checkpoint's metadata.
struct LoadedEncoder {
  TrainConfig config;
  std::shared_ptr<Encoder> encoder;
  std::string checkpoint;
  int64_t step = 0;
};
LoadedEncoder load_encoder(const std::string& path);

}  // namespace slimssl::train
