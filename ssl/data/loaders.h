// The individual source formats behind open_dataset(). Each loader names the file and what was
// wrong on bad input; each `*_splits` function answers which splits a source offers.
#pragma once
#include <string>
#include <vector>
#include "ssl/data/dataset.h"

namespace slimssl::data {

// IDX (MNIST, Fashion-MNIST): DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
// ('.' instead of the '-' before "idx" is accepted too).
bool is_idx_dir(const std::string& dir);
std::vector<std::string> idx_splits(const std::string& dir);
Dataset load_idx_dir(const std::string& dir, const std::string& split);
// One images file and its labels file; classes are named "0".."K-1" (K = largest label + 1, at
// most 10) unless `classes` is given. A label outside them is an error naming the labels file.
Dataset load_idx_files(const std::string& images_path, const std::string& labels_path,
                       std::vector<std::string> classes = {});

// CIFAR binary: CIFAR-10 data_batch_{1..5}.bin / test_batch.bin (1 label byte + 3072 pixel bytes
// per record, names in batches.meta.txt), CIFAR-100 train.bin / test.bin (coarse and fine label
// bytes + 3072; the fine label is used, names in fine_label_names.txt).
bool is_cifar_dir(const std::string& dir);
std::vector<std::string> cifar_splits(const std::string& dir);
Dataset load_cifar_dir(const std::string& dir, const std::string& split);
// Record bytes of `files` in order; `label_bytes` is 1 (CIFAR-10) or 2 (CIFAR-100, fine label last).
Dataset load_cifar_files(const std::vector<std::string>& files, int label_bytes, int num_classes);

// Image folders root/<class>/<image> or root/<split>/<class>/<image>.
std::vector<std::string> folder_splits(const std::string& root);
Dataset load_image_folder(const std::string& root, const std::string& split, const LoadOptions& options);

// Tar archives (.tar, .tar.gz, .tgz) holding either folder layout.
std::vector<std::string> tar_splits(const std::string& archive);
Dataset load_image_tar(const std::string& archive, const std::string& split, const LoadOptions& options);

// Split names recognised as the first level of a folder or archive.
bool is_split_name(const std::string& name);

}  // namespace slimssl::data
