// Augmentations: known answers for each step with fixed parameters (computed by hand here, not by
// the code under test), the parameter sampling against an independent float64 re-derivation of
// torchvision's algorithm from the same random words, the RNG key mapping, and determinism.
#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include "ssl/data/augment.h"
#include "ssl/data/augment_presets.h"

using namespace slimssl;
using namespace slimssl::data;

namespace {

AugmentPipeline plain(int out_size) {  // no randomness, identity normalization
  AugmentPipeline p;
  p.out_size = out_size;
  return p;
}

ViewParams full_box(int H, int W, int S) {
  ViewParams v;
  v.height = H;
  v.width = W;
  v.resized_h = v.resized_w = S;
  return v;
}

Dataset synthetic(int64_t n, int h, int w, int c) {
  Dataset ds;
  ds.name = "synthetic";
  ds.images = Tensor::empty({n, h, w, c}, DType::U8);
  uint8_t* p = ds.images.data<uint8_t>();
  for (int64_t i = 0; i < ds.images.numel(); ++i) p[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  ds.labels = Tensor::zeros({n}, DType::I64);
  return ds;
}

std::vector<float> values(const Tensor& t) { return t.to_vector<float>(); }

// Python's round(): half to even, as torchvision's int(round(...)).
int round_half_even(double x) { return static_cast<int>(std::nearbyint(x)); }

}  // namespace

TEST_CASE("horizontal flip mirrors columns", "[data][augment]") {
  std::vector<uint8_t> img(4 * 4 * 3);
  for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>(i * 5);
  ViewParams v = full_box(4, 4, 4);
  v.flip = true;
  std::vector<float> out(3 * 16);
  render_view(img.data(), 4, 4, 3, plain(4), v, out.data());
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x) CHECK(out[c * 16 + y * 4 + x] == Approx(img[(y * 4 + (3 - x)) * 3 + c] / 255.0f));
}

TEST_CASE("a crop box is resampled bilinearly with half-pixel centres, edges clamped to the box", "[data][augment]") {
  // v(y, x) = 10 y + x is linear, so bilinear interpolation reproduces it exactly.
  std::vector<uint8_t> img(16);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) img[y * 4 + x] = static_cast<uint8_t>(10 * y + x);
  ViewParams v;
  v.top = 1, v.left = 1, v.height = 2, v.width = 2, v.resized_h = v.resized_w = 4;
  std::vector<float> out(16);
  render_view(img.data(), 4, 4, 1, plain(4), v, out.data());
  // source coordinate 1 + (o + 0.5) * 2/4 - 0.5 = 0.75, 1.25, 1.75, 2.25, clamped to [1, 2]
  const float s[4] = {1.0f, 1.25f, 1.75f, 2.0f};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) CHECK(out[y * 4 + x] * 255.0f == Approx(10 * s[y] + s[x]).epsilon(1e-5));
}

TEST_CASE("the eval transform resizes the shorter side and takes the centre", "[data][augment]") {
  // 6 x 8 image, shorter side to 4: resized 4 x 5 (5.33 truncated), centre 4 x 4 at x offset
  // round(0.5) = 0; source x = (x + 0.5) * 8/5 - 0.5, source y = (y + 0.5) * 6/4 - 0.5.
  std::vector<uint8_t> img(48);
  for (int y = 0; y < 6; ++y)
    for (int x = 0; x < 8; ++x) img[y * 8 + x] = static_cast<uint8_t>(20 * y + x);
  AugmentPipeline p = plain(4);
  p.random_crop = false;
  p.resize_size = 4;
  ViewParams v = sample_view_params(p, 6, 8, 1, 0, 0, 0);
  CHECK(v.resized_h == 4);
  CHECK(v.resized_w == 5);
  CHECK(v.offset_x == 0);
  CHECK(v.offset_y == 0);
  std::vector<float> out(16);
  render_view(img.data(), 6, 8, 1, p, v, out.data());
  const float sy[4] = {0.25f, 1.75f, 3.25f, 4.75f}, sx[4] = {0.3f, 1.9f, 3.5f, 5.1f};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) CHECK(out[y * 4 + x] * 255.0f == Approx(20 * sy[y] + sx[x]).epsilon(1e-5));
}

