// Data sets held in memory: every image decoded once into one uint8 tensor [N, H, W, C] with
// int64 labels [N] and the class names (index = label). Small-image sets (MNIST, Fashion-MNIST,
// CIFAR, small image folders) live this way for a whole run; augmentations read from it.
//
// Sources (see docs/data.md for the exact layouts):
//   "fashion-mnist"                 the installed copy (find_fashion_mnist())
//   DIR with *-idx3-ubyte[.gz]      MNIST / Fashion-MNIST IDX files
//   DIR with data_batch_*.bin       CIFAR-10 binary; DIR with train.bin/test.bin: CIFAR-100
//   DIR/<class>/<image>             an image folder (JPEG/PNG), optionally DIR/<split>/<class>/...
//   FILE.tar[.gz|.tgz]              the same layouts inside a tar archive, streamed, not unpacked
//   DIR holding *train*.tar.gz, *test*.tar.gz: one archive per split (the shared CIFAR-10 copy)
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include "engine/tensor.h"

namespace slimssl::data {

struct Dataset {
  std::string name;    // "fashion-mnist", "mnist", "cifar10", "cifar100", or the folder/archive name
  std::string kind;    // "idx", "cifar-binary", "image-folder", "image-tar"
  std::string split;   // "train", "test", "val", or "all" for a source without split folders
  std::string source;  // the path it was read from
  Tensor images;       // uint8 [N, H, W, C], C = 1 or 3, contiguous, on the CPU
  Tensor labels;       // int64 [N]
  std::vector<std::string> classes;  // label -> name
  std::vector<std::string> skipped;  // "file: reason" for each bad image skipped (skip_bad_images)

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  int64_t height() const { return images.size(1); }
  int64_t width() const { return images.size(2); }
  int64_t channels() const { return images.size(3); }
  const uint8_t* image(int64_t i) const;  // HWC bytes of image i
  int64_t label(int64_t i) const;
};

struct LoadOptions {
  // Image folders / archives: every image is resized (antialiased bilinear) to this storage size,
  // height x width; 0 keeps the decoded size, which must then be the same for all images.
  int storage_height = 0, storage_width = 0;
  int channels = 3;              // image folders: 3 (RGB) or 1 (grayscale); IDX is 1, CIFAR is 3
  int threads = 0;               // decoding threads; 0 = all hardware threads
  bool skip_bad_images = false;  // image folders: skip and count undecodable files (warn once)
  bool quiet = false;            // no warning on stderr (the skipped list is still filled)
  // Image folders / archives: called as decoding goes with the images decoded so far and the
  // fraction of the source read (0 to 1), for a progress line.
  std::function<void(int64_t images, double fraction)> progress;
};

// Opens one split ("train", "test", "val"; "all" or "" for a source without split folders; a
// source without split folders also answers "train").
Dataset open_dataset(const std::string& path_or_name, const std::string& split = "train",
                     const LoadOptions& options = {});

// The splits a source offers, without decoding images (archives are scanned once).
std::vector<std::string> list_splits(const std::string& path_or_name);

// The installed Fashion-MNIST directory ($SLIMSSL_FASHION_MNIST_DIR, else
// /usr/share/datasets/fashion-mnist as put there by `apt-get install dataset-fashion-mnist`),
// or "" when neither holds the files.
std::string find_fashion_mnist();
extern const std::vector<std::string> kFashionMnistClasses;

// Resolves a name ("fashion-mnist") to a path; other strings are returned unchanged.
std::string resolve_source(const std::string& path_or_name);

}  // namespace slimssl::data
