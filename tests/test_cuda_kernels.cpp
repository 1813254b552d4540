// The two custom CUDA kernels (kernels/infonce.h, kernels/sliced_conv.h) against naive CPU
// references written here in double: explicit logits and softmaxes for InfoNCE / distillation,
// the scatter form of the convolution and its gradients. Odd sizes (rows, keys, dim and channel
// counts that are not multiples of the tiles), every slimmable width, float32 and bfloat16,
// both kernel versions, values and gradients.
//
// Every device output sits between two guard regions and starts poisoned (all bytes 0xFF: NaN in
// float32 and bfloat16), so an unwritten element fails the comparison and a stray write fails the
// guard check. The weight gradient is accumulated into a parent buffer of random values: inside
// the view it must equal old + reference, outside it must be untouched, bit for bit.
//
// Tolerances: exact float32 versions (V1Fma, cuDNN with FMA math) max |err| <= 1e-4 max|ref| +
// 1e-3 |ref|. Tensor-core versions and bfloat16 data: the reference is computed on the inputs
// rounded to bfloat16 (what the kernel multiplies), so what is left is the rounding of outputs and
// of the backward's softmax coefficients to bfloat16: max |err| <= 1e-2 max|ref| + 2e-2 |ref|.
// Device cases go through gpu_or_skip() (tests/gpu_gate.h). SLIMSSL_SKIP_CUDNN=1 leaves
// out the cuDNN path (scripts/gpu_check.sh sets it under compute-sanitizer, which is about our
// kernels and would spend minutes instrumenting cuDNN's algorithm search).
#include <catch2/catch.hpp>
#include "gpu_gate.h"

#ifdef SLIMSSL_WITH_CUDA
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#include "kernels/infonce.h"
#include "kernels/memory.h"
#include "kernels/sliced_conv.h"

namespace k = slimssl::kernels;

