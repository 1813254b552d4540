#include "engine/profile.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include "engine/backend.h"

namespace slimssl::profile {
namespace detail {
std::atomic<bool> g_on{false};
}

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return "neg";
    case UnaryOp::Exp: return "exp";
    case UnaryOp::Log: return "log";
    case UnaryOp::Sqrt: return "sqrt";
    case UnaryOp::Rsqrt: return "rsqrt";
    case UnaryOp::Abs: return "abs";
    case UnaryOp::Sign: return "sign";
    case UnaryOp::Reciprocal: return "reciprocal";
    case UnaryOp::Relu: return "relu";
    case UnaryOp::Relu6: return "relu6";
    case UnaryOp::HardSwish: return "hardswish";
    case UnaryOp::HardSigmoid: return "hardsigmoid";
    case UnaryOp::Sigmoid: return "sigmoid";
    case UnaryOp::Silu: return "silu";
    case UnaryOp::Tanh: return "tanh";
    case UnaryOp::GeluErf: return "gelu_erf";
    case UnaryOp::GeluTanh: return "gelu_tanh";
    case UnaryOp::AddScalar: return "add_scalar";
    case UnaryOp::MulScalar: return "mul_scalar";
    case UnaryOp::RSub: return "rsub";
    case UnaryOp::Pow: return "pow";
    case UnaryOp::Clamp: return "clamp";
    case UnaryOp::InRange: return "in_range";
    case UnaryOp::Greater: return "greater";
    case UnaryOp::GreaterEq: return "greater_eq";
  }
  return "?";
}

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add: return "add";
    case BinaryOp::Sub: return "sub";
    case BinaryOp::Mul: return "mul";
    case BinaryOp::Div: return "div";
    case BinaryOp::Maximum: return "maximum";
    case BinaryOp::GreaterEq: return "greater_eq";
    case BinaryOp::ReluBackward: return "relu_backward";
    case BinaryOp::Relu6Backward: return "relu6_backward";
    case BinaryOp::HardSwishBackward: return "hardswish_backward";
    case BinaryOp::HardSigmoidBackward: return "hardsigmoid_backward";
    case BinaryOp::SigmoidBackwardFromOutput: return "sigmoid_backward";
    case BinaryOp::SiluBackward: return "silu_backward";
    case BinaryOp::TanhBackwardFromOutput: return "tanh_backward";
    case BinaryOp::GeluErfBackward: return "gelu_erf_backward";
    case BinaryOp::GeluTanhBackward: return "gelu_tanh_backward";
  }
  return "?";
}

const char* reduce_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Max: return "max";
    case ReduceOp::ArgMax: return "argmax";
    case ReduceOp::Var: return "var";
  }
  return "?";
}

// An entry's key: the primitive's name and, for the families, the op's name (static strings).
struct Key {
  const char* primitive;
  const char* op;
  bool operator==(const Key&) const = default;
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    return std::hash<const void*>()(k.primitive) * 31 + std::hash<const void*>()(k.op);
  }
};
struct Tally {
  int64_t calls = 0;
  double seconds = 0;
};

struct State {
  std::mutex mu;
  std::unordered_map<Key, Tally, KeyHash> tallies;
  double started = 0;
  double primitives = 0;  // outermost primitive calls
  double backward = 0, backward_primitives = 0;
  int64_t backward_passes = 0, backward_depth = 0;
  int64_t allocations = 0, allocated_bytes = 0;
};
State& state() {
  static State s;
  return s;
}

// Per nesting level on this thread: the time spent in nested primitive calls so far.
thread_local std::vector<double> t_nested;

