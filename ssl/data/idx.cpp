// IDX files (the MNIST format): a 4-byte magic (0, 0, type, ndim), ndim big-endian uint32 sizes,
// then the data. Only unsigned bytes (type 0x08) occur in MNIST-style sets.
#include <algorithm>
#include <filesystem>
#include "engine/size_math.h"
#include "ssl/data/file_io.h"
#include "ssl/data/loaders.h"

namespace fs = std::filesystem;

namespace slimssl::data {

namespace {

constexpr int64_t kIdxMaxClasses = 10;

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;  // the whole file; data starts at `offset`
  size_t offset = 0;
};

IdxArray read_idx(const std::string& path, int expected_ndim) {
  IdxArray a;
  a.bytes = read_file_bytes(path);
  const auto& b = a.bytes;
  SLIMSSL_CHECK(b.size() >= 4, path, ": not an IDX file (", b.size(), " bytes, shorter than the header)");
  SLIMSSL_CHECK(b[0] == 0 && b[1] == 0 && b[2] == 0x08 && b[3] == expected_ndim, path,
                ": wrong IDX magic number ", std::hex, "0x", (uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 |
                uint32_t(b[2]) << 8 | b[3]), std::dec, ", expected 0x0000080", expected_ndim,
                " (unsigned bytes, ", expected_ndim, " dimensions)");
  a.offset = 4 + 4 * static_cast<size_t>(expected_ndim);
  SLIMSSL_CHECK(b.size() >= a.offset, path, ": IDX header truncated (", b.size(), " bytes)");
  for (int d = 0; d < expected_ndim; ++d) {
    const uint8_t* p = b.data() + 4 + 4 * d;
    a.dims.push_back(int64_t(p[0]) << 24 | int64_t(p[1]) << 16 | int64_t(p[2]) << 8 | int64_t(p[3]));
  }
  const auto count = checked_product(a.dims);
  const size_t held = b.size() - a.offset;
  SLIMSSL_CHECK(count && static_cast<uint64_t>(*count) == held, path, ": IDX header says ", shape_str(a.dims), " (",
                count ? std::to_string(*count) : std::string("more than 2^63"), " data bytes) but the file holds ", held,
                " data bytes");
  return a;
}

// "train-images-idx3-ubyte", "train-images.idx3-ubyte", each optionally ".gz".
std::string find_idx_file(const std::string& dir, const std::string& prefix, const std::string& what) {
  for (const char* sep : {"-", "."})
    for (const char* gz : {".gz", ""}) {
      std::string p = path_join(dir, prefix + "-" + what + sep + (what == "images" ? "idx3" : "idx1") + "-ubyte" + gz);
      if (path_exists(p)) return p;
    }
  return "";
}

const char* split_prefix(const std::string& split) { return split == "test" ? "t10k" : "train"; }

}  // namespace

bool is_idx_dir(const std::string& dir) { return !idx_splits(dir).empty(); }

std::vector<std::string> idx_splits(const std::string& dir) {
  std::vector<std::string> out;
  for (std::string s : {"train", "test"})
    if (!find_idx_file(dir, split_prefix(s), "images").empty()) out.push_back(s);
  return out;
}

Dataset load_idx_files(const std::string& images_path, const std::string& labels_path,
                       std::vector<std::string> classes) {
  IdxArray im = read_idx(images_path, 3);
  IdxArray lb = read_idx(labels_path, 1);
  SLIMSSL_CHECK(im.dims[0] == lb.dims[0], images_path, " holds ", im.dims[0], " images but ",
                labels_path, " holds ", lb.dims[0], " labels");
  int64_t n = im.dims[0], h = im.dims[1], w = im.dims[2];
  Dataset ds;
  ds.kind = "idx";
  ds.source = images_path;
  ds.images = Tensor::empty({n, h, w, 1}, DType::U8);
  std::copy(im.bytes.begin() + im.offset, im.bytes.end(), ds.images.data<uint8_t>());
  ds.labels = Tensor::empty({n}, DType::I64);
  int64_t* lab = ds.labels.data<int64_t>();
  // IDX sets are MNIST-style: at most ten classes, named by digit unless names are given (then
  // exactly those). A label beyond them is a corrupt byte, refused rather than trained on as a
  // class of its own.
  const int64_t limit = classes.empty() ? kIdxMaxClasses : static_cast<int64_t>(classes.size());
  int64_t max_label = 0;
  for (int64_t i = 0; i < n; ++i) {
    lab[i] = lb.bytes[lb.offset + i];
    SLIMSSL_CHECK(lab[i] < limit, labels_path, ": label ", lab[i], " of image ", i, " is out of range (an IDX set has ",
                  classes.empty() ? "at most " : "", limit, " classes, labels 0..", limit - 1, ")");
    max_label = std::max(max_label, lab[i]);
  }
  if (classes.empty())
    for (int64_t k = 0; k <= max_label; ++k) classes.push_back(std::to_string(k));
  ds.classes = std::move(classes);
  return ds;
}

Dataset load_idx_dir(const std::string& dir, const std::string& split) {
  SLIMSSL_CHECK(split == "train" || split == "test", dir, ": IDX data has splits train and test, not '", split, "'");
  std::string images = find_idx_file(dir, split_prefix(split), "images");
  std::string labels = find_idx_file(dir, split_prefix(split), "labels");
  SLIMSSL_CHECK(!images.empty(), dir, ": no ", split_prefix(split), "-images-idx3-ubyte[.gz] file");
  SLIMSSL_CHECK(!labels.empty(), dir, ": no ", split_prefix(split), "-labels-idx1-ubyte[.gz] file");
  // The files do not say which set they are; a directory name containing "fashion" does.
  std::string lower = fs::absolute(dir).lexically_normal().string();
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  bool fashion = lower.find("fashion") != std::string::npos;
  Dataset ds = load_idx_files(images, labels, fashion ? kFashionMnistClasses : std::vector<std::string>{});
  ds.name = fashion ? "fashion-mnist" : "mnist";
  ds.split = split;
  ds.source = dir;
  return ds;
}

}  // namespace slimssl::data
