// The fused optimizer kernels (kernels/optimizer_step.h) against a straightforward CPU
// implementation written here from ssl/train/optimizer.cpp's rules: SGD (momentum, nesterov,
// no momentum), LARS and AdamW over several tensors of odd sizes (1, 7, 1000, 4099: a single
// element, less than a warp, less than a chunk, just over one chunk), a few steps each with fresh
// gradients, with and without gradient clipping; and the global gradient norm against a double
// sum. The state buffers start as NaN so that a kernel that reads them on the first step fails;
// every device buffer sits between guard words so that a stray write past a tensor's end fails.
//
// Tolerance: |got - ref| <= 3e-5 max(|ref|, 1e-2 max|ref of that tensor|). The reference uses
// float32 state like the kernels; what differs is the order of the norm sums and where the
// compiler fuses multiply-adds (nvcc does on a GPU, and the emulated build at -march=x86-64-v3
// does too, each in its own places). A few ulps per operation, but the momentum update
// m = mu m + d can cancel, so relative to a small result they grow to ~1e-5; an indexing or
// rule mistake is off by orders of magnitude more. Device cases go through gpu_or_skip()
// (tests/gpu_gate.h).
#include <catch2/catch.hpp>
#include "gpu_gate.h"

#ifdef SLIMSSL_WITH_CUDA
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>
#include "kernels/memory.h"
#include "kernels/optimizer_step.h"

namespace k = slimssl::kernels;

namespace {

constexpr size_t kGuardFloats = 64;
constexpr float kGuardValue = -12345.f;

// A device float buffer of n values between guard words.
class DevFloats {
 public:
  explicit DevFloats(size_t n) : n_(n) {
    base_ = static_cast<float*>(k::device_alloc((n + 2 * kGuardFloats) * sizeof(float), 0));
    std::vector<float> all(n + 2 * kGuardFloats, kGuardValue);
    k::copy_bytes(base_, true, all.data(), false, all.size() * sizeof(float));
  }
  ~DevFloats() { k::device_free(base_, 0); }
  DevFloats(const DevFloats&) = delete;
  DevFloats& operator=(const DevFloats&) = delete;
  float* ptr() { return base_ + kGuardFloats; }
  void upload(const std::vector<float>& v) { k::copy_bytes(ptr(), true, v.data(), false, n_ * sizeof(float)); }
  std::vector<float> download() {
    std::vector<float> v(n_);
    k::copy_bytes(v.data(), false, ptr(), true, n_ * sizeof(float));
    return v;
  }
  bool guards_intact() {
    std::vector<float> all(n_ + 2 * kGuardFloats);
    k::copy_bytes(all.data(), false, base_, true, all.size() * sizeof(float));
    for (size_t i = 0; i < kGuardFloats; ++i)
      if (all[i] != kGuardValue || all[kGuardFloats + n_ + i] != kGuardValue) return false;
    return true;
  }

