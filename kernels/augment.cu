// The augmentation kernels: see augment.h. The pixel arithmetic follows the CPU reference
// (ssl/data/augment.cpp) step by step and expression by expression; tests/test_data_augment_device.cpp
// holds every view to it.
#include <algorithm>
#include <cmath>
#include "kernels/augment.h"
#include "kernels/launch.h"

namespace slimssl::kernels {
namespace {

using augment::AugmentPipeline;
using augment::ViewParams;

constexpr float kGrayR = 0.299f, kGrayG = 0.587f, kGrayB = 0.114f;  // the reference's luma weights

__device__ __forceinline__ float clamp01(float v) { return fminf(1.0f, fmaxf(0.0f, v)); }

template <int C>
__device__ __forceinline__ float luma(const float (&px)[C]) {
  if constexpr (C == 3) return kGrayR * px[0] + kGrayG * px[1] + kGrayB * px[2];
  else return px[0];
}

// Index i reflected into [0, n) (reflect padding, repeated for kernels wider than the image).
__device__ __forceinline__ int reflect(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
  return i;
}

// torchvision's RGB -> HSV, hue + shift (mod 1), HSV -> RGB, as the reference's adjust_hue.
__device__ __forceinline__ void shift_hue(float (&px)[3], float shift) {
  const float r = px[0], g = px[1], b = px[2];
  const float maxc = fmaxf(r, fmaxf(g, b)), minc = fminf(r, fminf(g, b));
  const float chroma = maxc - minc;
  const float inv = 1.0f / (chroma > 0.0f ? chroma : 1.0f);  // a gray pixel: hue 0, saturation 0
  float h = maxc == r ? (g - b) * inv : (maxc == g ? 2.0f + (b - r) * inv : 4.0f + (r - g) * inv);
  h = h * (1.0f / 6.0f) + 1.0f;
  h = h - floorf(h) + shift;
  h = h - floorf(h);
  const float sat = chroma / (maxc > 0.0f ? maxc : 1.0f);
  const float h6 = h * 6.0f, vs = maxc * sat;
#pragma unroll
  for (int c = 0; c < 3; ++c) {  // n = 5, 3, 1 for r, g, b
    float k = static_cast<float>(5 - 2 * c) + h6;
    k = k >= 6.0f ? k - 6.0f : k;
    px[c] = maxc - vs * fmaxf(0.0f, fminf(fminf(k, 4.0f - k), 1.0f));
  }
}

// One ColorJitter step (skipped when its strength is 0, as the reference skips it).
template <int C>
__device__ __forceinline__ void jitter_step(uint8_t op, float (&px)[C], const AugmentPipeline& p, const ViewParams& v,
                                            float mean) {
  switch (op) {
    case augment::kBrightness:
      if (p.brightness > 0)
        for (int c = 0; c < C; ++c) px[c] = clamp01(px[c] * v.brightness);
      break;
    case augment::kContrast:
      if (p.contrast > 0)
        for (int c = 0; c < C; ++c) px[c] = clamp01(v.contrast * px[c] + (1.0f - v.contrast) * mean);
      break;
    case augment::kSaturation:
      if constexpr (C == 3) {
        if (p.saturation > 0) {
          const float g = luma(px);
          for (int c = 0; c < C; ++c) px[c] = clamp01(v.saturation * px[c] + (1.0f - v.saturation) * g);
        }
      }
      break;
    case augment::kHue:
      if constexpr (C == 3) {
        if (p.hue > 0) shift_hue(px, v.hue);
      }
      break;
  }
}

// Where a render block keeps things: byte offsets into its dynamic shared memory.
struct RenderLayout {
  int pipeline, params, axes, weights, partial, image, tmp, bytes;
  bool image_in_smem;  // the working images are in shared memory (else in the scratch)
  int64_t scratch_floats;  // per (view, item) when they are not
};

SLIMSSL_HD int align16(int n) { return (n + 15) / 16 * 16; }

struct RenderArgs {
  AugmentSource src;
  AugmentBatch b;
  const ViewParams* params;
  float* scratch;
  int first_view;  // the launch covers views first_view .. first_view + gridDim.y - 1
  RenderLayout lay;
};

__device__ __forceinline__ float nan_value() { return __int_as_float(0x7fc00000); }

__device__ __forceinline__ void store(void* out, DType t, int64_t at, float value) {
  if (t == DType::F32) static_cast<float*>(out)[at] = value;
  else static_cast<uint16_t*>(out)[at] = bf16_bits_from_float(value);
}

// Solarize, normalize, store pixel (y, x) of item n.
template <int C>
__device__ __forceinline__ void finish(float (&px)[C], const AugmentPipeline& p, const ViewParams& v, void* out,
                                       DType t, const Strides4& st, int n, int y, int x) {
  const int64_t base = n * st.n + y * st.h + x * st.w;
#pragma unroll
  for (int c = 0; c < C; ++c) {
    float value = px[c];
    if (v.solarize && value >= p.solarize_threshold) value = 1.0f - value;
    store(out, t, base + c * st.c, (value - p.mean[c]) * (1.0f / p.std[c]));
  }
}

// SC source channels, C output channels (1 -> 1, 1 -> 3 replicated, 3 -> 3).
template <int SC, int C>
__global__ void __launch_bounds__(kAugmentThreads) render_kernel(RenderArgs a) {
  extern __shared__ __align__(16) unsigned char smem[];
  const int n = blockIdx.x, slot = a.first_view + static_cast<int>(blockIdx.y);
  const int tid = threadIdx.x, nthreads = blockDim.x;
  AugmentPipeline& p = *reinterpret_cast<AugmentPipeline*>(smem + a.lay.pipeline);
  ViewParams& v = *reinterpret_cast<ViewParams*>(smem + a.lay.params);
  if (tid == 0) {
    if (slot == 0) p = a.b.view[0].pipeline;
    else p = a.b.view[1].pipeline;
    v = a.params[static_cast<int64_t>(slot) * a.b.batch + n];
  }
  void* const out = slot == 0 ? a.b.view[0].out : a.b.view[1].out;
  const DType dtype = slot == 0 ? a.b.view[0].dtype : a.b.view[1].dtype;
  const Strides4 st = slot == 0 ? a.b.view[0].strides : a.b.view[1].strides;
  __syncthreads();

  const int S = p.out_size, HW = S * S;
  if (v.height == 0) {  // index out of range (augment_draw): a NaN view, nothing read
    for (int i = tid; i < HW; i += nthreads)
      for (int c = 0; c < C; ++c) store(out, dtype, n * st.n + c * st.c + (i / S) * st.h + (i % S) * st.w, nan_value());
    return;
  }

  // The bilinear axis tables (the reference's make_axis): output o reads i0, i1 with weight w on i1.
  int* y0 = reinterpret_cast<int*>(smem + a.lay.axes);
  int* y1 = y0 + S;
  int* x0 = y1 + S;
  int* x1 = x0 + S;
  float* wy = reinterpret_cast<float*>(x1 + S);
  float* wx = wy + S;
  for (int o = tid; o < 2 * S; o += nthreads) {
    const bool is_x = o >= S;
    const int k = is_x ? o - S : o;
    const int lo = is_x ? v.left : v.top, len = is_x ? v.width : v.height;
    const int resized = is_x ? v.resized_w : v.resized_h, offset = is_x ? v.offset_x : v.offset_y;
    const int src_o = is_x && v.flip ? S - 1 - k : k;
    const float scale = static_cast<float>(len) / static_cast<float>(resized);
    const int hi = lo + len - 1;
    float s = (static_cast<float>(src_o + offset) + 0.5f) * scale - 0.5f + static_cast<float>(lo);
    s = fminf(fmaxf(s, static_cast<float>(lo)), static_cast<float>(hi));
    const int i0 = min(static_cast<int>(floorf(s)), hi);
    (is_x ? x0 : y0)[k] = i0;
    (is_x ? x1 : y1)[k] = min(i0 + 1, hi);
    (is_x ? wx : wy)[k] = s - static_cast<float>(i0);
  }
  // Blur weights, by one thread in the reference's order (so they are the reference's bits).
  float* weights = reinterpret_cast<float*>(smem + a.lay.weights);
  const int K = p.blur_kernel, half = K / 2;
  if (v.blur && tid == 0) {
    float total = 0;
    for (int k = 0; k < K; ++k) {
      const float z = augment::div_rn(static_cast<float>(k - half), v.sigma);
      weights[k] = augment::portable_exp(-0.5f * z * z);
      total += weights[k];
    }
    for (int k = 0; k < K; ++k) weights[k] /= total;
  }
  __syncthreads();

  const int64_t slot_floats = a.lay.scratch_floats;
  float* image = a.lay.image_in_smem ? reinterpret_cast<float*>(smem + a.lay.image)
                                     : a.scratch + (static_cast<int64_t>(slot) * a.b.batch + n) * slot_floats;
  float* tmp = a.lay.image_in_smem ? reinterpret_cast<float*>(smem + a.lay.tmp) : image + C * HW;
  const int64_t image_index = a.src.by_position ? n : a.b.indices[n];
  const int W = a.src.width;
  const uint8_t* src = a.src.images + image_index * a.src.height * W * SC;

  // ColorJitter's contrast needs the mean luma of the whole view as it is when contrast runs, so
  // the steps before it run in pass 1 and the rest after a block reduction.
  int cpos = 4;
  if (v.jitter && p.contrast > 0)
    for (int i = 0; i < 4; ++i)
      if (v.order[i] == augment::kContrast) cpos = i;
  const int steps = v.jitter ? 4 : 0;
  const bool pass2 = cpos < 4;
  const bool direct = !pass2 && !v.blur;  // pass 1 finishes the pixels itself

  float sum = 0.0f;
  for (int i = tid; i < HW; i += nthreads) {
    const int y = i / S, x = i % S;
    const uint8_t* r0 = src + static_cast<int64_t>(y0[y]) * W * SC;
    const uint8_t* r1 = src + static_cast<int64_t>(y1[y]) * W * SC;
    const int ia = x0[x] * SC, ib = x1[x] * SC;
    const float fx = wx[x], fy = wy[y];
    float px[C];
#pragma unroll
    for (int c = 0; c < SC; ++c) {
      const float top = r0[ia + c] + fx * (r0[ib + c] - r0[ia + c]);
      const float bot = r1[ia + c] + fx * (r1[ib + c] - r1[ia + c]);
      px[c] = (top + fy * (bot - top)) * (1.0f / 255.0f);
    }
#pragma unroll
    for (int c = SC; c < C; ++c) px[c] = px[0];  // gray -> RGB
    for (int k = 0; k < (pass2 ? cpos : steps); ++k) jitter_step(v.order[k], px, p, v, 0.0f);
    if (pass2) {
      sum += luma(px);
    } else if (v.grayscale && C == 3) {
      const float g = luma(px);
      for (int c = 0; c < C; ++c) px[c] = g;
    }
    if (direct) {
      finish(px, p, v, out, dtype, st, n, y, x);
    } else {
      for (int c = 0; c < C; ++c) image[c * HW + i] = px[c];
    }
  }
  if (direct) return;

  if (pass2) {
    float* partial = reinterpret_cast<float*>(smem + a.lay.partial);
    partial[tid] = sum;
    __syncthreads();
    for (int half_n = nthreads / 2; half_n > 0; half_n /= 2) {  // a fixed tree: deterministic
      if (tid < half_n) partial[tid] += partial[tid + half_n];
      __syncthreads();
    }
    const float mean = partial[0] / static_cast<float>(HW);
    for (int i = tid; i < HW; i += nthreads) {  // each thread reads back only its own pixels
      float px[C];
      for (int c = 0; c < C; ++c) px[c] = image[c * HW + i];
      for (int k = cpos; k < steps; ++k) jitter_step(v.order[k], px, p, v, mean);
      if (v.grayscale && C == 3) {
        const float g = luma(px);
        for (int c = 0; c < C; ++c) px[c] = g;
      }
      if (v.blur) {
        for (int c = 0; c < C; ++c) image[c * HW + i] = px[c];
      } else {
        finish(px, p, v, out, dtype, st, n, i / S, i % S);
      }
    }
    if (!v.blur) return;
  }

  // The separable Gaussian, reflect padding: rows into tmp, then columns back to the pixels.
  __syncthreads();
  for (int i = tid; i < C * HW; i += nthreads) {
    const int c = i / HW, r = i % HW, y = r / S, x = r % S;
    const float* row = image + c * HW + y * S;
    float acc = 0.0f;
    for (int k = 0; k < K; ++k) acc += weights[k] * row[reflect(x + k - half, S)];
    tmp[i] = acc;
  }
  __syncthreads();
  for (int i = tid; i < HW; i += nthreads) {
    const int y = i / S, x = i % S;
    float px[C];
    for (int c = 0; c < C; ++c) {
      float acc = 0.0f;
      for (int k = 0; k < K; ++k) acc += weights[k] * tmp[c * HW + reflect(y + k - half, S) * S + x];
      px[c] = acc;
    }
    finish(px, p, v, out, dtype, st, n, y, x);
  }
}

__global__ void __launch_bounds__(kAugmentThreads)
    draw_kernel(AugmentSource src, AugmentBatch b, ViewParams* params, int* bad_index) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= static_cast<int64_t>(b.views) * b.batch) return;
  const int slot = static_cast<int>(i / b.batch), n = static_cast<int>(i % b.batch);
  const int64_t index = b.indices[n];
  const int64_t limit = src.by_position ? (int64_t{1} << 32) : src.count;
  ViewParams v;
  int64_t label = -1;
  if (index < 0 || index >= limit) {
    v.height = 0;
    if (bad_index) atomicOr(bad_index, 1);  // any number of threads may flag it: atomically
  } else {
    const AugmentView& view = slot == 0 ? b.view[0] : b.view[1];
    v = augment::sample_view_params(view.pipeline, src.height, src.width, b.seed, b.epoch,
                                    static_cast<uint32_t>(index), view.view);
    if (src.labels) label = src.labels[src.by_position ? n : index];
  }
  params[i] = v;
  if (slot == 0 && b.labels_out) b.labels_out[n] = label;
}