TEST_CASE("colour steps with fixed factors", "[data][augment]") {
  SECTION("brightness multiplies and clamps") {
    std::vector<float> img = {100 / 255.f, 200 / 255.f};
    adjust_brightness(img.data(), 1, 2, 1.5f);
    CHECK(img[0] == Approx(150 / 255.f));
    CHECK(img[1] == 1.0f);
  }
  SECTION("contrast blends with the mean luma") {
    std::vector<float> img = {0.2f, 0.6f, 0.4f, 0.8f};  // 1 channel, mean 0.5
    adjust_contrast(img.data(), 1, 4, 0.5f);
    CHECK(img[0] == Approx(0.35f));  // 0.5 * 0.2 + 0.5 * 0.5
    CHECK(img[3] == Approx(0.65f));
    // RGB: mean of 0.299 r + 0.587 g + 0.114 b over two pixels (1,0,0) and (0,0,1) = 0.2065
    std::vector<float> rgb = {1, 0, 0, 0, 0, 1};
    adjust_contrast(rgb.data(), 3, 2, 2.0f);
    CHECK(rgb[0] == 1.0f);                        // 2 - 0.2065 clamped
    CHECK(rgb[1] == 0.0f);                        // -0.2065 clamped
    CHECK(rgb[5] == Approx(1.0f));                // clamp
  }
  SECTION("saturation 0 gives the luma, 2 pushes away from it") {
    std::vector<float> rgb = {0.5f, 0.25f, 1.0f};  // one pixel, planes of size 1
    const float gray = 0.299f * 0.5f + 0.587f * 0.25f + 0.114f * 1.0f;
    std::vector<float> zero = rgb;
    adjust_saturation(zero.data(), 3, 1, 0.0f);
    for (float v : zero) CHECK(v == Approx(gray));
    adjust_saturation(rgb.data(), 3, 1, 2.0f);
    CHECK(rgb[0] == Approx(2 * 0.5f - gray));
    CHECK(rgb[1] == Approx(std::max(0.0f, 2 * 0.25f - gray)));
  }
  SECTION("hue rotates around the colour wheel") {
    std::vector<float> red = {1, 0, 0};
    adjust_hue(red.data(), 3, 1, 0.5f);  // red -> cyan
    CHECK(red == std::vector<float>{0, 1, 1});
    std::vector<float> red2 = {1, 0, 0};
    adjust_hue(red2.data(), 3, 1, 1.0f / 3.0f);  // red -> green
    CHECK(red2[0] == Approx(0).margin(1e-6));
    CHECK(red2[1] == Approx(1));
    CHECK(red2[2] == Approx(0).margin(1e-6));
    // (0.8, 0.4, 0.2): h = 60 deg * (g - b) / (max - min) = 20 deg = 1/18, s = 0.75, v = 0.8
    std::vector<float> c = {0.8f, 0.4f, 0.2f};
    adjust_hue(c.data(), 3, 1, -1.0f / 18.0f);  // -> hue 0: (v, v(1 - s), v(1 - s))
    CHECK(c[0] == Approx(0.8f));
    CHECK(c[1] == Approx(0.2f));
    CHECK(c[2] == Approx(0.2f));
    std::vector<float> d = {0.8f, 0.4f, 0.2f};
    adjust_hue(d.data(), 3, 1, -1.0f / 9.0f);  // -> 340 deg: sector 5, f = 2/3, b = v(1 - s f) = 0.4
    CHECK(d[0] == Approx(0.8f));
    CHECK(d[1] == Approx(0.2f));
    CHECK(d[2] == Approx(0.4f));
    std::vector<float> g = {0.3f};  // a gray image is unchanged
    adjust_hue(g.data(), 1, 1, 0.25f);
    CHECK(g[0] == 0.3f);
  }
  SECTION("grayscale, solarize, normalize") {
    std::vector<float> rgb = {1, 0, 0, 0, 0, 1};
    to_grayscale(rgb.data(), 3, 2);
    CHECK(rgb == std::vector<float>{0.299f, 0.114f, 0.299f, 0.114f, 0.299f, 0.114f});
    std::vector<float> s = {0.2f, 0.5f, 0.9f};
    solarize(s.data(), 1, 3, 0.5f);
    CHECK(s[0] == 0.2f);
    CHECK(s[1] == 0.5f);
    CHECK(s[2] == Approx(0.1f));
    std::vector<float> n = {0.5f, 0.5f};
    const float mean[2] = {0.25f, 0.75f}, std[2] = {0.5f, 0.25f};
    normalize(n.data(), 2, 1, mean, std);
    CHECK(n[0] == Approx(0.5f));
    CHECK(n[1] == Approx(-1.0f));
  }
}

