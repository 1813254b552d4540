// Starting a new run from trained weights (`slimssl train --init SOURCE`): a slimssl checkpoint
// (its query encoder), a run directory (its newest checkpoint), or an export / any safetensors
// file of backbone weights under plain names (torchvision's, timm's).
//
// Every tensor of the new run's query encoder is matched by name:
//   1. the same name in the source, same shape: copied;
//   2. otherwise through the plain name of its width: a slimmable network's per-width norm
//      "backbone.bn1.2.weight" is width index 2's copy of the plain "backbone.bn1.weight". Width
//      index 0 (and every shared weight) takes the source's full-width tensor whole; a narrower
//      width's own norm takes its leading channels. So SlimCLR can start from a pre-trained plain
//      network, and a plain run from a slimmable one's full width.
// Tensors found in neither way keep their initialization (missing); source tensors used by no
// target are unused (unexpected); same name, shapes that cannot be matched: mismatched. All are
// named in the report; the rest is loaded. The key encoder starts as a copy of the query.
#pragma once
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "ssl/train/learner.h"

namespace slimssl::train {

struct WarmStartReport {
  std::string source;  // the file read
  std::string kind;    // "checkpoint" or "weights" (an export or another safetensors file)
  std::vector<std::pair<std::string, std::string>> loaded;     // target <- source, copied whole
  std::vector<std::pair<std::string, std::string>> sliced;     // target <- source, leading channels
  std::vector<std::string> missing;                            // kept at initialization
  std::vector<std::string> unexpected;                         // source tensors not used
  std::vector<std::string> mismatched;                         // "name: source [..], model [..]"
  int64_t ignored = 0;  // a checkpoint's key encoder, queue and optimizer state (a new run starts its own)

  nlohmann::json to_json() const;
  // One line of counts, then one line per kind of problem naming every tensor.
  std::vector<std::string> lines() const;
};

// The file a --init argument names: a file as given, or a run directory's newest checkpoint.
std::string init_source_file(const std::string& path);
// The training configuration stored in a checkpoint; none for other files.
std::optional<nlohmann::json> stored_config(const std::string& file);
// Loads what matches into the learner's query encoder (and its key encoder); throws when nothing
// matches at all (the wrong file or model).
WarmStartReport warm_start(Learner& learner, const std::string& file);

}  // namespace slimssl::train
