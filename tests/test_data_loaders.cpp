// Every data set loader on small files the tests write themselves: IDX (plain and gzipped),
// CIFAR-10/100 binary, image folders, tar and tar.gz archives, a directory of per-split archives.
#include <catch2/catch.hpp>
#include <cstdlib>
#include "ssl/data/dataset.h"
#include "ssl/data/tar_reader.h"
#include "test_data_helpers.h"

using namespace slimssl;
using namespace slimssl::data;
using namespace slimssl::testing;

namespace {

std::vector<uint8_t> image_bytes(const Dataset& ds, int64_t i) {
  const int64_t n = ds.height() * ds.width() * ds.channels();
  return std::vector<uint8_t>(ds.image(i), ds.image(i) + n);
}

// root/<split>/<class>/<name>.png with distinct lossless patterns; returns the patterns by path.
void write_png_tree(const std::string& root, const std::vector<std::string>& rel_paths, int w, int h) {
  int seed = 0;
  for (auto& rel : rel_paths) write_file(root + "/" + rel, png_bytes(w, h, 3, pattern(w, h, 3, seed++)));
}

}  // namespace

TEST_CASE("IDX files load gzipped or plain, with Fashion-MNIST names when the folder says so", "[data][idx]") {
  TempDir tmp;
  Bytes train_px(5 * 4 * 3), test_px(2 * 4 * 3);
  for (size_t i = 0; i < train_px.size(); ++i) train_px[i] = static_cast<uint8_t>(i * 3);
  for (size_t i = 0; i < test_px.size(); ++i) test_px[i] = static_cast<uint8_t>(200 - i);
  for (std::string dir : {"digits", "fashion-set"}) {
    write_gz(tmp / (dir + "/train-images-idx3-ubyte.gz"), idx_bytes({5, 4, 3}, train_px));
    write_gz(tmp / (dir + "/train-labels-idx1-ubyte.gz"), idx_bytes({5}, {3, 0, 9, 1, 1}));
    write_file(tmp / (dir + "/t10k-images-idx3-ubyte"), idx_bytes({2, 4, 3}, test_px));
    write_file(tmp / (dir + "/t10k-labels-idx1-ubyte"), idx_bytes({2}, {7, 2}));
  }
  Dataset train = open_dataset(tmp / "digits", "train");
  CHECK(train.kind == "idx");
  CHECK(train.name == "mnist");
  CHECK(train.images.shape() == Shape{5, 4, 3, 1});
  CHECK(train.labels.to_vector<int64_t>() == std::vector<int64_t>{3, 0, 9, 1, 1});
  CHECK(image_bytes(train, 2) == Bytes(train_px.begin() + 24, train_px.begin() + 36));
  CHECK(train.classes.size() == 10);
  CHECK(train.classes[9] == "9");
  Dataset test = open_dataset(tmp / "digits", "test");
  CHECK(test.images.shape() == Shape{2, 4, 3, 1});
  CHECK(image_bytes(test, 1) == Bytes(test_px.begin() + 12, test_px.end()));
  CHECK(list_splits(tmp / "digits") == std::vector<std::string>{"train", "test"});

  Dataset fashion = open_dataset(tmp / "fashion-set", "test");
  CHECK(fashion.name == "fashion-mnist");
  CHECK(fashion.classes == kFashionMnistClasses);
  CHECK(fashion.classes[fashion.label(0)] == "Sneaker");

  // a single images file, its labels file found beside it
  Dataset single = open_dataset(tmp / "digits/t10k-images-idx3-ubyte");
  CHECK(single.size() == 2);
  CHECK(single.label(1) == 2);
}

