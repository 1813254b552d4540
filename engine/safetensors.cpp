#include "engine/safetensors.h"
#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include "engine/autograd.h"
#include "engine/printable.h"
#include "engine/size_math.h"

namespace slimssl {
namespace {

// The format is little-endian; tensor bytes are written and read as the host holds them.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

using Json = nlohmann::ordered_json;  // keeps the header's tensors in data order when written

const char* dtype_code(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
  }
  return "?";
}

bool dtype_from_code(const std::string& s, DType& out) {
  for (DType t : {DType::F32, DType::F64, DType::BF16, DType::I32, DType::I64, DType::U8}) {
    if (s == dtype_code(t)) {
      out = t;
      return true;
    }
  }
  return false;
}

// The parts come from the file (tensor names, JSON fragments): made printable on one line.
template <class... A>
[[noreturn]] void bad_file(const std::string& path, const A&... parts) {
  std::ostringstream os;
  detail::put(os, parts...);
  fail("safetensors '", path, "': ", printable(os.str(), 1000));
}

// ---- writing ----

// An open temporary file next to the destination; removed again unless committed.
class TempFile {
 public:
  explicit TempFile(const std::string& dest) : dest_(dest) {
    static std::atomic<uint64_t> counter{0};
    path_ = dest + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0) fail("save_safetensors '", dest_, "': cannot create ", path_, ": ", std::strerror(errno));
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("save_safetensors '", dest_, "': write failed: ", std::strerror(errno));
      p += w, n -= static_cast<size_t>(w);
    }
  }

  // fsync, close, rename over the destination, then fsync the directory so the rename is durable.
  void commit() {
    if (::fsync(fd_) != 0) fail("save_safetensors '", dest_, "': fsync failed: ", std::strerror(errno));
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("save_safetensors '", dest_, "': close failed: ", std::strerror(errno));
    if (::rename(path_.c_str(), dest_.c_str()) != 0)
      fail("save_safetensors '", dest_, "': cannot rename ", path_, " into place: ", std::strerror(errno));
    committed_ = true;
    std::string dir = std::filesystem::path(dest_).parent_path().string();
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);  // best effort: some filesystems refuse fsync on directories
      ::close(dfd);
    }
  }

 private:
  std::string dest_, path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Crash tests kill a writer inside a save: SLIMSSL_TEST_PAUSE_IN_SAVE_MS=N makes every save
// pause N ms halfway through its data, with the temporary file half written.
void pause_for_crash_tests() {
  static const long ms = [] {
    const char* v = std::getenv("SLIMSSL_TEST_PAUSE_IN_SAVE_MS");
    return v ? std::strtol(v, nullptr, 10) : 0L;
  }();
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// ---- reading ----

uint64_t json_uint(const std::string& path, const std::string& name, const char* field, const Json& v) {
  if (!v.is_number_unsigned())
    bad_file(path, "tensor '", name, "': ", field, " must hold non-negative integers, got ", v.dump());
  return v.get<uint64_t>();
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& path, const std::string& name, const Json& e) {
  if (!e.is_object()) bad_file(path, "tensor '", name, "': expected an object, got ", e.dump());
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!e.contains(field)) bad_file(path, "tensor '", name, "': missing \"", field, "\"");
  Entry out{name, DType::F32, {}, 0, 0};
  const Json& dt = e["dtype"];
  if (!dt.is_string() || !dtype_from_code(dt.get<std::string>(), out.dtype))
    bad_file(path, "tensor '", name, "': unsupported dtype ", dt.dump(), " (supported: F32, F64, BF16, I32, I64, U8)");
  const Json& sh = e["shape"];
  if (!sh.is_array()) bad_file(path, "tensor '", name, "': shape must be an array, got ", sh.dump());
  for (const Json& d : sh) {
    uint64_t v = json_uint(path, name, "shape", d);
    if (v > uint64_t(INT64_MAX)) bad_file(path, "tensor '", name, "': shape ", sh.dump(), " has a size beyond 2^63");
    out.shape.push_back(static_cast<int64_t>(v));
  }
  auto numel = checked_product(out.shape);
  auto nbytes = numel ? checked_mul(*numel, static_cast<int64_t>(dtype_size(out.dtype))) : std::nullopt;
  if (!nbytes) bad_file(path, "tensor '", name, "': shape ", sh.dump(), " is too large (its size overflows 64 bits)");
  const uint64_t bytes = static_cast<uint64_t>(*nbytes);
  const Json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2)
    bad_file(path, "tensor '", name, "': data_offsets must be [begin, end], got ", off.dump());
  out.begin = json_uint(path, name, "data_offsets", off[0]);
  out.end = json_uint(path, name, "data_offsets", off[1]);
  if (out.end < out.begin)
    bad_file(path, "tensor '", name, "': data_offsets ", off.dump(), " end before they begin");
  if (out.end - out.begin != bytes)
    bad_file(path, "tensor '", name, "': data_offsets ", off.dump(), " span ", out.end - out.begin, " bytes but ",
             dt.get<std::string>(), " ", sh.dump(), " needs ", bytes);
  return out;
}

}  // namespace