TEST_CASE("Gaussian blur of an impulse is the outer product of the normalized kernel", "[data][augment]") {
  const int S = 7;
  std::vector<float> img(S * S, 0.0f);
  img[3 * S + 3] = 1.0f;
  gaussian_blur(img.data(), 1, S, 3, 1.0f);
  const double e = std::exp(-0.5), w0 = 1 / (1 + 2 * e), w1 = e / (1 + 2 * e);
  CHECK(img[3 * S + 3] == Approx(w0 * w0).epsilon(1e-5));
  CHECK(img[3 * S + 4] == Approx(w0 * w1).epsilon(1e-5));
  CHECK(img[2 * S + 4] == Approx(w1 * w1).epsilon(1e-5));
  CHECK(img[1 * S + 3] == 0.0f);
  // reflect padding at the border: an impulse in the corner keeps mass w0 + 2 w1 along each axis
  std::vector<float> corner(S * S, 0.0f);
  corner[0] = 1.0f;
  gaussian_blur(corner.data(), 1, S, 3, 1.0f);
  CHECK(corner[0] == Approx(w0 * w0).epsilon(1e-5));
  CHECK(corner[1] == Approx(w0 * w1).epsilon(1e-5));
  CHECK(blur_kernel_size(plain(224)) == 23);
  CHECK(blur_kernel_size(plain(32)) == 3);
}

TEST_CASE("portable exp and log are accurate to a few ulp", "[data][augment]") {
  for (float x = -20.0f; x <= 20.0f; x += 0.01234f) {
    float ours = portable_exp(x), ref = std::exp(x);
    CHECK(std::abs(ours - ref) <= 4 * std::abs(std::nextafter(ref, INFINITY) - ref));
  }
  for (float x = 0.001f; x < 100.0f; x *= 1.037f) {
    float ours = portable_log(x), ref = std::log(x);
    CHECK(std::abs(ours - ref) <= 4 * std::abs(std::nextafter(ref, INFINITY) - ref) + 1e-7f);
  }
  CHECK(portable_exp(0.0f) == 1.0f);
  CHECK(portable_log(1.0f) == 0.0f);
  CHECK(portable_exp(-100.0f) == 0.0f);
}

