// safetensors files: round trips of every dtype (views included), atomic writes, refusal of
// malformed files with messages that name the file and the problem, and, where python's
// safetensors package is installed, a cross-check that it reads our files and we read its.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>
#include "engine/safetensors.h"
#include "gpu_gate.h"
#include "gradcheck.h"

using namespace slimssl;
using namespace slimssl::testing;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("slimssl_st_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
};

// A file with the given header text (length-prefixed, unpadded) followed by `data_bytes` zeros.
void write_raw(const std::string& path, const std::string& header, size_t data_bytes) {
  std::ofstream f(path, std::ios::binary);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>(n >> (8 * i)));
  f << header << std::string(data_bytes, '\0');
}

std::vector<uint16_t> bf16_bits(const Tensor& t) {
  Tensor c = t.contiguous();
  const bf16* p = c.data<bf16>();
  std::vector<uint16_t> out;
  for (int64_t i = 0; i < c.numel(); ++i) out.push_back(p[i].bits);
  return out;
}

// The tensors every round trip writes: each dtype, a non-contiguous view, a scalar, an empty one.
std::vector<std::pair<std::string, Tensor>> sample_tensors() {
  Tensor f64_base = randu({5, 7}, 3);
  return {
      {"f32", randu({3, 4}, 1, -2, 2, DType::F32)},
      {"f64", randu({2, 3, 2}, 2)},
      {"bf16", randu({3, 5}, 4, -3, 3, DType::F32).to(DType::BF16)},
      {"i32", Tensor::from_vector<int32_t>({-2147483647 - 1, -1, 0, 7, 2147483647}, {5})},
      {"i64", Tensor::from_vector<int64_t>({-(int64_t(1) << 62) - 3, 0, (int64_t(1) << 53) + 1}, {3})},
      {"u8", Tensor::from_vector<uint8_t>({0, 1, 127, 128, 255, 42}, {2, 3})},
      {"f64_view", f64_base.narrow(1, 2, 4).t()},  // [4, 5], strides (1, 7)
      {"scalar", Tensor::scalar(2.5)},
      {"empty", Tensor::zeros({0, 3})},
  };
}

// Exact equality of values, dtype and shape (bfloat16 compared bit for bit).
void check_same_tensor(const std::string& name, const Tensor& got, const Tensor& want) {
  INFO("tensor " << name);
  REQUIRE(got.dtype() == want.dtype());
  REQUIRE(got.shape() == want.shape());
  if (want.dtype() == DType::BF16) CHECK(bf16_bits(got) == bf16_bits(want));
  else if (want.dtype() == DType::I64) CHECK(got.to_vector<int64_t>() == want.to_vector<int64_t>());
  else CHECK(got.to_vector<double>() == want.to_vector<double>());
}

}  // namespace

TEST_CASE("safetensors round trip of every dtype, views, scalars and empty tensors", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  auto tensors = sample_tensors();
  REQUIRE(!tensors[6].second.is_contiguous());
  save_safetensors(path, tensors, {{"format", "pt"}, {"step", "1200"}});

  SafetensorsFile f = load_safetensors(path);
  REQUIRE(f.names.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    CHECK(f.names[i] == tensors[i].first);  // data order = the order given
    check_same_tensor(tensors[i].first, f.tensors[i], tensors[i].second);
    CHECK(f.tensors[i].is_contiguous());
  }
  CHECK(f.metadata == std::map<std::string, std::string>{{"format", "pt"}, {"step", "1200"}});
  CHECK(f.contains("u8"));
  CHECK(!f.contains("nope"));
  CHECK_THROWS_WITH(f.at("nope"), Catch::Contains(path) && Catch::Contains("no tensor named 'nope'"));

  // Layout: the header length is a multiple of 8 and the header is padded with spaces.
  std::ifstream in(path, std::ios::binary);
  uint8_t len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(len[i]) << (8 * i);
  CHECK(n % 8 == 0);
  std::string header(n, '\0');
  in.read(header.data(), static_cast<std::streamsize>(n));
  CHECK(header.front() == '{');
  CHECK(header.find_last_not_of(' ') == header.rfind('}'));
}

