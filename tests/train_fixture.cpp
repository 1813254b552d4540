#include "train_fixture.h"
#include "ssl/train/trainer.h"
#include <algorithm>
#include <filesystem>
#include <unistd.h>
#include <fstream>
#include <random>
#include <vector>

namespace slimssl::testing {
namespace fs = std::filesystem;

namespace {
void put_be32(std::ofstream& f, uint32_t v) {
  unsigned char b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
  f.write(reinterpret_cast<char*>(b), 4);
}

void write_split(const fs::path& dir, const std::string& prefix, int n, uint32_t seed) {
  const int size = 16;
  std::mt19937 gen(seed);
  std::vector<uint8_t> pixels(size_t(n) * size * size), labels(n);
  for (int i = 0; i < n; ++i) {
    // Per-image period, phase and contrast make every instance distinguishable; the stripe
    // direction is the class.
    int label = i % 2, period = 4 + 2 * int(gen() % 3), phase = int(gen() % period);
    int hi = 150 + int(gen() % 100), lo = int(gen() % 100);
    labels[i] = uint8_t(label);
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        int coord = label == 0 ? y : x;
        int v = ((coord + phase) % period) < period / 2 ? hi : lo;
        v += int(gen() % 41) - 20;
        pixels[size_t(i) * size * size + y * size + x] = uint8_t(std::clamp(v, 0, 255));
      }
  }
  std::ofstream img(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary);
  put_be32(img, 0x00000803), put_be32(img, n), put_be32(img, size), put_be32(img, size);
  img.write(reinterpret_cast<char*>(pixels.data()), std::streamsize(pixels.size()));
  std::ofstream lab(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary);
  put_be32(lab, 0x00000801), put_be32(lab, n);
  lab.write(reinterpret_cast<char*>(labels.data()), n);
}
}  // namespace

std::string fresh_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("slimssl_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

std::string train_run(const std::string& name, const train::TrainConfig& c) {
  std::string d = fresh_dir(name);
  train::run_training(c, {d, false, true});
  return d;
}

const std::string& stripes_dataset() {
  static const std::string dir = [] {
    std::string d = fresh_dir("stripes");
    write_split(d, "train", 256, 1);
    write_split(d, "t10k", 64, 2);
    return d;
  }();
  return dir;
}

train::TrainConfig tiny_config(const std::string& framework) {
  train::TrainConfig c;
  c.name = "tiny_" + framework;
  c.data = stripes_dataset();
  c.model = "resnet20_cifar";
  c.widths = {1.0, 0.5};
  c.framework = framework;
  c.image_size = 16;
  c.augment = "mocov2";
  c.head = framework == "mocov3" ? "mocov3" : "simple";
  c.head_dim = 32;
  c.head_hidden = 64;
  c.batch_size = 32;
  c.queue_size = 64;
  c.epochs = 2;
  c.lr = 0.05;
  c.temperature = framework == "mocov3" ? 1.0 : 0.2;
  if (framework == "mocov3") c.distill_t_teacher = c.distill_t_student = 1.0;
  c.shuffle_bn_groups = 2;
  c.log_every = 1;
  c.checkpoint_every = 1000;
  c.knn_every = 0;
  c.knn_k = 20;
  c.knn_bank_size = 0;
  c.knn_test_size = 0;
  c.threads = 1;
  return c;
}

train::TrainConfig device_step_config(const std::string& framework, bool amp) {
  train::TrainConfig c = tiny_config(framework);
  c.image_size = 8;
  c.batch_size = 8;
  c.head_dim = 16;
  c.head_hidden = 32;
  c.distill = true;
  c.amp = amp;
  c.channels_last = true;
  return c;
}

}  // namespace slimssl::testing