TEST_CASE("RandomResizedCrop matches torchvision's algorithm re-derived in float64", "[data][augment]") {
  // For each key: replay the crop stream's words by hand (2 uniforms per attempt, then 2
  // multiply-shift integers) and compute the box in double precision, as torchvision does.
  AugmentPipeline p = plain(32);
  p.scale_min = 0.08f;
  const int H = 40, W = 56;
  int exact = 0, total = 0;
  for (uint32_t idx = 0; idx < 2000; ++idx) {
    ViewParams v = sample_view_params(p, H, W, 1234, 7, idx, idx % 2);
    RandomStream rs(1234, 7, idx, 0x41550000u | (1u << 8) | (idx % 2));
    const double lo = std::log(3.0 / 4.0), hi = std::log(4.0 / 3.0);
    int top = -1, left = -1, h = 0, w = 0;
    for (int a = 0; a < 10 && top < 0; ++a) {
      double u1 = (rs.next_u32() >> 8) / 16777216.0, u2 = (rs.next_u32() >> 8) / 16777216.0;
      double target = H * W * (0.08 + 0.92 * u1), ratio = std::exp(lo + (hi - lo) * u2);
      w = round_half_even(std::sqrt(target * ratio));
      h = round_half_even(std::sqrt(target / ratio));
      if (w > 0 && w <= W && h > 0 && h <= H) {
        top = static_cast<int>((uint64_t(rs.next_u32()) * (H - h + 1)) >> 32);
        left = static_cast<int>((uint64_t(rs.next_u32()) * (W - w + 1)) >> 32);
      }
    }
    REQUIRE(top >= 0);  // at these scales an attempt always fits within 10
    ++total;
    bool same = v.top == top && v.left == left && v.height == h && v.width == w;
    exact += same;
    if (!same) {  // float32 vs float64 may differ by one pixel at a rounding tie, no more
      CHECK(std::abs(v.height - h) <= 1);
      CHECK(std::abs(v.width - w) <= 1);
    }
  }
  CHECK(exact >= total * 99 / 100);
}

TEST_CASE("RandomResizedCrop falls back to the centre crop clamped to the ratio range", "[data][augment]") {
  AugmentPipeline p = plain(8);
  p.scale_min = p.scale_max = 4.0f;  // an area 4x the image never fits: all 10 attempts fail
  ViewParams wide = sample_view_params(p, 10, 40, 5, 0, 3, 0);  // ratio 4 > 4/3: h = 10, w = round(13.3)
  CHECK(wide.height == 10);
  CHECK(wide.width == 13);
  CHECK(wide.top == 0);
  CHECK(wide.left == 13);  // (40 - 13) / 2
  ViewParams tall = sample_view_params(p, 40, 10, 5, 0, 3, 0);  // ratio 1/4 < 3/4: w = 10, h = round(13.3)
  CHECK(tall.width == 10);
  CHECK(tall.height == 13);
  CHECK(tall.top == 13);
  ViewParams square = sample_view_params(p, 20, 20, 5, 0, 3, 0);
  CHECK((square.top == 0 && square.left == 0 && square.height == 20 && square.width == 20));
}

TEST_CASE("RNG key mapping: one stream per step keyed by (seed, epoch, index, view)", "[data][augment]") {
  AugmentPipeline p = plain(32);
  p.flip_p = 0.5f;
  p.grayscale_p = 0.3f;
  p.jitter_p = 0.8f;
  p.brightness = 0.4f;
  p.hue = 0.1f;
  p.blur_p = 0.5f;
  p.solarize_p = 0.2f;
  for (uint32_t idx = 0; idx < 50; ++idx) {
    ViewParams v = sample_view_params(p, 32, 32, 99, 3, idx, 1);
    auto stream = [&](uint32_t step) { return RandomStream(99, 3, idx, 0x41550000u | (step << 8) | 1u); };
    CHECK(v.flip == (stream(2).uniform() < 0.5f));
    CHECK(v.grayscale == (stream(4).uniform() < 0.3f));
    CHECK(v.solarize == (stream(6).uniform() < 0.2f));
    RandomStream j = stream(3);
    CHECK(v.jitter == (j.uniform() < 0.8f));
    for (int k = 0; k < 3; ++k) j.next_u32();  // the three order draws
    CHECK(v.brightness == Approx(0.6f + 0.8f * j.uniform()));
    RandomStream b = stream(5);
    CHECK(v.blur == (b.uniform() < 0.5f));
    CHECK(v.sigma == Approx(0.1f + 1.9f * b.uniform()));
  }
}