TEST_CASE("safetensors saves a GPU tensor through the host", "[safetensors][cuda]") {
  if (!gpu_or_skip()) return;
  TempDir dir;
  Tensor h = randu({3, 4}, 8, -1, 1, DType::F32);
  save_safetensors(dir.file("g.safetensors"), {{"w", h.to(Device::cuda()).t()}});
  check_same_tensor("w", load_safetensors(dir.file("g.safetensors")).at("w"), h.t());
}

TEST_CASE("safetensors writes atomically and leaves no temporary file", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  save_safetensors(path, {{"a", Tensor::ones({2})}});
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
  // Overwriting replaces the content.
  save_safetensors(path, {{"b", Tensor::zeros({3})}});
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors"});
  CHECK(load_safetensors(path).names == std::vector<std::string>{"b"});
  // A failing save (the destination is a directory, so the final rename fails) cleans up after itself.
  fs::create_directories(dir.path / "taken");
  CHECK_THROWS_WITH(save_safetensors(dir.file("taken"), {{"a", Tensor::ones({2})}}),
                    Catch::Contains("taken") && Catch::Contains("rename"));
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors", "taken"});
  CHECK_THROWS_WITH(save_safetensors(dir.file("missing_dir/x.safetensors"), {{"a", Tensor::ones({2})}}),
                    Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(save_safetensors(path, {{"a", Tensor::ones({2})}, {"a", Tensor::ones({1})}}),
                    Catch::Contains("duplicate tensor name 'a'"));
  CHECK(dir.entries() == std::vector<std::string>{"ckpt.safetensors", "taken"});
}

TEST_CASE("safetensors refuses malformed files, naming the file and the problem", "[safetensors]") {
  TempDir dir;
  const std::string p = dir.file("bad.safetensors");
// (a macro: Catch's combined matchers hold references to their parts, so they cannot be returned)
#define CHECK_REFUSED(expr, what) CHECK_THROWS_WITH(expr, Catch::Contains(p) && Catch::Contains(what))
  // The well-formed baseline the cases below break one thing at a time.
  write_raw(p, R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", 16);
  CHECK(load_safetensors(p).at("w").shape() == Shape{2, 2});

  CHECK_THROWS_WITH(load_safetensors(dir.file("absent.safetensors")),
                    Catch::Contains("absent.safetensors") && Catch::Contains("no such file"));
  {
    std::ofstream(p, std::ios::binary) << "abcde";
    CHECK_REFUSED(load_safetensors(p), "shorter than the 8-byte header length");
  }
  write_raw(p, R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", 0);
  {  // claim a header far longer than the file
    std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
    f.put(static_cast<char>(0xff));
    f.put(static_cast<char>(0xff));
  }
  CHECK_REFUSED(load_safetensors(p), "runs past the end of the file");
  write_raw(p, R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16])", 16);
  CHECK_REFUSED(load_safetensors(p), "not valid JSON");
  write_raw(p, R"([1, 2])", 0);
  CHECK_REFUSED(load_safetensors(p), "must be a JSON object");
  write_raw(p, R"({"w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}})", 8);
  CHECK_REFUSED(load_safetensors(p), "unsupported dtype \"F16\"");
  write_raw(p, R"({"w":{"dtype":"F32","shape":[2,-2],"data_offsets":[0,16]}})", 16);
  CHECK_REFUSED(load_safetensors(p), "non-negative integers");
  write_raw(p, R"({"w":{"dtype":"F32","shape":[2,2]}})", 16);
  CHECK_REFUSED(load_safetensors(p), "missing \"data_offsets\"");
  write_raw(p, R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 12);
  CHECK_REFUSED(load_safetensors(p), "span 12 bytes but F32 [2,2] needs 16");
  write_raw(p, R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[4,20]}})", 16);
  CHECK_REFUSED(load_safetensors(p), "run past the 16-byte data region");
  write_raw(p, R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", 20);
  CHECK_REFUSED(load_safetensors(p), "4 bytes of trailing data");
  write_raw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12);
  CHECK_REFUSED(load_safetensors(p), "overlaps");
  write_raw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 16);
  CHECK_REFUSED(load_safetensors(p), "8 unused bytes");
  write_raw(p, R"({"__metadata__":{"step":3}})", 0);
  CHECK_REFUSED(load_safetensors(p), "__metadata__ 'step' is not a string");

  // Shapes whose sizes overflow 64 bits: with a zero the byte count is 0 and the offsets agree,
  // but the tensor's strides would overflow (undefined behaviour before this was refused).
  write_raw(p, R"({"w":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}})", 0);
  CHECK_REFUSED(load_safetensors(p), "tensor 'w': shape [0,4611686018427387904,4611686018427387904] is too large");
  write_raw(p, R"({"w":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0);
  CHECK_REFUSED(load_safetensors(p), "is too large");
  write_raw(p, R"({"w":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,0]}})", 0);
  CHECK_REFUSED(load_safetensors(p), "beyond 2^63");

  // A good file cut short: its last tensor no longer fits.
  const std::string good = dir.file("good.safetensors");
  save_safetensors(good, {{"x", Tensor::ones({4, 4})}});
  fs::resize_file(good, fs::file_size(good) - 4);
  CHECK_THROWS_WITH(load_safetensors(good), Catch::Contains(good) && Catch::Contains("run past"));
#undef CHECK_REFUSED
}

