// The augmentations on the device (ssl/data/device_views.h over kernels/augment.h), held to the CPU
// reference (ssl/data/augment.h) on the same images and keys:
//   - decisions: the ViewParams the device draws equal sample_view_params() on the host, field for
//     field and bit for bit, for every preset, view, size and index;
//   - pixels: every element of every view within the stated bound of the CPU's (below);
//   - outputs are written through their strides only: each view sits between guard words in a
//     larger buffer (contiguous, channels-last, padded strides), and every guard must survive;
//   - odd sizes, blur kernels wider than the view, views too large for shared memory, 1-channel
//     sets kept or replicated to RGB, a streamed host batch, indices out of range, bad arguments.
//
// The bound (docs/data.md, "The device path"): |device - cpu| <= 1 / (255 std[c]) per element
// (one step of 8-bit rounding before normalization); for bfloat16 views, plus the rounding of the
// stored value, 2^-8 (|cpu| + 1 / (255 std[c])). That is the guarantee. The device evaluates the
// reference's own expressions, so float32 views in fact differ by float32 rounding noise (about
// 1e-4 of a step, from the order of sums and fused multiply-adds); float32 views are also held to
// 1/64 of a step, which a systematic error (a 1/256 scale, a shifted contrast mean) would exceed.
//
// Under the emulation (-DSLIMSSL_CUDA=EMULATE) every CUDA thread is an OS thread, so batches are
// kept small. Without a device every case WARNs "skipped" (tests/gpu_gate.h).
#include <catch2/catch.hpp>
#include "gpu_gate.h"

#ifdef SLIMSSL_WITH_CUDA
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include "engine/cuda/cuda_backend.h"
#include "ssl/data/augment.h"
#include "ssl/data/augment_presets.h"
#include "ssl/data/device_views.h"

namespace {

using namespace slimssl;
using namespace slimssl::data;

cuda::CudaContext& ctx() { return cuda::cuda_backend(0).context(); }

// Random pixels (an independent generator), labels 7 i mod 10.
Dataset noise_set(int64_t n, int h, int w, int c, uint32_t seed = 1) {
  Dataset ds;
  ds.name = "noise";
  ds.images = Tensor::empty({n, h, w, c}, DType::U8);
  std::mt19937 gen(seed);
  uint8_t* p = ds.images.data<uint8_t>();
  for (int64_t i = 0; i < ds.images.numel(); ++i) p[i] = static_cast<uint8_t>(gen() >> 24);
  ds.labels = Tensor::empty({n}, DType::I64);
  for (int64_t i = 0; i < n; ++i) ds.labels.data<int64_t>()[i] = (7 * i) % 10;
  return ds;
}

Normalization cifar_like() {
  Normalization n;
  const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2470f, 0.2435f, 0.2616f};
  for (int c = 0; c < 3; ++c) n.mean[c] = mean[c], n.std[c] = std[c];
  return n;
}
Normalization gray_like() {
  Normalization n;
  n.channels = 1;
  n.mean[0] = 0.2860f, n.std[0] = 0.3530f;
  return n;
}

Tensor device_i64(const std::vector<int64_t>& v) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, DType::I64, Device::cuda(0));
  ctx().upload(t.raw(), v.data(), v.size() * 8);
  return t;
}

std::vector<int64_t> download_i64(const Tensor& t) {
  std::vector<int64_t> v(t.numel());
  ctx().download(v.data(), t.raw(), v.size() * 8);
  return v;
}

// ---- a view between guard words on the device ----------------------------------------------------

constexpr double kGuard = -4096.0;  // exact in float32 and bfloat16; no normalized pixel gets near it
constexpr int64_t kLead = 40, kTail = 40;

enum class Layout { Contiguous, ChannelsLast, Padded };
const char* layout_name(Layout l) {
  return l == Layout::Contiguous ? "contiguous" : (l == Layout::ChannelsLast ? "channels-last" : "padded");
}

