#include "ssl/eval/linear_probe.h"
#include <algorithm>
#include <cstring>
#include <numeric>
#include "engine/init.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "models/slim_layers.h"
#include "ssl/eval/features.h"
#include "ssl/train/optimizer.h"

namespace slimssl::eval {
namespace {

struct HostSplit {
  std::vector<Tensor> features;  // host float32, contiguous
  std::vector<int64_t> labels;
};

HostSplit to_host(const char* what, const ProbeSplit& s, size_t widths) {
  SLIMSSL_CHECK(s.features.size() == widths, "linear_probe: the ", what, " split has features for ",
                s.features.size(), " widths, expected ", widths);
  HostSplit h;
  for (size_t wi = 0; wi < widths; ++wi) {
    h.features.push_back(host_features("linear_probe", s.features[wi]));
    SLIMSSL_CHECK(h.features[wi].size(0) == h.features[0].size(0), "linear_probe: ", what, " features of width ",
                  wi, " have ", h.features[wi].size(0), " rows, width 0 has ", h.features[0].size(0));
  }
  h.labels = host_labels("linear_probe", s.labels, h.features[0].size(0));
  return h;
}

// Rows `idx[begin, end)` of a host float32 matrix, as a new contiguous tensor.
Tensor gather_rows(const Tensor& m, const std::vector<int64_t>& idx, int64_t begin, int64_t end) {
  int64_t d = m.size(1);
  Tensor out = Tensor::empty({end - begin, d}, DType::F32);
  const float* src = m.data<float>();
  float* dst = out.data<float>();
  for (int64_t r = begin; r < end; ++r) std::memcpy(dst + (r - begin) * d, src + idx[r] * d, d * sizeof(float));
  return out;
}

std::shared_ptr<models::Layer> make_probe(ProbeKind kind, const models::Channels& dims, int64_t classes,
                                          const ProbeConfig& cfg) {
  std::shared_ptr<models::Layer> probe;
  if (kind == ProbeKind::Switchable) {
    probe = std::make_shared<models::SwitchableLinear>(dims, classes, true);
  } else {
    probe = std::make_shared<models::SlimLinear>(dims, models::fixed_channels(classes, dims.size()), true);
  }
  uint64_t stream = 0;
  for (auto& [name, p] : probe->named_parameters()) {
    if (p.dim() >= 2) init::normal(p, 0.0, cfg.init_std, cfg.seed, stream++);
    else init::zeros(p);
  }
  return probe;
}

}  // namespace

ProbeKind parse_probe_kind(const std::string& name) {
  if (name == "switchable") return ProbeKind::Switchable;
  if (name == "slimmable") return ProbeKind::Slimmable;
  fail("linear_probe: unknown probe kind '", name, "' (expected switchable or slimmable)");
}

ProbeWidthResult evaluate_probe(models::Layer& probe, const Tensor& features, const Tensor& labels, int wi) {
  NoGradGuard ng;
  Tensor x = host_features("evaluate_probe", features);
  std::vector<int64_t> y = host_labels("evaluate_probe", labels, x.size(0));
  int64_t n = x.size(0), hits1 = 0, hits5 = 0;
  for (int64_t r = 0; r < n; r += 4096) {
    int64_t rows = std::min<int64_t>(4096, n - r);
    Tensor logits = probe.forward(x.narrow(0, r, rows), wi).contiguous();
    int64_t c = logits.size(1), top = std::min<int64_t>(5, c);
    const float* l = logits.data<float>();
    for (int64_t i = 0; i < rows; ++i) {
      int64_t truth = y[r + i];
      SLIMSSL_CHECK(truth >= 0 && truth < c, "evaluate_probe: label ", truth, " outside the probe's ", c, " classes");
      int64_t rank = 0;  // classes scored above the truth (equal scores: smaller index first)
      for (int64_t k = 0; k < c; ++k)
        if (l[i * c + k] > l[i * c + truth] || (l[i * c + k] == l[i * c + truth] && k < truth)) ++rank;
      hits1 += rank < 1;
      hits5 += rank < top;
    }
  }
  ProbeWidthResult res;
  res.top1 = n > 0 ? hits1 / static_cast<double>(n) : 0.0;
  res.top5 = n > 0 ? hits5 / static_cast<double>(n) : 0.0;
  return res;
}

ProbeResult train_linear_probe(const ProbeSplit& train, const ProbeSplit& test, int64_t num_classes,
                               const ProbeConfig& cfg, const ProbeLog& log) {
  const char* op = "linear_probe";
  size_t widths = train.features.size();
  SLIMSSL_CHECK(widths >= 1, op, ": no feature sets given");
  SLIMSSL_CHECK(num_classes >= 1, op, ": num_classes must be >= 1, got ", num_classes);
  SLIMSSL_CHECK(cfg.epochs >= 1 && cfg.batch_size >= 1, op, ": epochs (", cfg.epochs, ") and batch size (",
                cfg.batch_size, ") must be positive");
  HostSplit tr = to_host("train", train, widths), te = to_host("test", test, widths);
  SLIMSSL_CHECK(count_classes(op, tr.labels) <= num_classes && count_classes(op, te.labels) <= num_classes, op,
                ": a label is >= num_classes = ", num_classes);
  models::Channels dims;
  for (size_t wi = 0; wi < widths; ++wi) {
    dims.push_back(tr.features[wi].size(1));
    SLIMSSL_CHECK(te.features[wi].size(1) == dims[wi], op, ": width ", wi, " has ", dims[wi],
                  "-d train features but ", te.features[wi].size(1), "-d test features");
    // A shared weight is sliced from the full width's columns: no width may be wider.
    SLIMSSL_CHECK(cfg.kind != ProbeKind::Slimmable || dims[wi] <= dims[0], op, ": slimmable probe: width ", wi,
                  " has ", dims[wi], "-d features, more than the full width's ", dims[0]);
  }

  ProbeResult res;
  res.probe = make_probe(cfg.kind, dims, num_classes, cfg);
  models::Layer& probe = *res.probe;
  train::OptimizerConfig oc;
  oc.kind = train::OptimizerKind::SGD;
  oc.momentum = cfg.momentum;
  oc.weight_decay = cfg.weight_decay;
  train::Optimizer opt({train::named_group(probe.named_parameters(), true, false)}, oc);
  train::Schedule sched;
  sched.kind = cfg.schedule;
  sched.base_lr = cfg.lr;
  sched.milestones = cfg.milestones;
  sched.gamma = cfg.gamma;
  sched.warmup_epochs = cfg.warmup_epochs;
  sched.total_epochs = static_cast<double>(cfg.epochs);
  SLIMSSL_CHECK(sched.kind == "cosine" || sched.kind == "step" || sched.kind == "constant", op,
                ": unknown schedule '", cfg.schedule, "' (expected cosine, step or constant)");

  int64_t n = static_cast<int64_t>(tr.labels.size());
  SLIMSSL_CHECK(n > 0, op, ": empty training split");
  int64_t steps_per_epoch = (n + cfg.batch_size - 1) / cfg.batch_size;
  std::vector<int64_t> order(n);
  for (int64_t epoch = 0; epoch < cfg.epochs; ++epoch) {
    // A fresh Fisher-Yates shuffle per epoch, keyed by (seed, epoch).
    std::iota(order.begin(), order.end(), 0);
    RandomStream rs(cfg.seed, 0x70726f62u /* "prob" */, static_cast<uint32_t>(epoch));
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rs.next_u32() % static_cast<uint32_t>(i + 1)]);
    double loss_sum = 0, lr = 0;
    for (int64_t step = 0; step < steps_per_epoch; ++step) {
      int64_t b0 = step * cfg.batch_size, b1 = std::min(n, b0 + cfg.batch_size);
      std::vector<int64_t> yb(b1 - b0);
      for (int64_t r = b0; r < b1; ++r) yb[r - b0] = tr.labels[order[r]];
      Tensor targets = Tensor::from_vector<int64_t>(yb, {b1 - b0});
      Tensor full = probe.forward(gather_rows(tr.features[0], order, b0, b1), 0);
      Tensor loss = cross_entropy(full, targets);
      Tensor teacher;
      if (cfg.distill && widths > 1) {
        NoGradGuard ng;
        teacher = softmax(full.detach(), 1);
      }
      for (size_t wi = 1; wi < widths; ++wi) {
        Tensor logits = probe.forward(gather_rows(tr.features[wi], order, b0, b1), static_cast<int>(wi));
        Tensor ce = cross_entropy(logits, targets);
        loss = add(loss, cfg.distill ? mul(add(soft_cross_entropy(logits, teacher), ce), 0.5) : ce);
      }
      opt.zero_grad();
      loss.backward();
      lr = sched.lr_at(epoch + static_cast<double>(step) / steps_per_epoch);
      opt.step(lr);
      loss_sum += loss.item() * (b1 - b0);
    }
    res.epoch_loss.push_back(loss_sum / n);
    if (log) log(epoch, lr, res.epoch_loss.back());
  }
  for (size_t wi = 0; wi < widths; ++wi)
    res.widths.push_back(evaluate_probe(probe, te.features[wi], test.labels, static_cast<int>(wi)));
  return res;
}

}  // namespace slimssl::eval