TEST_CASE("sampled decisions follow their probabilities and ranges", "[data][augment]") {
  AugmentPipeline p = plain(32);
  p.flip_p = 0.5f;
  p.jitter_p = 0.8f;
  p.brightness = p.contrast = p.saturation = 0.4f;
  p.hue = 0.1f;
  p.scale_min = 0.2f;
  const int n = 20000;
  int flips = 0, jitters = 0;
  std::set<std::vector<int>> orders;
  for (int i = 0; i < n; ++i) {
    ViewParams v = sample_view_params(p, 32, 32, 7, 1, static_cast<uint32_t>(i), 0);
    flips += v.flip;
    jitters += v.jitter;
    orders.insert({v.order[0], v.order[1], v.order[2], v.order[3]});
    CHECK((v.brightness >= 0.6f && v.brightness <= 1.4f && v.hue >= -0.1f && v.hue <= 0.1f));
    double area = double(v.height) * v.width / (32.0 * 32.0);
    CHECK((area > 0.15 && area < 1.06));  // scale 0.2-1 with rounding of w and h
    CHECK((v.top >= 0 && v.left >= 0 && v.top + v.height <= 32 && v.left + v.width <= 32));
  }
  CHECK(std::abs(flips / double(n) - 0.5) < 0.02);
  CHECK(std::abs(jitters / double(n) - 0.8) < 0.02);
  CHECK(orders.size() == 24);  // every order of the four colour ops occurs
}

TEST_CASE("views are deterministic in (seed, epoch, index, view), whatever the batch or threads", "[data][augment]") {
  Dataset ds = synthetic(12, 32, 32, 3);
  ViewPipelines pre = augment_preset("mocov2", 32, normalization_for(ds));
  TwoViewBatch a = make_views(ds, {3, 5, 7}, pre.first, pre.second, 42, 2, 1);
  TwoViewBatch b = make_views(ds, {3, 5, 7}, pre.first, pre.second, 42, 2, 2);
  CHECK(values(a.view1) == values(b.view1));
  CHECK(values(a.view2) == values(b.view2));
  CHECK(a.view1.shape() == Shape{3, 3, 32, 32});
  CHECK(a.indices.to_vector<int64_t>() == std::vector<int64_t>{3, 5, 7});
  // another batch composition: sample 5's views are the same
  TwoViewBatch c = make_views(ds, {11, 5, 0, 3}, pre.first, pre.second, 42, 2, 2);
  CHECK(values(c.view1.select(0, 1)) == values(a.view1.select(0, 1)));
  CHECK(values(c.view2.select(0, 3)) == values(a.view2.select(0, 0)));
  // two views of one sample differ, and so do other epochs and seeds
  CHECK(values(a.view1) != values(a.view2));
  CHECK(values(make_views(ds, {3, 5, 7}, pre.first, pre.second, 42, 3, 2).view1) != values(a.view1));
  CHECK(values(make_views(ds, {3, 5, 7}, pre.first, pre.second, 43, 2, 2).view1) != values(a.view1));
  // a resumed run recomputes the same (nothing depends on state from earlier calls)
  CHECK(values(make_views(ds, {3, 5, 7}, pre.first, pre.second, 42, 2, 1).view2) == values(a.view2));
}

TEST_CASE("gray data sets give 1 channel, or 3 equal channels when replicated", "[data][augment]") {
  Dataset ds = synthetic(4, 28, 28, 1);
  ds.name = "fashion-mnist";
  Normalization norm = normalization_for(ds);
  CHECK(norm.channels == 1);
  ViewPipelines one = augment_preset("small-strong", 28, norm);
  Tensor v1 = make_views(ds, {0, 1}, one.first, one.second, 1, 0).view1;
  CHECK(v1.shape() == Shape{2, 1, 28, 28});
  ViewPipelines three = augment_preset("small-strong", 28, norm, 3);
  CHECK(three.first.mean[2] == Approx(0.2860f));
  Tensor v3 = make_views(ds, {0, 1}, three.first, three.second, 1, 0).view1;
  CHECK(v3.shape() == Shape{2, 3, 28, 28});
  // saturation and hue do nothing to gray, so the replicated planes stay equal to the 1-channel view
  CHECK(values(v3.select(1, 0)) == values(v3.select(1, 2)));
  for (int64_t i = 0; i < 2; ++i) {
    auto a = values(v3.select(0, i).select(0, 1)), b = values(v1.select(0, i).select(0, 0));
    for (size_t k = 0; k < a.size(); ++k) CHECK(a[k] == Approx(b[k]).margin(1e-5));
  }
}