// The shared-memory layout of a launch covering `views` (the largest of them sets each part).
RenderLayout layout_for(const AugmentSource& src, const AugmentBatch& b, int first, int count) {
  int S = 0, C = 0, K = 0;
  bool blur = false;
  for (int j = first; j < first + count; ++j) {
    const AugmentPipeline& p = b.view[j].pipeline;
    S = std::max(S, static_cast<int>(p.out_size));
    C = std::max(C, augment_out_channels(p, src.channels));
    if (p.blur_p > 0) blur = true, K = std::max(K, static_cast<int>(p.blur_kernel));
  }
  RenderLayout l{};
  int at = 0;
  auto take = [&](int bytes) {
    const int here = at;
    at += align16(bytes);
    return here;
  };
  l.pipeline = take(sizeof(AugmentPipeline));
  l.params = take(sizeof(ViewParams));
  l.axes = take(6 * S * 4);
  l.weights = take(K * 4);
  l.partial = take(kAugmentThreads * 4);
  const int64_t image_floats = int64_t(C) * S * S * (blur ? 2 : 1);
  l.image_in_smem = at + image_floats * 4 <= static_cast<int64_t>(kAugmentSmemBytes);
  if (l.image_in_smem) {
    l.image = take(C * S * S * 4);
    l.tmp = take(blur ? C * S * S * 4 : 0);
  }
  l.bytes = at;
  return l;
}

