// Image folders and tar archives of them: root/<class>/<image> or root/<split>/<class>/<image>.
// Class names sorted alphabetically are the labels; hidden entries (".name") are ignored, as are
// files lying directly in the root or a split folder. Every other file in a class folder must be
// a JPEG or PNG image.
#include <algorithm>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include "engine/error.h"
#include "ssl/data/file_io.h"
#include "ssl/data/image_collection.h"
#include "ssl/data/loaders.h"
#include "ssl/data/tar_reader.h"

namespace fs = std::filesystem;

namespace slimssl::data {

namespace {

bool hidden(const std::string& name) { return !name.empty() && name[0] == '.'; }

std::vector<std::string> sorted_subdirs(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && !hidden(e.path().filename().string())) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool whole_source(const std::string& split) { return split.empty() || split == "all"; }

// Which directory holds the class folders for `split`, and the split the result is called.
std::pair<std::string, std::string> class_root_for(const std::string& root, const std::string& split) {
  auto splits = folder_splits(root);
  if (splits == std::vector<std::string>{"all"}) {
    SLIMSSL_CHECK(whole_source(split) || split == "train", root, " holds class folders directly (no split folders), so it has no '",
                  split, "' split");
    return {root, "all"};
  }
  SLIMSSL_CHECK(!whole_source(split), root, " has split folders (", join_names(splits), "): choose one");
  SLIMSSL_CHECK(std::count(splits.begin(), splits.end(), split), root, " has split folders ", join_names(splits), ", not '", split, "'");
  return {path_join(root, split), split};
}

// Archive members are decoded in batches of about this many encoded bytes, one batch on the pool
// while the next is read: memory stays bounded and decompression overlaps decoding.
constexpr size_t kDecodeBatchBytes = size_t(8) << 20;
// Folder files are decoded this many at a time (they are read inside the workers).
constexpr size_t kFolderDecodeBatch = 4096;

std::string archive_stem(const std::string& path) {
  std::string n = file_name(path);
  for (const char* suf : {".tar.gz", ".tgz", ".tar"}) {
    std::string s(suf);
    if (n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0) return n.substr(0, n.size() - s.size());
  }
  return n;
}

// Where a tar member sits in the folder layout.
struct Placement {
  enum Kind { Ignore, Flat, Split } kind = Ignore;
  std::string split, class_name;
};

Placement place(const std::string& path, bool directory) {
  std::vector<std::string> c;
  for (size_t pos = 0; pos <= path.size();) {
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    if (end > pos) c.push_back(path.substr(pos, end - pos));
    pos = end + 1;
  }
  for (auto& part : c)
    if (hidden(part)) return {};
  size_t need = directory ? 1 : 2;  // a class folder itself, or a file inside one
  if (c.size() >= need + 1 && is_split_name(c[0])) return {Placement::Split, c[0], c[1]};
  if (c.size() >= need && !is_split_name(c[0]) && (!directory || c.size() == 1)) return {Placement::Flat, "", c[0]};
  return {};
}

}  // namespace

bool is_split_name(const std::string& name) { return name == "train" || name == "test" || name == "val"; }

namespace {

// train, val, test (the order a user reads them in), then "all".
std::vector<std::string> in_split_order(const std::set<std::string>& found) {
  std::vector<std::string> out;
  for (const char* s : {"train", "val", "test", "all"})
    if (found.count(s)) out.push_back(s);
  return out;
}

}  // namespace

std::vector<std::string> folder_splits(const std::string& root) {
  SLIMSSL_CHECK(is_directory(root), root, ": no such directory");
  std::set<std::string> found;
  for (auto& d : sorted_subdirs(root))
    if (is_split_name(d)) found.insert(d);
  if (found.empty()) found.insert("all");
  return in_split_order(found);
}

Dataset load_image_folder(const std::string& root, const std::string& split, const LoadOptions& options) {
  auto [class_root, split_name] = class_root_for(root, split);
  auto classes = sorted_subdirs(class_root);
  SLIMSSL_CHECK(!classes.empty(), class_root, ": no class folders (expected ", class_root, "/<class>/<image>)");
  // Paths are listed first (every class folder is checked before decoding starts), then decoded
  // in batches: each worker reads one file at a time, so encoded bytes in memory stay bounded by
  // the thread count whatever the folder holds.
  std::vector<EncodedImage> items;
  for (auto& cls : classes) {
    std::string dir = path_join(class_root, cls);
    std::vector<std::string> files;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
      std::string name = it->path().filename().string();
      if (hidden(name)) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file()) files.push_back(it->path().string());
    }
    SLIMSSL_CHECK(!files.empty(), dir, ": empty class folder");
    for (auto& f : files) items.push_back({f, cls, f, {}});
  }
  ImageCollection collection(options);
  // Decoded in bounded batches, each batch's encoded bytes released once decoded: memory stays
  // bounded by the decoded images, whatever the folder's size.
  for (size_t start = 0; start < items.size(); start += kFolderDecodeBatch) {
    size_t end = std::min(items.size(), start + kFolderDecodeBatch);
    std::vector<EncodedImage> batch(std::make_move_iterator(items.begin() + start), std::make_move_iterator(items.begin() + end));
    collection.decode(batch);
    if (options.progress)
      options.progress(static_cast<int64_t>(collection.count()), static_cast<double>(collection.count()) / items.size());
  }
  Dataset ds = collection.assemble(classes, root);
  ds.name = file_name(root);
  ds.kind = "image-folder";
  ds.split = split_name;
  ds.source = root;
  return ds;
}

