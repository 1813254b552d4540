// Bad input: every case gives an error that names the file and what was wrong; image folders
// with skip_bad_images skip and count bad files and never keep a half-decoded image.
#include <catch2/catch.hpp>
#include "ssl/data/dataset.h"
#include "ssl/data/image_decode.h"
#include "test_data_helpers.h"

using namespace slimssl;
using namespace slimssl::data;
using namespace slimssl::testing;
using Catch::Contains;

namespace {

Bytes truncated(Bytes b, size_t keep) {
  b.resize(keep);
  return b;
}

// A smooth 32x32 JPEG large enough that cutting it leaves a decodable-looking prefix.
Bytes sample_jpeg() { return jpg_bytes(32, 32, 3, pattern(32, 32, 3, 5), 90); }

}  // namespace

TEST_CASE("structure checks catch truncated and corrupt JPEG/PNG that stb_image would half-decode", "[data][bad]") {
  Bytes jpg = sample_jpeg(), png = png_bytes(8, 8, 3, pattern(8, 8, 3, 1));
  CHECK(image_structure_problem(jpg.data(), jpg.size()).empty());
  CHECK(image_structure_problem(png.data(), png.size()).empty());
  Bytes cut = truncated(jpg, jpg.size() * 2 / 3);
  CHECK_THAT(image_structure_problem(cut.data(), cut.size()), Contains("truncated JPEG"));
  Bytes cut_png = truncated(png, png.size() - 20);
  CHECK_THAT(image_structure_problem(cut_png.data(), cut_png.size()), Contains("truncated PNG"));
  Bytes flipped = png;
  flipped[flipped.size() / 2] ^= 0x5a;  // inside the image data: the chunk CRC no longer matches
  CHECK_THAT(image_structure_problem(flipped.data(), flipped.size()), Contains("corrupt PNG"));
  std::string text = "hello";
  CHECK_THAT(image_structure_problem(reinterpret_cast<const uint8_t*>(text.data()), text.size()),
             Contains("not a JPEG or PNG"));
  CHECK_THROWS_WITH(decode_image(cut.data(), cut.size(), 3), Contains("truncated JPEG"));
  // a JPEG whose header is garbled: the structure is intact but stb_image cannot decode it
  Bytes garbled = jpg;
  for (size_t i = 20; i < 120 && i < garbled.size(); ++i) garbled[i] = 0x11;
  CHECK_THROWS(decode_image(garbled.data(), garbled.size(), 3));
}

TEST_CASE("bad images in a folder are errors naming the file, or skipped and counted", "[data][bad]") {
  TempDir tmp;
  Bytes jpg = sample_jpeg();
  Bytes png = png_bytes(32, 32, 3, pattern(32, 32, 3, 2));
  write_file(tmp / "root/a/good1.jpg", jpg);
  write_file(tmp / "root/a/good2.png", png);
  write_file(tmp / "root/b/good3.png", png);
  write_file(tmp / "root/b/cut.jpg", truncated(jpg, jpg.size() / 2));
  Bytes corrupt = png;
  corrupt[60] ^= 0xff;
  write_file(tmp / "root/b/corrupt.png", corrupt);
  write_text(tmp / "root/b/notes.txt", "not an image");

  // without skipping: the first bad file in (class, path) order stops the load, named
  CHECK_THROWS_WITH(open_dataset(tmp / "root"), Contains(tmp / "root/b/corrupt.png") && Contains("corrupt PNG"));

  LoadOptions skip;
  skip.skip_bad_images = true;
  skip.quiet = true;
  Dataset ds = open_dataset(tmp / "root", "train", skip);
  CHECK(ds.size() == 3);
  REQUIRE(ds.skipped.size() == 3);
  CHECK_THAT(ds.skipped[0], Contains("corrupt.png") && Contains("corrupt PNG"));
  CHECK_THAT(ds.skipped[1], Contains("cut.jpg") && Contains("truncated JPEG"));
  CHECK_THAT(ds.skipped[2], Contains("notes.txt") && Contains("not a JPEG or PNG"));
  CHECK(ds.labels.to_vector<int64_t>() == std::vector<int64_t>{0, 0, 1});
  // the kept images are the good ones, whole
  Bytes got(ds.image(2), ds.image(2) + 32 * 32 * 3);
  CHECK(got == pattern(32, 32, 3, 2));
}

TEST_CASE("bad files inside a tar archive are named archive:member", "[data][bad][tar]") {
  TempDir tmp;
  TarWriter t;
  t.file("train/a/ok.png", png_bytes(4, 4, 3, pattern(4, 4, 3, 1)));
  t.file("train/a/bad.jpg", truncated(sample_jpeg(), 100));
  write_gz(tmp / "x.tar.gz", t.finish());
  CHECK_THROWS_WITH(open_dataset(tmp / "x.tar.gz"), Contains(tmp / "x.tar.gz:train/a/bad.jpg") && Contains("truncated JPEG"));
  LoadOptions skip;
  skip.skip_bad_images = true;
  skip.quiet = true;
  Dataset ds = open_dataset(tmp / "x.tar.gz", "train", skip);
  CHECK(ds.size() == 1);
  CHECK(ds.skipped.size() == 1);
}

TEST_CASE("empty class folders are errors, in folders and archives", "[data][bad]") {
  TempDir tmp;
  write_file(tmp / "root/full/1.png", png_bytes(2, 2, 3, pattern(2, 2, 3, 1)));
  std::filesystem::create_directories(tmp / "root/empty");
  CHECK_THROWS_WITH(open_dataset(tmp / "root"), Contains(tmp / "root/empty") && Contains("empty class folder"));
  std::filesystem::create_directories(tmp / "none");
  CHECK_THROWS_WITH(open_dataset(tmp / "none"), Contains("no class folders"));

  TarWriter t;
  t.directory("train/empty/");
  t.file("train/full/1.png", png_bytes(2, 2, 3, pattern(2, 2, 3, 1)));
  write_file(tmp / "e.tar", t.finish());
  CHECK_THROWS_WITH(open_dataset(tmp / "e.tar"), Contains("e.tar:train/empty/") && Contains("empty class folder"));
}