struct Guarded {
  Tensor buf;   // 1-d on the device, guard words everywhere but the view
  Tensor view;  // [B, C, S, S]
  DType dtype;

  // The view's values in logical order, after checking every guard word.
  std::vector<float> read(const std::string& what) const {
    Tensor host = Tensor::empty(buf.shape(), dtype);
    ctx().download(host.raw(), buf.raw(), buf.numel() * buf.itemsize());
    Tensor marks = Tensor::zeros(buf.shape(), DType::U8);
    marks.as_strided(view.shape(), view.strides(), view.offset()).fill_(1);
    const std::vector<double> all = host.to_vector<double>();
    const std::vector<uint8_t> mine = marks.to_vector<uint8_t>();
    int64_t stray = 0;
    for (size_t i = 0; i < all.size(); ++i)
      if (!mine[i] && all[i] != kGuard) ++stray;
    INFO(what << ": " << stray << " guard words overwritten");
    CHECK(stray == 0);
    return host.as_strided(view.shape(), view.strides(), view.offset()).to_vector<float>();
  }
};

Guarded guarded(int64_t B, int64_t C, int64_t S, DType dt, Layout layout) {
  Shape st;
  if (layout == Layout::Contiguous) st = {C * S * S, S * S, S, 1};
  else if (layout == Layout::ChannelsLast) st = {S * S * C, 1, S * C, C};
  else st = {(C + 1) * (S + 2) * (S + 3) * 2, (S + 2) * (S + 3) * 2, (S + 3) * 2, 2};  // every stride padded
  const int64_t extent = 1 + (B - 1) * st[0] + (C - 1) * st[1] + (S - 1) * st[2] + (S - 1) * st[3];
  const int64_t total = kLead + extent + kTail;
  Tensor host = Tensor::full({total}, kGuard, dt);
  Guarded g{Tensor::empty({total}, dt, Device::cuda(0)), Tensor(), dt};
  ctx().upload(g.buf.raw(), host.raw(), total * host.itemsize());
  g.view = g.buf.as_strided({B, C, S, S}, st, kLead);
  return g;
}

// Reads a device view (any strides) in logical order, through a guarded copy of its storage span.
std::vector<float> read_view(const Tensor& v) {
  const int64_t span = v.storage()->nbytes / v.itemsize();
  Tensor host = Tensor::empty({span}, v.dtype());
  ctx().download(host.raw(), static_cast<const char*>(v.storage()->data), span * v.itemsize());
  return host.as_strided(v.shape(), v.strides(), v.offset()).to_vector<float>();
}

// ---- the comparison --------------------------------------------------------------------------------

// Every element of `got` (logical order of [B, C, S, S]) within the bound of the CPU's `want`.
void check_close(const Tensor& want, const std::vector<float>& got, const AugmentPipeline& p, DType dt,
                   const std::string& what) {
  const std::vector<float> ref = want.to_vector<float>();
  REQUIRE(ref.size() == got.size());
  const int64_t C = want.size(1), plane = want.size(2) * want.size(3);
  int64_t bad = 0, first = -1;
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const int64_t c = (static_cast<int64_t>(i) / plane) % C;
    const double step = 1.0 / (255.0 * p.std[c]);
    double bound = step;
    if (dt == DType::BF16) bound += std::ldexp(std::abs(ref[i]) + step, -8);
    const double diff = std::abs(double(got[i]) - double(ref[i]));
    if (!(diff <= bound)) {
      if (bad++ == 0) first = static_cast<int64_t>(i);
    }
    if (dt == DType::F32) worst = std::max(worst, diff / step);
  }
  INFO(what << ": " << bad << " of " << ref.size() << " elements outside the bound"
            << (first >= 0 ? ", first at " + std::to_string(first) + ": cpu " + std::to_string(ref[first]) +
                                 ", device " + std::to_string(got[first])
                           : std::string()));
  CHECK(bad == 0);
  if (dt == DType::F32) {
    INFO(what << ": largest difference " << worst << " of a step (1/255 before normalization)");
    CHECK(worst <= 1.0 / 64);
  }
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

