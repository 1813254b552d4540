// A CIFAR binary batch; the first input byte chooses CIFAR-10 (1 label byte) or CIFAR-100 (2).
#include "fuzz_input.h"
#include "ssl/data/loaders.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool c100 = data[0] & 1;
  std::string batch = slimssl::fuzz::scratch_file("data_batch_1.bin", data + 1, size - 1);
  slimssl::fuzz::expect_clean([&] { slimssl::data::load_cifar_files({batch}, c100 ? 2 : 1, c100 ? 100 : 10); });
  return 0;
}
