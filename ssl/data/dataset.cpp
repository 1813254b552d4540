// open_dataset(): decides which format a path holds and hands it to that loader.
#include "ssl/data/dataset.h"
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include "ssl/data/file_io.h"
#include "ssl/data/loaders.h"

namespace fs = std::filesystem;

namespace slimssl::data {

const std::vector<std::string> kFashionMnistClasses = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

const uint8_t* Dataset::image(int64_t i) const {
  SLIMSSL_CHECK(i >= 0 && i < size(), "Dataset::image: index ", i, " out of range for ", size(), " images");
  return images.data<uint8_t>() + i * height() * width() * channels();
}

int64_t Dataset::label(int64_t i) const {
  SLIMSSL_CHECK(i >= 0 && i < size(), "Dataset::label: index ", i, " out of range for ", size(), " images");
  return labels.data<int64_t>()[i];
}

std::string find_fashion_mnist() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("SLIMSSL_FASHION_MNIST_DIR")) candidates.push_back(env);
  candidates.push_back("/usr/share/datasets/fashion-mnist");
  for (auto& c : candidates)
    if (is_directory(c) && is_idx_dir(c)) return c;
  return "";
}

std::string resolve_source(const std::string& path_or_name) {
  if (path_or_name != "fashion-mnist") return path_or_name;
  std::string dir = find_fashion_mnist();
  SLIMSSL_CHECK(!dir.empty(), "fashion-mnist: not installed (apt-get install dataset-fashion-mnist puts it in "
                "/usr/share/datasets/fashion-mnist; or set SLIMSSL_FASHION_MNIST_DIR)");
  return dir;
}

namespace {

std::vector<std::string> entries(const std::string& dir, bool want_dirs) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (!n.empty() && n[0] != '.' && e.is_directory() == want_dirs) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A directory whose only content is a directory of IDX or CIFAR files (as the CIFAR archives
// unpack: cifar-10-batches-bin/) stands for that directory.
std::string descend_wrapper(const std::string& dir) {
  auto dirs = entries(dir, true);
  if (dirs.size() == 1 && entries(dir, false).empty()) {
    std::string inner = path_join(dir, dirs[0]);
    if (is_idx_dir(inner) || is_cifar_dir(inner)) return inner;
  }
  return dir;
}

// Archives in a directory with no subdirectories: one per split, chosen by a name token
// ("cifar10-train-jpeg.tar.gz" is the train split), or a single archive holding everything.
std::vector<std::string> archives_in(const std::string& dir) {
  if (!entries(dir, true).empty()) return {};
  std::vector<std::string> out;
  for (auto& f : entries(dir, false))
    if (is_tar_name(f)) out.push_back(f);
  return out;
}

bool name_has_token(const std::string& name, const std::string& token) {
  std::string cur;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && std::isalnum(static_cast<unsigned char>(name[i]))) {
      cur += static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
    } else {
      if (cur == token) return true;
      cur.clear();
    }
  }
  return false;
}

std::string archive_for_split(const std::string& dir, const std::vector<std::string>& archives, const std::string& split) {
  if (archives.size() == 1) return path_join(dir, archives[0]);
  for (auto& a : archives)
    if (name_has_token(a, split)) return path_join(dir, a);
  fail(dir, ": no archive for the '", split, "' split among ", archives.size(), " archives (expected one whose name contains '",
       split, "')");
}

// A single file: a tar archive, a CIFAR batch, or an IDX images file (its labels file beside it).
Dataset open_file(const std::string& path, const std::string& split, const LoadOptions& options) {
  std::string name = file_name(path);
  if (is_tar_name(name)) return load_image_tar(path, split, options);
  if (name.size() > 4 && name.compare(name.size() - 4, 4, ".bin") == 0) {
    bool c100 = name == "train.bin" || name == "test.bin";
    Dataset ds = load_cifar_files({path}, c100 ? 2 : 1, c100 ? 100 : 10);
    ds.name = c100 ? "cifar100" : "cifar10";
    ds.split = "all";
    ds.source = path;
    return ds;
  }
  size_t at = name.find("images");
  if (at != std::string::npos && name.find("idx3") != std::string::npos) {
    std::string labels = name;
    labels.replace(at, 6, "labels");
    labels.replace(labels.find("idx3"), 4, "idx1");
    Dataset ds = load_idx_files(path, (fs::path(path).parent_path() / labels).string());
    ds.name = "idx";
    ds.split = "all";
    return ds;
  }
  fail(path, ": not a data set (expected a tar archive, a CIFAR .bin batch, an IDX images file, or a directory)");
}

}  // namespace

Dataset open_dataset(const std::string& path_or_name, const std::string& split, const LoadOptions& options) {
  SLIMSSL_CHECK(options.channels == 1 || options.channels == 3, "open_dataset: channels must be 1 or 3, got ", options.channels);
  SLIMSSL_CHECK((options.storage_height > 0) == (options.storage_width > 0) && options.storage_height >= 0,
                "open_dataset: storage size must give both height and width (got ", options.storage_height, "x",
                options.storage_width, ")");
  std::string path = resolve_source(path_or_name);
  SLIMSSL_CHECK(path_exists(path), path, ": no such file or directory");
  if (!is_directory(path)) return open_file(path, split, options);
  std::string dir = descend_wrapper(path);
  if (is_idx_dir(dir)) return load_idx_dir(dir, split);
  if (is_cifar_dir(dir)) return load_cifar_dir(dir, split);
  auto archives = archives_in(dir);
  if (!archives.empty()) {
    Dataset ds = load_image_tar(archive_for_split(dir, archives, split), split, options);
    if (archives.size() > 1) ds.name = file_name(dir);
    return ds;
  }
  return load_image_folder(dir, split, options);
}

std::vector<std::string> list_splits(const std::string& path_or_name) {
  std::string path = resolve_source(path_or_name);
  SLIMSSL_CHECK(path_exists(path), path, ": no such file or directory");
  if (!is_directory(path)) return is_tar_name(file_name(path)) ? tar_splits(path) : std::vector<std::string>{"all"};
  std::string dir = descend_wrapper(path);
  if (is_idx_dir(dir)) return idx_splits(dir);
  if (is_cifar_dir(dir)) return cifar_splits(dir);
  auto archives = archives_in(dir);
  if (archives.size() == 1) return tar_splits(path_join(dir, archives[0]));
  if (!archives.empty()) {
    std::vector<std::string> out;
    for (std::string s : {"train", "val", "test"})
      for (auto& a : archives)
        if (name_has_token(a, s)) {
          out.push_back(s);
          break;
        }
    return out;
  }
  return folder_splits(dir);
}

}  // namespace slimssl::data