TEST_CASE("presets: definitions, small-image scaling, asymmetry, eval", "[data][augment]") {
  Normalization norm;
  for (auto& name : augment_preset_names()) {
    INFO(name);
    for (int size : {28, 32, 224}) {
      ViewPipelines v = augment_preset(name, size, norm);
      check_pipeline(v.first, 3);
      check_pipeline(v.second, 3);
      CHECK(v.first.out_size == size);
      if (size <= 64) CHECK(v.first.blur_p == 0.0f);  // no blur on small images by default
    }
  }
  ViewPipelines moco = augment_preset("mocov2", 224, norm);
  CHECK(moco.first.scale_min == 0.2f);
  CHECK(moco.first.brightness == 0.4f);
  CHECK(moco.first.hue == 0.1f);
  CHECK(moco.first.jitter_p == 0.8f);
  CHECK(moco.first.grayscale_p == 0.2f);
  CHECK(moco.first.blur_p == 0.5f);
  ViewPipelines strong = augment_preset("small-strong", 32, norm);
  CHECK(strong.first.saturation == 0.8f);
  CHECK(strong.first.hue == 0.4f);
  CHECK(strong.first.grayscale_p == 0.5f);
  CHECK(augment_preset("simclr", 32, norm).first.brightness == Approx(0.4f));
  CHECK(augment_preset("simclr", 224, norm).first.brightness == Approx(0.8f));
  ViewPipelines byol = augment_preset("byol", 224, norm);
  CHECK(byol.first.blur_p == 1.0f);
  CHECK(byol.second.blur_p == 0.1f);
  CHECK(byol.first.solarize_p == 0.0f);
  CHECK(byol.second.solarize_p == 0.2f);
  CHECK(augment_preset("byol", 32, norm).second.solarize_p == 0.2f);
  ViewPipelines ev = augment_preset("eval", 224, norm);
  CHECK(!ev.first.random_crop);
  CHECK(ev.first.resize_size == 256);
  CHECK_THROWS_WITH(augment_preset("moco", 32, norm), Catch::Contains("unknown augmentation preset 'moco'"));
  // eval at 32 px on a 32 px image is just normalization
  Dataset ds = synthetic(2, 32, 32, 3);
  Tensor e = augment_batch(ds, {1}, augment_preset("eval", 32, norm).first, 0, 0, 0);
  CHECK(e.to_vector<float>()[5] == Approx((ds.image(1)[5 * 3] / 255.0f - 0.5f) / 0.5f));
}

TEST_CASE("pipelines out of range are rejected with the field named", "[data][augment]") {
  AugmentPipeline p = plain(32);
  p.hue = 0.7f;
  CHECK_THROWS_WITH(check_pipeline(p, 3), Catch::Contains("hue"));
  p = plain(32);
  p.flip_p = 1.5f;
  CHECK_THROWS_WITH(check_pipeline(p, 3), Catch::Contains("flip_p"));
  p = plain(32);
  p.channels = 1;
  CHECK_THROWS_WITH(check_pipeline(p, 3), Catch::Contains("channels 1 cannot be made from 3-channel"));
  p = plain(32);
  p.blur_kernel = 4;
  CHECK_THROWS_WITH(check_pipeline(p, 3), Catch::Contains("odd"));
  Dataset ds = synthetic(2, 8, 8, 3);
  CHECK_THROWS_WITH(make_views(ds, {2}, plain(8), plain(8), 0, 0), Catch::Contains("index 2 out of range"));
}
