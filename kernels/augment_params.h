// The random decisions of one augmented view: the pipeline description, the parameters drawn for
// a view, and the function that draws them. Everything here is plain float32/int arithmetic on
// SLIMSSL_HD functions, so the CUDA kernel (kernels/augment.h) calls sample_view_params() itself
// and the CPU reference (ssl/data/augment.h, which sees these names as slimssl::data::*) calls
// the same code: both make bit-identical decisions. It lives in kernels/ because the kernel needs
// it and kernels/ may not include ssl/; ssl/data/augment_params.h forwards to it.
//
// Bit-identity rules followed below (and required of the CUDA build for this code):
//  - every multiply-add is an explicit fma_rn() and no other expression has the a*b+c shape, so
//    compiler contraction (GCC and nvcc both fuse by default) cannot change a result;
//  - only correctly rounded operations: + - * /, sqrt (sqrt_rn/div_rn pick the _rn intrinsics on
//    the device, so --use_fast_math cannot leak in), rint; exp and log are computed here from
//    those (portable_exp/portable_log), never taken from a math library;
//  - integers in [0, n) come from a 32-bit draw by multiply-shift (no floating point).
//
// RNG key mapping (docs/data.md): each augmentation step draws from its own stream
//   RandomStream(seed, epoch, sample_index, kAugmentTag | step << 8 | view)
// so a step consumes draws without shifting any other step, the order of calls and the batch a
// sample lands in do not matter, and a resumed run (same seed, epoch) sees the same views.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include "base/rng.h"