TEST_CASE("fashion-mnist is found by name, overridable by SLIMSSL_FASHION_MNIST_DIR", "[data][idx]") {
  TempDir tmp;
  write_file(tmp / "fm/train-images-idx3-ubyte", idx_bytes({1, 2, 2}, {1, 2, 3, 4}));
  write_file(tmp / "fm/train-labels-idx1-ubyte", idx_bytes({1}, {4}));
  const char* old = std::getenv("SLIMSSL_FASHION_MNIST_DIR");
  std::string saved = old ? old : "";
  setenv("SLIMSSL_FASHION_MNIST_DIR", (tmp / "fm").c_str(), 1);
  CHECK(find_fashion_mnist() == tmp / "fm");
  Dataset ds = open_dataset("fashion-mnist", "train");
  CHECK(ds.size() == 1);
  CHECK(ds.label(0) == 4);
  if (old) setenv("SLIMSSL_FASHION_MNIST_DIR", saved.c_str(), 1);
  else unsetenv("SLIMSSL_FASHION_MNIST_DIR");
}

TEST_CASE("CIFAR-10 and CIFAR-100 binary batches load as HWC with names", "[data][cifar]") {
  TempDir tmp;
  auto record = [](int label_bytes, uint8_t coarse, uint8_t label, int seed) {
    Bytes r;
    if (label_bytes == 2) r.push_back(coarse);
    r.push_back(label);
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 1024; ++p) r.push_back(static_cast<uint8_t>((seed + c * 50 + p) % 251));
    return r;
  };
  auto batch = [&](int label_bytes, std::vector<std::pair<int, int>> labels_seeds) {
    Bytes b;
    for (auto [l, s] : labels_seeds) {
      auto r = record(label_bytes, 17, static_cast<uint8_t>(l), s);
      b.insert(b.end(), r.begin(), r.end());
    }
    return b;
  };
  write_file(tmp / "c10/data_batch_1.bin", batch(1, {{6, 0}, {9, 1}, {0, 2}}));
  write_file(tmp / "c10/data_batch_2.bin", batch(1, {{3, 3}, {1, 4}}));
  write_file(tmp / "c10/test_batch.bin", batch(1, {{8, 5}}));
  Dataset ds = open_dataset(tmp / "c10", "train");
  CHECK(ds.kind == "cifar-binary");
  CHECK(ds.name == "cifar10");
  CHECK(ds.images.shape() == Shape{5, 32, 32, 3});
  CHECK(ds.labels.to_vector<int64_t>() == std::vector<int64_t>{6, 9, 0, 3, 1});
  CHECK(ds.classes[6] == "frog");  // standard names when batches.meta.txt is absent
  // record 3 (seed 3), pixel (y=2, x=5) = planar index 69, channel 1 (green)
  CHECK(ds.image(3)[(2 * 32 + 5) * 3 + 1] == (3 + 50 + 69) % 251);
  CHECK(open_dataset(tmp / "c10", "test").size() == 1);
  CHECK(list_splits(tmp / "c10") == std::vector<std::string>{"train", "test"});

  write_text(tmp / "c10/batches.meta.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n");
  CHECK(open_dataset(tmp / "c10", "test").classes[0] == "a");

  // CIFAR-100: two label bytes (coarse, fine); the fine one is the label; wrapper dir descended
  write_file(tmp / "wrap/cifar-100-binary/train.bin", batch(2, {{42, 0}, {99, 1}}));
  write_file(tmp / "wrap/cifar-100-binary/test.bin", batch(2, {{5, 2}}));
  Dataset c100 = open_dataset(tmp / "wrap", "train");
  CHECK(c100.name == "cifar100");
  CHECK(c100.labels.to_vector<int64_t>() == std::vector<int64_t>{42, 99});
  CHECK(c100.classes.size() == 100);
  CHECK(c100.image(1)[0] == 1);  // seed 1, red plane, pixel 0
}

