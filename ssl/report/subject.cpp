#include "ssl/report/subject.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "ssl/data/augment.h"

namespace slimssl::report {
namespace fs = std::filesystem;

namespace {

// 64-bit FNV-1a over the raw bytes of every parameter and buffer, 8 bytes at a time: identical
// weights give identical features, so this (not the checkpoint's name) keys the feature cache.
std::string encoder_fingerprint(const train::Encoder& enc) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  auto add = [&](const models::NamedTensors& named) {
    for (auto& [name, t] : named) {
      for (char ch : name) mix(static_cast<uint8_t>(ch));
      Tensor c = t.detach().cpu().contiguous();
      const auto* bytes = static_cast<const uint8_t*>(c.raw());
      size_t n = static_cast<size_t>(c.numel()) * c.itemsize(), i = 0;
      for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, bytes + i, 8);
        mix(w);
      }
      for (; i < n; ++i) mix(bytes[i]);
    }
  };
  add(enc.named_parameters());
  add(enc.named_buffers());
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

data::Dataset open_split(const std::string& source, const char* split) {
  try {
    return data::open_dataset(source, split);
  } catch (const Error& e) {
    fail("the run's data set (", split, " split; pass --data PATH if it moved): ", e.what());
  }
}

}  // namespace

int64_t EvalSubject::num_classes() const {
  int64_t n = static_cast<int64_t>(std::max(train.classes.size(), test.classes.size()));
  for (const data::Dataset* ds : {&train, &test})
    for (int64_t l : ds->labels.to_vector<int64_t>()) n = std::max(n, l + 1);
  return n;
}

const data::Dataset& EvalSubject::split(const std::string& name) const {
  if (name == "train") return train;
  if (name == "test") return test;
  fail("unknown split '", name, "' (expected train or test)");
}

EvalSubject open_subject(const std::string& path, const std::string& data_override) {
  EvalSubject s;
  s.where = locate_run(path, true);
  s.loaded = train::load_encoder(s.where.checkpoint);
  const train::TrainConfig& c = s.loaded.config;
  std::string source = data_override.empty() ? c.data : data_override;
  s.train = open_split(source, "train");
  s.test = open_split(source, "test");
  // The trainer's normalization: from the training split, applied to both.
  auto norm = data::normalization_for(s.train);
  int size = static_cast<int>(c.image_size), channels = static_cast<int>(c.in_channels);
  s.eval_transform = data::augment_preset("eval", size, norm, channels).first;
  s.train_views = train::training_views(c, norm);
  s.fingerprint = encoder_fingerprint(*s.loaded.encoder);
  return s;
}

Tensor encode_images(train::Encoder& enc, const Tensor& images, int wi, int64_t batch) {
  NoGradGuard ng;
  enc.eval();
  std::vector<Tensor> parts;
  for (int64_t r = 0; r < images.size(0); r += batch)
    parts.push_back(enc.features(images.narrow(0, r, std::min(batch, images.size(0) - r)), wi).contiguous());
  SLIMSSL_CHECK(!parts.empty(), "encode_images: no images");
  return parts.size() == 1 ? parts[0] : concat(parts, 0);
}

Tensor extract_features(train::Encoder& enc, const data::Dataset& ds, const std::vector<int64_t>& indices,
                        const data::AugmentPipeline& p, uint64_t seed, uint32_t view, int wi, int64_t batch,
                        const Log& log, const std::string& what) {
  NoGradGuard ng;
  enc.eval();
  SLIMSSL_CHECK(!indices.empty(), "extract_features: no images selected from ", ds.source);
  util::Progress progress(what, static_cast<int64_t>(indices.size()), "images", log);
  std::vector<Tensor> parts;
  for (size_t b = 0; b < indices.size(); b += batch) {
    std::vector<int64_t> idx(indices.begin() + b, indices.begin() + std::min(indices.size(), b + batch));
    parts.push_back(enc.features(data::augment_batch(ds, idx, p, seed, 0, view), wi).contiguous());
    progress.add(static_cast<int64_t>(idx.size()));
  }
  progress.finish();
  return parts.size() == 1 ? parts[0] : concat(parts, 0);
}

const char* transform_name(Transform t) { return t == Transform::Eval ? "eval" : "augment"; }

std::string SplitFeatures::summary() const {
  char buf[48];
  std::snprintf(buf, sizeof buf, "computed in %.1f s, cached in ", seconds);
  return (computed ? buf : "read from ") + path;
}

SplitFeatures split_features(const EvalSubject& s, const std::string& split, Transform t, int wi, const Log& log) {
  auto t0 = std::chrono::steady_clock::now();
  const data::Dataset& ds = s.split(split);
  const train::TrainConfig& c = s.config();
  std::string width = width_label(c.widths.at(wi));
  std::string stem = fs::path(s.where.checkpoint).stem().string();
  SplitFeatures out;
  out.path = (fs::path(s.where.run_dir) / "features" /
              (stem + "_" + split + "_" + transform_name(t) + "_w" + width + ".safetensors"))
                 .string();
  std::map<std::string, std::string> key = {
      {"format", "slimssl-features-1"}, {"encoder", s.fingerprint}, {"data", ds.source},
      {"split", split}, {"transform", transform_name(t)}, {"width", width},
      {"images", std::to_string(ds.size())}, {"image_size", std::to_string(c.image_size)}};
  if (t == Transform::TrainAugment) key["augment"] = c.augment, key["augment_seed"] = std::to_string(c.seed);
  const data::AugmentPipeline& p = t == Transform::Eval ? s.eval_transform : s.train_views.first;
  out.file = eval::cached_features(out.path, key, [&] {
    std::vector<int64_t> all(ds.size());
    for (int64_t i = 0; i < ds.size(); ++i) all[i] = i;
    eval::FeatureFile f;
    f.features = extract_features(s.encoder(), ds, all, p, c.seed, 0, wi, 256, log,
                                  "width " + width + ": " + split + " features (" + transform_name(t) + ")");
    f.labels = ds.labels.contiguous();
    f.metadata = {{"run", s.where.run_dir}, {"checkpoint", s.where.checkpoint},
                  {"step", std::to_string(s.loaded.step)}};
    return f;
  }, &out.computed);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

std::pair<Tensor, Tensor> split_or_subset(const EvalSubject& s, const std::string& split, Transform t, int64_t count,
                                          uint64_t seed, uint32_t purpose, int wi, const Log& log) {
  const data::Dataset& ds = s.split(split);
  std::string w = width_label(s.widths()[wi]);
  if (count <= 0 || count >= ds.size()) {
    SplitFeatures f = split_features(s, split, t, wi, log);
    if (log) log("width " + w + ": " + split + " features (" + transform_name(t) + ") " + f.summary());
    return {f.file.features, f.file.labels};
  }
  auto idx = seeded_subset(ds.size(), count, seed, purpose);
  const data::AugmentPipeline& p = t == Transform::Eval ? s.eval_transform : s.train_views.first;
  Tensor x = extract_features(s.encoder(), ds, idx, p, s.config().seed, 0, wi, 256, log,
                              "width " + w + ": " + std::to_string(idx.size()) + " " + split + " images (" +
                                  transform_name(t) + ")");
  Tensor y = index_select(ds.labels, 0, Tensor::from_vector<int64_t>(idx, {static_cast<int64_t>(idx.size())}));
  return {x, y};
}


}  // namespace slimssl::report
