// Workbench for the sliced-channel convolution (kernels/sliced_conv.cu): numbered kernel versions,
// each validated against the CPU reference in this file, then timed against cuDNN.
//
// Versions (SlicedConvOptions::kernel; the kernels live in the library):
//   version 1 (v1_fma)   implicit GEMM, 64 x 64 x 32 tiles, 128 threads, float32 FMA on CUDA cores;
//                        operands gathered straight from NCHW activations and the strided weight
//                        view, next K step prefetched into registers; weight gradient split over K.
//   version 2 (v2_wmma)  the same with the tile products on tensor cores (wmma bf16 16x16x16,
//                        float32 accumulation).
//   peer (cudnn+copy)    copy the slice to a contiguous buffer, cuDNN 9 (legacy API, algorithm by
//                        cudnnFind*), scatter the weight gradient back into the parent's.
// What it does:
//   1. validates every version and the peer against the CPU reference below (double, scatter
//      form) on every CIFAR ResNet-18 conv shape at widths 0.75 and 0.25, batch 2;
//   2. times forward, backward-data and backward-weight (CUDA events, L2 flushed, median) of the
//      custom path (v1 for float32, v2 for bfloat16) and the peer at batch 512 on every shape at
//      widths 1.0 / 0.75 / 0.5 / 0.25, with the extra device memory each path allocates, and what
//      the autotuned dispatch picks per shape and direction; prints a table, writes JSON.
//
//   sliced_conv_dev [out.json] [--quick] [--bf16-only] [--validate-only] [--small]
//     --quick: widths 1.0 and 0.25 only, fewer repeats; --validate-only: step 1 only; --small:
//     validate at width 0.25 only; --tiny: every step at toy sizes (both for
//     scripts/emulate_kernels.sh, which runs this on the CPU)
// Exit status 1 when any validation fails.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>
#include "kernels/memory.h"
#include "kernels/sliced_conv.h"
#include "kernels/dev/workbench.h"

namespace k = slimssl::kernels;

