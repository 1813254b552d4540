// A JPEG or PNG: the structure check, then decoding to gray or RGB (the first byte chooses) and
// the resize to a storage size.
#include "fuzz_input.h"
#include "ssl/data/image_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int channels = data[0] & 1 ? 3 : 1;
  slimssl::data::image_structure_problem(data + 1, size - 1);
  slimssl::fuzz::expect_clean([&] {
    auto img = slimssl::data::decode_image(data + 1, size - 1, channels);
    std::vector<uint8_t> out(size_t(7) * 5 * img.channels);
    slimssl::data::resize_bilinear_antialias(img.pixels.data(), img.height, img.width, img.channels, out.data(), 7, 5);
  });
  return 0;
}