void check_same_params(const ViewParams& d, const ViewParams& h, const std::string& what) {
  INFO(what);
  CHECK(d.top == h.top);
  CHECK(d.left == h.left);
  CHECK(d.height == h.height);
  CHECK(d.width == h.width);
  CHECK(d.resized_h == h.resized_h);
  CHECK(d.resized_w == h.resized_w);
  CHECK(d.offset_y == h.offset_y);
  CHECK(d.offset_x == h.offset_x);
  CHECK(d.flip == h.flip);
  CHECK(d.jitter == h.jitter);
  CHECK(std::memcmp(d.order, h.order, 4) == 0);
  CHECK(same_bits(d.brightness, h.brightness));
  CHECK(same_bits(d.contrast, h.contrast));
  CHECK(same_bits(d.saturation, h.saturation));
  CHECK(same_bits(d.hue, h.hue));
  CHECK(d.grayscale == h.grayscale);
  CHECK(d.blur == h.blur);
  CHECK(same_bits(d.sigma, h.sigma));
  CHECK(d.solarize == h.solarize);
}

// Both views of `indices` on the device (host indices, float32, contiguous) against make_views.
void check_two_views(const Dataset& ds, const DeviceDataset& dev, const std::vector<int64_t>& indices,
                     const ViewPipelines& v, uint64_t seed, uint32_t epoch, const std::string& what) {
  const TwoViewBatch cpu = make_views(ds, indices, v.first, v.second, seed, epoch, 1);
  const TwoViewBatch gpu = make_views_device(dev, indices, v.first, v.second, seed, epoch);
  REQUIRE(gpu.view1.shape() == cpu.view1.shape());
  REQUIRE(gpu.view2.shape() == cpu.view2.shape());
  CHECK(gpu.view1.device() == Device::cuda(0));
  check_close(cpu.view1, read_view(gpu.view1), v.first, DType::F32, what + " view 1");
  check_close(cpu.view2, read_view(gpu.view2), v.second, DType::F32, what + " view 2");
  CHECK(download_i64(gpu.labels) == cpu.labels.to_vector<int64_t>());
  CHECK(download_i64(gpu.indices) == indices);
}

// A pipeline with every step on: what the presets leave out at 32 px (blur, solarize) included.
AugmentPipeline every_step(int S, const Normalization& norm, int channels = 0) {
  AugmentPipeline p = augment_preset("small-strong", S, norm, channels).first;
  p.jitter_p = 1.0f;
  p.grayscale_p = 0.3f;
  p.blur_p = 1.0f;
  p.sigma_min = 0.3f;
  p.sigma_max = 1.5f;
  p.solarize_p = 0.6f;
  return p;
}

}  // namespace

TEST_CASE("device augmentation draws the CPU's decisions for every preset, view and index", "[cuda][data][augment]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  struct Source {
    int h, w, c, out_size, channels;
  };
  // CIFAR-like, a non-square source, ImageNet-like (blur on above 64 px), Fashion-MNIST-like kept
  // gray and replicated to RGB.
  const Source sources[] = {{32, 32, 3, 32, 0}, {40, 36, 3, 32, 0}, {256, 200, 3, 224, 0}, {28, 28, 1, 28, 0},
                            {28, 28, 1, 28, 3}};
  for (const Source& s : sources) {
    const Dataset ds = noise_set(s.h > 64 ? 24 : 300, s.h, s.w, s.c);
    const DeviceDataset dev = upload_dataset(ds);
    std::vector<int64_t> indices;
    for (int64_t i = ds.size() - 1; i >= 0; --i) indices.push_back(i);
    const Normalization norm = s.c == 3 ? cifar_like() : gray_like();
    for (const std::string& name : augment_preset_names()) {
      const ViewPipelines v = augment_preset(name, s.out_size, norm, s.channels);
      for (uint32_t view = 0; view < 2; ++view) {
        const AugmentPipeline& p = view == 0 ? v.first : v.second;
        const std::vector<ViewParams> got = device_view_params(dev, indices, p, 1234567, 5, view);
        REQUIRE(got.size() == indices.size());
        int blurred = 0;
        for (size_t b = 0; b < indices.size(); ++b) {
          const ViewParams want =
              sample_view_params(p, s.h, s.w, 1234567, 5, static_cast<uint32_t>(indices[b]), view);
          blurred += want.blur;
          check_same_params(got[b], want,
                            name + " " + std::to_string(s.h) + "x" + std::to_string(s.w) + "x" + std::to_string(s.c) +
                                " view " + std::to_string(view) + " index " + std::to_string(indices[b]));
        }
        if (p.blur_p > 0) CHECK(blurred > 0);  // the blur's sigma draw was compared on real blurs
      }
    }
  }
}

