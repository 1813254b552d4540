// CIFAR-10 / CIFAR-100 binary distribution: fixed-length records of label byte(s) followed by
// 1024 red, 1024 green, 1024 blue bytes (32x32, planar); stored here as HWC.
#include <fstream>
#include "ssl/data/file_io.h"
#include "ssl/data/loaders.h"

namespace slimssl::data {

namespace {

constexpr int kPixels = 32 * 32;
constexpr int kCifar100Coarse = 20;
const std::vector<std::string> kCifar10Classes = {"airplane", "automobile", "bird", "cat", "deer",
                                                  "dog", "frog", "horse", "ship", "truck"};

std::vector<std::string> cifar10_batches(const std::string& dir, const std::string& split) {
  std::vector<std::string> out;
  if (split == "test") {
    std::string p = path_join(dir, "test_batch.bin");
    if (path_exists(p)) out.push_back(p);
  } else if (split == "train") {
    for (int k = 1; k <= 5; ++k) {
      std::string p = path_join(dir, "data_batch_" + std::to_string(k) + ".bin");
      if (path_exists(p)) out.push_back(p);
    }
  }
  return out;
}

bool is_cifar100_dir(const std::string& dir) {
  return path_exists(path_join(dir, "train.bin")) || path_exists(path_join(dir, "test.bin"));
}

// One name per line; empty lines (batches.meta.txt ends with some) are dropped.
std::vector<std::string> read_names(const std::string& path) {
  std::vector<std::string> names;
  if (!path_exists(path)) return names;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  return names;
}

}  // namespace

bool is_cifar_dir(const std::string& dir) { return !cifar_splits(dir).empty(); }

std::vector<std::string> cifar_splits(const std::string& dir) {
  std::vector<std::string> out;
  bool c100 = is_cifar100_dir(dir);
  for (std::string s : {"train", "test"}) {
    bool has = c100 ? path_exists(path_join(dir, s + ".bin")) : !cifar10_batches(dir, s).empty();
    if (has) out.push_back(s);
  }
  return out;
}

Dataset load_cifar_files(const std::vector<std::string>& files, int label_bytes, int num_classes) {
  const size_t record = static_cast<size_t>(label_bytes) + 3 * kPixels;
  std::vector<std::vector<uint8_t>> contents;
  int64_t n = 0;
  for (auto& f : files) {
    contents.push_back(read_file_bytes(f));
    size_t len = contents.back().size();
    SLIMSSL_CHECK(len > 0 && len % record == 0, f, ": a CIFAR batch of ", len, " bytes is not a whole number of ",
                  record, "-byte records (", label_bytes, " label byte", label_bytes > 1 ? "s" : "", " + 3072 pixels)");
    n += static_cast<int64_t>(len / record);
  }
  Dataset ds;
  ds.kind = "cifar-binary";
  ds.images = Tensor::empty({n, 32, 32, 3}, DType::U8);
  ds.labels = Tensor::empty({n}, DType::I64);
  uint8_t* img = ds.images.data<uint8_t>();
  int64_t* lab = ds.labels.data<int64_t>();
  int64_t i = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const auto& b = contents[f];
    for (size_t r = 0; r < b.size(); r += record, ++i) {
      int label = b[r + label_bytes - 1];
      SLIMSSL_CHECK(label < num_classes, files[f], ": record ", r / record, " has label ", label, ", expected < ",
                    num_classes);
      // CIFAR-100 records start with the coarse (superclass) label, one of 20
      SLIMSSL_CHECK(label_bytes == 1 || b[r] < kCifar100Coarse, files[f], ": record ", r / record, " has coarse label ",
                    int(b[r]), ", expected < ", kCifar100Coarse);
      lab[i] = label;
      const uint8_t* px = b.data() + r + label_bytes;
      uint8_t* out = img + i * 3 * kPixels;
      for (int p = 0; p < kPixels; ++p)
        for (int c = 0; c < 3; ++c) out[p * 3 + c] = px[c * kPixels + p];
    }
  }
  for (int k = 0; k < num_classes; ++k) ds.classes.push_back(std::to_string(k));
  return ds;
}

Dataset load_cifar_dir(const std::string& dir, const std::string& split) {
  SLIMSSL_CHECK(split == "train" || split == "test", dir, ": CIFAR data has splits train and test, not '", split, "'");
  bool c100 = is_cifar100_dir(dir);
  std::vector<std::string> files;
  if (c100) {
    std::string p = path_join(dir, split + ".bin");
    SLIMSSL_CHECK(path_exists(p), p, ": no such file (CIFAR-100 ", split, " split)");
    files.push_back(p);
  } else {
    files = cifar10_batches(dir, split);
    SLIMSSL_CHECK(!files.empty(), dir, ": no ", split == "test" ? "test_batch.bin" : "data_batch_*.bin", " file");
  }
  int num_classes = c100 ? 100 : 10;
  Dataset ds = load_cifar_files(files, c100 ? 2 : 1, num_classes);
  auto names = read_names(path_join(dir, c100 ? "fine_label_names.txt" : "batches.meta.txt"));
  if (static_cast<int>(names.size()) == num_classes) ds.classes = names;
  else if (!c100) ds.classes = kCifar10Classes;  // the names file is optional; these are fixed
  ds.name = c100 ? "cifar100" : "cifar10";
  ds.split = split;
  ds.source = dir;
  return ds;
}

}  // namespace slimssl::data
