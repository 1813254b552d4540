// The training log of a run directory, in three forms written together, record by record:
//   metrics.jsonl                one JSON object per record (slimssl's own readers use it);
//   scalars.csv                  one row per scalar: wall_time,step,tag,value;
//   events.out.tfevents.*        TensorBoard scalars (ssl/train/tensorboard.h).
// Scalar tags are TYPE/KEY[/WIDTH] from a record's numbers ("train/loss", "train/lr",
// "train/info_nce/w1.00", "knn/top1/w0.50"); "step" is the step, not a scalar.
#pragma once
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include <nlohmann/json.hpp>
#include "ssl/train/tensorboard.h"

namespace slimssl::train {

// The scalars of one record: {"type": "train", "loss": 5.1, "info_nce": {"1.00": 5.0}} gives
// ("train/loss", 5.1), ("train/info_nce/w1.00", 5.0). Non-numbers are skipped.
std::vector<std::pair<std::string, double>> record_scalars(const nlohmann::json& record);

class RunLog {
 public:
  // `append`: continue the files of an earlier invocation (--resume); TensorBoard gets a new
  // event file either way (it reads every file of the directory).
  RunLog(const std::string& run_dir, bool append);
  // Writes the record (it must carry "type" and "step") to all three, flushed.
  void write(const nlohmann::json& record);

 private:
  std::string run_dir_;
  std::ofstream jsonl_, csv_;
  std::unique_ptr<EventFileWriter> events_;
};

}  // namespace slimssl::train