TEST_CASE("python's safetensors reads our file and we read its", "[safetensors][python]") {
  if (std::system("python3 -c 'import safetensors, numpy' > /dev/null 2>&1") != 0) {
    WARN("python3 with the safetensors and numpy packages is not available: skipping the cross-check "
         "(pip install safetensors numpy to run it)");
    return;
  }
  TempDir dir;
  const std::string ours = dir.file("ours.safetensors"), theirs = dir.file("theirs.safetensors");
  const std::string script = dir.file("check.py"), log = dir.file("log.txt");
  auto tensors = sample_tensors();
  save_safetensors(ours, tensors, {{"format", "pt"}});
  // Python loads every tensor (numpy has no bfloat16: those are checked by dtype and shape only),
  // adds a float64 sum of each (proof it read the numbers), and saves it all back with our metadata.
  std::ofstream(script) << R"PY(import sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file
out, meta = {}, {}
with safe_open(sys.argv[1], framework="numpy") as f:
    meta = dict(f.metadata() or {})
    for name in f.keys():
        sl = f.get_slice(name)
        if sl.get_dtype() == "BF16":
            meta["bf16:" + name] = str(list(sl.get_shape()))
            continue
        out[name] = f.get_tensor(name)
for name in list(out):
    out["sum_" + name] = np.array([out[name].astype(np.float64).sum()])
meta["checked_by"] = "python"
save_file(out, sys.argv[2], metadata=meta)
)PY";
  const std::string cmd = "python3 '" + script + "' '" + ours + "' '" + theirs + "' > '" + log + "' 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream logf(log);
  std::string log_text((std::istreambuf_iterator<char>(logf)), std::istreambuf_iterator<char>());
  INFO("python output:\n" << log_text);
  REQUIRE(rc == 0);

  SafetensorsFile back = load_safetensors(theirs);
  CHECK(back.metadata.at("format") == "pt");
  CHECK(back.metadata.at("checked_by") == "python");
  CHECK(back.metadata.at("bf16:bf16") == "[3, 5]");
  for (const auto& [name, t] : tensors) {
    if (t.dtype() == DType::BF16) continue;
    REQUIRE(back.contains(name));
    check_same_tensor(name, back.at(name), t);
    double sum = 0;
    for (double v : t.to_vector<double>()) sum += v;
    CHECK(back.at("sum_" + name).item() == Approx(sum).epsilon(1e-12));
  }
}
