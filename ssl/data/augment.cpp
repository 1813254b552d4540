#include "ssl/data/augment.h"
#include <omp.h>
#include <algorithm>
#include <cmath>
#include "engine/error.h"

namespace slimssl::data {

namespace {

constexpr float kGrayR = 0.299f, kGrayG = 0.587f, kGrayB = 0.114f;  // ITU-R 601 luma, as PIL's "L"

float clamp01(float v) { return std::min(1.0f, std::max(0.0f, v)); }

// One output axis of the resample: output o reads source i0 and i1 with weight w on i1.
struct Axis {
  std::vector<int> i0, i1;
  std::vector<float> w;
};

// Source coordinate of output o: lo + (o + offset + 0.5) * len / resized - 0.5, clamped to the
// region [lo, lo + len - 1] (the region is cropped out before resizing, so its edge repeats).
void make_axis(Axis& a, int size, int lo, int len, int resized, int offset, bool mirror) {
  a.i0.resize(size);
  a.i1.resize(size);
  a.w.resize(size);
  const float scale = static_cast<float>(len) / static_cast<float>(resized);
  const int hi = lo + len - 1;
  for (int o = 0; o < size; ++o) {
    int src_o = mirror ? size - 1 - o : o;
    float s = (static_cast<float>(src_o + offset) + 0.5f) * scale - 0.5f + static_cast<float>(lo);
    s = std::min(std::max(s, static_cast<float>(lo)), static_cast<float>(hi));
    int i0 = std::min(static_cast<int>(std::floor(s)), hi);
    a.i0[o] = i0;
    a.i1[o] = std::min(i0 + 1, hi);
    a.w[o] = s - static_cast<float>(i0);
  }
}

// Bilinear resample into CHW floats in [0, 1]; the channel count is a template argument so the
// inner loop is unrolled.
template <int C>
void resample_rows(const uint8_t* image, int W, const Axis& ay, const Axis& ax, int S, float* out) {
  const int64_t plane = int64_t(S) * S;
  for (int y = 0; y < S; ++y) {
    const uint8_t* r0 = image + int64_t(ay.i0[y]) * W * C;
    const uint8_t* r1 = image + int64_t(ay.i1[y]) * W * C;
    const float wy = ay.w[y];
    float* o = out + int64_t(y) * S;
    for (int x = 0; x < S; ++x) {
      const int a = ax.i0[x] * C, b = ax.i1[x] * C;
      const float wx = ax.w[x];
      for (int c = 0; c < C; ++c) {
        float top = r0[a + c] + wx * (r0[b + c] - r0[a + c]);
        float bot = r1[a + c] + wx * (r1[b + c] - r1[a + c]);
        o[c * plane + x] = (top + wy * (bot - top)) * (1.0f / 255.0f);
      }
    }
  }
}

// A 1-channel source is replicated to `out_c` channels.
void resample(const uint8_t* image, int W, int C, const ViewParams& v, int S, int out_c, float* out) {
  thread_local Axis ay, ax;  // reused: a view is rendered many times per second per thread
  make_axis(ay, S, v.top, v.height, v.resized_h, v.offset_y, false);
  make_axis(ax, S, v.left, v.width, v.resized_w, v.offset_x, v.flip);
  if (C == 3) resample_rows<3>(image, W, ay, ax, S, out);
  else resample_rows<1>(image, W, ay, ax, S, out);
  const int64_t plane = int64_t(S) * S;
  for (int c = C; c < out_c; ++c) std::copy(out, out + plane, out + c * plane);  // gray -> RGB
}

float gray_at(const float* img, int64_t hw, int64_t i) {
  return kGrayR * img[i] + kGrayG * img[hw + i] + kGrayB * img[2 * hw + i];
}

int reflect(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
  return i;
}

}  // namespace

int output_channels(const AugmentPipeline& p, int64_t in_channels) {
  return p.channels > 0 ? p.channels : static_cast<int>(in_channels);
}

int blur_kernel_size(const AugmentPipeline& p) {
  if (p.blur_kernel > 0) return p.blur_kernel;
  int k = static_cast<int>(std::lround(0.1 * p.out_size));
  if (k % 2 == 0) k += 1;
  return std::max(k, 3);
}

void check_pipeline(const AugmentPipeline& p, int64_t in_channels, const std::string& what) {
  auto prob = [&](float v, const char* name) {
    SLIMSSL_CHECK(v >= 0.0f && v <= 1.0f, what, ": ", name, " must be a probability in [0, 1], got ", v);
  };
  SLIMSSL_CHECK(in_channels == 1 || in_channels == 3, what, ": images must have 1 or 3 channels, got ", in_channels);
  SLIMSSL_CHECK(p.out_size > 0 && p.out_size <= kMaxViewSize, what, ": out_size must be in [1, ", kMaxViewSize, "], got ",
                p.out_size);
  SLIMSSL_CHECK(p.resize_size >= 0 && p.resize_size <= kMaxViewSize, what, ": resize_size must be in [0, ", kMaxViewSize,
                "], got ", p.resize_size);
  for (float v : {p.scale_min, p.scale_max, p.ratio_min, p.ratio_max, p.brightness, p.contrast, p.saturation, p.hue,
                  p.sigma_min, p.sigma_max, p.solarize_threshold, p.mean[0], p.mean[1], p.mean[2], p.std[0], p.std[1], p.std[2]})
    SLIMSSL_CHECK(std::isfinite(v), what, ": every parameter must be a finite number, got ", v);
  SLIMSSL_CHECK(p.blur_kernel <= 2 * kMaxViewSize + 1, what, ": blur_kernel ", p.blur_kernel, " is larger than any view");
  SLIMSSL_CHECK(p.channels == 0 || p.channels == in_channels || (p.channels == 3 && in_channels == 1), what,
                ": channels ", p.channels, " cannot be made from ", in_channels, "-channel images (0, ", in_channels,
                in_channels == 1 ? " or 3)" : ")");
  SLIMSSL_CHECK(p.scale_min > 0.0f && p.scale_min <= p.scale_max, what, ": crop scale range [", p.scale_min, ", ",
                p.scale_max, "] must satisfy 0 < min <= max");
  SLIMSSL_CHECK(p.ratio_min > 0.0f && p.ratio_min <= p.ratio_max, what, ": crop ratio range [", p.ratio_min, ", ",
                p.ratio_max, "] must satisfy 0 < min <= max");
  SLIMSSL_CHECK(p.random_crop || p.resize_size == 0 || p.resize_size >= p.out_size, what, ": resize_size ",
                p.resize_size, " is smaller than the crop out_size ", p.out_size);
  prob(p.flip_p, "flip_p");
  prob(p.jitter_p, "jitter_p");
  prob(p.grayscale_p, "grayscale_p");
  prob(p.blur_p, "blur_p");
  prob(p.solarize_p, "solarize_p");
  SLIMSSL_CHECK(p.brightness >= 0 && p.contrast >= 0 && p.saturation >= 0, what,
                ": brightness, contrast and saturation must be >= 0");
  SLIMSSL_CHECK(p.hue >= 0.0f && p.hue <= 0.5f, what, ": hue must be in [0, 0.5], got ", p.hue);
  SLIMSSL_CHECK(p.sigma_min > 0.0f && p.sigma_min <= p.sigma_max, what, ": blur sigma range [", p.sigma_min, ", ",
                p.sigma_max, "] must satisfy 0 < min <= max");
  SLIMSSL_CHECK(p.blur_kernel == 0 || (p.blur_kernel > 0 && p.blur_kernel % 2 == 1), what,
                ": blur_kernel must be odd (or 0 for about 10% of out_size), got ", p.blur_kernel);
  for (int c = 0; c < output_channels(p, in_channels); ++c)
    SLIMSSL_CHECK(p.std[c] > 0.0f, what, ": std[", c, "] must be positive, got ", p.std[c]);
}

void adjust_brightness(float* img, int C, int64_t hw, float factor) {
  for (int64_t i = 0; i < C * hw; ++i) img[i] = clamp01(img[i] * factor);
}

void adjust_contrast(float* img, int C, int64_t hw, float factor) {
  double total = 0;
  for (int64_t i = 0; i < hw; ++i) total += C == 3 ? gray_at(img, hw, i) : img[i];
  const float mean = static_cast<float>(total / hw);
  for (int64_t i = 0; i < C * hw; ++i) img[i] = clamp01(factor * img[i] + (1.0f - factor) * mean);
}

void adjust_saturation(float* img, int C, int64_t hw, float factor) {
  if (C != 3) return;  // a gray image has no saturation
  for (int64_t i = 0; i < hw; ++i) {
    float g = gray_at(img, hw, i);
    for (int c = 0; c < 3; ++c) img[c * hw + i] = clamp01(factor * img[c * hw + i] + (1.0f - factor) * g);
  }
}

// torchvision's _rgb2hsv, the shift (mod 1), and back; hsv -> rgb in the branch-free form
// f(n) = v - v s clamp(min(k, 4 - k), 0, 1), k = (n + 6h) mod 6, for n = 5, 3, 1 (r, g, b),
// which equals torchvision's six-sector table and maps directly to a GPU thread per pixel.
void adjust_hue(float* img, int C, int64_t hw, float shift) {
  if (C != 3) return;
  float* R = img;
  float* G = img + hw;
  float* B = img + 2 * hw;
  for (int64_t i = 0; i < hw; ++i) {
    const float r = R[i], g = G[i], b = B[i];
    const float maxc = std::max(r, std::max(g, b)), minc = std::min(r, std::min(g, b));
    const float cr = maxc - minc;
    // torchvision's where(eqc, 1, ...): a gray pixel divides by 1 and gets hue 0, saturation 0
    const float inv = 1.0f / (cr > 0.0f ? cr : 1.0f);
    const float hr = (g - b) * inv, hg = 2.0f + (b - r) * inv, hb = 4.0f + (r - g) * inv;
    float h = maxc == r ? hr : (maxc == g ? hg : hb);
    h = h * (1.0f / 6.0f) + 1.0f;
    h = h - std::floor(h) + shift;
    h = h - std::floor(h);
    const float s = cr / (maxc > 0.0f ? maxc : 1.0f);
    const float h6 = h * 6.0f, vs = maxc * s;
    auto channel = [&](float n) {
      float k = n + h6;
      k = k >= 6.0f ? k - 6.0f : k;
      float t = std::max(0.0f, std::min(std::min(k, 4.0f - k), 1.0f));
      return maxc - vs * t;
    };
    R[i] = channel(5.0f);
    G[i] = channel(3.0f);
    B[i] = channel(1.0f);
  }
}

void to_grayscale(float* img, int C, int64_t hw) {
  if (C != 3) return;
  for (int64_t i = 0; i < hw; ++i) img[i] = img[hw + i] = img[2 * hw + i] = gray_at(img, hw, i);
}

// Separable Gaussian, reflect padding (torchvision's gaussian_blur); weights from the same
// portable_exp a GPU kernel uses. Each pass runs over whole rows so the inner loop vectorizes.
void gaussian_blur(float* img, int C, int size, int kernel, float sigma) {
  const int half = kernel / 2;
  std::vector<float> w(kernel);
  float total = 0;
  for (int k = 0; k < kernel; ++k) {
    float x = div_rn(static_cast<float>(k - half), sigma);
    w[k] = portable_exp(-0.5f * x * x);
    total += w[k];
  }
  for (auto& v : w) v /= total;
  std::vector<float> padded(size + 2 * half), tmp(int64_t(size) * size);
  for (int c = 0; c < C; ++c) {
    float* p = img + int64_t(c) * size * size;
    for (int y = 0; y < size; ++y) {  // horizontal: reflect-padded copy of the row
      const float* row = p + int64_t(y) * size;
      for (int i = 0; i < size + 2 * half; ++i) padded[i] = row[reflect(i - half, size)];
      float* out = &tmp[int64_t(y) * size];
      std::fill(out, out + size, 0.0f);
      for (int k = 0; k < kernel; ++k)
        for (int x = 0; x < size; ++x) out[x] += w[k] * padded[x + k];
    }
    for (int y = 0; y < size; ++y) {  // vertical: rows reflected at the top and bottom
      float* out = p + int64_t(y) * size;
      std::fill(out, out + size, 0.0f);
      for (int k = 0; k < kernel; ++k) {
        const float* src = &tmp[int64_t(reflect(y + k - half, size)) * size];
        for (int x = 0; x < size; ++x) out[x] += w[k] * src[x];
      }
    }
  }
}

void solarize(float* img, int C, int64_t hw, float threshold) {
  for (int64_t i = 0; i < C * hw; ++i)
    if (img[i] >= threshold) img[i] = 1.0f - img[i];
}

void normalize(float* img, int C, int64_t hw, const float* mean, const float* std) {
  for (int c = 0; c < C; ++c) {
    const float m = mean[c], inv = 1.0f / std[c];
    for (int64_t i = 0; i < hw; ++i) img[c * hw + i] = (img[c * hw + i] - m) * inv;
  }
}

void render_view(const uint8_t* image, int H, int W, int C, const AugmentPipeline& p, const ViewParams& v, float* out) {
  const int S = p.out_size, oc = output_channels(p, C);
  const int64_t hw = int64_t(S) * S;
  resample(image, W, C, v, S, oc, out);
  if (v.jitter) {
    for (uint8_t op : v.order) {
      switch (op) {
        case kBrightness: if (p.brightness > 0) adjust_brightness(out, oc, hw, v.brightness); break;
        case kContrast: if (p.contrast > 0) adjust_contrast(out, oc, hw, v.contrast); break;
        case kSaturation: if (p.saturation > 0) adjust_saturation(out, oc, hw, v.saturation); break;
        case kHue: if (p.hue > 0) adjust_hue(out, oc, hw, v.hue); break;
      }
    }
  }
  if (v.grayscale) to_grayscale(out, oc, hw);
  if (v.blur) gaussian_blur(out, oc, S, blur_kernel_size(p), v.sigma);
  if (v.solarize) solarize(out, oc, hw, p.solarize_threshold);
  normalize(out, oc, hw, p.mean, p.std);
}

namespace {

void render_batch(const Dataset& ds, const std::vector<int64_t>& indices, const AugmentPipeline& p, uint64_t seed,
                  uint32_t epoch, uint32_t view, int threads, float* out) {
  const int H = static_cast<int>(ds.height()), W = static_cast<int>(ds.width()), C = static_cast<int>(ds.channels());
  const int64_t per = int64_t(output_channels(p, C)) * p.out_size * p.out_size;
  const int64_t n = static_cast<int64_t>(indices.size());
  const uint8_t* images = ds.images.data<uint8_t>();
  const int64_t image_bytes = int64_t(H) * W * C;
  const int nt = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel for num_threads(nt) schedule(dynamic, 8)
  for (int64_t b = 0; b < n; ++b) {
    const int64_t idx = indices[b];
    ViewParams v = sample_view_params(p, H, W, seed, epoch, static_cast<uint32_t>(idx), view);
    render_view(images + idx * image_bytes, H, W, C, p, v, out + b * per);
  }
}

void check_indices(const Dataset& ds, const std::vector<int64_t>& indices, const char* op) {
  SLIMSSL_CHECK(ds.images.defined() && ds.images.dtype() == DType::U8 && ds.images.dim() == 4 && ds.images.is_contiguous(),
                op, ": the data set's images must be a contiguous uint8 [N, H, W, C] tensor");
  for (int64_t i : indices)
    SLIMSSL_CHECK(i >= 0 && i < ds.size() && i <= int64_t(UINT32_MAX), op, ": index ", i, " out of range for ",
                  ds.size(), " images");
}

}  // namespace

TwoViewBatch make_views(const Dataset& ds, const std::vector<int64_t>& indices, const AugmentPipeline& p1,
                        const AugmentPipeline& p2, uint64_t seed, uint32_t epoch, int threads) {
  check_indices(ds, indices, "make_views");
  check_pipeline(p1, ds.channels(), "make_views: first pipeline");
  check_pipeline(p2, ds.channels(), "make_views: second pipeline");
  TwoViewBatch batch;
  batch.view1 = augment_batch(ds, indices, p1, seed, epoch, 0, threads);
  batch.view2 = augment_batch(ds, indices, p2, seed, epoch, 1, threads);
  const int64_t n = static_cast<int64_t>(indices.size());
  batch.indices = Tensor::from_vector<int64_t>(indices, {n});
  batch.labels = Tensor::empty({n}, DType::I64);
  for (int64_t b = 0; b < n; ++b) batch.labels.data<int64_t>()[b] = ds.label(indices[b]);
  return batch;
}

Tensor augment_batch(const Dataset& ds, const std::vector<int64_t>& indices, const AugmentPipeline& p, uint64_t seed,
                     uint32_t epoch, uint32_t view, int threads) {
  check_indices(ds, indices, "augment_batch");
  check_pipeline(p, ds.channels(), "augment_batch");
  const int64_t n = static_cast<int64_t>(indices.size());
  Tensor out = Tensor::empty({n, output_channels(p, ds.channels()), p.out_size, p.out_size}, DType::F32);
  render_batch(ds, indices, p, seed, epoch, view, threads, out.data<float>());
  return out;
}

}  // namespace slimssl::data