namespace {

bool skip_cudnn() {
  const char* v = std::getenv("SLIMSSL_SKIP_CUDNN");
  return v && *v && std::string(v) != "0";
}

// --- bfloat16 on the host (round to nearest even), independent of the engine's type -----------

uint16_t bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
float bf16_value(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
float round_bf16(float f) { return bf16_value(bf16_bits(f)); }

// --- device buffers with guard regions -----------------------------------------------------------

constexpr size_t kGuard = 256;       // bytes each side; keeps the payload 16-byte aligned
constexpr uint8_t kPoison = 0xFF;    // NaN in both float types

class Guarded {
 public:
  explicit Guarded(size_t bytes) : bytes_(bytes) {
    base_ = k::device_alloc(bytes_ + 2 * kGuard, 0);
    std::vector<uint8_t> p(bytes_ + 2 * kGuard, kPoison);
    k::copy_bytes(base_, true, p.data(), false, p.size());
  }
  ~Guarded() { k::device_free(base_, 0); }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;
  void* ptr() { return static_cast<uint8_t*>(base_) + kGuard; }
  template <class T> T* as() { return static_cast<T*>(ptr()); }
  void upload(const void* src) { k::copy_bytes(ptr(), true, src, false, bytes_); }
  void download(void* dst) { k::copy_bytes(dst, false, ptr(), true, bytes_); }
  bool guards_intact() {
    std::vector<uint8_t> all(bytes_ + 2 * kGuard);
    k::copy_bytes(all.data(), false, base_, true, all.size());
    for (size_t i = 0; i < kGuard; ++i)
      if (all[i] != kPoison || all[kGuard + bytes_ + i] != kPoison) return false;
    return true;
  }

 private:
  size_t bytes_;
  void* base_ = nullptr;
};

// Host values (already rounded where the device rounds) uploaded as float32 or bf16 words.
std::unique_ptr<Guarded> upload(const std::vector<float>& v, slimssl::DType t) {
  auto g = std::make_unique<Guarded>(v.size() * slimssl::dtype_size(t));
  if (t == slimssl::DType::F32) {
    g->upload(v.data());
  } else {
    std::vector<uint16_t> b(v.size());
    for (size_t i = 0; i < v.size(); ++i) b[i] = bf16_bits(v[i]);
    g->upload(b.data());
  }
  return g;
}

std::vector<float> download(Guarded& g, size_t n, slimssl::DType t) {
  std::vector<float> out(n);
  if (t == slimssl::DType::F32) {
    g.download(out.data());
  } else {
    std::vector<uint16_t> b(n);
    g.download(b.data());
    for (size_t i = 0; i < n; ++i) out[i] = bf16_value(b[i]);
  }
  return out;
}

// max |got - ref| <= atol_rel * max|ref| + rtol |ref|, elementwise; NaN fails.
void check_close(const std::vector<float>& got, const std::vector<double>& ref, double atol_rel, double rtol,
                 const std::string& what) {
  REQUIRE(got.size() == ref.size());
  double scale = 0.0;
  for (double r : ref) scale = std::max(scale, std::fabs(r));
  size_t bad = 0, first = 0;
  double worst = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double err = std::fabs(got[i] - ref[i]);
    const double tol = atol_rel * scale + rtol * std::fabs(ref[i]);
    if (!(err <= tol)) {
      if (bad++ == 0) first = i;
      worst = std::max(worst, std::isnan(err) ? INFINITY : err);
    }
  }
  INFO(what << ": " << bad << " of " << ref.size() << " elements off; first at " << first << " got "
            << (bad ? got[first] : 0.f) << " want " << (bad ? ref[first] : 0.0) << "; worst error " << worst
            << " (scale " << scale << ")");
  CHECK(bad == 0);
}

std::vector<float> random_unit_rows(int rows, int dim, std::mt19937& gen, bool round) {
  std::normal_distribution<float> nd;
  std::vector<float> v(static_cast<size_t>(rows) * dim);
  for (int r = 0; r < rows; ++r) {
    double n2 = 0;
    for (int d = 0; d < dim; ++d) n2 += std::pow(v[r * dim + d] = nd(gen), 2);
    for (int d = 0; d < dim; ++d) {
      float& x = v[r * dim + d];
      x = static_cast<float>(x / std::sqrt(n2));
      if (round) x = round_bf16(x);
    }
  }
  return v;
}

// =================================================================================================
// InfoNCE reference: the logits matrix written out, softmaxes in double, analytic gradients.

struct NceRef {
  double nce = 0, kd = 0;
  std::vector<double> dq, dk;  // dk: gradient of the keys (the key role only)
};

struct NceCase {
  const char* name;
  int kind;  // 0 MoCo (pos + queue), 1 in-batch, 2 NT-Xent
  int n, dim, queue;
  bool distill, teacher_keys, want_dk;
  int splits;
};

double dot(const std::vector<float>& a, int i, const std::vector<float>& b, int j, int D) {
  double s = 0;
  for (int d = 0; d < D; ++d) s += static_cast<double>(a[i * D + d]) * b[j * D + d];
  return s;
}

// Rows: R; columns: [pos] + M keys. Masked entries are left out of every sum.
NceRef nce_reference(int R, int M, int D, const std::vector<float>& q, const std::vector<float>& keys,
                     const std::vector<float>* pos, int shift, bool mask, double T, const std::vector<float>* qt,
                     const std::vector<float>* kt, const std::vector<float>* pt, double Ts, double Tt, double gn,
                     double gk) {
  const int cols = M + (pos ? 1 : 0), off = pos ? 1 : 0;
  NceRef out;
  out.dq.assign(static_cast<size_t>(R) * D, 0.0);
  out.dk.assign(static_cast<size_t>(M) * D, 0.0);
  std::vector<double> z(cols), zt(cols), dz(cols);
  std::vector<char> valid(cols);
  for (int i = 0; i < R; ++i) {
    for (int c = 0; c < cols; ++c) {
      const bool is_pos = pos && c == 0;
      const int j = c - off;
      valid[c] = !(mask && !is_pos && j == i);
      z[c] = is_pos ? dot(q, i, *pos, i, D) : dot(q, i, keys, j, D);
      if (qt) zt[c] = is_pos ? dot(*qt, i, *pt, i, D) : dot(*qt, i, *kt, j, D);
    }
    const int label = pos ? 0 : off + (i + shift) % M;
    auto lse = [&](const std::vector<double>& v, double t) {
      double m = -INFINITY, s = 0;
      for (int c = 0; c < cols; ++c) if (valid[c]) m = std::max(m, v[c] / t);
      for (int c = 0; c < cols; ++c) if (valid[c]) s += std::exp(v[c] / t - m);
      return m + std::log(s);
    };
    const double lT = lse(z, T);
    out.nce += (lT - z[label] / T) / R;
    for (int c = 0; c < cols; ++c)
      dz[c] = valid[c] ? gn * (std::exp(z[c] / T - lT) - (c == label ? 1.0 : 0.0)) / (R * T) : 0.0;
    if (qt) {
      const double ls = lse(z, Ts), lt = lse(zt, Tt);
      double row = 0;
      for (int c = 0; c < cols; ++c) {
        if (!valid[c]) continue;
        const double pt_c = std::exp(zt[c] / Tt - lt), logps = z[c] / Ts - ls;
        row -= pt_c * logps;
        dz[c] += gk * Ts * (std::exp(logps) - pt_c) / R;
      }
      out.kd += row * Ts * Ts / R;
    }
    for (int c = 0; c < cols; ++c) {
      if (dz[c] == 0.0) continue;
      const bool is_pos = pos && c == 0;
      const int j = c - off;
      for (int d = 0; d < D; ++d) {
        out.dq[i * D + d] += dz[c] * (is_pos ? (*pos)[i * D + d] : keys[j * D + d]);
        if (!is_pos) out.dk[j * D + d] += dz[c] * q[i * D + d];
      }
    }
  }
  return out;
}

void run_nce_case(const NceCase& c, slimssl::DType type, k::InfoNCEKernel kern, std::mt19937& gen) {
  const bool round = type == slimssl::DType::BF16 || kern != k::InfoNCEKernel::V1Fma;
  const int N = c.n, D = c.dim;
  const int R = c.kind == 2 ? 2 * N : N;
  const int M = c.kind == 0 ? c.queue : R;
  const double T = 0.2, Ts = 0.5, Tt = 0.3, gn = 0.7, gk = 1.3;

  std::vector<float> q = random_unit_rows(R, D, gen, round);
  std::vector<float> keys = c.kind == 2 ? q : random_unit_rows(M, D, gen, round);
  std::vector<float> pos = c.kind == 0 ? random_unit_rows(R, D, gen, round) : std::vector<float>{};
  std::vector<float> qt, kt;
  if (c.distill) {
    qt = random_unit_rows(R, D, gen, round);
    kt = c.teacher_keys ? (c.kind == 2 ? qt : random_unit_rows(M, D, gen, round)) : keys;
  }
  const std::vector<float>* pos_p = c.kind == 0 ? &pos : nullptr;
  NceRef ref = nce_reference(R, M, D, q, keys, pos_p, c.kind == 2 ? N : 0, c.kind == 2, T,
                             c.distill ? &qt : nullptr, c.distill ? &kt : nullptr, pos_p, Ts, Tt, gn, gk);
  if (c.kind == 2 && c.want_dk)  // NT-Xent: q and keys are the same rows, their gradients add
    for (size_t i = 0; i < ref.dq.size(); ++i) ref.dq[i] += ref.dk[i];

  auto dq_ = upload(q, type);
  auto dkeys_ = c.kind == 2 ? nullptr : upload(keys, type);
  auto dpos_ = c.kind == 0 ? upload(pos, type) : nullptr;
  std::unique_ptr<Guarded> dqt_, dkt_;
  if (c.distill) {
    dqt_ = upload(qt, type);
    if (c.teacher_keys && c.kind != 2) dkt_ = upload(kt, type);
  }
  const void* keys_dev = c.kind == 2 ? dq_->ptr() : dkeys_->ptr();

  k::InfoNCEProblem p;
  if (c.kind == 0) p = k::infonce_moco(type, dq_->ptr(), dpos_->ptr(), keys_dev, N, M, D, static_cast<float>(T));
  else if (c.kind == 1) p = k::infonce_inbatch(type, dq_->ptr(), keys_dev, N, D, static_cast<float>(T));
  else p = k::infonce_ntxent(type, dq_->ptr(), N, D, static_cast<float>(T));
  if (c.distill) {
    const void* kt_dev = !c.teacher_keys ? nullptr : (c.kind == 2 ? dqt_->ptr() : dkt_->ptr());
    k::infonce_add_distill(p, dqt_->ptr(), kt_dev, nullptr, static_cast<float>(Ts), static_cast<float>(Tt));
  }
  k::InfoNCEOptions o;
  o.kernel = kern;
  o.splits = c.splits;

  Guarded loss(2 * sizeof(float)), saved(k::infonce_saved_floats(p) * sizeof(float));
  Guarded ws(k::infonce_workspace_bytes(p, c.want_dk, o));
  Guarded grad(2 * sizeof(float));
  const float g2[2] = {static_cast<float>(gn), static_cast<float>(gk)};
  grad.upload(g2);
  Guarded dq(static_cast<size_t>(R) * D * slimssl::dtype_size(type));
  std::unique_ptr<Guarded> dk;
  if (c.want_dk && c.kind != 2) dk = std::make_unique<Guarded>(static_cast<size_t>(M) * D * slimssl::dtype_size(type));
  void* dk_ptr = !c.want_dk ? nullptr : (c.kind == 2 ? dq.ptr() : dk->ptr());

  k::infonce_forward(p, loss.as<float>(), saved.as<float>(), ws.ptr(), nullptr, o);
  k::infonce_backward(p, grad.as<float>(), saved.as<float>(), dq.ptr(), dk_ptr, ws.ptr(), nullptr, o);

  std::ostringstream what;
  what << c.name << " " << slimssl::dtype_name(type) << " " << k::infonce_kernel_name(kern) << " splits=" << c.splits;
  INFO(what.str());
  const bool exact = !round;
  const double atol = exact ? 1e-4 : 1e-2, rtol = exact ? 1e-3 : 2e-2;
  float l[2];
  loss.download(l);
  check_close({l[0], l[1]}, {ref.nce, c.distill ? ref.kd : 0.0}, exact ? 1e-5 : 1e-4, exact ? 1e-5 : 1e-4,
              what.str() + " losses");
  check_close(download(dq, ref.dq.size(), type), ref.dq, atol, rtol, what.str() + " dq");
  if (dk) check_close(download(*dk, ref.dk.size(), type), ref.dk, atol, rtol, what.str() + " dkeys");
  CHECK(loss.guards_intact());
  CHECK(saved.guards_intact());
  CHECK(dq.guards_intact());
  if (dk) CHECK(dk->guards_intact());
}

const std::vector<NceCase> kNceCases = {
    // name                       kind n   dim queue distill tkeys  dk     splits
    {"moco",                      0,   37, 40, 150,  false,  false, false, 0},
    {"moco dim 200",              0,   70, 200, 129, false,  false, false, 0},
    {"moco 3 splits",             0,   37, 40, 300,  false,  false, false, 3},
    {"inbatch dim 37",            1,   70, 37, 0,    false,  false, true,  0},
    {"ntxent",                    2,   45, 24, 0,    false,  false, true,  0},
    {"moco + distill",            0,   37, 40, 150,  true,   false, false, 2},
    {"inbatch + distill",         1,   70, 40, 0,    true,   false, true,  0},
    {"ntxent + distill",          2,   33, 40, 0,    true,   true,  true,  0},
};

}  // namespace