TEST_CASE("device views match the CPU reference for every preset", "[cuda][data][augment]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  const Dataset ds = noise_set(20, 40, 36, 3);
  const DeviceDataset dev = upload_dataset(ds);
  const std::vector<int64_t> indices{5, 0, 17, 17, 3, 11};  // a repeated index, in any order
  for (const std::string& name : augment_preset_names())
    check_two_views(ds, dev, indices, augment_preset(name, 32, cifar_like()), 99, 3, name);
  // every step on (blur and solarize, which the 32 px presets leave out), and large-image
  // presets at a small size, where their blur is on
  const AugmentPipeline all = every_step(32, cifar_like());
  check_two_views(ds, dev, indices, {all, all}, 7, 0, "every step");
  ViewPipelines byol = augment_preset("byol", 96, cifar_like());
  byol.first.out_size = byol.second.out_size = 20;  // the 96 px recipe (blur 1.0 / 0.1, solarize) at 20 px
  check_two_views(ds, dev, indices, byol, 8, 1, "byol with blur");
}

TEST_CASE("device views of 1-channel images, kept gray or replicated to RGB, match the CPU", "[cuda][data][augment]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  const Dataset ds = noise_set(12, 28, 28, 1);
  const DeviceDataset dev = upload_dataset(ds);
  const std::vector<int64_t> indices{3, 9, 0, 11, 6};
  for (int channels : {0, 3}) {
    for (const char* name : {"small-strong", "mocov2", "eval"})
      check_two_views(ds, dev, indices, augment_preset(name, 28, gray_like(), channels), 21, 4,
                      std::string(name) + " channels " + std::to_string(channels));
    const AugmentPipeline all = every_step(28, gray_like(), channels);
    check_two_views(ds, dev, indices, {all, all}, 22, 4, "every step, channels " + std::to_string(channels));
  }
  // one view replicated, the other kept gray: two launches of different channel counts
  ViewPipelines mixed{augment_preset("small-strong", 28, gray_like(), 3).first,
                      augment_preset("small-strong", 28, gray_like(), 0).second};
  check_two_views(ds, dev, indices, mixed, 23, 0, "3 and 1 channels");
}

