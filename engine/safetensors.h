// Named tensors in the safetensors format (https://github.com/huggingface/safetensors), the file
// format of checkpoints and exported models, so PyTorch can load what we write:
//
//   [8 bytes: header length N, little-endian u64]
//   [N bytes: JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//                   "__metadata__": {"key": "value"}}, padded with spaces to a multiple of 8]
//   [raw little-endian tensor bytes; offsets are relative to the start of this region]
//
// Supported dtypes: F32, F64, BF16, I32, I64, U8 (the engine's DType set).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>
#include "engine/tensor.h"

namespace slimssl {

struct SafetensorsFile {
  std::string path;
  std::vector<std::string> names;  // in the order their data lies in the file
  std::vector<Tensor> tensors;     // host, contiguous; tensors[i] is called names[i]
  std::map<std::string, std::string> metadata;

  bool contains(const std::string& name) const;
  // The tensor called `name`; an slimssl::Error naming the file when there is none.
  const Tensor& at(const std::string& name) const;
};

// Writes the tensors, in the given order, atomically: a temporary file in the same directory is
// written, flushed to disk and renamed over `path`, so a crash leaves either the old file or the
// new one, never a torn one. Tensors may be views or live on a GPU (copied to contiguous host
// memory first). Names must be unique and non-empty; "__metadata__" is reserved.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads and validates a whole file. Anything malformed (truncated, bad header, unknown dtype,
// offsets that do not tile the data exactly) is an slimssl::Error naming the file and the problem.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace slimssl
