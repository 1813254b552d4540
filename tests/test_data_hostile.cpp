// Hostile input to the loaders: headers whose sizes overflow or lie about the data, labels outside
// the classes, archive members and images that claim huge sizes, augmentation parameters at the
// edge, and a folder of many small images that must decode in bounded memory. Each is refused
// with an Error naming the file (or decoded within its bound), never undefined behaviour, a
// crash or an allocation the data cannot back.
#include <catch2/catch.hpp>
#include <zlib.h>
#include <cmath>
#include <limits>
#include "cli_process.h"
#include "ssl/data/augment.h"
#include "ssl/data/dataset.h"
#include "ssl/data/image_decode.h"
#include "ssl/data/loaders.h"
#include "test_data_helpers.h"

using namespace slimssl;
using namespace slimssl::data;
using namespace slimssl::testing;
using Catch::Contains;

namespace {

// Rewrites a ustar header's checksum after a field was changed.
void fix_tar_checksum(uint8_t* h) {
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += h[i];
  std::snprintf(reinterpret_cast<char*>(h + 148), 8, "%06o", sum);
  h[155] = ' ';
}

// A one-member archive whose size field claims `size` bytes (base-256, as GNU tar writes sizes
// of 8 GiB and more) though the member holds 512.
Bytes tar_claiming(uint64_t size, char type = '0') {
  TarWriter t;
  t.file("train/a/x.png", Bytes(512, 7));
  Bytes tar = t.finish();
  std::memset(tar.data() + 124, 0, 12);
  tar[124] = 0x80;
  for (int i = 0; i < 8; ++i) tar[135 - i] = static_cast<uint8_t>(size >> (8 * i));
  tar[156] = static_cast<uint8_t>(type);
  fix_tar_checksum(tar.data());
  return tar;
}

void put_be32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

}  // namespace

TEST_CASE("IDX dimensions whose product overflows are refused, with the file named", "[data][hostile][idx]") {
  TempDir tmp;
  write_file(tmp / "m/train-labels-idx1-ubyte", idx_bytes({2}, {1, 2}));
  // 2^32-1 cubed bytes: the product wraps in 64 bits (and was printed as a negative count)
  write_file(tmp / "m/train-images-idx3-ubyte", idx_bytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, Bytes(16)));
  CHECK_THROWS_WITH(open_dataset(tmp / "m"), Contains("train-images-idx3-ubyte") &&
                                                 Contains("[4294967295, 4294967295, 4294967295]") &&
                                                 Contains("more than 2^63 data bytes") && Contains("holds 16 data bytes"));
  // a product that fits but is not what the file holds: nothing is allocated for it
  write_file(tmp / "m/train-images-idx3-ubyte", idx_bytes({0x7FFFFFFFu, 0x7FFFFFFFu, 2}, Bytes(16)));
  CHECK_THROWS_WITH(open_dataset(tmp / "m"), Contains("9223372028264841218 data bytes") && Contains("holds 16"));
}

TEST_CASE("IDX labels outside the classes are refused, not trained on as extra classes", "[data][hostile][idx]") {
  TempDir tmp;
  write_file(tmp / "digits/train-images-idx3-ubyte", idx_bytes({3, 2, 2}, Bytes(12, 1)));
  write_file(tmp / "digits/train-labels-idx1-ubyte", idx_bytes({3}, {4, 200, 1}));
  CHECK_THROWS_WITH(open_dataset(tmp / "digits"), Contains("train-labels-idx1-ubyte") && Contains("label 200 of image 1") &&
                                                      Contains("at most 10 classes"));
  // named classes (Fashion-MNIST): exactly ten
  write_file(tmp / "fashion/train-images-idx3-ubyte", idx_bytes({2, 2, 2}, Bytes(8, 1)));
  write_file(tmp / "fashion/train-labels-idx1-ubyte", idx_bytes({2}, {9, 10}));
  CHECK_THROWS_WITH(open_dataset(tmp / "fashion"), Contains("label 10 of image 1") && Contains("10 classes"));
  // fewer classes than ten stay what the labels say
  write_file(tmp / "digits/train-labels-idx1-ubyte", idx_bytes({3}, {0, 2, 1}));
  CHECK(open_dataset(tmp / "digits").classes.size() == 3);
}

TEST_CASE("CIFAR-10 labels above 9 and CIFAR-100 labels out of range are refused", "[data][hostile][cifar]") {
  TempDir tmp;
  for (int label : {10, 255}) {
    Bytes rec(3073, 0);
    rec[0] = static_cast<uint8_t>(label);
    write_file(tmp / "c10/data_batch_1.bin", rec);
    CHECK_THROWS_WITH(open_dataset(tmp / "c10"), Contains("data_batch_1.bin") && Contains("label " + std::to_string(label)));
  }
  Bytes rec(3074, 0);
  rec[0] = 20;  // coarse label: one of 20 superclasses
  rec[1] = 5;
  write_file(tmp / "c100/train.bin", rec);
  CHECK_THROWS_WITH(open_dataset(tmp / "c100"), Contains("train.bin") && Contains("coarse label 20"));
  rec[0] = 3;
  rec[1] = 100;
  write_file(tmp / "c100/train.bin", rec);
  CHECK_THROWS_WITH(open_dataset(tmp / "c100"), Contains("train.bin") && Contains("label 100"));
}