TEST_CASE("device views in bfloat16 and channels-last are written only through their strides", "[cuda][data][augment]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  const Dataset ds = noise_set(9, 33, 31, 3);
  const DeviceDataset dev = upload_dataset(ds);
  const std::vector<int64_t> indices{8, 1, 4, 2, 7};
  const int64_t B = static_cast<int64_t>(indices.size());
  AugmentPipeline p1 = every_step(17, cifar_like());
  AugmentPipeline p2 = augment_preset("byol", 15, cifar_like()).second;  // another size for view 2
  p2.solarize_p = 0.7f;
  const TwoViewBatch cpu = make_views(ds, indices, p1, p2, 5, 2, 1);
  const Tensor host_idx = Tensor::from_vector<int64_t>(indices, {B});
  for (DType dt : {DType::F32, DType::BF16}) {
    for (Layout layout : {Layout::Contiguous, Layout::ChannelsLast, Layout::Padded}) {
      const std::string what = std::string(dtype_name(dt)) + " " + layout_name(layout);
      Guarded v1 = guarded(B, 3, 17, dt, layout), v2 = guarded(B, 3, 15, dt, layout);
      Tensor labels = device_i64(std::vector<int64_t>(B, -7));
      render_views_device(dev, host_idx, p1, p2, 5, 2, v1.view, v2.view, labels);
      check_close(cpu.view1, v1.read(what + " view 1"), p1, dt, what + " view 1");
      check_close(cpu.view2, v2.read(what + " view 2"), p2, dt, what + " view 2");
      CHECK(download_i64(labels) == cpu.labels.to_vector<int64_t>());
    }
  }
  // the allocating entry point: channels-last bfloat16 views, NHWC strides on an NCHW shape
  const TwoViewBatch nhwc = make_views_device(dev, indices, p1, p2, 5, 2, {DType::BF16, true});
  CHECK(nhwc.view1.shape() == Shape{B, 3, 17, 17});
  CHECK(nhwc.view1.strides() == Shape{17 * 17 * 3, 1, 17 * 3, 3});
  CHECK(nhwc.view1.dtype() == DType::BF16);
  check_close(cpu.view1, read_view(nhwc.view1), p1, DType::BF16, "make_views_device bf16 channels-last");
  // only the first view: view2 undefined leaves nothing else written
  Guarded only = guarded(B, 3, 17, DType::F32, Layout::Padded);
  render_views_device(dev, host_idx, p1, p2, 5, 2, only.view, Tensor(), Tensor());
  check_close(cpu.view1, only.read("first view only"), p1, DType::F32, "first view only");
  // augment_batch_device numbers its view as asked
  const Tensor one = augment_batch_device(dev, indices, p2, 5, 2, 1);
  check_close(cpu.view2, read_view(one), p2, DType::F32, "augment_batch_device view 1");
}

TEST_CASE("device views at odd sizes, with blur kernels wider than the view and views beyond shared memory",
          "[cuda][data][augment]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  struct Case {
    int h, w, c, out_size, blur_kernel;
  };
  // out_size 1 and 2 with 5- and 7-tap kernels reflect more than once; 80 px RGB with blur needs
  // 150 KiB of working images, more than a block's shared memory: the scratch path.
  const Case cases[] = {{7, 5, 3, 1, 3}, {3, 11, 3, 2, 7}, {9, 9, 1, 5, 5}, {23, 17, 3, 13, 0}, {90, 85, 3, 80, 0}};
  for (const Case& k : cases) {
    const Dataset ds = noise_set(5, k.h, k.w, k.c, 3);
    const DeviceDataset dev = upload_dataset(ds);
    const Normalization norm = k.c == 3 ? cifar_like() : gray_like();
    AugmentPipeline p = every_step(k.out_size, norm);
    p.blur_kernel = k.blur_kernel;
    AugmentPipeline q = augment_preset("mocov2", k.out_size + 2, norm).first;
    const std::string what = std::to_string(k.h) + "x" + std::to_string(k.w) + "x" + std::to_string(k.c) + " -> " +
                             std::to_string(k.out_size) + " blur " + std::to_string(blur_kernel_size(p));
    check_two_views(ds, dev, {4, 0, 2}, {p, q}, 11, 6, what);
  }
}