TEST_CASE("fused InfoNCE matches the CPU reference", "[cuda][infonce]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  std::mt19937 gen(1234);
  for (const auto& c : kNceCases)
    for (auto type : {slimssl::DType::F32, slimssl::DType::BF16})
      for (auto kern : {k::InfoNCEKernel::V1Fma, k::InfoNCEKernel::V2Wmma}) run_nce_case(c, type, kern, gen);
}

TEST_CASE("the InfoNCE reference's gradient matches finite differences", "[cuda][infonce]") {
  // The kernel is checked against nce_reference's analytic gradient; this checks that gradient
  // itself (tiny problem, central differences in double). Runs without a GPU.
  std::mt19937 gen(7);
  const int R = 5, M = 6, D = 3;
  for (int kind = 0; kind < 3; ++kind) {
    std::vector<float> q = random_unit_rows(R, D, gen, false), keys = kind == 2 ? q : random_unit_rows(M, D, gen, false);
    std::vector<float> pos = random_unit_rows(R, D, gen, false), qt = random_unit_rows(R, D, gen, false);
    const std::vector<float>* pp = kind == 0 ? &pos : nullptr;
    const int Mk = kind == 2 ? R : M, shift = kind == 2 ? 2 : 0;
    auto loss = [&](const std::vector<float>& qq) {
      NceRef r = nce_reference(R, Mk, D, qq, kind == 2 ? qq : keys, pp, shift, kind == 2, 0.2, &qt,
                               kind == 2 ? &qt : &keys, pp, 0.5, 0.3, 0.7, 1.3);
      return 0.7 * r.nce + 1.3 * r.kd;
    };
    NceRef r = nce_reference(R, Mk, D, q, kind == 2 ? q : keys, pp, shift, kind == 2, 0.2, &qt, kind == 2 ? &qt : &keys,
                             pp, 0.5, 0.3, 0.7, 1.3);
    for (size_t i = 0; i < q.size(); ++i) {
      std::vector<float> a = q, b = q;
      const float h = 1e-3f;
      a[i] += h, b[i] -= h;
      const double fd = (loss(a) - loss(b)) / (static_cast<double>(a[i]) - b[i]);
      const double an = r.dq[i] + (kind == 2 ? r.dk[i] : 0.0);
      INFO("kind " << kind << " element " << i);
      CHECK(an == Approx(fd).margin(2e-4).epsilon(1e-3));
    }
  }
}