TEST_CASE("image folders: classes sorted as labels, images ordered by path, pixels exact", "[data][folder]") {
  TempDir tmp;
  write_png_tree(tmp / "flat", {"dog/b.png", "cat/z.png", "cat/a.png", "dog/nested/c.png"}, 6, 5);
  write_text(tmp / "flat/README.txt", "files at the root are ignored");
  write_text(tmp / "flat/cat/.DS_Store", "hidden files are ignored");
  Dataset ds = open_dataset(tmp / "flat", "train");
  CHECK(ds.kind == "image-folder");
  CHECK(ds.split == "all");
  CHECK(ds.classes == std::vector<std::string>{"cat", "dog"});
  CHECK(ds.images.shape() == Shape{4, 5, 6, 3});
  CHECK(ds.labels.to_vector<int64_t>() == std::vector<int64_t>{0, 0, 1, 1});
  CHECK(image_bytes(ds, 0) == pattern(6, 5, 3, 2));  // cat/a.png was written third
  CHECK(image_bytes(ds, 1) == pattern(6, 5, 3, 1));  // cat/z.png
  CHECK(image_bytes(ds, 2) == pattern(6, 5, 3, 0));  // dog/b.png
  CHECK(image_bytes(ds, 3) == pattern(6, 5, 3, 3));  // dog/nested/c.png
  CHECK(list_splits(tmp / "flat") == std::vector<std::string>{"all"});
  // one thread or four: the same data set
  LoadOptions one;
  one.threads = 1;
  CHECK(open_dataset(tmp / "flat", "all", one).images.to_vector<uint8_t>() == ds.images.to_vector<uint8_t>());

  // split folders, and grayscale loading (luma of the RGB pattern)
  write_png_tree(tmp / "split", {"train/a/1.png", "train/b/2.png", "test/a/3.png", "test/b/4.png"}, 4, 4);
  CHECK(list_splits(tmp / "split") == std::vector<std::string>{"train", "test"});
  LoadOptions gray;
  gray.channels = 1;
  Dataset test = open_dataset(tmp / "split", "test", gray);
  CHECK(test.split == "test");
  CHECK(test.images.shape() == Shape{2, 4, 4, 1});
  Bytes rgb = pattern(4, 4, 3, 2);
  int luma = (rgb[0] * 77 + rgb[1] * 150 + rgb[2] * 29) >> 8;  // stb_image's integer luma
  CHECK(std::abs(int(test.image(0)[0]) - luma) <= 1);
}

TEST_CASE("JPEG images decode close to what was encoded", "[data][folder]") {
  TempDir tmp;
  Bytes smooth(16 * 16 * 3);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c) smooth[(y * 16 + x) * 3 + c] = static_cast<uint8_t>(60 + 4 * x + 3 * y + 20 * c);
  write_file(tmp / "j/a/img.jpg", jpg_bytes(16, 16, 3, smooth, 98));
  Dataset ds = open_dataset(tmp / "j", "train");
  double err = 0;
  for (size_t i = 0; i < smooth.size(); ++i) err += std::abs(int(ds.image(0)[i]) - int(smooth[i]));
  CHECK(err / smooth.size() < 3.0);
}

TEST_CASE("a storage size resizes images of any size on load (antialiased bilinear)", "[data][folder]") {
  TempDir tmp;
  Bytes flat_color(12 * 8 * 3), stripes(10 * 10 * 3);
  for (size_t i = 0; i < flat_color.size(); i += 3) flat_color[i] = 200, flat_color[i + 1] = 100, flat_color[i + 2] = 50;
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 10; ++x)
      for (int c = 0; c < 3; ++c) stripes[(y * 10 + x) * 3 + c] = x % 2 ? 255 : 0;
  write_file(tmp / "s/a/flat.png", png_bytes(12, 8, 3, flat_color));
  write_file(tmp / "s/b/stripes.png", png_bytes(10, 10, 3, stripes));
  REQUIRE_THROWS_WITH(open_dataset(tmp / "s"), Catch::Contains("images differ in size") && Catch::Contains("storage size"));
  LoadOptions o;
  o.storage_height = o.storage_width = 5;
  Dataset ds = open_dataset(tmp / "s", "all", o);
  CHECK(ds.images.shape() == Shape{2, 5, 5, 3});
  for (int p = 0; p < 25; ++p) {
    CHECK(ds.image(0)[p * 3] == 200);  // a constant image stays constant
    CHECK(ds.image(0)[p * 3 + 2] == 50);
  }
  // halving 1-pixel stripes averages them (point sampling would give 0 or 255)
  CHECK(std::abs(int(ds.image(1)[(2 * 5 + 2) * 3]) - 128) <= 2);
}