TEST_CASE("a streamed host batch gives the resident set's views", "[cuda][data][augment]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  const Dataset ds = noise_set(16, 30, 34, 3);
  const DeviceDataset dev = upload_dataset(ds);
  const std::vector<int64_t> indices{12, 3, 3, 15, 0};
  const int64_t B = static_cast<int64_t>(indices.size()), bytes = 30 * 34 * 3;
  // what a decoder would hand over: the batch's images and labels, gathered on the host
  Tensor images = Tensor::empty({B, 30, 34, 3}, DType::U8), labels = Tensor::empty({B}, DType::I64);
  for (int64_t b = 0; b < B; ++b) {
    std::memcpy(images.data<uint8_t>() + b * bytes, ds.image(indices[b]), bytes);
    labels.data<int64_t>()[b] = ds.label(indices[b]);
  }
  const AugmentPipeline all = every_step(24, cifar_like());
  const ViewPipelines v{all, augment_preset("simclr", 24, cifar_like()).second};
  const TwoViewBatch streamed = make_views_streamed(images, labels, indices, v.first, v.second, 31, 9);
  std::memset(images.data<uint8_t>(), 0, images.numel());  // the host batch may be reused at once
  const TwoViewBatch resident = make_views_device(dev, indices, v.first, v.second, 31, 9);
  CHECK(read_view(streamed.view1) == read_view(resident.view1));  // same kernel, same inputs: equal
  CHECK(read_view(streamed.view2) == read_view(resident.view2));
  CHECK(download_i64(streamed.labels) == download_i64(resident.labels));
  CHECK(download_i64(streamed.indices) == indices);
  const TwoViewBatch cpu = make_views(ds, indices, v.first, v.second, 31, 9, 1);
  check_close(cpu.view1, read_view(streamed.view1), v.first, DType::F32, "streamed view 1");
  // without labels they come back -1
  const TwoViewBatch unlabelled = make_views_streamed(images, Tensor(), indices, v.first, v.second, 31, 9);
  CHECK(download_i64(unlabelled.labels) == std::vector<int64_t>(B, -1));
  // batches of other sizes in a row: the staging slots alternate and grow
  for (const std::vector<int64_t>& batch : {std::vector<int64_t>{7}, {1, 2, 4, 8, 9, 10, 11, 13}, {14, 6, 5}}) {
    const int64_t n = static_cast<int64_t>(batch.size());
    Tensor im = Tensor::empty({n, 30, 34, 3}, DType::U8), lab = Tensor::empty({n}, DType::I64);
    for (int64_t b = 0; b < n; ++b) {
      std::memcpy(im.data<uint8_t>() + b * bytes, ds.image(batch[b]), bytes);
      lab.data<int64_t>()[b] = ds.label(batch[b]);
    }
    const TwoViewBatch s = make_views_streamed(im, lab, batch, v.first, v.second, 32, 1);
    const TwoViewBatch r = make_views_device(dev, batch, v.first, v.second, 32, 1);
    INFO("streamed batch of " << n);
    CHECK(read_view(s.view2) == read_view(r.view2));
    CHECK(download_i64(s.labels) == download_i64(r.labels));
  }
}

TEST_CASE("device indices out of range are refused, or give NaN views without reading out of range",
          "[cuda][data][augment]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  const Dataset ds = noise_set(10, 20, 20, 3);
  const DeviceDataset dev = upload_dataset(ds);
  const ViewPipelines v = augment_preset("mocov2", 16, cifar_like());
  CHECK_THROWS_WITH(make_views_device(dev, std::vector<int64_t>{1, 10}, v.first, v.second, 1, 0),
                    Catch::Contains("make_views_device: index 10 out of range for 10 images"));
  CHECK_THROWS_WITH(make_views_device(dev, std::vector<int64_t>{-1}, v.first, v.second, 1, 0),
                    Catch::Contains("index -1 out of range"));
  const std::vector<int64_t> idx{2, 1000, 7};
  const Tensor on_device = device_i64(idx);
  CHECK_THROWS_WITH(make_views_device(dev, on_device, v.first, v.second, 1, 0),
                    Catch::Contains("index 1000 out of range for 10 images"));
  // unchecked (a step that must not wait): NaN for the bad item, label -1, the others as the CPU's
  const TwoViewBatch out = make_views_device(dev, on_device, v.first, v.second, 1, 0, {}, false);
  const std::vector<float> got = read_view(out.view1);
  const int64_t per = 3 * 16 * 16;
  int64_t nans = 0;
  for (int64_t i = per; i < 2 * per; ++i) nans += std::isnan(got[i]);
  CHECK(nans == per);
  CHECK(download_i64(out.labels) == std::vector<int64_t>{ds.label(2), -1, ds.label(7)});
  const TwoViewBatch cpu = make_views(ds, {2, 7}, v.first, v.second, 1, 0, 1);
  std::vector<float> good(got.begin(), got.begin() + per);
  good.insert(good.end(), got.begin() + 2 * per, got.end());
  check_close(cpu.view1, good, v.first, DType::F32, "the items around the bad one");
  CHECK_THROWS_WITH(make_views_streamed(Tensor::zeros({1, 4, 4, 3}, DType::U8), Tensor(), {-3}, v.first, v.second, 1,
                                        0),
                    Catch::Contains("make_views_streamed: index -3 out of range"));
}