// One timed primitive call. On a device other than the CPU it synchronizes before (so queued work
// is not charged to it) and after (so its own work is).
class Call {
 public:
  Call(Backend& inner, Device d, const char* primitive, const char* op = nullptr)
      : inner_(inner), sync_(!d.is_cpu()), key_{primitive, op} {
    if (sync_) inner_.synchronize();
    t_nested.push_back(0);
    started_ = now_s();
  }
  ~Call() {
    if (sync_) {
      try {
        inner_.synchronize();
      } catch (...) {
        // The primitive's own error (if any) is already on its way; the time is recorded anyway.
      }
    }
    double dt = now_s() - started_, nested = t_nested.back();
    t_nested.pop_back();
    if (!t_nested.empty()) t_nested.back() += dt;
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mu);
    Tally& t = s.tallies[key_];
    ++t.calls;
    t.seconds += dt - nested;
    if (t_nested.empty()) s.primitives += dt;
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

 private:
  Backend& inner_;
  bool sync_;
  Key key_;
  double started_ = 0;
};

class ProfilingBackend final : public Backend {
 public:
  ProfilingBackend(Backend& inner, Device d) : inner_(inner), device_(d) {}
  Backend& inner() { return inner_; }
  const char* name() const override { return inner_.name(); }

  void fill(const Tensor& dst, double value) override {
    Call c(inner_, device_, "fill");
    inner_.fill(dst, value);
  }
  void copy(const Tensor& src, const Tensor& dst) override {
    Call c(inner_, device_, "copy");
    inner_.copy(src, dst);
  }
  void copy_bytes(void* dst, bool dst_dev, const void* src, bool src_dev, size_t nbytes) override {
    Call c(inner_, device_, "copy_bytes");
    inner_.copy_bytes(dst, dst_dev, src, src_dev, nbytes);
  }
  void synchronize() override {
    Call c(inner_, Device::cpu(), "synchronize");  // waiting is its whole work: no extra syncs
    inner_.synchronize();
  }
  void unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) override {
    Call c(inner_, device_, "unary", unary_name(op));
    inner_.unary(op, x, out, a, b);
  }
  void binary(BinaryOp op, const Tensor& x, const Tensor& y, const Tensor& out, double alpha) override {
    Call c(inner_, device_, "binary", binary_name(op));
    inner_.binary(op, x, y, out, alpha);
  }
  void reduce_rows(ReduceOp op, const Tensor& x, const Tensor& out, double denom) override {
    Call c(inner_, device_, "reduce_rows", reduce_name(op));
    inner_.reduce_rows(op, x, out, denom);
  }
  void softmax_rows(const Tensor& x, const Tensor& out, bool log) override {
    Call c(inner_, device_, log ? "log_softmax_rows" : "softmax_rows");
    inner_.softmax_rows(x, out, log);
  }
  void gemm(const Tensor& a, const Tensor& b, const Tensor& cc, double alpha, double beta) override {
    Call c(inner_, device_, "gemm");
    inner_.gemm(a, b, cc, alpha, beta);
  }
  void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, const Tensor& y) override {
    Call c(inner_, device_, "conv2d");
    inner_.conv2d(x, w, bias, p, y);
  }
  void conv2d_backward_data(const Tensor& gy, const Tensor& w, const Conv2dParams& p, const Tensor& dx) override {
    Call c(inner_, device_, "conv2d_backward_data");
    inner_.conv2d_backward_data(gy, w, p, dx);
  }
  void conv2d_backward_weight(const Tensor& x, const Tensor& gy, const Conv2dParams& p, const Tensor& dw) override {
    Call c(inner_, device_, "conv2d_backward_weight");
    inner_.conv2d_backward_weight(x, gy, p, dw);
  }
  void batch_norm_stats(const Tensor& x, const Tensor& mean, const Tensor& var) override {
    Call c(inner_, device_, "batch_norm_stats");
    inner_.batch_norm_stats(x, mean, var);
  }
  void batch_norm_forward(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                          const Tensor& bias, const Tensor& y) override {
    Call c(inner_, device_, "batch_norm_forward");
    inner_.batch_norm_forward(x, mean, invstd, weight, bias, y);
  }
  void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                           const Tensor& weight, bool training, const Tensor& dx, const Tensor& dw,
                           const Tensor& db) override {
    Call c(inner_, device_, "batch_norm_backward");
    inner_.batch_norm_backward(gy, x, mean, invstd, weight, training, dx, dw, db);
  }
  void layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, const Tensor& y,
                          const Tensor& mean, const Tensor& invstd) override {
    Call c(inner_, device_, "layer_norm_forward");
    inner_.layer_norm_forward(x, weight, bias, eps, y, mean, invstd);
  }
  void layer_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                           const Tensor& weight, const Tensor& dx, const Tensor& dw, const Tensor& db) override {
    Call c(inner_, device_, "layer_norm_backward");
    inner_.layer_norm_backward(gy, x, mean, invstd, weight, dx, dw, db);
  }
  void max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad, const Tensor& y,
                  const Tensor& argmax) override {
    Call c(inner_, device_, "max_pool2d");
    inner_.max_pool2d(x, kernel, stride, pad, y, argmax);
  }
  void max_pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& dx) override {
    Call c(inner_, device_, "max_pool2d_backward");
    inner_.max_pool2d_backward(gy, argmax, dx);
  }
  void avg_pool2d(const Tensor& x, const PoolWindows& win, const Tensor& y) override {
    Call c(inner_, device_, "avg_pool2d");
    inner_.avg_pool2d(x, win, y);
  }
  void avg_pool2d_backward(const Tensor& gy, const PoolWindows& win, const Tensor& dx) override {
    Call c(inner_, device_, "avg_pool2d_backward");
    inner_.avg_pool2d_backward(gy, win, dx);
  }
  void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) override {
    Call c(inner_, device_, "gather");
    inner_.gather(x, dim, index, out);
  }
  void scatter_add(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) override {
    Call c(inner_, device_, "scatter_add");
    inner_.scatter_add(dst, dim, index, src);
  }
  bool index_in_range(const Tensor& index, int64_t limit) override {
    Call c(inner_, device_, "index_in_range");
    return inner_.index_in_range(index, limit);
  }
  void uniform(const Tensor& out, uint64_t seed, uint64_t counter) override {
    Call c(inner_, device_, "uniform");
    inner_.uniform(out, seed, counter);
  }
  void permutation(const Tensor& order, const Tensor& inverse, uint64_t seed, const Tensor& counter,
                   uint32_t tag) override {
    Call c(inner_, device_, "permutation");
    inner_.permutation(order, inverse, seed, counter, tag);
  }

 private:
  Backend& inner_;
  Device device_;
};