 private:
  size_t n_;
  float* base_ = nullptr;
};

enum class Kind { Sgd, Lars, AdamW };

struct Config {
  Kind kind = Kind::Sgd;
  double lr = 0.05, momentum = 0.9, eta = 0.02;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double max_norm = 0;  // clipping off
};

// One tensor's host state (the reference) and device state.
struct Param {
  std::vector<float> p, g, m, v;
  float wd;
  bool adapt;
  std::unique_ptr<DevFloats> dp, dg, dm, dv;
};

std::vector<float> random_vec(std::mt19937& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

double grad_sq_sum(const std::vector<Param>& ps) {
  double s = 0;
  for (auto& q : ps)
    for (float g : q.g) s += double(g) * g;
  return s;
}

// The CPU reference of one step, from ssl/train/optimizer.cpp's rules, on float32 state.
void reference_step(std::vector<Param>& ps, const Config& c, int step) {
  const double norm = std::sqrt(grad_sq_sum(ps));
  const float clip = (c.max_norm > 0 && norm > c.max_norm) ? float(c.max_norm / (norm + 1e-6)) : 1.f;
  for (auto& q : ps) {
    const size_t n = q.p.size();
    if (c.kind == Kind::AdamW) {
      if (step == 1) q.m.assign(n, 0.f), q.v.assign(n, 0.f);
      const double bc1 = 1 - std::pow(c.beta1, step), bc2 = 1 - std::pow(c.beta2, step);
      for (size_t i = 0; i < n; ++i) {
        const float d = q.g[i] * clip;
        q.m[i] = float(c.beta1) * q.m[i] + float(1 - c.beta1) * d;
        q.v[i] = float(c.beta2) * q.v[i] + float(1 - c.beta2) * d * d;
        if (q.wd > 0) q.p[i] *= float(1 - c.lr * q.wd);
        const float mhat = q.m[i] / float(bc1), vhat = q.v[i] / float(bc2);
        q.p[i] -= float(c.lr) * (mhat / (std::sqrt(vhat) + float(c.eps)));
      }
      continue;
    }
    std::vector<float> d(n);
    for (size_t i = 0; i < n; ++i) d[i] = q.g[i] * clip + q.wd * q.p[i];
    if (c.kind == Kind::Lars && q.adapt) {
      double pn = 0, dn = 0;
      for (size_t i = 0; i < n; ++i) pn += double(q.p[i]) * q.p[i], dn += double(d[i]) * d[i];
      if (pn > 0 && dn > 0)
        for (auto& x : d) x *= float(c.eta * std::sqrt(pn) / std::sqrt(dn));
    }
    for (size_t i = 0; i < n; ++i) {
      float u = d[i];
      if (c.momentum > 0) {
        q.m[i] = step == 1 ? d[i] : float(c.momentum) * q.m[i] + d[i];
        u = c.nesterov ? d[i] + float(c.momentum) * q.m[i] : q.m[i];
      }
      q.p[i] -= float(c.lr) * u;
    }
  }
}

void check_close(const std::vector<float>& got, const std::vector<float>& ref, const std::string& what) {
  REQUIRE(got.size() == ref.size());
  double scale = 0;
  for (float r : ref) scale = std::max(scale, double(std::fabs(r)));
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double err = std::fabs(double(got[i]) - ref[i]);
    if (!(err <= 3e-5 * std::max(double(std::fabs(ref[i])), 1e-2 * scale))) {
      if (bad++ == 0) first = i;
    }
  }
  INFO(what << ": " << bad << " of " << ref.size() << " off; first at " << first << ": got "
            << (bad ? got[first] : 0.f) << ", expected " << (bad ? ref[first] : 0.f));
  CHECK(bad == 0);
}

// Runs `steps` steps of the kernels and of the reference side by side, comparing every state.
void run_case(const Config& c, int steps) {
  const std::vector<int64_t> sizes = {1, 7, 1000, 4099};
  const std::vector<float> wds = {1e-2f, 0.f, 5e-3f, 1e-2f};
  const std::vector<bool> adapt = {false, true, true, true};
  std::mt19937 rng(1234 + int(c.kind) * 7 + c.nesterov);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const bool uses_m = c.kind == Kind::AdamW || c.momentum > 0, uses_v = c.kind == Kind::AdamW;

  std::vector<Param> ps(sizes.size());
  std::vector<k::OptSlot> slots;
  for (size_t t = 0; t < sizes.size(); ++t) {
    Param& q = ps[t];
    const size_t n = sizes[t];
    q.p = random_vec(rng, n, -1.f, 1.f);
    if (t == 2 && c.kind == Kind::Lars) q.p.assign(n, 0.f);  // ||p|| = 0: no trust ratio
    q.wd = wds[t], q.adapt = adapt[t];
    q.dp = std::make_unique<DevFloats>(n), q.dg = std::make_unique<DevFloats>(n);
    q.dp->upload(q.p);
    k::OptSlot s;
    s.param = q.dp->ptr(), s.grad = q.dg->ptr(), s.numel = int64_t(n), s.weight_decay = q.wd, s.lars_adapt = q.adapt;
    if (uses_m) q.m.assign(n, 0.f), q.dm = std::make_unique<DevFloats>(n), q.dm->upload(std::vector<float>(n, nan)),
        s.buf1 = q.dm->ptr();
    if (uses_v) q.v.assign(n, 0.f), q.dv = std::make_unique<DevFloats>(n), q.dv->upload(std::vector<float>(n, nan)),
        s.buf2 = q.dv->ptr();
    slots.push_back(s);
  }
  DevFloats table_mem((k::optimizer_table_bytes(slots.data(), int(slots.size())) + 3) / 4);
  const k::OptimizerTable table = k::optimizer_table_build(slots.data(), int(slots.size()), table_mem.ptr());
  DevFloats norm_scale(2);

  for (int step = 1; step <= steps; ++step) {
    for (auto& q : ps) q.g = random_vec(rng, q.p.size(), -1.f, 1.f), q.dg->upload(q.g);
    const double ref_norm = std::sqrt(grad_sq_sum(ps));
    k::optimizer_grad_norm(table, float(c.max_norm), norm_scale.ptr(), nullptr);
    const float* clip = norm_scale.ptr() + 1;
    if (c.kind == Kind::AdamW) {
      k::AdamWStep s;
      s.lr = c.lr, s.beta1 = c.beta1, s.beta2 = c.beta2, s.eps = c.eps, s.step = step, s.first_step = step == 1;
      k::optimizer_adamw_step(table, s, clip, nullptr);
    } else {
      k::SgdStep s;
      s.lr = c.lr, s.momentum = c.momentum, s.nesterov = c.nesterov, s.first_step = step == 1;
      s.lars = c.kind == Kind::Lars, s.lars_eta = c.eta;
      k::optimizer_sgd_step(table, s, clip, nullptr);
    }
    reference_step(ps, c, step);

    const std::vector<float> ns = norm_scale.download();
    CHECK(std::fabs(ns[0] - ref_norm) <= 1e-6 * ref_norm);
    if (c.max_norm > 0) CHECK(ref_norm > c.max_norm);  // the case does clip
    for (size_t t = 0; t < ps.size(); ++t) {
      const std::string what = "step " + std::to_string(step) + " tensor " + std::to_string(t);
      check_close(ps[t].dp->download(), ps[t].p, what + " param");
      if (uses_m) check_close(ps[t].dm->download(), ps[t].m, what + " buf1");
      if (uses_v) check_close(ps[t].dv->download(), ps[t].v, what + " buf2");
    }
  }
  for (auto& q : ps) {
    CHECK(q.dp->guards_intact());
    CHECK(q.dg->guards_intact());
    if (q.dm) CHECK(q.dm->guards_intact());
    if (q.dv) CHECK(q.dv->guards_intact());
  }
}

}  // namespace