TEST_CASE("tar members claiming huge sizes fail as truncated, without allocating the claim", "[data][hostile][tar]") {
  TempDir tmp;
  // 1 TiB claimed, 512 bytes present: read as far as the data goes, then refused
  write_file(tmp / "big.tar", tar_claiming(uint64_t(1) << 40));
  CHECK_THROWS_WITH(open_dataset(tmp / "big.tar"), Contains("big.tar") && Contains("truncated in member 'train/a/x.png'"));
  // a size no archive can have (size + padding would wrap)
  write_file(tmp / "wrap.tar", tar_claiming(~uint64_t(0) >> 1));
  CHECK_THROWS_WITH(open_dataset(tmp / "wrap.tar"), Contains("wrap.tar") && Contains("implausible member size"));
  // a long-name or pax record of 4 GiB is not read into memory
  write_file(tmp / "pax.tar", tar_claiming(uint64_t(1) << 32, 'x'));
  CHECK_THROWS_WITH(open_dataset(tmp / "pax.tar"), Contains("pax.tar") && Contains("extended header"));
}

TEST_CASE("an image header claiming a huge size is refused before decoding", "[data][hostile][image]") {
  // 20000 x 10000 RGB: 600 MB that stb_image would allocate (it refuses only beyond 1 GB)
  Bytes png = png_bytes(4, 4, 3, pattern(4, 4, 3, 1));
  put_be32(png.data() + 16, 20000);  // IHDR width
  put_be32(png.data() + 20, 10000);  // IHDR height
  put_be32(png.data() + 29, static_cast<uint32_t>(crc32(0L, png.data() + 12, 17)));  // the chunk stays valid
  REQUIRE(image_structure_problem(png.data(), png.size()).empty());
  CHECK_THROWS_WITH(decode_image(png.data(), png.size(), 3), Contains("20000x10000"));
}

TEST_CASE("augmentation parameters at the edge give crop boxes inside the image, or a clear refusal", "[data][hostile][augment]") {
  AugmentPipeline p;
  p.out_size = 8;
  // extreme aspect ratios: every attempt fails and the fallback must still keep a pixel
  for (auto [lo, hi] : {std::pair{1e30f, 1e30f}, std::pair{1e-30f, 1e-30f}, std::pair{1e-30f, 1e30f}}) {
    p.ratio_min = lo, p.ratio_max = hi;
    for (uint32_t idx = 0; idx < 50; ++idx) {
      ViewParams v = sample_view_params(p, 12, 20, 3, 0, idx, 0);
      INFO("ratio [" << lo << ", " << hi << "] sample " << idx);
      CHECK(v.height >= 1);
      CHECK(v.width >= 1);
      CHECK(v.top >= 0);
      CHECK(v.left >= 0);
      CHECK(v.top + v.height <= 12);
      CHECK(v.left + v.width <= 20);
    }
  }
  AugmentPipeline q;
  q.out_size = 1 << 20;  // a [B, C, 2^20, 2^20] batch: its size overflowed before anything checked it
  CHECK_THROWS_WITH(check_pipeline(q, 3), Contains("out_size"));
  q = AugmentPipeline{};
  q.ratio_max = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH(check_pipeline(q, 3), Contains("finite"));
  q = AugmentPipeline{};
  q.resize_size = std::numeric_limits<int32_t>::max();
  CHECK_THROWS_WITH(check_pipeline(q, 3), Contains("resize_size"));
}

TEST_CASE("slimssl data decodes a folder of many small images in bounded memory", "[data][hostile][memory]") {
  // Each file used to keep a 1 MiB read buffer until the whole folder was decoded: 1,500 files of
  // under 1 KiB then took 1.5 GB. The real binary's peak memory is measured (a child process) on
  // that folder and on a folder of one image; the difference is what the 1,500 images cost.
  TempDir tmp;
  const int files = 1500;
  for (int i = 0; i < files; ++i)
    write_file(tmp / ("set/c" + std::to_string(i % 3) + "/" + std::to_string(i) + ".png"), png_bytes(32, 32, 3, pattern(32, 32, 3, i)));
  write_file(tmp / "one/c0/0.png", png_bytes(32, 32, 3, pattern(32, 32, 3, 0)));
  CliExit e;
  const long one = peak_rss_kib({"data", tmp / "one", "--threads", "2"}, tmp / "log1", e);
  REQUIRE(e.status == 0);
  const long all = peak_rss_kib({"data", tmp / "set", "--threads", "2"}, tmp / "log2", e);
  INFO(e.output);
  REQUIRE(e.status == 0);
  CHECK_THAT(e.output, Contains("1500 images"));
  // decoded pixels are 4.6 MB, held twice while the tensor is assembled; sanitizer builds keep
  // freed memory in quarantine for a while, so a margin of 128 MiB, far below the 1.5 GB above
  INFO("peak RSS: one image " << one << " KiB, 1500 images " << all << " KiB");
  REQUIRE(one > 0);
  CHECK(all - one < 128 * 1024);
}
