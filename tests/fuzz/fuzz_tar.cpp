// A tar archive (plain or gzipped) of image folders: the member walk, then the train split
// loaded with bad images skipped.
#include "fuzz_input.h"
#include "ssl/data/loaders.h"
#include "ssl/data/tar_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = slimssl::fuzz::scratch_file("input.tar", data, size);
  slimssl::fuzz::expect_clean([&] {
    slimssl::data::TarReader tar(path);
    slimssl::data::TarMember m;
    for (int k = 0; tar.next(m); ++k)
      if (m.regular && k % 2 == 0) tar.read_data();  // read some members, skip the others
  });
  slimssl::fuzz::expect_clean([&] {
    slimssl::data::LoadOptions o;
    o.skip_bad_images = true;
    o.quiet = true;
    o.threads = 1;
    slimssl::data::load_image_tar(path, "train", o);
  });
  return 0;
}