TEST_CASE("tar and tar.gz archives are read directly, with or without split folders", "[data][tar]") {
  TempDir tmp;
  std::string long_dir = "test/cat/" + std::string(120, 'd');
  TarWriter t;
  t.directory("./train/");
  t.directory("./train/cat/");
  t.file("./train/cat/1.png", png_bytes(3, 2, 3, pattern(3, 2, 3, 1)));
  t.file("./train/dog/2.png", png_bytes(3, 2, 3, pattern(3, 2, 3, 2)));
  t.file("./train/dog/3.png", png_bytes(3, 2, 3, pattern(3, 2, 3, 3)), /*gnu_long_name=*/true);
  t.file(long_dir + "/4.png", png_bytes(3, 2, 3, pattern(3, 2, 3, 4)));  // ustar prefix field
  t.file("train/notes.txt", {'x'});  // a file beside the class folders: ignored
  Bytes tar = t.finish();
  write_file(tmp / "set.tar", tar);
  write_gz(tmp / "set.tar.gz", tar);
  for (std::string name : {"set.tar", "set.tar.gz"}) {
    INFO(name);
    Dataset train = open_dataset(tmp / name, "train");
    CHECK(train.kind == "image-tar");
    CHECK(train.name == "set");
    CHECK(train.classes == std::vector<std::string>{"cat", "dog"});
    CHECK(train.labels.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 1});
    CHECK(image_bytes(train, 2) == pattern(3, 2, 3, 3));
    Dataset test = open_dataset(tmp / name, "test");
    CHECK(test.size() == 1);
    CHECK(image_bytes(test, 0) == pattern(3, 2, 3, 4));
    CHECK(list_splits(tmp / name) == std::vector<std::string>{"train", "test"});
  }
  // the reader sees every member, paths cleaned of "./"
  TarReader reader(tmp / "set.tar.gz");
  TarMember m;
  std::vector<std::string> files;
  while (reader.next(m))
    if (m.regular) files.push_back(m.path);
  CHECK(files == std::vector<std::string>{"train/cat/1.png", "train/dog/2.png", "train/dog/3.png", long_dir + "/4.png",
                                          "train/notes.txt"});

  // flat layout archive: one split, "all"
  TarWriter f;
  f.file("b/x.png", png_bytes(2, 2, 3, pattern(2, 2, 3, 7)));
  f.file("a/y.png", png_bytes(2, 2, 3, pattern(2, 2, 3, 8)));
  write_file(tmp / "flat.tgz", Bytes());
  write_gz(tmp / "flat.tgz", f.finish());
  Dataset flat = open_dataset(tmp / "flat.tgz");
  CHECK(flat.split == "all");
  CHECK(flat.classes == std::vector<std::string>{"a", "b"});
  CHECK(image_bytes(flat, 0) == pattern(2, 2, 3, 8));
}

TEST_CASE("a directory of per-split archives picks the archive by split name", "[data][tar]") {
  TempDir tmp;
  for (std::string split : {"train", "test"}) {
    TarWriter t;
    int n = split == "train" ? 3 : 2;
    for (int i = 0; i < n; ++i)
      t.file(split + "/c" + std::to_string(i % 2) + "/" + std::to_string(i) + ".jpg",
             jpg_bytes(4, 4, 3, pattern(4, 4, 3, i)));
    write_gz(tmp / ("cifar-like/mini-" + split + "-jpeg.tar.gz"), t.finish());
  }
  CHECK(list_splits(tmp / "cifar-like") == std::vector<std::string>{"train", "test"});
  Dataset train = open_dataset(tmp / "cifar-like", "train");
  Dataset test = open_dataset(tmp / "cifar-like", "test");
  CHECK(train.name == "cifar-like");
  CHECK(train.size() == 3);
  CHECK(test.size() == 2);
  CHECK(test.split == "test");
}