std::string entry_name(const Key& k) { return k.op ? std::string(k.primitive) + ":" + k.op : k.primitive; }

}  // namespace

int64_t Report::primitive_calls() const {
  int64_t n = 0;
  for (auto& e : entries) n += e.calls;
  return n;
}

void start() {
  State& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.tallies.clear();
    s.primitives = s.backward = s.backward_primitives = 0;
    s.backward_passes = s.backward_depth = s.allocations = s.allocated_bytes = 0;
    s.started = now_s();
  }
  detail::g_on.store(true);
}

Report stop() {
  detail::g_on.store(false);
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Report r;
  r.wall_seconds = now_s() - s.started;
  r.primitive_seconds = s.primitives;
  r.backward_seconds = s.backward, r.backward_primitive_seconds = s.backward_primitives;
  r.backward_passes = s.backward_passes;
  r.allocations = s.allocations, r.allocated_bytes = s.allocated_bytes;
  for (auto& [k, t] : s.tallies) r.entries.push_back({entry_name(k), t.calls, t.seconds});
  std::sort(r.entries.begin(), r.entries.end(), [](const Entry& a, const Entry& b) {
    return a.seconds != b.seconds ? a.seconds > b.seconds : a.name < b.name;
  });
  return r;
}

Backend& wrap(Backend& inner, Device d) {
  static std::mutex mu;
  static std::map<std::pair<int, int>, std::unique_ptr<ProfilingBackend>> wrappers;
  std::lock_guard<std::mutex> lock(mu);
  auto& w = wrappers[{static_cast<int>(d.type), d.index}];
  if (!w) w = std::make_unique<ProfilingBackend>(inner, d);
  return *w;
}

