#include "ssl/diag/gradient_diagnostics.h"
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include "models/slim_layers.h"

namespace slimssl::diag {
namespace {

double dot(const Tensor& a, const Tensor& b) { return sum(mul(a.detach(), b.detach())).item(); }
double norm(const Tensor& a) { return std::sqrt(std::max(0.0, dot(a, a))); }
double cosine(const Tensor& a, const Tensor& b) {
  double na = norm(a), nb = norm(b);
  return (na > 0 && nb > 0) ? dot(a, b) / (na * nb) : 0.0;
}

void walk(models::Module& m, const std::string& prefix, std::vector<DiagLayer>& out, size_t n_widths) {
  NoGradGuard ng;
  auto add = [&](const Tensor& w, const std::function<Tensor(int)>& at) {
    DiagLayer l{prefix + "weight", w, {}};
    for (size_t wi = 0; wi < n_widths; ++wi) l.slices.push_back(at(static_cast<int>(wi)).shape());
    out.push_back(l);
  };
  if (auto* c = dynamic_cast<models::SlimConv2d*>(&m)) add(c->weight, [c](int wi) { return c->weight_at(wi); });
  if (auto* l = dynamic_cast<models::SlimLinear*>(&m)) add(l->weight, [l](int wi) { return l->weight_at(wi); });
  for (auto& [name, child] : m.children()) walk(*child, name.empty() ? prefix : prefix + name + ".", out, n_widths);
}

}  // namespace

std::vector<DiagLayer> slimmable_layers(train::Encoder& enc) {
  std::vector<DiagLayer> out;
  walk(enc, "", out, enc.backbone->num_widths());
  return out;
}

Tensor slice_region(const Tensor& full, const Shape& shape) {
  Tensor r = full;
  for (size_t d = 0; d < shape.size(); ++d) r = r.narrow(static_cast<int64_t>(d), 0, shape[d]);
  return r;
}

GradientDiagnostics::GradientDiagnostics(train::Encoder& enc, std::vector<double> widths, const std::string& out_dir)
    : layers_(slimmable_layers(enc)), widths_(std::move(widths)), out_dir_(out_dir) {
  std::filesystem::create_directories(out_dir_);
  out_.open(std::filesystem::path(out_dir_) / "gradients.jsonl", std::ios::app);
  SLIMSSL_CHECK(out_.good(), "diagnostics: cannot write to '", out_dir_, "'");
  contributions_.assign(widths_.size(), std::vector<Tensor>(layers_.size()));
  previous_total_.resize(layers_.size());
  for (size_t li = 0; li < layers_.size(); ++li) {
    if (pca_layer_.empty() && layers_[li].name.rfind("projector.", 0) == 0) pca_layer_ = layers_[li].name, pca_index_ = li;
    // The hook sees each backward's contribution and the region of .grad it lands in; the same
    // region of a zero tensor shaped like the weight collects that width's share.
    layers_[li].weight.add_hook([this, li](const Tensor& contribution, const Tensor& destination) {
      if (current_width_ < 0) return;
      Tensor& c = contributions_[current_width_][li];
      if (!c.defined()) c = Tensor::zeros_like(layers_[li].weight.detach());
      Tensor grad = layers_[li].weight.grad();
      c.as_strided(destination.shape(), destination.strides(), destination.offset() - grad.offset()).add_(contribution);
    });
  }
}

GradientDiagnostics::~GradientDiagnostics() {
  for (auto& l : layers_) l.weight.clear_hooks();
}

void GradientDiagnostics::backward_and_record(const train::StepLoss& sl, int64_t step) {
  for (auto& l : layers_) l.weight.zero_grad();
  std::vector<size_t> active;
  for (size_t wi = 0; wi < sl.active.size(); ++wi)
    if (sl.active[wi]) active.push_back(wi);
  for (auto& per_width : contributions_)
    for (auto& c : per_width) c = Tensor();
  for (size_t wi : active) {
    current_width_ = static_cast<int>(wi);
    sl.terms[wi].backward({}, true);
  }
  current_width_ = -1;

  NoGradGuard ng;
  const size_t min_w = widths_.size() - 1;
  double sum_ratio_full = 0, sum_ratio_rest = 0;
  int counted = 0;
  for (size_t li = 0; li < layers_.size(); ++li) {
    const DiagLayer& layer = layers_[li];
    Tensor g = layer.weight.grad();
    if (!g.defined()) continue;
    std::vector<double> slice_norm(widths_.size());
    for (size_t wi = 0; wi < widths_.size(); ++wi) slice_norm[wi] = norm(slice_region(g, layer.slices[wi]));
    double full = slice_norm[0], smallest = slice_norm[min_w];
    double rest = std::sqrt(std::max(0.0, full * full - smallest * smallest));
    for (size_t wi = 0; wi < widths_.size(); ++wi) {
      nlohmann::json rec = {{"step", step}, {"layer", layer.name}, {"width", widths_[wi]}, {"grad_norm", slice_norm[wi]}};
      const Tensor& own = contributions_[wi][li];
      rec["contribution_norm"] = own.defined() ? nlohmann::json(norm(own)) : nlohmann::json(nullptr);
      if (own.defined()) {
        for (size_t wj : active) {
          if (wj == wi || !contributions_[wj][li].defined()) continue;
          const Shape& shared = layer.slices[std::max(wi, wj)];  // the narrower width's slice
          rec["cos"][models::width_label(widths_[wj])] =
              cosine(slice_region(own, shared), slice_region(contributions_[wj][li], shared));
        }
      }
      if (wi == 0) {
        if (smallest > 0) {
          rec["ratio_full_min"] = full / smallest;
          rec["ratio_rest_min"] = rest / smallest;
        }
        if (previous_total_[li].defined()) rec["cos_prev"] = cosine(g, previous_total_[li]);
      }
      out_ << rec.dump() << "\n";
    }
    if (smallest > 0 && widths_.size() > 1) sum_ratio_full += full / smallest, sum_ratio_rest += rest / smallest, ++counted;
    previous_total_[li] = g.clone();
    if (li == pca_index_ && !pca_layer_.empty()) {
      // Up to 65536 evenly spaced coordinates: enough for a faithful 2-D PCA of the trajectory.
      auto v = g.to_vector<float>();
      size_t stride = std::max<size_t>(1, v.size() / 65536);
      std::vector<float> row;
      for (size_t i = 0; i < v.size(); i += stride) row.push_back(v[i]);
      pca_rows_.emplace_back(step, std::move(row));
    }
  }
  if (counted > 0)
    out_ << nlohmann::json{{"step", step}, {"layer", "__mean__"}, {"width", nullptr},
                           {"ratio_full_min", sum_ratio_full / counted}, {"ratio_rest_min", sum_ratio_rest / counted}}
                .dump()
         << "\n";
  out_.flush();
}

Pca2 pca2(const std::vector<std::vector<float>>& rows) {
  Pca2 out;
  size_t n = rows.size();
  out.coords.assign(n, {0.0, 0.0});
  if (n < 2) return out;
  size_t p = rows[0].size();
  std::vector<double> mean(p, 0.0);
  for (auto& r : rows)
    for (size_t j = 0; j < p; ++j) mean[j] += r[j] / double(n);
  // Gram matrix of the centered rows (n x n): cheap because n (diagnostic steps) is small.
  std::vector<double> gram(n * n, 0.0);
  for (size_t a = 0; a < n; ++a)
    for (size_t b = a; b < n; ++b) {
      double s = 0;
      for (size_t j = 0; j < p; ++j) s += (rows[a][j] - mean[j]) * (rows[b][j] - mean[j]);
      gram[a * n + b] = gram[b * n + a] = s;
    }
  double trace = 0;
  for (size_t a = 0; a < n; ++a) trace += gram[a * n + a];
  for (int comp = 0; comp < 2; ++comp) {
    std::vector<double> u(n);
    for (size_t a = 0; a < n; ++a) u[a] = 1.0 + 0.01 * double(a % 7);  // deterministic start
    double lambda = 0;
    for (int it = 0; it < 500; ++it) {
      std::vector<double> v(n, 0.0);
      for (size_t a = 0; a < n; ++a)
        for (size_t b = 0; b < n; ++b) v[a] += gram[a * n + b] * u[b];
      double len = 0;
      for (double x : v) len += x * x;
      len = std::sqrt(len);
      if (len == 0) break;
      for (size_t a = 0; a < n; ++a) u[a] = v[a] / len;
      lambda = len;
    }
    // Sign convention: the first step's coordinate is non-positive, so trajectories compare.
    double sign = u[0] > 0 ? -1.0 : 1.0;
    for (size_t a = 0; a < n; ++a) out.coords[a][comp] = sign * std::sqrt(std::max(0.0, lambda)) * u[a];
    out.explained[comp] = trace > 0 ? lambda / trace : 0;
    for (size_t a = 0; a < n; ++a)  // deflate
      for (size_t b = 0; b < n; ++b) gram[a * n + b] -= lambda * u[a] * u[b];
  }
  return out;
}

void GradientDiagnostics::finish() {
  if (pca_rows_.size() < 2) return;
  std::vector<std::vector<float>> rows;
  for (auto& [s, r] : pca_rows_) rows.push_back(r);
  Pca2 p = pca2(rows);
  std::ofstream f(std::filesystem::path(out_dir_) / "pca.jsonl", std::ios::trunc);
  f << nlohmann::json{{"layer", pca_layer_}, {"explained", {p.explained[0], p.explained[1]}}}.dump() << "\n";
  for (size_t i = 0; i < pca_rows_.size(); ++i)
    f << nlohmann::json{{"step", pca_rows_[i].first}, {"pc1", p.coords[i][0]}, {"pc2", p.coords[i][1]}}.dump() << "\n";
}

}  // namespace slimssl::diag
