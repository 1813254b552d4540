// The training loop behind `slimssl train`: data, the learner, the optimizer and its schedule,
// progress lines, metrics.jsonl, the per-width kNN monitor, checkpoints, resume and Ctrl-C.
#pragma once
#include <string>
#include <vector>
#include "ssl/train/config.h"
#include "ssl/train/encoder.h"
#include "ssl/train/optimizer.h"

namespace slimssl::train {

struct KnnRow {
  double epoch = 0;
  std::vector<double> top1;  // per width index
};

struct TrainResult {
  int64_t steps = 0;          // optimizer steps done in total (including before a resume)
  double seconds = 0;         // wall time of this invocation
  bool interrupted = false;   // stopped by SIGINT/SIGTERM after saving a checkpoint
  std::string checkpoint;     // the last checkpoint written
  std::vector<KnnRow> knn;    // every kNN evaluation of this invocation
  double knn_raw_pixels = -1; // top-1 (%) of the same kNN on the pixels (-1: no kNN ran)
  int64_t knn_test_images = 0;  // the test images of every kNN figure (their standard error)
  std::vector<double> last_loss;  // per width, the last logged step
  double first_lr = 0, last_lr = 0;  // the learning rate of this invocation's first and last step
};

struct TrainOptions {
  std::string run_dir;
  bool resume = false;
  bool quiet = false;  // no progress lines (tests)
  std::string init;    // a new run starts from these weights (ssl/train/warm_start.h)
  // slimssl diag: run until this step, past the schedule's end if need be (the scheduled lr then
  // holds its end value), at a constant lr when it is > 0, and skip the final kNN.
  int64_t until_step = 0;
  double constant_lr = 0;
  bool final_knn = true;
  bool force = false;  // start over in a directory that holds a run (its contents move aside)
};

// The run's optimizer over the query encoder: weight decay and LARS adaptation on conv/linear
// weights, neither on norms and biases.
Optimizer build_optimizer(const TrainConfig& c, Encoder& query);

TrainResult run_training(const TrainConfig& cfg, const TrainOptions& opts);

}  // namespace slimssl::train