// The largest view's working images, in floats (the scratch stride per (view, item)).
int64_t scratch_floats(const AugmentSource& src, const AugmentBatch& b) {
  int64_t most = 0;
  for (int j = 0; j < b.views; ++j) {
    const AugmentPipeline& p = b.view[j].pipeline;
    const int64_t S = p.out_size;
    most = std::max(most, augment_out_channels(p, src.channels) * S * S * (p.blur_p > 0 ? 2 : 1));
  }
  return most;
}

// Views with the same channel count share one launch (grid.y = view); otherwise one each.
struct Group {
  int first, count;
};
int launch_groups(const AugmentSource& src, const AugmentBatch& b, Group (&g)[2]) {
  const bool together =
      b.views == 2 && augment_out_channels(b.view[0].pipeline, src.channels) ==
                          augment_out_channels(b.view[1].pipeline, src.channels);
  if (b.views == 1 || together) {
    g[0] = {0, b.views};
    return 1;
  }
  g[0] = {0, 1};
  g[1] = {1, 1};
  return 2;
}

template <int SC, int C>
void launch_render(const RenderArgs& a, int count, cudaStream_t stream) {
  const size_t smem = static_cast<size_t>(a.lay.bytes);
  if (smem > (size_t{48} << 10)) {
    int device = 0, most = 0;
    check_cuda(cudaGetDevice(&device), "augment_render: cudaGetDevice");
    check_cuda(cudaDeviceGetAttribute(&most, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
               "augment_render: cudaDeviceGetAttribute");
    SLIMSSL_CHECK(smem <= static_cast<size_t>(most), "augment_render: a view needs ", smem,
                  " bytes of shared memory for its axis tables and blur weights, the device allows ", most,
                  " (out_size or blur_kernel too large)");
    check_cuda(cudaFuncSetAttribute(render_kernel<SC, C>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(smem)),
               "augment_render: cudaFuncSetAttribute");
  }
  const dim3 grid(static_cast<unsigned>(a.b.batch), static_cast<unsigned>(count));
  render_kernel<SC, C><<<grid, kAugmentThreads, smem, stream>>>(a);
  check_launch("augment_render");
}

}  // namespace