TEST_CASE("device augmentation refuses bad arguments with the argument named", "[cuda][data][augment]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  const Dataset ds = noise_set(4, 12, 12, 3);
  const DeviceDataset dev = upload_dataset(ds);
  const ViewPipelines v = augment_preset("mocov2", 8, cifar_like());
  const Tensor idx = Tensor::from_vector<int64_t>({0, 1}, {2});
  const Device gpu = Device::cuda(0);
  CHECK_THROWS_WITH(render_views_device(dev, idx, v.first, v.second, 1, 0, Tensor::empty({2, 3, 9, 8}, DType::F32, gpu),
                                        Tensor(), Tensor()),
                    Catch::Contains("render_views_device: view 1 must be a float32 or bfloat16 [2, 3, 8, 8] tensor"));
  CHECK_THROWS_WITH(render_views_device(dev, idx, v.first, v.second, 1, 0, Tensor::empty({2, 3, 8, 8}, DType::F64, gpu),
                                        Tensor(), Tensor()),
                    Catch::Contains("got float64"));
  CHECK_THROWS_WITH(render_views_device(dev, idx, v.first, v.second, 1, 0, Tensor::empty({2, 3, 8, 8}), Tensor(),
                                        Tensor()),
                    Catch::Contains("on cuda:0, got float32 [2, 3, 8, 8] on cpu"));
  CHECK_THROWS_WITH(render_views_device(dev, idx, v.first, v.second, 1, 0, Tensor::empty({2, 3, 8, 8}, DType::F32, gpu),
                                        Tensor(), Tensor::empty({2}, DType::I32, gpu)),
                    Catch::Contains("labels must be an int64 [2] tensor"));
  AugmentPipeline bad = v.first;
  bad.hue = 0.7f;
  CHECK_THROWS_WITH(make_views_device(dev, std::vector<int64_t>{0}, v.first, bad, 1, 0),
                    Catch::Contains("make_views_device: second pipeline: hue must be in [0, 0.5]"));
  AugmentPipeline gray = v.first;
  gray.channels = 1;
  CHECK_THROWS_WITH(make_views_device(dev, std::vector<int64_t>{0}, gray, v.second, 1, 0),
                    Catch::Contains("channels 1 cannot be made from 3-channel images"));
  CHECK_THROWS_WITH(make_views_device(dev, std::vector<int64_t>{0}, v.first, v.second, 1, 0, {DType::F64, false}),
                    Catch::Contains("views are float32 or bfloat16, not float64"));
  CHECK_THROWS_WITH(make_views_device(dev, Tensor::zeros({2}, DType::I32), v.first, v.second, 1, 0),
                    Catch::Contains("indices must be a contiguous int64 [B] tensor"));
  CHECK_THROWS_WITH(make_views_streamed(Tensor::zeros({2, 4, 4, 3}, DType::U8), Tensor(), {0}, v.first, v.second, 1, 0),
                    Catch::Contains("images must be a contiguous uint8 [1, H, W, C] tensor on the CPU"));
  // an empty batch is fine and launches nothing
  const TwoViewBatch none = make_views_device(dev, std::vector<int64_t>{}, v.first, v.second, 1, 0);
  CHECK(none.view1.shape() == Shape{0, 3, 8, 8});
}

#else

TEST_CASE("device augmentation draws the CPU's decisions for every preset, view and index", "[cuda][data][augment]") {
  slimssl::testing::gpu_or_skip();
}

#endif
