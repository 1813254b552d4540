// kernels/conv_cudnn.h answered on the CPU for the emulated device: each direction as the
// convolution's defining sum over (image, output channel, output pixel, input channel of its
// group, kernel tap), accumulated in double, read and written through the descriptors' strides
// and the packed filter layout. The "algorithm search" returns one fixed choice with a small
// workspace that every call overwrites, so the caller's workspace plumbing (its size, no overlap
// with the caller's packed buffers) is exercised as well.
#include <cstring>
#include <vector>
#include "kernels/conv_cudnn.h"
#include "kernels/dev/emu/vendor_emu.h"

namespace slimssl::kernels {
namespace {

int emulated_handle;
constexpr size_t kEmuWorkspace = 1024;

int64_t dense_index(const Dims4& d, const Index4& i) { return ((i.n * d.c + i.c) * d.h + i.h) * d.w + i.w; }

// f(x index, filter index, y index) for every term of the convolution (padding taps skipped).
template <class F>
void for_each_term(const ConvProblem& p, F&& f) {
  SLIMSSL_CHECK(p.groups >= 1 && p.x.c % p.groups == 0 && p.k % p.groups == 0, "conv (emulated cuDNN): ", p.groups,
                " groups do not divide ", p.x.c, " and ", p.k, " channels");
  const Dims4 y = p.y();
  const int64_t cg = p.x.c / p.groups, kg = p.k / p.groups;
  for (int64_t n = 0; n < y.n; ++n)
    for (int64_t k = 0; k < y.c; ++k)
      for (int64_t oh = 0; oh < y.h; ++oh)
        for (int64_t ow = 0; ow < y.w; ++ow)
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t r = 0; r < p.r; ++r)
              for (int64_t s = 0; s < p.s; ++s) {
                const int64_t ih = oh * p.stride_h - p.pad_h + r * p.dil_h;
                const int64_t iw = ow * p.stride_w - p.pad_w + s * p.dil_w;
                if (ih < 0 || ih >= p.x.h || iw < 0 || iw >= p.x.w) continue;
                f(Index4{n, k / kg * cg + c, ih, iw}, Index4{k, c, r, s}, Index4{n, k, oh, ow});
              }
}

void check_call(DnnHandle h, const ConvAlgo& a, void* workspace) {
  SLIMSSL_CHECK(h, "conv (emulated cuDNN): no handle");
  SLIMSSL_CHECK(a.workspace_bytes <= kEmuWorkspace, "conv (emulated cuDNN): unknown algorithm");
  if (a.workspace_bytes) {
    SLIMSSL_CHECK(workspace, "conv (emulated cuDNN): no workspace given");
    std::memset(workspace, 0xA5, a.workspace_bytes);  // the library's scratch during the call
  }
}

// out (overwritten, through strides s) = acc (dense over d), each element rounded once.
void write_dense(DType dt, void* out, const Dims4& d, const Strides4& s, const std::vector<double>& acc) {
  for (int64_t i = 0; i < d.numel(); ++i) emu_vendor::store(dt, out, s.at(unravel(i, d, false)), acc[i]);
}

}  // namespace

DnnHandle dnn_create(cudaStream_t) { return reinterpret_cast<DnnHandle>(&emulated_handle); }
void dnn_destroy(DnnHandle) {}

ConvAlgo conv_algo(DnnHandle h, const ConvProblem&, ConvDir) {
  SLIMSSL_CHECK(h, "conv (emulated cuDNN): no handle");
  return {0, 0, kEmuWorkspace};
}

void conv_forward(DnnHandle h, const ConvProblem& p, const ConvAlgo& a, const void* x, const void* w, void* y,
                  void* workspace) {
  check_call(h, a, workspace);
  emu::run_or_record([=] {
    const Strides4 fs = p.filter_strides();
    std::vector<double> acc(p.y().numel(), 0.0);
    for_each_term(p, [&](const Index4& xi, const Index4& wi, const Index4& yi) {
      acc[dense_index(p.y(), yi)] += emu_vendor::load(p.dt, x, p.xs.at(xi)) * emu_vendor::load(p.dt, w, fs.at(wi));
    });
    write_dense(p.dt, y, p.y(), p.ys, acc);
  });
}

void conv_backward_data(DnnHandle h, const ConvProblem& p, const ConvAlgo& a, const void* dy, const void* w, void* dx,
                        void* workspace) {
  check_call(h, a, workspace);
  emu::run_or_record([=] {
    const Strides4 fs = p.filter_strides();
    std::vector<double> acc(p.x.numel(), 0.0);
    for_each_term(p, [&](const Index4& xi, const Index4& wi, const Index4& yi) {
      acc[dense_index(p.x, xi)] += emu_vendor::load(p.dt, dy, p.ys.at(yi)) * emu_vendor::load(p.dt, w, fs.at(wi));
    });
    write_dense(p.dt, dx, p.x, p.xs, acc);
  });
}

void conv_backward_filter(DnnHandle h, const ConvProblem& p, const ConvAlgo& a, const void* x, const void* dy,
                          void* dw, void* workspace) {
  check_call(h, a, workspace);
  emu::run_or_record([=] {
    std::vector<double> acc(p.filter().numel(), 0.0);
    for_each_term(p, [&](const Index4& xi, const Index4& wi, const Index4& yi) {
      acc[dense_index(p.filter(), wi)] += emu_vendor::load(p.dt, x, p.xs.at(xi)) * emu_vendor::load(p.dt, dy, p.ys.at(yi));
    });
    write_dense(p.dt, dw, p.filter(), p.filter_strides(), acc);
  });
}

}  // namespace slimssl::kernels