TEST_CASE("fused InfoNCE rejects bad problems with a message", "[cuda][infonce]") {
  // Validation happens on the host before any device call, so this runs without a GPU.
  int dummy = 0;
  k::InfoNCEProblem p = k::infonce_moco(slimssl::DType::F32, &dummy, &dummy, &dummy, 8, 16, 300, 0.2f);
  CHECK_THROWS_WITH(k::infonce_workspace_bytes(p, false), Catch::Contains("dim 300"));
  p.dim = 16, p.temperature = 0.f;
  CHECK_THROWS_WITH(k::infonce_workspace_bytes(p, false), Catch::Contains("temperature"));
  k::InfoNCEProblem s = k::infonce_ntxent(slimssl::DType::F32, &dummy, 4, 16, 0.1f);
  s.cols = 7;
  CHECK_THROWS_WITH(k::infonce_workspace_bytes(s, true), Catch::Contains("mask_self"));
}

// =================================================================================================
// Sliced convolution reference (double, scatter form).

namespace {

struct ConvCase {
  const char* name;
  int parent_out, parent_in;  // parent weight [O, C, kh, kw]
  bool stem;                  // input channels stay parent_in at every width
  int kh, stride, pad, hw, batch;
};

struct ConvRef {
  std::vector<double> y, dx, dw;  // dw: [k_out, k_in, kh, kw] contiguous
};

ConvRef conv_reference(const k::SlicedConvShape& s, const std::vector<float>& x, const std::vector<float>& w,
                       k::SliceStrides ws, const std::vector<float>& dy) {
  const int N = s.batch, C = s.in_ch, H = s.in_h, W = s.in_w, K = s.out_ch, R = s.kh, S = s.kw;
  const int P = s.out_h(), Q = s.out_w();
  ConvRef r;
  r.y.assign(static_cast<size_t>(N) * K * P * Q, 0.0);
  r.dx.assign(static_cast<size_t>(N) * C * H * W, 0.0);
  r.dw.assign(static_cast<size_t>(K) * C * R * S, 0.0);
  for (int n = 0; n < N; ++n)
    for (int kk = 0; kk < K; ++kk)
      for (int p = 0; p < P; ++p)
        for (int q = 0; q < Q; ++q) {
          const size_t yi = ((static_cast<size_t>(n) * K + kk) * P + p) * Q + q;
          for (int c = 0; c < C; ++c)
            for (int rr = 0; rr < R; ++rr)
              for (int ss = 0; ss < S; ++ss) {
                const int h = p * s.stride - s.pad + rr, ww = q * s.stride - s.pad + ss;
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                const size_t xi = ((static_cast<size_t>(n) * C + c) * H + h) * W + ww;
                const double wv = w[kk * ws.o + c * ws.c + rr * ws.h + ss * ws.w];
                r.y[yi] += x[xi] * wv;
                r.dx[xi] += dy[yi] * wv;
                r.dw[((static_cast<size_t>(kk) * C + c) * R + rr) * S + ss] += static_cast<double>(dy[yi]) * x[xi];
              }
        }
  return r;
}

void run_conv_case(const ConvCase& cc, double width, slimssl::DType type, k::ConvPath path, k::ConvKernel kern,
                   int splits, std::mt19937& gen) {
  const bool tc = path == k::ConvPath::Custom
                      ? (kern == k::ConvKernel::V2Wmma || (kern == k::ConvKernel::Auto && type == slimssl::DType::BF16))
                      : type == slimssl::DType::BF16;
  const bool round = type == slimssl::DType::BF16 || tc;  // activations as the device multiplies them
  // The weights are read as float32 and rounded only where they are staged as bf16.
  const bool round_w = path == k::ConvPath::CudnnCopy ? type == slimssl::DType::BF16 : tc;
  k::SlicedConvShape s;
  s.batch = cc.batch;
  s.in_ch = cc.stem ? cc.parent_in : static_cast<int>(width * cc.parent_in);
  s.out_ch = static_cast<int>(width * cc.parent_out);
  s.in_h = s.in_w = cc.hw;
  s.kh = s.kw = cc.kh;
  s.stride = cc.stride, s.pad = cc.pad;
  const k::SliceStrides ws = k::parent_strides(cc.parent_in, cc.kh, cc.kh);
  const size_t parent = static_cast<size_t>(cc.parent_out) * cc.parent_in * cc.kh * cc.kh;

  std::uniform_real_distribution<float> u(-1.f, 1.f);
  auto fill = [&](size_t n, bool rnd) {
    std::vector<float> v(n);
    for (float& e : v) e = rnd ? round_bf16(u(gen)) : u(gen);
    return v;
  };
  std::vector<float> x = fill(static_cast<size_t>(s.batch) * s.in_ch * s.in_h * s.in_w, round);
  std::vector<float> dy = fill(static_cast<size_t>(s.batch) * s.out_ch * s.out_h() * s.out_w(), round);
  std::vector<float> w = fill(parent, false);  // float32 master weights
  std::vector<float> w_used = w;
  if (round_w)
    for (float& e : w_used) e = round_bf16(e);
  std::vector<float> g0 = fill(parent, false);  // the parent gradient before accumulation
  const ConvRef ref = conv_reference(s, x, w_used, ws, dy);

  auto dx_in = upload(x, type), ddy = upload(dy, type);
  Guarded dw(parent * sizeof(float)), dgrad(parent * sizeof(float));
  dw.upload(w.data());
  dgrad.upload(g0.data());
  Guarded y(ref.y.size() * slimssl::dtype_size(type)), dx(ref.dx.size() * slimssl::dtype_size(type));

  k::SlicedConvOptions o;
  o.path = path, o.kernel = kern, o.wgrad_splits = splits;
  k::sliced_conv_forward(s, type, dx_in->ptr(), dw.as<float>(), ws, y.ptr(), nullptr, o);
  k::sliced_conv_backward_data(s, type, ddy->ptr(), dw.as<float>(), ws, dx.ptr(), nullptr, o);
  k::sliced_conv_backward_weight(s, type, dx_in->ptr(), ddy->ptr(), dgrad.as<float>(), ws, nullptr, o);

  std::ostringstream what;
  what << cc.name << " width " << width << " (" << s.out_ch << "x" << s.in_ch << ") " << slimssl::dtype_name(type) << " "
       << k::conv_path_name(path) << " " << k::conv_kernel_name(kern) << " splits=" << splits;
  INFO(what.str());
  const bool exact = !round;
  const double atol = exact ? 1e-4 : 1e-2, rtol = exact ? 1e-3 : 2e-2;
  check_close(download(y, ref.y.size(), type), ref.y, atol, rtol, what.str() + " y");
  check_close(download(dx, ref.dx.size(), type), ref.dx, atol, rtol, what.str() + " dx");

  // Inside the view: old + reference; outside: untouched.
  std::vector<float> g(parent);
  dgrad.download(g.data());
  std::vector<float> got_view, outside_got;
  std::vector<double> want_view;
  std::vector<char> in_view(parent, 0);
  for (int kk = 0; kk < s.out_ch; ++kk)
    for (int c = 0; c < s.in_ch; ++c)
      for (int rr = 0; rr < s.kh; ++rr)
        for (int ss = 0; ss < s.kw; ++ss) {
          const size_t at = kk * ws.o + c * ws.c + rr * ws.h + ss * ws.w;
          in_view[at] = 1;
          got_view.push_back(g[at] - g0[at]);
          want_view.push_back(ref.dw[((static_cast<size_t>(kk) * s.in_ch + c) * s.kh + rr) * s.kw + ss]);
        }
  check_close(got_view, want_view, atol, rtol, what.str() + " dw (view)");
  size_t touched = 0;
  for (size_t i = 0; i < parent; ++i)
    if (!in_view[i] && std::memcmp(&g[i], &g0[i], 4) != 0) ++touched;
  CHECK(touched == 0);
  CHECK(y.guards_intact());
  CHECK(dx.guards_intact());
  CHECK(dgrad.guards_intact());
  CHECK(dw.guards_intact());  // the weight is read-only
  std::vector<float> w_after(parent);
  dw.download(w_after.data());
  CHECK(std::memcmp(w_after.data(), w.data(), parent * 4) == 0);
}

const std::vector<ConvCase> kConvCases = {
    // name              O   C   stem   k  stride pad hw batch
    {"stem 3x3",         24, 3,  true,  3, 1,     1,  7, 3},
    {"3x3 s1",           24, 20, false, 3, 1,     1,  9, 3},
    {"3x3 s2",           24, 20, false, 3, 2,     1,  9, 2},
    {"1x1 s2 shortcut",  24, 20, false, 1, 2,     0,  9, 3},
};

}  // namespace