void augment_check(const AugmentSource& src, const AugmentBatch& b) {
  SLIMSSL_CHECK(src.channels == 1 || src.channels == 3, "augment: images must have 1 or 3 channels, got ",
                src.channels);
  SLIMSSL_CHECK(src.height > 0 && src.width > 0, "augment: image size ", src.height, "x", src.width,
                " must be positive");
  SLIMSSL_CHECK(b.batch >= 0, "augment: batch must be >= 0, got ", b.batch);
  SLIMSSL_CHECK(b.views == 1 || b.views == 2, "augment: views must be 1 or 2, got ", b.views);
  if (b.batch == 0) return;
  SLIMSSL_CHECK(src.images && b.indices, "augment: null images or indices");
  SLIMSSL_CHECK(!src.by_position || src.count >= b.batch, "augment: a staged batch holds ", src.count,
                " images for a batch of ", b.batch);
  for (int j = 0; j < b.views; ++j) {
    const AugmentView& v = b.view[j];
    const AugmentPipeline& p = v.pipeline;
    const int oc = augment_out_channels(p, src.channels);
    SLIMSSL_CHECK(v.dtype == DType::F32 || v.dtype == DType::BF16, "augment: view ", j,
                  ": output must be float32 or bfloat16, got ", dtype_name(v.dtype));
    SLIMSSL_CHECK(p.out_size > 0 && p.out_size <= 4096, "augment: view ", j, ": out_size must be in [1, 4096], got ",
                  p.out_size);
    SLIMSSL_CHECK(oc == src.channels || (oc == 3 && src.channels == 1), "augment: view ", j, ": ", oc,
                  " output channels cannot be made from ", src.channels);
    SLIMSSL_CHECK(p.blur_p <= 0 || (p.blur_kernel > 0 && p.blur_kernel % 2 == 1), "augment: view ", j,
                  ": blur_kernel must be resolved to an odd size, got ", p.blur_kernel);
  }
}