bool SafetensorsFile::contains(const std::string& name) const {
  return std::find(names.begin(), names.end(), name) != names.end();
}

const Tensor& SafetensorsFile::at(const std::string& name) const {
  auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) fail("safetensors '", path, "': no tensor named '", name, "'");
  return tensors[static_cast<size_t>(it - names.begin())];
}

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  NoGradGuard ng;
  // Host, contiguous copies (views and GPU tensors are staged; contiguous host tensors are not copied).
  std::vector<Tensor> host;
  host.reserve(tensors.size());
  std::set<std::string> seen;
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    SLIMSSL_CHECK(!name.empty() && name != "__metadata__", "save_safetensors '", path, "': invalid tensor name '",
                  name, "'");
    SLIMSSL_CHECK(seen.insert(name).second, "save_safetensors '", path, "': duplicate tensor name '", name, "'");
    SLIMSSL_CHECK(t.defined(), "save_safetensors '", path, "': tensor '", name, "' is undefined");
    Tensor h = t.detach();
    if (!h.device().is_cpu()) h = h.cpu();
    h = h.contiguous();
    const uint64_t bytes = static_cast<uint64_t>(h.numel()) * h.itemsize();
    header[name] = {{"dtype", dtype_code(h.dtype())}, {"shape", h.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    host.push_back(std::move(h));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data region starts 8-byte aligned
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));

  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  SLIMSSL_CHECK(parent.empty() || std::filesystem::is_directory(parent), "save_safetensors '", path,
                "': directory ", parent.string(), " does not exist");
  TempFile out(path);
  out.write(len, 8);
  out.write(text.data(), text.size());
  for (size_t i = 0; i < host.size(); ++i) {
    if (i == host.size() / 2) pause_for_crash_tests();
    if (host[i].numel() > 0) out.write(host[i].raw(), static_cast<size_t>(host[i].numel()) * host[i].itemsize());
  }
  out.commit();
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) bad_file(path, "no such file");
  if (!std::filesystem::is_regular_file(path, ec)) bad_file(path, "not a regular file");
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) bad_file(path, "cannot read its size: ", ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) bad_file(path, "cannot open: ", std::strerror(errno));
  if (file_size < 8) bad_file(path, "file is ", file_size, " bytes, shorter than the 8-byte header length");

  uint8_t len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= static_cast<uint64_t>(len[i]) << (8 * i);
  if (header_len > file_size - 8)
    bad_file(path, "header length ", header_len, " runs past the end of the file (", file_size, " bytes)");
  std::string text(header_len, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(header_len))) bad_file(path, "cannot read the header");

  Json header;
  try {
    header = Json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    bad_file(path, "header is not valid JSON: ", e.what());
  }
  if (!header.is_object()) bad_file(path, "header must be a JSON object, got ", header.type_name());

  SafetensorsFile out;
  out.path = path;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) bad_file(path, "__metadata__ must be an object of strings");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) bad_file(path, "__metadata__ '", mk, "' is not a string: ", mv.dump());
        out.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, key, value));
  }

  // The tensors must tile the data region exactly: no overlaps, no holes, nothing after the last.
  const uint64_t data_size = file_size - 8 - header_len;
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (const Entry& e : entries) {
    if (e.end > data_size)
      bad_file(path, "tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end, "] run past the ", data_size,
               "-byte data region");
    if (e.begin < expected) bad_file(path, "tensor '", e.name, "': data overlaps the previous tensor's");
    if (e.begin > expected)
      bad_file(path, "tensor '", e.name, "': ", e.begin - expected, " unused bytes before its data");
    expected = e.end;
  }
  if (expected != data_size) bad_file(path, data_size - expected, " bytes of trailing data after the last tensor");

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) {
      in.seekg(static_cast<std::streamoff>(8 + header_len + e.begin));
      if (!in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(e.end - e.begin)))
        bad_file(path, "tensor '", e.name, "': cannot read its data");
    }
    out.names.push_back(e.name);
    out.tensors.push_back(std::move(t));
  }
  return out;
}

}  // namespace slimssl