TEST_CASE("sliced convolution matches the CPU reference at every width", "[cuda][sliced_conv]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  std::mt19937 gen(99);
  for (const auto& cc : kConvCases)
    for (double width : {1.0, 0.75, 0.5, 0.25})
      for (auto type : {slimssl::DType::F32, slimssl::DType::BF16}) {
        run_conv_case(cc, width, type, k::ConvPath::Custom, k::ConvKernel::V1Fma, 0, gen);
        run_conv_case(cc, width, type, k::ConvPath::Custom, k::ConvKernel::V2Wmma, 0, gen);
        if (!skip_cudnn()) run_conv_case(cc, width, type, k::ConvPath::CudnnCopy, k::ConvKernel::Auto, 0, gen);
      }
}

TEST_CASE("sliced convolution's weight gradient splits add up in any number", "[cuda][sliced_conv]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  std::mt19937 gen(5);
  for (int splits : {1, 2, 3, 7})
    for (auto kern : {k::ConvKernel::V1Fma, k::ConvKernel::V2Wmma})
      run_conv_case(kConvCases[1], 0.75, slimssl::DType::F32, k::ConvPath::Custom, kern, splits, gen);
}

TEST_CASE("sliced convolution autotuning caches a path per shape", "[cuda][sliced_conv]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  if (skip_cudnn()) {
    WARN("skipped: SLIMSSL_SKIP_CUDNN is set and autotuning times the cuDNN path");
    return;
  }
  std::mt19937 gen(11);
  k::sliced_conv_clear_cache();
  k::sliced_conv_set_autotune(true);
  try {
    run_conv_case(kConvCases[1], 0.5, slimssl::DType::BF16, k::ConvPath::Auto, k::ConvKernel::Auto, 0, gen);
  } catch (...) {
    k::sliced_conv_set_autotune(false);
    throw;
  }
  k::sliced_conv_set_autotune(false);
  k::SlicedConvShape s;
  s.batch = kConvCases[1].batch, s.in_ch = 10, s.out_ch = 12, s.in_h = s.in_w = 9, s.kh = s.kw = 3, s.stride = 1,
  s.pad = 1;
  for (auto d : {k::ConvDir::Forward, k::ConvDir::BackwardData, k::ConvDir::BackwardWeight})
    CHECK(k::sliced_conv_cached_choice(s, slimssl::DType::BF16, d) != k::ConvPath::Auto);
  k::sliced_conv_clear_cache();
  CHECK(k::sliced_conv_cached_choice(s, slimssl::DType::BF16, k::ConvDir::Forward) == k::ConvPath::Auto);
}

#else  // CPU-only build: the cases exist and say why they did nothing.

TEST_CASE("fused InfoNCE matches the CPU reference", "[cuda][infonce]") { slimssl::testing::gpu_or_skip(); }
TEST_CASE("sliced convolution matches the CPU reference at every width", "[cuda][sliced_conv]") {
  slimssl::testing::gpu_or_skip();
}

#endif