size_t augment_scratch_bytes(const AugmentSource& src, const AugmentBatch& b) {
  augment_check(src, b);
  Group groups[2];
  const int ng = launch_groups(src, b, groups);
  for (int g = 0; g < ng; ++g)
    if (!layout_for(src, b, groups[g].first, groups[g].count).image_in_smem)
      return static_cast<size_t>(b.views) * b.batch * scratch_floats(src, b) * sizeof(float);
  return 0;
}

void augment_draw(const AugmentSource& src, const AugmentBatch& b, ViewParams* params, int* bad_index,
                  cudaStream_t stream) {
  augment_check(src, b);
  if (b.batch == 0) return;
  SLIMSSL_CHECK(params, "augment_draw: null params");
  if (bad_index) check_cuda(cudaMemsetAsync(bad_index, 0, sizeof(int), stream), "augment_draw: cudaMemsetAsync");
  const int64_t n = static_cast<int64_t>(b.views) * b.batch;
  const unsigned blocks = static_cast<unsigned>((n + kAugmentThreads - 1) / kAugmentThreads);
  draw_kernel<<<blocks, kAugmentThreads, 0, stream>>>(src, b, params, bad_index);
  check_launch("augment_draw");
}

void augment_render(const AugmentSource& src, const AugmentBatch& b, const ViewParams* params, void* scratch,
                    cudaStream_t stream) {
  augment_check(src, b);
  if (b.batch == 0) return;
  SLIMSSL_CHECK(params, "augment_render: null params");
  for (int j = 0; j < b.views; ++j) SLIMSSL_CHECK(b.view[j].out, "augment_render: view ", j, ": null output");
  Group groups[2];
  const int ng = launch_groups(src, b, groups);
  for (int g = 0; g < ng; ++g) {
    const int first = groups[g].first, count = groups[g].count;
    RenderArgs a{src, b, params, static_cast<float*>(scratch), first, layout_for(src, b, first, count)};
    a.lay.scratch_floats = scratch_floats(src, b);
    SLIMSSL_CHECK(a.lay.image_in_smem || scratch, "augment_render: the views need ",
                  augment_scratch_bytes(src, b), " bytes of scratch (augment_scratch_bytes), got none");
    const int oc = augment_out_channels(b.view[first].pipeline, src.channels);
    if (src.channels == 3) launch_render<3, 3>(a, count, stream);
    else if (oc == 3) launch_render<1, 3>(a, count, stream);
    else launch_render<1, 1>(a, count, stream);
  }
}

}  // namespace slimssl::kernels
