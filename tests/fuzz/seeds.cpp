// Writes the fuzz targets' seed corpus: small valid inputs of every format, made here from
// generated pixels (never from real data sets), plus the shipped configs.
//   fuzz_seeds OUT_DIR   ->   OUT_DIR/<target>/<seed files>
#include <filesystem>
#include <iostream>
#include "engine/safetensors.h"
#include "test_data_helpers.h"

using namespace slimssl;
using namespace slimssl::testing;
namespace fs = std::filesystem;

namespace {

Bytes with_prefix(uint8_t first, const Bytes& rest) {
  Bytes b{first};
  b.insert(b.end(), rest.begin(), rest.end());
  return b;
}

Bytes gzipped(const std::string& scratch, const Bytes& data) {
  write_gz(scratch, data);
  std::ifstream in(scratch, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

Bytes read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds OUT_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  auto put = [&](const std::string& target, const std::string& name, const Bytes& b) { write_file((out / target / name).string(), b); };
  const std::string scratch = (out / ".scratch").string();

  // idx: first byte = labels length / 4, then the labels file, then the images file
  Bytes labels = idx_bytes({4}, {0, 3, 9, 1});  // 12 bytes
  Bytes images = idx_bytes({4, 3, 2}, pattern(2, 3 * 4, 1, 1));
  auto idx_input = [&](const Bytes& images_file) {
    Bytes b = with_prefix(static_cast<uint8_t>(labels.size() / 4), labels);
    b.insert(b.end(), images_file.begin(), images_file.end());
    return b;
  };
  put("fuzz_idx", "plain", idx_input(images));
  put("fuzz_idx", "gz_images", idx_input(gzipped(scratch, images)));

  // cifar: two CIFAR-10 records, one CIFAR-100 record
  Bytes c10{0};
  for (uint8_t label : {3, 7}) {
    c10.push_back(label);
    Bytes px = pattern(32, 32, 3, label);
    c10.insert(c10.end(), px.begin(), px.end());
  }
  put("fuzz_cifar", "cifar10", c10);
  Bytes c100{1, 5, 42};
  Bytes px = pattern(32, 32, 3, 9);
  c100.insert(c100.end(), px.begin(), px.end());
  put("fuzz_cifar", "cifar100", c100);

  // image: PNG and JPEG, gray and RGB (first byte: 1 = decode to RGB)
  put("fuzz_image", "png_rgb", with_prefix(1, png_bytes(6, 5, 3, pattern(6, 5, 3, 2))));
  put("fuzz_image", "png_gray", with_prefix(0, png_bytes(4, 4, 1, pattern(4, 4, 1, 3))));
  put("fuzz_image", "jpg_rgb", with_prefix(1, jpg_bytes(8, 8, 3, pattern(8, 8, 3, 4), 80)));
  put("fuzz_image", "jpg_gray", with_prefix(0, jpg_bytes(8, 8, 1, pattern(8, 8, 1, 5), 80)));

  // tar: a split layout with a long name, plain and gzipped
  TarWriter t;
  t.directory("train/");
  t.file("train/cat/a.png", png_bytes(4, 4, 3, pattern(4, 4, 3, 6)));
  t.file("train/dog/b.jpg", jpg_bytes(4, 4, 3, pattern(4, 4, 3, 7), 80));
  t.file("train/dog/" + std::string(120, 'x') + ".png", png_bytes(4, 4, 3, pattern(4, 4, 3, 8)), true);
  t.file("test/cat/c.png", png_bytes(4, 4, 3, pattern(4, 4, 3, 9)));
  Bytes tar = t.finish();
  put("fuzz_tar", "split.tar", tar);
  put("fuzz_tar", "split.tar.gz", gzipped(scratch, tar));

  // safetensors: every dtype, a view, metadata
  std::vector<std::pair<std::string, Tensor>> named = {
      {"f32", Tensor::arange(6, DType::F32).view({2, 3})}, {"f64", Tensor::arange(3, DType::F64)},
      {"bf16", Tensor::arange(4, DType::BF16)},            {"i32", Tensor::arange(2, DType::I32)},
      {"i64", Tensor::arange(2, DType::I64)},              {"u8", Tensor::arange(5, DType::U8)},
      {"empty", Tensor::empty({0, 3}, DType::F32)}};
  save_safetensors(scratch, named, {{"format", "seed"}, {"step", "7"}});
  put("fuzz_safetensors", "all_dtypes", read_all(scratch));

  // config: the shipped configs, one with an override line
  for (auto& e : fs::directory_iterator(fs::path(SLIMSSL_SOURCE_DIR) / "configs"))
    if (e.path().extension() == ".json") put("fuzz_config", e.path().filename().string(), read_all(e.path().string()));
  std::string with_override = "{\"epochs\": 2, \"widths\": [1.0, 0.5]}\nbatch_size=64";
  put("fuzz_config", "override", Bytes(with_override.begin(), with_override.end()));

  fs::remove(scratch);
  std::cout << "seed corpus written to " << out.string() << "\n";
  return 0;
}