namespace slimssl::augment {

// A view pipeline: geometry (RandomResizedCrop, or resize + centre crop when random_crop is
// false), then flip, ColorJitter (random order, probability jitter_p), grayscale, Gaussian blur,
// solarize, normalize. Plain data, passed to a kernel by value.
struct AugmentPipeline {
  int32_t out_size = 32;     // output is out_size x out_size
  int32_t channels = 0;      // 0: as stored; 3 with a 1-channel data set replicates gray to RGB
  bool random_crop = true;   // RandomResizedCrop; false: resize shorter side + centre crop (eval)
  float scale_min = 0.08f, scale_max = 1.0f;         // crop area / image area
  float ratio_min = 3.0f / 4.0f, ratio_max = 4.0f / 3.0f;  // crop width / height
  int32_t resize_size = 0;   // eval: shorter side resized to this before the crop (0 = out_size)
  float flip_p = 0.0f;
  float jitter_p = 0.0f, brightness = 0.0f, contrast = 0.0f, saturation = 0.0f, hue = 0.0f;
  float grayscale_p = 0.0f;
  float blur_p = 0.0f, sigma_min = 0.1f, sigma_max = 2.0f;
  int32_t blur_kernel = 0;   // odd kernel size; 0 = about 10% of out_size (at least 3)
  float solarize_p = 0.0f, solarize_threshold = 0.5f;  // on [0, 1] values: v >= t -> 1 - v
  float mean[3] = {0.0f, 0.0f, 0.0f}, std[3] = {1.0f, 1.0f, 1.0f};
};

enum JitterOp : uint8_t { kBrightness = 0, kContrast = 1, kSaturation = 2, kHue = 3 };

// What one view does. Geometry: the source region [top, top+height) x [left, left+width) is
// resized (bilinear, half-pixel centres, edges clamped to the region) to resized_h x resized_w,
// and the output is the out_size window at (offset_y, offset_x) of that, mirrored if flip.
struct ViewParams {
  int32_t top = 0, left = 0, height = 0, width = 0;
  int32_t resized_h = 0, resized_w = 0, offset_y = 0, offset_x = 0;
  bool flip = false;
  bool jitter = false;
  uint8_t order[4] = {kBrightness, kContrast, kSaturation, kHue};
  float brightness = 1.0f, contrast = 1.0f, saturation = 1.0f, hue = 0.0f;
  bool grayscale = false;
  bool blur = false;
  float sigma = 1.0f;
  bool solarize = false;
};

// "AU" in the top 16 bits of the third counter word keeps augmentation streams apart from every
// other user of the same seed; bits 8-15 are the step, bits 0-7 the view.
constexpr uint32_t kAugmentTag = 0x41550000u;
enum AugmentStep : uint32_t { kStepCrop = 1, kStepFlip = 2, kStepJitter = 3, kStepGray = 4, kStepBlur = 5, kStepSolarize = 6 };

SLIMSSL_HD RandomStream augment_stream(uint64_t seed, uint32_t epoch, uint32_t index, uint32_t view, uint32_t step) {
  return RandomStream(seed, epoch, index, kAugmentTag | (step << 8) | (view & 0xffu));
}

// ---- correctly rounded float32 building blocks, the same on host and device ----
SLIMSSL_HD float fma_rn(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
SLIMSSL_HD float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
SLIMSSL_HD float sqrt_rn(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}
SLIMSSL_HD float round_even(float a) {  // rint under the default rounding mode: ties to even
#if defined(__CUDA_ARCH__)
  return rintf(a);
#else
  return std::nearbyint(a);
#endif
}

// e^x within 2 ulp: x = n ln2 + r (Cody-Waite), degree-7 Taylor polynomial in r, times 2^n.
SLIMSSL_HD float portable_exp(float x) {
  if (x < -87.0f) return 0.0f;
  if (x > 88.0f) x = 88.0f;
  float n = round_even(x * 1.44269504f);
  float r = fma_rn(-n, 0.693359375f, x);
  r = fma_rn(-n, -2.12194440e-4f, r);
  float p = 1.0f / 5040.0f;
  p = fma_rn(p, r, 1.0f / 720.0f);
  p = fma_rn(p, r, 1.0f / 120.0f);
  p = fma_rn(p, r, 1.0f / 24.0f);
  p = fma_rn(p, r, 1.0f / 6.0f);
  p = fma_rn(p, r, 0.5f);
  p = fma_rn(p, r, 1.0f);
  p = fma_rn(p, r, 1.0f);
  uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 127]
  float scale;
  memcpy(&scale, &bits, 4);
  return p * scale;
}

// ln x for positive normal x, within 2 ulp: x = m 2^e with m in (sqrt(1/2), sqrt(2)], and
// ln m = 2 atanh(s), s = (m - 1) / (m + 1), by its odd series (|s| < 0.172).
SLIMSSL_HD float portable_log(float x) {
  uint32_t bits;
  memcpy(&bits, &x, 4);
  int32_t e = static_cast<int32_t>(bits >> 23) - 127;
  bits = (bits & 0x7fffffu) | 0x3f800000u;
  float m;
  memcpy(&m, &bits, 4);
  if (m > 1.41421356f) {
    m = m * 0.5f;
    e += 1;
  }
  float s = div_rn(m - 1.0f, m + 1.0f);
  float s2 = s * s;
  float q = 1.0f / 11.0f;
  q = fma_rn(q, s2, 1.0f / 9.0f);
  q = fma_rn(q, s2, 1.0f / 7.0f);
  q = fma_rn(q, s2, 1.0f / 5.0f);
  q = fma_rn(q, s2, 1.0f / 3.0f);
  q = fma_rn(q, s2, 1.0f);
  float ln_m = (2.0f * s) * q;
  float fe = static_cast<float>(e);
  return fma_rn(fe, 0.693359375f, fma_rn(fe, -2.12194440e-4f, ln_m));
}

// ---- draws ----
SLIMSSL_HD float draw_uniform(RandomStream& rs, float lo, float hi) { return fma_rn(hi - lo, rs.uniform(), lo); }
SLIMSSL_HD bool draw_bernoulli(RandomStream& rs, float p) { return rs.uniform() < p; }
// An integer in [0, n) by multiply-shift (bias below n / 2^32, negligible for image sizes).
SLIMSSL_HD int32_t draw_below(RandomStream& rs, int32_t n) {
  return static_cast<int32_t>((static_cast<uint64_t>(rs.next_u32()) * static_cast<uint32_t>(n)) >> 32);
}

// torchvision's RandomResizedCrop.get_params in float32: up to 10 attempts of (area scale,
// log-uniform aspect ratio), w = rint(sqrt(area * ratio)), h = rint(sqrt(area / ratio)); the
// first that fits takes a uniform position; otherwise the centre crop clamped to the ratio range.
SLIMSSL_HD void sample_crop(const AugmentPipeline& p, int32_t H, int32_t W, RandomStream rs, ViewParams& v) {
  const float area = static_cast<float>(H) * static_cast<float>(W);
  const float log_lo = portable_log(p.ratio_min), log_hi = portable_log(p.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    float target = area * draw_uniform(rs, p.scale_min, p.scale_max);
    float aspect = portable_exp(draw_uniform(rs, log_lo, log_hi));
    // compared as floats before the conversion: an extreme ratio gives values no int32 holds
    float wf = round_even(sqrt_rn(target * aspect));
    float hf = round_even(sqrt_rn(div_rn(target, aspect)));
    if (wf >= 1.0f && wf <= static_cast<float>(W) && hf >= 1.0f && hf <= static_cast<float>(H)) {
      int32_t w = static_cast<int32_t>(wf), h = static_cast<int32_t>(hf);
      v.top = draw_below(rs, H - h + 1);
      v.left = draw_below(rs, W - w + 1);
      v.height = h;
      v.width = w;
      return;
    }
  }
  float in_ratio = div_rn(static_cast<float>(W), static_cast<float>(H));
  int32_t w = W, h = H;
  // the clamped side lies in [0, H] (or [0, W]); at least one pixel is kept
  if (in_ratio < p.ratio_min) h = static_cast<int32_t>(fmaxf(1.0f, round_even(div_rn(static_cast<float>(W), p.ratio_min))));
  else if (in_ratio > p.ratio_max) w = static_cast<int32_t>(fmaxf(1.0f, round_even(static_cast<float>(H) * p.ratio_max)));
  v.top = (H - h) / 2;
  v.left = (W - w) / 2;
  v.height = h;
  v.width = w;
}

// The eval geometry (no randomness): shorter side resized to resize_size (the longer side in
// proportion, truncated as torchvision does), then the centre out_size window.
SLIMSSL_HD void eval_geometry(const AugmentPipeline& p, int32_t H, int32_t W, ViewParams& v) {
  int32_t r = p.resize_size > 0 ? p.resize_size : p.out_size;
  v.top = 0;
  v.left = 0;
  v.height = H;
  v.width = W;
  if (H <= W) {
    v.resized_h = r;
    v.resized_w = static_cast<int32_t>((static_cast<int64_t>(r) * W) / H);
  } else {
    v.resized_w = r;
    v.resized_h = static_cast<int32_t>((static_cast<int64_t>(r) * H) / W);
  }
  // torchvision's center_crop: int(round((size - crop) / 2.0)), Python's round ties to even
  v.offset_y = static_cast<int32_t>(round_even(static_cast<float>(v.resized_h - p.out_size) * 0.5f));
  v.offset_x = static_cast<int32_t>(round_even(static_cast<float>(v.resized_w - p.out_size) * 0.5f));
}

// Every decision for view `view` of sample `index` in `epoch`. The image is H x W.
SLIMSSL_HD ViewParams sample_view_params(const AugmentPipeline& p, int32_t H, int32_t W, uint64_t seed, uint32_t epoch,
                                         uint32_t index, uint32_t view) {
  ViewParams v;
  if (p.random_crop) {
    sample_crop(p, H, W, augment_stream(seed, epoch, index, view, kStepCrop), v);
    v.resized_h = v.resized_w = p.out_size;
  } else {
    eval_geometry(p, H, W, v);
  }
  RandomStream flip = augment_stream(seed, epoch, index, view, kStepFlip);
  v.flip = draw_bernoulli(flip, p.flip_p);

  // Draw counts are fixed (apply, 3 for the order, 4 factors) whatever is applied.
  RandomStream jit = augment_stream(seed, epoch, index, view, kStepJitter);
  v.jitter = draw_bernoulli(jit, p.jitter_p);
  for (int k = 3; k > 0; --k) {  // Fisher-Yates: a uniform permutation of the four ops
    int32_t j = draw_below(jit, k + 1);
    uint8_t t = v.order[k];
    v.order[k] = v.order[j];
    v.order[j] = t;
  }
  v.brightness = draw_uniform(jit, fmaxf(0.0f, 1.0f - p.brightness), 1.0f + p.brightness);
  v.contrast = draw_uniform(jit, fmaxf(0.0f, 1.0f - p.contrast), 1.0f + p.contrast);
  v.saturation = draw_uniform(jit, fmaxf(0.0f, 1.0f - p.saturation), 1.0f + p.saturation);
  v.hue = draw_uniform(jit, -p.hue, p.hue);

  RandomStream gray = augment_stream(seed, epoch, index, view, kStepGray);
  v.grayscale = draw_bernoulli(gray, p.grayscale_p);
  RandomStream blur = augment_stream(seed, epoch, index, view, kStepBlur);
  v.blur = draw_bernoulli(blur, p.blur_p);
  v.sigma = draw_uniform(blur, p.sigma_min, p.sigma_max);
  RandomStream sol = augment_stream(seed, epoch, index, view, kStepSolarize);
  v.solarize = draw_bernoulli(sol, p.solarize_p);
  return v;
}

}  // namespace slimssl::augment