namespace {
using namespace slimssl::workbench;

// ------------------------------------------------------------------------------------------------
// The conv shapes of a CIFAR ResNet-18 (full width), with the parent weight they slice.

struct Layer {
  const char* name;
  int in_ch, out_ch, hw, kh, stride, pad;
  bool stem;  // input channels stay 3 at every width
};

const std::vector<Layer> kLayers = {
    {"stem 3->64 3x3 @32", 3, 64, 32, 3, 1, 1, true},
    {"64->64 3x3 @32", 64, 64, 32, 3, 1, 1, false},
    {"64->128 3x3 s2 @32", 64, 128, 32, 3, 2, 1, false},
    {"128->128 3x3 @16", 128, 128, 16, 3, 1, 1, false},
    {"64->128 1x1 s2 @32", 64, 128, 32, 1, 2, 0, false},
    {"128->256 3x3 s2 @16", 128, 256, 16, 3, 2, 1, false},
    {"256->256 3x3 @8", 256, 256, 8, 3, 1, 1, false},
    {"128->256 1x1 s2 @16", 128, 256, 16, 1, 2, 0, false},
    {"256->512 3x3 s2 @8", 256, 512, 8, 3, 2, 1, false},
    {"512->512 3x3 @4", 512, 512, 4, 3, 1, 1, false},
    {"256->512 1x1 s2 @8", 256, 512, 8, 1, 2, 0, false},
};

k::SlicedConvShape shape_at(const Layer& l, double width, int batch) {
  k::SlicedConvShape s;
  s.batch = batch;
  s.in_ch = l.stem ? l.in_ch : static_cast<int>(width * l.in_ch);
  s.out_ch = static_cast<int>(width * l.out_ch);
  s.in_h = s.in_w = l.hw;
  s.kh = s.kw = l.kh;
  s.stride = l.stride, s.pad = l.pad;
  return s;
}

// ------------------------------------------------------------------------------------------------
// CPU reference (double, scatter form): y, dx and the contiguous weight gradient of the slice.

struct Ref {
  std::vector<double> y, dx, dw;
};

Ref cpu_reference(const k::SlicedConvShape& s, const std::vector<float>& x, const std::vector<float>& w,
                  k::SliceStrides ws, const std::vector<float>& dy) {
  const int N = s.batch, C = s.in_ch, H = s.in_h, W = s.in_w, K = s.out_ch, R = s.kh, S = s.kw;
  const int P = s.out_h(), Q = s.out_w();
  Ref r;
  r.y.assign((size_t)N * K * P * Q, 0.0);
  r.dx.assign((size_t)N * C * H * W, 0.0);
  r.dw.assign((size_t)K * C * R * S, 0.0);
  for (int n = 0; n < N; ++n)
    for (int kk = 0; kk < K; ++kk)
      for (int c = 0; c < C; ++c)
        for (int rr = 0; rr < R; ++rr)
          for (int ss = 0; ss < S; ++ss) {
            const double wv = w[kk * ws.o + c * ws.c + rr * ws.h + ss * ws.w];
            double gw = 0;
            for (int p = 0; p < P; ++p) {
              const int h = p * s.stride - s.pad + rr;
              if (h < 0 || h >= H) continue;
              for (int q = 0; q < Q; ++q) {
                const int ww = q * s.stride - s.pad + ss;
                if (ww < 0 || ww >= W) continue;
                const size_t yi = (((size_t)n * K + kk) * P + p) * Q + q, xi = (((size_t)n * C + c) * H + h) * W + ww;
                r.y[yi] += x[xi] * wv;
                r.dx[xi] += dy[yi] * wv;
                gw += (double)dy[yi] * x[xi];
              }
            }
            r.dw[(((size_t)kk * C + c) * R + rr) * S + ss] += gw;
          }
  return r;
}

struct Variant {
  const char* name;
  slimssl::DType type;
  k::ConvPath path;
  k::ConvKernel kernel;
};

const Variant kVariants[] = {
    {"v1 float32", slimssl::DType::F32, k::ConvPath::Custom, k::ConvKernel::V1Fma},
    {"v1 bfloat16", slimssl::DType::BF16, k::ConvPath::Custom, k::ConvKernel::V1Fma},
    {"v2 float32", slimssl::DType::F32, k::ConvPath::Custom, k::ConvKernel::V2Wmma},
    {"v2 bfloat16", slimssl::DType::BF16, k::ConvPath::Custom, k::ConvKernel::V2Wmma},
    {"cudnn float32", slimssl::DType::F32, k::ConvPath::CudnnCopy, k::ConvKernel::Auto},
    {"cudnn bfloat16", slimssl::DType::BF16, k::ConvPath::CudnnCopy, k::ConvKernel::Auto},
};

// |err| / (tol max|ref| + eps |ref|), worst element; NaN counts as failure.
double worst(const std::vector<float>& got, const std::vector<double>& ref, double tol, double eps) {
  double scale = 0, w = 0;
  for (double r : ref) scale = std::max(scale, std::fabs(r));
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(got[i])) return INFINITY;
    w = std::max(w, std::fabs(got[i] - ref[i]) / (tol * scale + eps * std::fabs(ref[i]) + 1e-30));
  }
  return w;
}

