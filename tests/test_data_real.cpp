// The real data sets, when present: the shared CIFAR-10 copy (cifar10/ in shared_data_dir(), by
// default ../shared/data beside the source tree) and the installed Fashion-MNIST. Skipped with a
// warning where absent. To stay fast the CIFAR test decodes the test split and only counts the
// train archive's members.
#include <catch2/catch.hpp>
#include <map>
#include "ssl/data/dataset.h"
#include "ssl/data/file_io.h"
#include "ssl/data/tar_reader.h"
#include "test_files.h"

using namespace slimssl;
using namespace slimssl::data;

TEST_CASE("the shared CIFAR-10 copy: 50,000 / 10,000 images in ten classes", "[data][real]") {
  const std::string dir = testing::shared_data_dir() + "/cifar10";
  if (!is_directory(dir)) {
    WARN("skipped: no CIFAR-10 copy at " << dir);
    return;
  }
  CHECK(list_splits(dir) == std::vector<std::string>{"train", "test"});
  Dataset test = open_dataset(dir, "test");
  CHECK(test.kind == "image-tar");
  CHECK(test.size() == 10000);
  CHECK(test.images.shape() == Shape{10000, 32, 32, 3});
  CHECK(test.classes == std::vector<std::string>{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                                 "horse", "ship", "truck"});
  std::vector<int64_t> per_class(10, 0);
  for (int64_t l : test.labels.to_vector<int64_t>()) per_class.at(l)++;
  CHECK(per_class == std::vector<int64_t>(10, 1000));

  TarReader train(dir + "/cifar10-train-jpeg.tar.gz");
  std::map<std::string, int64_t> counts;
  TarMember m;
  while (train.next(m))
    if (m.regular) counts[m.path.substr(0, m.path.rfind('/'))]++;
  int64_t total = 0;
  for (auto& [cls, n] : counts) total += n;
  CHECK(total == 50000);
  CHECK(counts.size() == 10);
  CHECK(counts["train/airplane"] == 5000);
}

TEST_CASE("the installed Fashion-MNIST: 60,000 / 10,000 images of 28x28", "[data][real]") {
  if (find_fashion_mnist().empty()) {
    WARN("skipped: Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
    return;
  }
  Dataset train = open_dataset("fashion-mnist", "train");
  Dataset test = open_dataset("fashion-mnist", "test");
  CHECK(train.name == "fashion-mnist");
  CHECK(train.images.shape() == Shape{60000, 28, 28, 1});
  CHECK(test.images.shape() == Shape{10000, 28, 28, 1});
  CHECK(train.classes[9] == "Ankle boot");
  std::vector<int64_t> per_class(10, 0);
  for (int64_t l : train.labels.to_vector<int64_t>()) per_class.at(l)++;
  CHECK(per_class == std::vector<int64_t>(10, 6000));
}
