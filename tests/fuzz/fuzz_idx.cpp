// IDX images + labels (plain or gzipped): the first input byte says where the labels file starts.
#include "fuzz_input.h"
#include "ssl/data/loaders.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t cut = 1 + std::min<size_t>(size - 1, data[0] * 4u);
  std::string labels = slimssl::fuzz::scratch_file("train-labels-idx1-ubyte", data + 1, cut - 1);
  std::string images = slimssl::fuzz::scratch_file("train-images-idx3-ubyte", data + cut, size - cut);
  slimssl::fuzz::expect_clean([&] { slimssl::data::load_idx_files(images, labels); });
  return 0;
}