std::vector<std::string> tar_splits(const std::string& archive) {
  TarReader tar(archive);
  std::set<std::string> splits;
  TarMember m;
  while (tar.next(m)) {
    Placement p = place(m.path, !m.regular);
    if (p.kind == Placement::Split) splits.insert(p.split);
    if (p.kind == Placement::Flat && m.regular) splits.insert("all");
  }
  return in_split_order(splits);
}

Dataset load_image_tar(const std::string& archive, const std::string& split, const LoadOptions& options) {
  TarReader tar(archive);
  ImageCollection collection(options);
  std::vector<EncodedImage> batch;
  size_t batch_bytes = 0;
  std::future<void> decoding;
  auto flush = [&] {
    if (decoding.valid()) decoding.get();
    // Between batches nothing decodes, so the count is stable.
    if (options.progress) options.progress(static_cast<int64_t>(collection.count()), tar.fraction_read());
    auto ready = std::make_shared<std::vector<EncodedImage>>(std::move(batch));
    batch.clear();
    batch_bytes = 0;
    decoding = std::async(std::launch::async, [&collection, ready] { collection.decode(*ready); });
  };
  std::map<std::string, int64_t> files_per_class;  // selected classes, including empty folders
  std::set<std::string> other_splits;
  bool flat = false, split_layout = false;
  TarMember m;
  while (tar.next(m)) {
    if (m.path.empty()) continue;
    bool directory = m.path.back() == '/' || !m.regular;
    Placement p = place(m.path, directory);
    if (p.kind == Placement::Ignore) continue;
    flat |= p.kind == Placement::Flat;
    split_layout |= p.kind == Placement::Split;
    bool selected = p.kind == Placement::Flat ? (whole_source(split) || split == "train") : p.split == split;
    if (!selected) {
      if (p.kind == Placement::Split) other_splits.insert(p.split);
      continue;
    }
    files_per_class[p.class_name] += 0;
    if (directory || !m.regular) continue;
    files_per_class[p.class_name] += 1;
    auto bytes = tar.read_data();
    batch_bytes += bytes.size();
    batch.push_back({archive + ":" + m.path, p.class_name, "", std::move(bytes)});
    if (batch_bytes >= kDecodeBatchBytes) flush();
  }
  flush();
  decoding.get();
  SLIMSSL_CHECK(!(flat && split_layout), archive, ": mixes class folders at the top level with split folders");
  if (split_layout && whole_source(split))
    fail(archive, " has split folders (", join_names({other_splits.begin(), other_splits.end()}), "): choose one");
  if (files_per_class.empty()) {
    SLIMSSL_CHECK(other_splits.empty(), archive, " holds split(s) ", join_names({other_splits.begin(), other_splits.end()}),
                  ", not '", split, "'");
    SLIMSSL_CHECK(flat || split_layout, archive, ": no images in <class>/<image> or <split>/<class>/<image> folders");
    fail(archive, " holds class folders directly (no split folders), so it has no '", split, "' split");
  }
  std::vector<std::string> classes;
  for (auto& [name, count] : files_per_class) {
    SLIMSSL_CHECK(count > 0, archive, ":", split_layout ? split + "/" : "", name, "/: empty class folder");
    classes.push_back(name);  // std::map iterates in sorted order
  }
  Dataset ds = collection.assemble(classes, archive);
  ds.name = archive_stem(archive);
  ds.kind = "image-tar";
  ds.split = flat ? "all" : split;
  ds.source = archive;
  return ds;
}

}  // namespace slimssl::data