TEST_CASE("fused SGD matches the CPU optimizer rule", "[cuda][optimizer]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  Config c;
  SECTION("momentum") { run_case(c, 3); }
  SECTION("nesterov, clipped") {
    c.nesterov = true, c.max_norm = 5.0;
    run_case(c, 3);
  }
  SECTION("no momentum") {
    c.momentum = 0;
    run_case(c, 2);
  }
}

TEST_CASE("fused LARS matches the CPU optimizer rule", "[cuda][optimizer]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  Config c;
  c.kind = Kind::Lars;
  SECTION("momentum") { run_case(c, 3); }
  SECTION("nesterov, clipped") {
    c.nesterov = true, c.max_norm = 5.0;
    run_case(c, 3);
  }
}

TEST_CASE("fused AdamW matches the CPU optimizer rule", "[cuda][optimizer]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  Config c;
  c.kind = Kind::AdamW, c.lr = 0.01;
  SECTION("plain") { run_case(c, 3); }
  SECTION("clipped") {
    c.max_norm = 5.0;
    run_case(c, 3);
  }
}

TEST_CASE("fused gradient norm is a deterministic double-checked sum", "[cuda][optimizer]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  std::mt19937 rng(99);
  const std::vector<int64_t> sizes = {1, 7, 1000, 4099, 9000};
  std::vector<std::unique_ptr<DevFloats>> ps, gs;
  std::vector<k::OptSlot> slots;
  double ref = 0;
  for (int64_t n : sizes) {
    auto g = random_vec(rng, size_t(n), -3.f, 3.f);
    for (float x : g) ref += double(x) * x;
    ps.push_back(std::make_unique<DevFloats>(size_t(n)));
    gs.push_back(std::make_unique<DevFloats>(size_t(n)));
    gs.back()->upload(g);
    k::OptSlot s;
    s.param = ps.back()->ptr(), s.grad = gs.back()->ptr(), s.numel = n;
    slots.push_back(s);
  }
  ref = std::sqrt(ref);
  DevFloats table_mem((k::optimizer_table_bytes(slots.data(), int(slots.size())) + 3) / 4);
  const auto table = k::optimizer_table_build(slots.data(), int(slots.size()), table_mem.ptr());
  DevFloats out(2);
  k::optimizer_grad_norm(table, 0.f, out.ptr(), nullptr);
  const auto a = out.download();
  CHECK(std::fabs(a[0] - ref) <= 1e-6 * ref);
  CHECK(a[1] == 1.f);
  const float max_norm = float(ref / 4);
  k::optimizer_grad_norm(table, max_norm, out.ptr(), nullptr);
  const auto b = out.download();
  CHECK(std::memcmp(&a[0], &b[0], sizeof(float)) == 0);  // same order, same bits
  CHECK(std::fabs(b[1] - max_norm / (ref + 1e-6)) <= 1e-6 * b[1]);
  CHECK(out.guards_intact());
}

#else

TEST_CASE("fused optimizer kernels match the CPU optimizer rule", "[cuda][optimizer]") {
  slimssl::testing::gpu_or_skip();
}

#endif