void note_allocation(size_t nbytes) {
  if (!enabled()) return;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  ++s.allocations;
  s.allocated_bytes += static_cast<int64_t>(nbytes);
}

BackwardScope::BackwardScope() : entered_(enabled()) {
  if (!entered_) return;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  outer_ = s.backward_depth++ == 0;  // a backward inside a backward is part of the outer one
  primitives_before_ = s.primitives;
  started_ = now_s();
}

BackwardScope::~BackwardScope() {
  if (!entered_) return;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  --s.backward_depth;
  if (!outer_) return;
  s.backward += now_s() - started_;
  s.backward_primitives += s.primitives - primitives_before_;
  ++s.backward_passes;
}

PrimitiveScope::PrimitiveScope(const char* name, Device d) : on_(enabled()), device_(d), name_(name) {
  if (!on_) return;
  if (!d.is_cpu()) static_cast<ProfilingBackend&>(backend_for(d)).inner().synchronize();
  t_nested.push_back(0);
  started_ = now_s();
}

PrimitiveScope::~PrimitiveScope() {
  if (!on_) return;
  if (!device_.is_cpu() && enabled()) {
    try {
      static_cast<ProfilingBackend&>(backend_for(device_)).inner().synchronize();
    } catch (...) {
      // as Call: the time is recorded whatever the work's fate
    }
  }
  double dt = now_s() - started_, nested = t_nested.back();
  t_nested.pop_back();
  if (!t_nested.empty()) t_nested.back() += dt;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  Tally& t = s.tallies[{name_, nullptr}];
  ++t.calls;
  t.seconds += dt - nested;
  if (t_nested.empty()) s.primitives += dt;
}

std::string format(const Report& r, int top, int64_t steps) {
  std::string out;
  char line[256];
  const double per = 1e3 / static_cast<double>(std::max<int64_t>(1, steps));
  auto pct = [&](double s) { return r.wall_seconds > 0 ? 100.0 * s / r.wall_seconds : 0.0; };
  std::snprintf(line, sizeof line, "profile over %lld step%s: %.1f ms per step\n", static_cast<long long>(steps),
                steps == 1 ? "" : "s", r.wall_seconds * per);
  out += line;
  std::snprintf(line, sizeof line, "  %-12s %9.2f ms/step %5.1f%%  %lld calls\n", "primitives",
                r.primitive_seconds * per, pct(r.primitive_seconds), static_cast<long long>(r.primitive_calls()));
  out += line;
  std::snprintf(line, sizeof line, "  %-12s %9.2f ms/step %5.1f%%  autograd in %lld backward pass%s, outside primitives\n",
                "autograd", r.autograd_seconds() * per, pct(r.autograd_seconds()),
                static_cast<long long>(r.backward_passes), r.backward_passes == 1 ? "" : "es");
  out += line;
  std::snprintf(line, sizeof line, "  %-12s %9.2f ms/step %5.1f%%  op fronts, graph recording, host work\n", "other",
                r.other_seconds() * per, pct(r.other_seconds()));
  out += line;
  std::snprintf(line, sizeof line, "  %-12s %9.1f per step, %.1f MiB per step\n", "allocations",
                static_cast<double>(r.allocations) / std::max<int64_t>(1, steps),
                static_cast<double>(r.allocated_bytes) / std::max<int64_t>(1, steps) / (1 << 20));
  out += line;
  std::snprintf(line, sizeof line, "\n  %-34s %10s %12s %7s\n", "primitive", "calls/step", "ms/step", "% wall");
  out += line;
  int shown = 0;
  for (auto& e : r.entries) {
    if (shown++ >= top) break;
    std::snprintf(line, sizeof line, "  %-34s %10.1f %12.3f %7.1f\n", e.name.c_str(),
                  static_cast<double>(e.calls) / std::max<int64_t>(1, steps), e.seconds * per, pct(e.seconds));
    out += line;
  }
  if (static_cast<int>(r.entries.size()) > top)
    out += "  (" + std::to_string(r.entries.size() - top) + " more)\n";
  return out;
}

}  // namespace slimssl::profile
