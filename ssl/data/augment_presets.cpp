#include "ssl/data/augment_presets.h"
#include <cmath>
#include "engine/error.h"

namespace slimssl::data {

namespace {

Normalization make_norm(std::initializer_list<float> mean, std::initializer_list<float> std) {
  Normalization n;
  n.channels = static_cast<int>(mean.size());
  int c = 0;
  for (float m : mean) n.mean[c++] = m;
  c = 0;
  for (float s : std) n.std[c++] = s;
  return n;
}

AugmentPipeline base(int out_size, const Normalization& norm, int channels) {
  AugmentPipeline p;
  p.out_size = out_size;
  p.channels = channels;
  int oc = channels > 0 ? channels : norm.channels;
  for (int c = 0; c < oc; ++c) {
    int from = norm.channels == 1 ? 0 : c;  // a gray set's statistics serve all replicated channels
    p.mean[c] = norm.mean[from];
    p.std[c] = norm.std[from];
  }
  return p;
}

void set_jitter(AugmentPipeline& p, float prob, float b, float c, float s, float h) {
  p.jitter_p = prob;
  p.brightness = b;
  p.contrast = c;
  p.saturation = s;
  p.hue = h;
}

}  // namespace

Normalization measure_normalization(const Dataset& ds) {
  const int64_t C = ds.channels(), n = ds.images.numel();
  const uint8_t* px = ds.images.data<uint8_t>();
  std::vector<double> sum(C, 0.0), sq(C, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double v = px[i] / 255.0;
    sum[i % C] += v;
    sq[i % C] += v * v;
  }
  Normalization out;
  out.channels = static_cast<int>(C);
  const double count = static_cast<double>(n / C);
  for (int64_t c = 0; c < C; ++c) {
    double m = sum[c] / count;
    out.mean[c] = static_cast<float>(m);
    out.std[c] = static_cast<float>(std::sqrt(std::max(sq[c] / count - m * m, 1e-12)));
  }
  return out;
}

Normalization normalization_for(const Dataset& ds) {
  if (ds.name == "cifar10") return make_norm({0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f});
  if (ds.name == "cifar100") return make_norm({0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f});
  if (ds.name == "fashion-mnist") return make_norm({0.2860f}, {0.3530f});
  if (ds.name == "mnist") return make_norm({0.1307f}, {0.3081f});
  if (ds.name == "imagenet" && ds.channels() == 3) return make_norm({0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f});
  return measure_normalization(ds);
}

const std::vector<std::string>& augment_preset_names() {
  static const std::vector<std::string> names = {"mocov2", "small-strong", "simclr", "byol", "eval", "none"};
  return names;
}

ViewPipelines augment_preset(const std::string& name, int out_size, const Normalization& norm, int channels) {
  SLIMSSL_CHECK(out_size > 0, "augment preset '", name, "': out_size must be positive, got ", out_size);
  SLIMSSL_CHECK(channels == 0 || channels == norm.channels || (channels == 3 && norm.channels == 1), "augment preset '",
                name, "': channels ", channels, " cannot be made from a ", norm.channels, "-channel normalization");
  const bool small = out_size <= 64;
  AugmentPipeline p = base(out_size, norm, channels);
  p.flip_p = 0.5f;
  p.blur_p = small ? 0.0f : 0.5f;
  if (name == "mocov2") {  // MoCo v2 (Chen et al. 2020): crop 0.2-1, jitter 0.4/0.4/0.4/0.1 p 0.8
    p.scale_min = 0.2f;
    set_jitter(p, 0.8f, 0.4f, 0.4f, 0.4f, 0.1f);
    p.grayscale_p = 0.2f;
    return {p, p};
  }
  if (name == "small-strong") {  // the small-model study's final recipe: stronger colour, more gray
    p.scale_min = 0.2f;
    set_jitter(p, 0.8f, 0.8f, 0.8f, 0.8f, 0.4f);
    p.grayscale_p = 0.5f;
    return {p, p};
  }
  if (name == "simclr") {  // SimCLR: crop 0.08-1, colour strength s (0.8s, 0.8s, 0.8s, 0.2s)
    const float s = small ? 0.5f : 1.0f;
    p.scale_min = 0.08f;
    set_jitter(p, 0.8f, 0.8f * s, 0.8f * s, 0.8f * s, 0.2f * s);
    p.grayscale_p = 0.2f;
    return {p, p};
  }
  if (name == "byol") {  // BYOL / MoCo v3: asymmetric blur and solarize
    p.scale_min = 0.08f;
    set_jitter(p, 0.8f, 0.4f, 0.4f, 0.2f, 0.1f);
    p.grayscale_p = 0.2f;
    AugmentPipeline q = p;
    p.blur_p = small ? 0.0f : 1.0f;
    q.blur_p = small ? 0.0f : 0.1f;
    q.solarize_p = 0.2f;
    return {p, q};
  }
  // eval: resize (shorter side; 256 for a 224 crop) + centre crop, no randomness. none: the same
  // as training views, so both views are the un-augmented image (debugging, step-by-step checks).
  if (name == "eval" || name == "none") {
    AugmentPipeline e = base(out_size, norm, channels);
    e.random_crop = false;
    e.resize_size = small ? out_size : static_cast<int>(std::lround(out_size * 256.0 / 224.0));
    return {e, e};
  }
  fail("unknown augmentation preset '", name, "' (known: ", join_names(augment_preset_names()), ")");
}

}  // namespace slimssl::data