bool validate(const Layer& l, double width, std::mt19937& gen) {
  const k::SlicedConvShape s = shape_at(l, width, 2);
  const k::SliceStrides ws = k::parent_strides(l.in_ch, l.kh, l.kh);
  const size_t parent = (size_t)l.out_ch * l.in_ch * l.kh * l.kh;
  const size_t nx = (size_t)s.batch * s.in_ch * s.in_h * s.in_w, ny = (size_t)s.batch * s.out_ch * s.out_h() * s.out_w();
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(nx), dy(ny), w(parent);
  // bf16-representable values, so every variant multiplies the same numbers as the reference.
  for (float& v : x) v = round_bf16(u(gen));
  for (float& v : dy) v = round_bf16(u(gen));
  for (float& v : w) v = round_bf16(u(gen));
  const Ref ref = cpu_reference(s, x, w, ws, dy);
  bool all = true;
  for (const Variant& var : kVariants) {
    Buf bx(nx * slimssl::dtype_size(var.type)), bdy(ny * slimssl::dtype_size(var.type)), bw(parent * 4), bg(parent * 4);
    Buf by(ny * slimssl::dtype_size(var.type)), bdx(nx * slimssl::dtype_size(var.type));
    upload(bx, x, var.type);
    upload(bdy, dy, var.type);
    CUDA_CHECK(cudaMemcpy(bw.p, w.data(), parent * 4, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemset(bg.p, 0, parent * 4));
    CUDA_CHECK(cudaMemset(by.p, 0xff, by.bytes));  // poison: unwritten outputs read NaN
    CUDA_CHECK(cudaMemset(bdx.p, 0xff, bdx.bytes));
    k::SlicedConvOptions o;
    o.path = var.path, o.kernel = var.kernel;
    k::sliced_conv_forward(s, var.type, bx.p, bw.as<float>(), ws, by.p, nullptr, o);
    k::sliced_conv_backward_data(s, var.type, bdy.p, bw.as<float>(), ws, bdx.p, nullptr, o);
    k::sliced_conv_backward_weight(s, var.type, bx.p, bdy.p, bg.as<float>(), ws, nullptr, o);
    CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float> g(parent), gv;
    CUDA_CHECK(cudaMemcpy(g.data(), bg.p, parent * 4, cudaMemcpyDeviceToHost));
    size_t outside = 0;
    std::vector<char> in(parent, 0);
    for (int kk = 0; kk < s.out_ch; ++kk)
      for (int c = 0; c < s.in_ch; ++c)
        for (int rs = 0; rs < s.kh * s.kw; ++rs) {
          const size_t at = kk * ws.o + c * ws.c + rs;
          in[at] = 1;
          gv.push_back(g[at]);
        }
    for (size_t i = 0; i < parent; ++i) outside += !in[i] && g[i] != 0.f;
    // bf16 outputs (and cuDNN's bf16 weight gradient) carry one bf16 rounding: 2^-8 relative.
    const bool bf = var.type == slimssl::DType::BF16;
    const double tol = bf ? 1e-2 : 1e-4, eps = bf ? 2e-2 : 1e-3;
    const double e = std::max({worst(download(by, ny, var.type), ref.y, tol, eps),
                               worst(download(bdx, nx, var.type), ref.dx, tol, eps), worst(gv, ref.dw, tol, eps)});
    const bool ok = e <= 1.0 && outside == 0;
    all = all && ok;
    std::printf("  %-22s width %.2f  %-15s err/tol %.3f%s  %s\n", l.name, width, var.name, e,
                outside ? " (wrote outside the view)" : "", ok ? "ok" : "FAIL");
  }
  return all;
}

// ------------------------------------------------------------------------------------------------
// Timing

struct Row {
  std::string layer, dtype;
  double width;
  int in_ch, out_ch;
  float custom[3], cudnn[3];  // forward, backward-data, backward-weight (ms)
  double custom_mb, cudnn_mb;  // peak extra bytes allocated during the three calls
  k::ConvPath pick[3];
};

Row bench(const Layer& l, double width, slimssl::DType t, int batch, int reps, Timer& tm, std::mt19937& gen) {
  const k::SlicedConvShape s = shape_at(l, width, batch);
  const k::SliceStrides ws = k::parent_strides(l.in_ch, l.kh, l.kh);
  const size_t parent = (size_t)l.out_ch * l.in_ch * l.kh * l.kh;
  const size_t nx = (size_t)s.batch * s.in_ch * s.in_h * s.in_w, ny = (size_t)s.batch * s.out_ch * s.out_h() * s.out_w();
  Buf bx(nx * slimssl::dtype_size(t)), bdy(ny * slimssl::dtype_size(t)), bw(parent * 4), bg(parent * 4), by(ny * slimssl::dtype_size(t)),
      bdx(nx * slimssl::dtype_size(t));
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> h(std::max(nx, ny));
  for (float& v : h) v = u(gen);
  upload(bx, std::vector<float>(h.begin(), h.begin() + nx), t);
  upload(bdy, std::vector<float>(h.begin(), h.begin() + ny), t);
  std::vector<float> hw(parent);
  for (float& v : hw) v = 0.05f * u(gen);
  CUDA_CHECK(cudaMemcpy(bw.p, hw.data(), parent * 4, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemset(bg.p, 0, parent * 4));

  Row row{l.name, slimssl::dtype_name(t), width, s.in_ch, s.out_ch, {}, {}, 0, 0, {}};
  auto time_path = [&](k::ConvPath path, float* ms) {
    k::SlicedConvOptions o;
    o.path = path;
    ms[0] = tm.median_ms([&] { k::sliced_conv_forward(s, t, bx.p, bw.as<float>(), ws, by.p, nullptr, o); }, reps);
    ms[1] = tm.median_ms([&] { k::sliced_conv_backward_data(s, t, bdy.p, bw.as<float>(), ws, bdx.p, nullptr, o); }, reps);
    ms[2] = tm.median_ms([&] { k::sliced_conv_backward_weight(s, t, bx.p, bdy.p, bg.as<float>(), ws, nullptr, o); }, reps);
    // Extra memory: peak bytes handed out by the caching allocator during one call of each.
    CUDA_CHECK(cudaDeviceSynchronize());
    const size_t base = k::memory_stats(0).current_bytes;
    k::reset_peak(0);
    k::sliced_conv_forward(s, t, bx.p, bw.as<float>(), ws, by.p, nullptr, o);
    k::sliced_conv_backward_data(s, t, bdy.p, bw.as<float>(), ws, bdx.p, nullptr, o);
    k::sliced_conv_backward_weight(s, t, bx.p, bdy.p, bg.as<float>(), ws, nullptr, o);
    CUDA_CHECK(cudaDeviceSynchronize());
    return (k::memory_stats(0).peak_bytes - base) / 1048576.0;
  };
  row.custom_mb = time_path(k::ConvPath::Custom, row.custom);
  row.cudnn_mb = time_path(k::ConvPath::CudnnCopy, row.cudnn);
  // The dispatch: path Auto with autotuning on times both once and caches the winner.
  k::sliced_conv_set_autotune(true);
  k::sliced_conv_forward(s, t, bx.p, bw.as<float>(), ws, by.p, nullptr);
  k::sliced_conv_backward_data(s, t, bdy.p, bw.as<float>(), ws, bdx.p, nullptr);
  k::sliced_conv_backward_weight(s, t, bx.p, bdy.p, bg.as<float>(), ws, nullptr);
  k::sliced_conv_set_autotune(false);
  row.pick[0] = k::sliced_conv_cached_choice(s, t, k::ConvDir::Forward);
  row.pick[1] = k::sliced_conv_cached_choice(s, t, k::ConvDir::BackwardData);
  row.pick[2] = k::sliced_conv_cached_choice(s, t, k::ConvDir::BackwardWeight);
  return row;
}

const char* short_pick(k::ConvPath p) { return p == k::ConvPath::Custom ? "c" : p == k::ConvPath::CudnnCopy ? "d" : "?"; }

}  // namespace

int main(int argc, char** argv) {
  const char* json_path = nullptr;
  bool quick = false, bf16_only = false, validate_only = false, small = false, tiny = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--bf16-only") bf16_only = true;
    else if (a == "--validate-only") validate_only = true;
    else if (a == "--small") small = true;
    else if (a == "--tiny") tiny = small = quick = true;
    else json_path = argv[i];
  }
  if (k::device_count() == 0) {
    std::fprintf(stderr, "sliced_conv_dev: no CUDA device\n");
    return 2;
  }
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("sliced_conv_dev on %s (%d SMs)\n", prop.name, prop.multiProcessorCount);
  std::mt19937 gen(77);

  std::printf("validation, batch 2 (CPU reference in double; err/tol <= 1 passes)\n");
  int checks = 0, failures = 0;
  for (const Layer& l : kLayers)
    for (double w : small ? std::vector<double>{0.25} : std::vector<double>{0.75, 0.25})
      failures += !validate(l, w, gen), ++checks;
  if (validate_only) {
    std::printf("validation: %d of %d checks passed\n", checks - failures, checks);
    return failures ? 1 : 0;
  }

  Timer tm(tiny ? 1 << 20 : size_t{256} << 20);
  const int batch = tiny ? 2 : 512, reps = quick ? 3 : 10;
  std::vector<Row> rows;
  std::vector<slimssl::DType> types = {slimssl::DType::BF16};
  if (!bf16_only) types.push_back(slimssl::DType::F32);
  const std::vector<double> widths = tiny    ? std::vector<double>{0.25}
                                     : quick ? std::vector<double>{1.0, 0.25}
                                             : std::vector<double>{1.0, 0.75, 0.5, 0.25};
  for (slimssl::DType t : types)
    for (size_t li = 0; li < (tiny ? 2 : kLayers.size()); ++li)
      for (double w : widths) rows.push_back(bench(kLayers[li], w, t, batch, reps, tm, gen));

  std::printf("\nbatch %d, median of %d runs after an L2 flush, ms; custom = v1 (float32) / v2 (bfloat16); "
              "pick = autotuned dispatch (c custom, d cudnn+copy) for fwd/dgrad/wgrad\n", batch, reps);
  std::printf("| layer | dtype | width | k_out x k_in | custom fwd | dgrad | wgrad | total | cudnn+copy fwd | dgrad | wgrad | total | "
              "custom/cudnn | pick | extra MB custom / cudnn |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  int custom_wins = 0;
  for (const Row& r : rows) {
    const float ct = r.custom[0] + r.custom[1] + r.custom[2], dt = r.cudnn[0] + r.cudnn[1] + r.cudnn[2];
    custom_wins += ct <= dt;
    std::printf("| %s | %s | %.2f | %dx%d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f | %s%s%s | %.1f / %.1f |\n",
                r.layer.c_str(), r.dtype.c_str(), r.width, r.out_ch, r.in_ch, r.custom[0], r.custom[1], r.custom[2], ct,
                r.cudnn[0], r.cudnn[1], r.cudnn[2], dt, ct / dt, short_pick(r.pick[0]), short_pick(r.pick[1]),
                short_pick(r.pick[2]), r.custom_mb, r.cudnn_mb);
  }
  std::printf("custom path at least as fast as cudnn+copy (fwd+bwd total) on %d of %zu shapes\n", custom_wins, rows.size());
  std::printf("validation: %d of %d checks passed\n", checks - failures, checks);

  if (json_path) {
    FILE* f = std::fopen(json_path, "w");
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", json_path);
      return 2;
    }
    std::fprintf(f, "{\n  \"device\": \"%s\",\n  \"batch\": %d,\n  \"validation\": {\"checks\": %d, \"failures\": %d},\n",
                 prop.name, batch, checks, failures);
    std::fprintf(f, "  \"custom_wins\": %d,\n  \"rows\": [\n", custom_wins);
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::fprintf(f,
                   "    {\"layer\": \"%s\", \"dtype\": \"%s\", \"width\": %.2f, \"in_ch\": %d, \"out_ch\": %d, "
                   "\"custom_ms\": [%.4f, %.4f, %.4f], \"cudnn_copy_ms\": [%.4f, %.4f, %.4f], \"custom_extra_mb\": %.2f, "
                   "\"cudnn_extra_mb\": %.2f, \"pick\": [\"%s\", \"%s\", \"%s\"]}%s\n",
                   r.layer.c_str(), r.dtype.c_str(), r.width, r.in_ch, r.out_ch, r.custom[0], r.custom[1], r.custom[2],
                   r.cudnn[0], r.cudnn[1], r.cudnn[2], r.custom_mb, r.cudnn_mb, k::conv_path_name(r.pick[0]),
                   k::conv_path_name(r.pick[1]), k::conv_path_name(r.pick[2]), i + 1 < rows.size() ? "," : "");
    }
    std::fprintf(f, "  ]\n}\n");
    std::fclose(f);
  }
  return failures ? 1 : 0;
}