TEST_CASE("IDX files with a wrong magic number or a size disagreeing with the header", "[data][bad][idx]") {
  TempDir tmp;
  write_file(tmp / "m/train-labels-idx1-ubyte", idx_bytes({2}, {1, 2}));
  write_file(tmp / "m/train-images-idx3-ubyte", idx_bytes({2, 2, 2}, Bytes(8), 0x0D));  // float type
  CHECK_THROWS_WITH(open_dataset(tmp / "m"), Contains("train-images-idx3-ubyte") && Contains("wrong IDX magic"));
  write_file(tmp / "m/train-images-idx3-ubyte", idx_bytes({2, 2, 2}, Bytes(7)));  // one byte short
  CHECK_THROWS_WITH(open_dataset(tmp / "m"), Contains("train-images-idx3-ubyte") && Contains("header says [2, 2, 2]") &&
                                                 Contains("holds 7 data bytes"));
  write_gz(tmp / "m/train-images-idx3-ubyte", idx_bytes({2, 2, 2}, Bytes(9)));  // gzipped, one too many
  CHECK_THROWS_WITH(open_dataset(tmp / "m"), Contains("holds 9 data bytes"));
  write_file(tmp / "m/train-images-idx3-ubyte", idx_bytes({3, 2, 2}, Bytes(12)));
  CHECK_THROWS_WITH(open_dataset(tmp / "m"), Contains("3 images") && Contains("2 labels"));
  // a truncated gzip stream
  Bytes gz;
  write_gz(tmp / "g.gz", idx_bytes({2, 2, 2}, Bytes(8, 7)));
  {
    std::ifstream in(tmp / "g.gz", std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_file(tmp / "m/train-images-idx3-ubyte", truncated(gz, gz.size() - 6));
  CHECK_THROWS_WITH(open_dataset(tmp / "m"), Contains("train-images-idx3-ubyte"));
}

TEST_CASE("CIFAR batches of the wrong length, and labels out of range", "[data][bad][cifar]") {
  TempDir tmp;
  write_file(tmp / "c/data_batch_1.bin", Bytes(3073 * 2 + 5));
  CHECK_THROWS_WITH(open_dataset(tmp / "c"), Contains("data_batch_1.bin") && Contains("6151 bytes") &&
                                                 Contains("not a whole number of 3073-byte records"));
  Bytes rec(3073, 0);
  rec[0] = 12;
  write_file(tmp / "c/data_batch_1.bin", rec);
  CHECK_THROWS_WITH(open_dataset(tmp / "c"), Contains("data_batch_1.bin") && Contains("label 12"));
}

TEST_CASE("missing paths, missing splits and unknown files are named", "[data][bad]") {
  TempDir tmp;
  CHECK_THROWS_WITH(open_dataset(tmp / "nope"), Contains(tmp / "nope") && Contains("no such file or directory"));
  write_file(tmp / "root/a/1.png", png_bytes(2, 2, 3, pattern(2, 2, 3, 1)));
  CHECK_THROWS_WITH(open_dataset(tmp / "root", "test"), Contains("no split folders") && Contains("'test'"));
  write_file(tmp / "s/train/a/1.png", png_bytes(2, 2, 3, pattern(2, 2, 3, 1)));
  CHECK_THROWS_WITH(open_dataset(tmp / "s", "test"), Contains("split folders train, not 'test'"));
  CHECK_THROWS_WITH(open_dataset(tmp / "s", "all"), Contains("choose one"));
  TarWriter t;
  t.file("train/a/1.png", png_bytes(2, 2, 3, pattern(2, 2, 3, 1)));
  write_file(tmp / "t.tar", t.finish());
  CHECK_THROWS_WITH(open_dataset(tmp / "t.tar", "test"), Contains("t.tar holds split(s) train, not 'test'"));
  write_text(tmp / "weird.dat", "?");
  CHECK_THROWS_WITH(open_dataset(tmp / "weird.dat"), Contains("weird.dat") && Contains("not a data set"));
}

TEST_CASE("truncated and corrupt archives", "[data][bad][tar]") {
  TempDir tmp;
  TarWriter t;
  t.file("train/a/1.png", png_bytes(8, 8, 3, pattern(8, 8, 3, 1)));
  t.file("train/a/2.png", png_bytes(8, 8, 3, pattern(8, 8, 3, 2)));
  Bytes tar = t.finish();
  write_file(tmp / "cut.tar", truncated(tar, 700));  // inside the first member's data
  CHECK_THROWS_WITH(open_dataset(tmp / "cut.tar"), Contains("cut.tar") && Contains("truncated"));
  Bytes bad = tar;
  bad[10] ^= 0x20;  // the name changes, the checksum no longer matches
  write_file(tmp / "bad.tar", bad);
  CHECK_THROWS_WITH(open_dataset(tmp / "bad.tar"), Contains("bad.tar") && Contains("corrupt tar header"));
  write_gz(tmp / "cut.tar.gz", tar);
  Bytes gz;
  {
    std::ifstream in(tmp / "cut.tar.gz", std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), {});
  }
  write_file(tmp / "cut.tar.gz", truncated(gz, gz.size() / 2));
  CHECK_THROWS_WITH(open_dataset(tmp / "cut.tar.gz"), Contains("cut.tar.gz") && Contains("truncated"));
}
