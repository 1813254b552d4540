// The model zoo: every architecture at every width (shapes, a training pass, gradients landing in
// the full-size weights), slimmable-layer gradients by finite differences, parameter and MAC counts
// against the published figures, weight sharing, switchable BatchNorm, the ViT's q/k/v slicing
// against a compact copy, projection heads.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <map>
#include "gradcheck.h"
#include "models/heads.h"
#include "models/mobilenetv3.h"
#include "models/vit.h"
#include "models/zoo.h"

using namespace slimssl;
using namespace slimssl::models;
using namespace slimssl::testing;

namespace {

const std::vector<double> kWidths = {1.0, 0.75, 0.5, 0.25};

void for_each_module(const Module& m, const std::function<void(const Module&)>& fn) {
  fn(m);
  for (auto& [name, child] : m.children()) for_each_module(*child, fn);
}

double abs_sum(const Tensor& t) { return sum(abs(t.detach().to(DType::F64))).item(); }

// max |a - b| relative to max |b|. Deep networks in eval mode at initialization (BN with running
// statistics 0 / 1) shrink their signal a lot, so changes are judged relative to the output.
double relative_change(const Tensor& a, const Tensor& b) {
  double scale = amax(abs(b.detach().to(DType::F64).flatten()), 0).item();
  return max_violation(a, b, 0) / std::max(scale, 1e-300);
}

// A backbone small enough to train in a test. The ViTs' position embedding fixes their input size,
// so deit_tiny (224 px) is checked here as the same architecture at 32 px (4 patches of 16); its
// 224 px configuration runs in the cost test.
std::shared_ptr<Backbone> small_instance(const ZooEntry& e, const std::vector<double>& widths, int64_t& res) {
  auto b = e.make(widths);
  if (auto vit = std::dynamic_pointer_cast<VisionTransformer>(b); vit && vit->config().image_size > 32) {
    ViTConfig c = vit->config();
    c.image_size = 32;
    b = std::make_shared<VisionTransformer>(c);
  }
  // ImageNet stems downsample 32x, so 32 px leaves a 1x1 map; CIFAR stems (3x3/1, 8x in all) get
  // by with 8; a ViT needs the size its position embedding was made for.
  if (std::dynamic_pointer_cast<VisionTransformer>(b)) res = b->default_resolution();
  else res = b->default_resolution() >= 224 ? 32 : 8;
  return b;
}

double max_abs(const Tensor& t) { return t.numel() == 0 ? 0.0 : amax(abs(t.detach()).flatten(), 0).item(); }

// Every slimmable weight's gradient is finite, has the full weight's shape, and is zero outside
// the slice width wi reads (checked as the blocks of rows / columns past the slice).
void check_gradient_regions(const Backbone& b, int wi, const std::string& model) {
  int checked = 0;
  for_each_module(b, [&](const Module& m) {
    Tensor w;
    int64_t rows = 0, cols = 0;
    if (auto* c = dynamic_cast<const SlimConv2d*>(&m)) {
      w = c->weight, rows = c->out_channels()[wi], cols = c->spec().depthwise ? 1 : c->in_channels()[wi];
    } else if (auto* l = dynamic_cast<const SlimLinear*>(&m)) {
      w = l->weight, rows = l->out_channels()[wi], cols = l->in_channels()[wi];
    } else if (auto* q = dynamic_cast<const SlimQKV*>(&m)) {
      w = q->weight, rows = q->dims()[wi], cols = q->dims()[wi];
    } else {
      return;
    }
    INFO(model << " width index " << wi << ": " << w.name());
    Tensor g = w.grad();
    REQUIRE(g.defined());
    REQUIRE(g.shape() == w.shape());
    // The fused qkv weight is three [dim, dim] blocks (q, k, v), each sliced the same way.
    int64_t nblocks = dynamic_cast<const SlimQKV*>(&m) ? 3 : 1, block = w.size(0) / nblocks;
    for (int64_t j = 0; j < nblocks; ++j) {
      Tensor gb = g.narrow(0, j * block, block);
      CHECK(std::isfinite(sum(gb.narrow(0, 0, rows).narrow(1, 0, cols)).item()));
      CHECK(max_abs(gb.narrow(0, rows, block - rows)) == 0.0);
      CHECK(max_abs(gb.narrow(0, 0, rows).narrow(1, cols, w.size(1) - cols)) == 0.0);
    }
    ++checked;
  });
  CHECK(checked > 0);
}

}  // namespace

TEST_CASE("every zoo model trains at every width: feature shape, finite gradients in the full weights",
          "[models]") {
  for (auto& entry : zoo()) {
    int64_t res = 0;
    auto b = small_instance(entry, kWidths, res);
    b->train();
    Tensor x = randu({2, 3, res, res}, 7, -1, 1, DType::F32);
    for (int wi = 0; wi < 4; ++wi) {
      INFO(entry.name << " at width " << kWidths[wi] << ", " << res << " px");
      b->zero_grad();
      Tensor f = b->forward(x, wi);
      REQUIRE(f.shape() == Shape{2, b->feature_dim(wi)});
      CHECK(std::isfinite(abs_sum(f)));
      sum(mul(f, randu(f.shape(), 11, 0.5, 1.5, DType::F32))).backward();
      check_gradient_regions(*b, wi, entry.name);
    }
    // Every width's feature is narrower than or equal to the full one.
    for (int wi = 1; wi < 4; ++wi) CHECK(b->feature_dim(wi) <= b->feature_dim(wi - 1));
  }
}

TEST_CASE("a plain network (widths {1.0}) keeps torchvision / timm names and shapes", "[models]") {
  struct Expect {
    const char* model;
    const char* name;
    Shape shape;
  };
  const std::vector<Expect> expect = {
      {"mobilenetv3_large", "features.0.0.weight", {16, 3, 3, 3}},
      {"mobilenetv3_large", "features.0.1.running_var", {16}},
      {"mobilenetv3_large", "features.1.block.0.0.weight", {16, 1, 3, 3}},  // no expand in block 1
      {"mobilenetv3_large", "features.4.block.2.fc1.weight", {24, 72, 1, 1}},
      {"mobilenetv3_large", "features.4.block.2.fc2.bias", {72}},
      {"mobilenetv3_large", "features.16.0.weight", {960, 160, 1, 1}},
      {"mobilenetv3_large", "classifier.0.weight", {1280, 960}},
      {"mobilenetv3_small", "features.1.block.1.fc1.weight", {8, 16, 1, 1}},
      {"mobilenetv3_small", "features.12.0.weight", {576, 96, 1, 1}},
      {"mobilenetv3_small", "classifier.0.weight", {1024, 576}},
      {"efficientnet_b0", "features.1.0.block.1.fc1.weight", {8, 32, 1, 1}},
      {"efficientnet_b0", "features.2.0.block.0.0.weight", {96, 16, 1, 1}},
      {"efficientnet_b0", "features.6.3.block.3.1.bias", {192}},
      {"efficientnet_b0", "features.8.0.weight", {1280, 320, 1, 1}},
      {"deit_tiny", "cls_token", {1, 1, 192}},
      {"deit_tiny", "pos_embed", {1, 197, 192}},
      {"deit_tiny", "patch_embed.proj.weight", {192, 3, 16, 16}},
      {"deit_tiny", "blocks.11.attn.qkv.weight", {576, 192}},
      {"deit_tiny", "blocks.0.mlp.fc1.weight", {768, 192}},
      {"deit_tiny", "norm.bias", {192}},
      {"deit_tiny_cifar", "pos_embed", {1, 65, 192}},
      {"deit_tiny_cifar", "patch_embed.proj.weight", {192, 3, 4, 4}},
  };
  std::map<std::string, std::shared_ptr<Backbone>> built;
  for (auto& e : expect) {
    auto& b = built[e.model];
    if (!b) b = create_backbone(e.model, {1.0});
    bool found = false;
    for (auto& list : {b->named_parameters(), b->named_buffers()})
      for (auto& [n, t] : list)
        if (n == e.name) {
          found = true;
          CHECK(t.shape() == e.shape);
        }
    INFO(e.model << ": " << e.name);
    CHECK(found);
  }
  Classifier mnv3(create_backbone("mobilenetv3_large"), 1000);
  bool has_head = false;
  for (auto& [n, t] : mnv3.named_parameters()) has_head |= n == "classifier.3.weight";
  CHECK(has_head);
}

// Published figures (1000-way classifier, 224 px). Parameter counts are exact: torchvision's and
// timm's sum(p.numel()). MACs: torchvision's weight metadata ("_ops", GFLOPS meaning
// multiply-accumulates: 1.814 / 4.089 / 0.217 / 0.057 / 0.386), DeiT-Tiny's 1.26G from the DeiT /
// timm tables, SlimCLR's slimmable ResNet-50. Convention: MACs count convolutions, linears and the
// attention products (q k^T, attn v); pooling, norms, activations, SE products, softmax and residual
// adds are not counted. DeiT-Tiny measures 1.254G, 0.5% under 1.26G: the published count also
// includes elementwise work (norms) that this convention leaves out.
TEST_CASE("parameter and MAC counts match the published figures", "[models]") {
  struct Row {
    const char* model;
    std::vector<double> widths;
    std::vector<double> params_m, macs_g;
    int64_t exact_params;  // at width 1.0
  };
  const std::vector<Row> rows = {
      {"mobilenetv3_large", {1.0}, {5.48}, {0.217}, 5483032},
      {"mobilenetv3_small", {1.0}, {2.54}, {0.057}, 2542856},
      {"efficientnet_b0", {1.0}, {5.29}, {0.386}, 5288548},
      {"deit_tiny", {1.0}, {5.72}, {1.26}, 5717416},
      {"resnet18", {1.0}, {11.69}, {1.814}, 11689512},
      {"resnet50", kWidths, {25.56, 14.77, 6.92, 1.99}, {4.09, 2.32, 1.05, 0.28}, 25557032},
  };
  for (auto& r : rows) {
    Classifier model(create_backbone(r.model, r.widths), 1000);
    if (r.widths.size() == 1) CHECK(model.parameter_count() == r.exact_params);
    for (size_t wi = 0; wi < r.widths.size(); ++wi) {
      ModelCost c = measure_cost(model, static_cast<int>(wi), 224);
      INFO(r.model << " at width " << r.widths[wi] << ": " << c.params << " params, " << c.macs << " MACs");
      CHECK(c.params / 1e6 == Approx(r.params_m[wi]).epsilon(0.01));
      CHECK(c.macs / 1e9 == Approx(r.macs_g[wi]).epsilon(0.01));
      if (wi == 0) CHECK(c.params == r.exact_params);
    }
  }
}

TEST_CASE("slimmable layers: gradients of a conv-BN-depthwise-linear stack by finite differences", "[models]") {
  // Models hold float32 parameters; this stack swaps float64 tensors into the layers' public
  // handles so the finite-difference check runs in float64. Width index 1 reads slices of every
  // full-size weight, so the check also covers the zero gradient outside them.
  const std::vector<double> w = {1.0, 0.5};
  SlimConv2d conv(fixed_channels(3, 2), {4, 2}, ConvSpec{3, 2});
  SwitchableBatchNorm bn({4, 2});
  SlimConv2d dw({4, 2}, {4, 2}, ConvSpec{3, 1, -1, 1, true});
  SlimLinear fc({4, 2}, {3, 3}, true);
  BatchNorm& bn1 = *bn.at(1);
  bn1.running_mean = Tensor::zeros({2}, DType::F64);
  bn1.running_var = Tensor::ones({2}, DType::F64);
  bn.train();
  std::vector<Tensor> in = {randu({2, 3, 5, 5}, 1).set_requires_grad(), randu({4, 3, 3, 3}, 2).set_requires_grad(),
                            randu({2}, 3, 0.5, 1.5).set_requires_grad(), randu({2}, 4).set_requires_grad(),
                            randu({4, 1, 3, 3}, 5).set_requires_grad(), randu({3, 4}, 6).set_requires_grad(),
                            randu({3}, 7).set_requires_grad()};
  auto f = [&](const std::vector<Tensor>& v) {
    conv.weight = v[1], bn1.weight = v[2], bn1.bias = v[3], dw.weight = v[4], fc.weight = v[5], fc.bias = v[6];
    Tensor h = hardswish(bn.forward(conv.forward(v[0], 1), 1));
    h = adaptive_avg_pool2d(relu(dw.forward(h, 1)), 1, 1).flatten(1);
    return fc.forward(h, 1);
  };
  auto r = gradcheck(f, in);
  INFO(r.message);
  CHECK(r.ok);
  // The width-1 gradient of the full conv weight is zero beyond its first 2 output channels.
  CHECK(abs_sum(in[1].grad().narrow(0, 2, 2)) == 0.0);
  CHECK(abs_sum(in[1].grad().narrow(0, 0, 2)) > 0.0);
}

TEST_CASE("slimmable layers equal the plain ops on compact copies of their slices", "[models]") {
  SlimConv2d conv(fixed_channels(3, 2), {6, 3}, ConvSpec{3, 2});
  SlimConv2d dw({6, 3}, {6, 3}, ConvSpec{3, 1, -1, 1, true});
  SlimLinear fc({6, 3}, {5, 5}, true);
  conv.weight.detach().copy_(randu(conv.weight.shape(), 1));
  dw.weight.detach().copy_(randu(dw.weight.shape(), 2));
  fc.weight.detach().copy_(randu(fc.weight.shape(), 3));
  fc.bias.detach().copy_(randu(fc.bias.shape(), 4));
  Tensor x = randu({2, 3, 7, 7}, 5, -1, 1, DType::F32);
  NoGradGuard ng;
  Tensor h = conv.forward(x, 1);
  Tensor ref = conv2d(x, conv.weight.detach().narrow(0, 0, 3).contiguous(), {}, Conv2dParams{2, 2, 1, 1});
  CHECK(allclose(h, ref, 1e-6));
  Conv2dParams p{1, 1, 1, 1};
  p.groups = 3;
  CHECK(allclose(dw.forward(h, 1), conv2d(h, dw.weight.detach().narrow(0, 0, 3).contiguous(), {}, p), 1e-6));
  Tensor v = randu({2, 3}, 6, -1, 1, DType::F32);
  Tensor w_compact = fc.weight.detach().narrow(1, 0, 3).contiguous();
  CHECK(allclose(fc.forward(v, 1), linear(v, w_compact, fc.bias.detach()), 1e-6));
  MacCounter macs;
  conv.forward(x, 1);
  // The whole batch: images x out channels x output pixels x in channels x kernel.
  CHECK(macs.macs() == 2 * 3 * 4 * 4 * 3 * 9);
  CHECK(macs.no_grad_macs() == macs.macs());  // all of it under NoGradGuard
}

TEST_CASE("MacCounter counts the whole batch, and apart the passes without grad", "[models]") {
  SlimLinear fc({5, 3}, {4, 2}, true);
  Tensor v = randu({6, 5}, 7, -1, 1, DType::F32);
  MacCounter macs;
  fc.forward(v, 0);  // grad mode on: a pass that gets a backward
  CHECK(macs.macs() == 6 * 5 * 4);
  CHECK(macs.no_grad_macs() == 0);
  {
    NoGradGuard ng;
    fc.forward(v.narrow(1, 0, 3), 1);  // a key encoder's pass: 6 rows x 3 in x 2 out
  }
  CHECK(macs.macs() == 6 * 5 * 4 + 6 * 3 * 2);
  CHECK(macs.no_grad_macs() == 6 * 3 * 2);
}

TEST_CASE("vit: a slimmed network equals a compact ViT built from the first heads' q, k, v rows", "[models]") {
  // Two heads of 4 (dim 8); width 0.5 keeps head 0: dim 4. Its q, k and v are rows 0-3, 8-11 and
  // 16-19 of qkv.weight; a naive slice weight[:12] would take q entirely and half of k.
  ViTConfig cfg;
  cfg.image_size = 8, cfg.patch_size = 4, cfg.embed_dim = 8, cfg.depth = 2, cfg.num_heads = 2;
  cfg.widths = {1.0, 0.5};
  VisionTransformer slim(cfg);
  ViTConfig small = cfg;
  small.embed_dim = 4, small.num_heads = 1, small.widths = {1.0};
  VisionTransformer compact(small);
  // Random values everywhere (LayerNorms too, so taking width 1's own norm matters).
  uint64_t seed = 100;
  for (auto& [n, t] : slim.named_parameters()) t.detach().copy_(randu(t.shape(), seed++, -0.5, 0.5, DType::F32));
  auto slim_params = slim.named_parameters();
  auto find = [&](const std::string& name) {
    for (auto& [n, t] : slim_params)
      if (n == name) return t.detach();
    FAIL("no parameter " << name);
    return Tensor();
  };
  for (auto& [n, t] : compact.named_parameters()) {
    Tensor dst = t.detach();
    auto ends_with = [name = n](const std::string& s) {  // (clang 14 cannot capture a structured binding)
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (n == "cls_token" || n == "pos_embed") dst.copy_(find(n).narrow(2, 0, 4));
    else if (n.find("norm") != std::string::npos) {
      // The switchable norm's width-1 instance: "<name>.1.weight" in the slim network.
      std::string stem = n.substr(0, n.rfind('.')), leaf = n.substr(n.rfind('.'));
      dst.copy_(find(stem + ".1" + leaf));
    } else if (ends_with("qkv.weight")) {
      Tensor w = find(n);
      dst.copy_(concat({w.narrow(0, 0, 4), w.narrow(0, 8, 4), w.narrow(0, 16, 4)}, 0).narrow(1, 0, 4));
    } else if (ends_with("qkv.bias")) {
      Tensor b = find(n);
      dst.copy_(concat({b.narrow(0, 0, 4), b.narrow(0, 8, 4), b.narrow(0, 16, 4)}, 0));
    } else if (t.dim() == 1) dst.copy_(find(n).narrow(0, 0, t.size(0)));
    else if (t.dim() == 2) dst.copy_(find(n).narrow(0, 0, t.size(0)).narrow(1, 0, t.size(1)));
    else dst.copy_(find(n).narrow(0, 0, t.size(0)));  // patch conv: all 3 input channels
  }
  Tensor x = randu({2, 3, 8, 8}, 9, -1, 1, DType::F32);
  NoGradGuard ng;
  Tensor a = slim.forward(x, 1), b = compact.forward(x, 0);
  REQUIRE(a.shape() == Shape{2, 4});
  CHECK(allclose(a, b, 1e-5, 1e-4));
  CHECK(slim.parameters_at(1) == compact.parameter_count());
  // Heads by width: round(w * heads), dim = heads * 64.
  CHECK(vit_heads_at(1.0, 3) == 3);
  CHECK(vit_heads_at(0.75, 3) == 2);
  CHECK(vit_heads_at(0.5, 3) == 2);
  CHECK(vit_heads_at(0.25, 3) == 1);
  CHECK(vit_heads_at(0.1, 3) == 1);
}

TEST_CASE("vit: attn.qkv gradients by finite differences at a slimmed width", "[models]") {
  SlimQKV qkv({6, 2});
  std::vector<Tensor> in = {randu({2, 3, 2}, 1).set_requires_grad(), randu({18, 6}, 2).set_requires_grad(),
                            randu({18}, 3).set_requires_grad()};
  auto f = [&](const std::vector<Tensor>& v) {
    qkv.weight = v[1], qkv.bias = v[2];
    auto [q, k, val] = qkv.forward(v[0], 1);
    return mul(mul(q, k), val);
  };
  auto r = gradcheck(f, in);
  INFO(r.message);
  CHECK(r.ok);
  // Only rows 0-1, 6-7 and 12-13 (columns 0-1) receive gradient.
  Tensor g = in[1].grad();
  double inside = 0;
  for (int j = 0; j < 3; ++j) inside += abs_sum(g.narrow(0, 6 * j, 2).narrow(1, 0, 2));
  CHECK(inside > 0);
  CHECK(abs_sum(g) == Approx(inside));
}

TEST_CASE("weight sharing: W(0,0) reaches every width, channels past width 0.25 do not reach it", "[models]") {
  for (auto& entry : zoo()) {
    int64_t res = 0;
    auto b = small_instance(entry, kWidths, res);
    b->eval();
    // The stem (first conv in registration order) is shared by every width.
    SlimConv2d* stem = nullptr;
    for_each_module(*b, [&](const Module& m) {
      if (!stem) stem = const_cast<SlimConv2d*>(dynamic_cast<const SlimConv2d*>(&m));
    });
    REQUIRE(stem);
    // ResNet zero-initializes each block's last BN gamma, so at init only the strided 1x1
    // shortcuts carry signal and most stem pixels never reach the output; unit gammas everywhere
    // make every pixel count.
    for_each_module(*b, [&](const Module& m) {
      if (auto* bn = dynamic_cast<const BatchNorm*>(&m); bn && bn->weight.defined()) bn->weight.detach().fill_(1.0);
      if (auto* sbn = dynamic_cast<const PerWidth<BatchNorm>*>(&m))
        for (size_t i = 0; i < sbn->size(); ++i)
          if (sbn->at(i)->weight.defined()) sbn->at(i)->weight.detach().fill_(1.0);
    });
    Tensor x = randu({2, 3, res, res}, 3, -1, 1, DType::F32);
    NoGradGuard ng;
    auto outputs = [&] {
      std::vector<Tensor> o;
      for (int wi = 0; wi < 4; ++wi) o.push_back(b->forward(x, wi).clone());
      return o;
    };
    std::vector<Tensor> before = outputs();
    Tensor w = stem->weight.detach();
    // The centre tap: a corner tap of a padded conv meets more padding.
    int64_t k = w.size(2) / 2;
    Tensor first = w.narrow(0, 0, 1).narrow(1, 0, 1).narrow(2, k, 1).narrow(3, k, 1);
    first.fill_(first.item() + 0.5);
    std::vector<Tensor> after = outputs();
    for (int wi = 0; wi < 4; ++wi) {
      INFO(entry.name << ": W[0,0] changed, width " << kWidths[wi]);
      CHECK(relative_change(after[wi], before[wi]) > 1e-3);
    }
    // The last output channel of the stem lies beyond width 0.25's slice.
    int64_t last = w.size(0) - 1;
    REQUIRE(stem->out_channels()[3] <= last);
    w.narrow(0, last, 1).fill_(0.7);
    std::vector<Tensor> again = outputs();
    INFO(entry.name << ": stem channel " << last << " changed");
    CHECK(relative_change(again[0], after[0]) > 1e-3);
    CHECK(max_violation(again[3], after[3], 0) == 0.0);
  }
}

TEST_CASE("vit: q, k, v rows of later heads do not reach the one-head width, the first head's do", "[models]") {
  ViTConfig cfg;
  cfg.image_size = 16, cfg.patch_size = 8, cfg.depth = 1, cfg.widths = kWidths;  // 192 dims, 3 heads
  VisionTransformer vit(cfg);
  SlimQKV* qkv = nullptr;
  for_each_module(vit, [&](const Module& m) {
    if (!qkv) qkv = const_cast<SlimQKV*>(dynamic_cast<const SlimQKV*>(&m));
  });
  REQUIRE(qkv);
  Tensor x = randu({2, 3, 16, 16}, 4, -1, 1, DType::F32);
  NoGradGuard ng;
  Tensor w = qkv->weight.detach();
  Tensor one_head = vit.forward(x, 3).clone(), full = vit.forward(x, 0).clone();
  w.narrow(0, 192 + 64, 64).fill_(0.3);  // k rows of head 1: outside width 0.25 (one head)
  CHECK(max_violation(vit.forward(x, 3), one_head, 0) == 0.0);
  CHECK(max_violation(vit.forward(x, 0), full, 0) > 1e-6);
  w.narrow(0, 192, 1).fill_(0.3);  // k row 0 of head 0: read by every width (a naive [:192] slice would miss it)
  CHECK(max_violation(vit.forward(x, 3), one_head, 0) > 1e-6);
}

TEST_CASE("switchable BatchNorm: training at one width leaves the other widths' statistics untouched",
          "[models]") {
  for (const char* name : {"resnet18", "mobilenetv3_small"}) {
    auto b = create_backbone(name, kWidths);
    b->train();
    auto snapshot = [&] {
      std::vector<std::pair<std::string, std::vector<double>>> s;
      for (auto& [n, t] : b->named_buffers()) s.emplace_back(n, t.to_vector<double>());
      return s;
    };
    auto before = snapshot();
    const int trained = 2;
    b->zero_grad();
    // Three samples: with two, a BN over a 1x1 map outputs (+a, -a), whose batch mean downstream
    // is exactly 0 and would leave running_mean unchanged even at the trained width.
    sum(b->forward(randu({3, 3, 32, 32}, 5, -1, 1, DType::F32), trained)).backward();
    auto after = snapshot();
    REQUIRE(before.size() == after.size());
    int changed = 0, kept = 0;
    for (size_t i = 0; i < before.size(); ++i) {
      const std::string& n = before[i].first;  // "...bn1.<width index>.running_mean"
      std::string head = n.substr(0, n.rfind('.'));
      int wi = std::stoi(head.substr(head.rfind('.') + 1));
      INFO(name << ": " << n);
      if (wi == trained) {
        CHECK(before[i].second != after[i].second);
        ++changed;
      } else {
        CHECK(before[i].second == after[i].second);
        ++kept;
      }
    }
    CHECK(changed > 0);
    CHECK(kept == 3 * changed);
    // The other widths' affine parameters receive no gradient either.
    for (auto& [n, t] : b->named_parameters())
      if (t.dim() == 1 && n.find(".weight") != std::string::npos) {
        std::string head = n.substr(0, n.rfind('.'));
        int wi = std::stoi(head.substr(head.rfind('.') + 1));
        if (wi != trained) CHECK((!t.grad().defined() || abs_sum(t.grad()) == 0.0));
      }
  }
}

TEST_CASE("projection heads output N x out_dim at every width", "[models]") {
  Channels in = {64, 48, 32, 16};
  for (const char* kind : {"simple", "wide", "deep", "mocov3", "predictor"}) {
    HeadConfig cfg;
    cfg.kind = parse_head_kind(kind);
    cfg.out_dim = 24;
    cfg.hidden_dim = 40;
    ProjectionHead head(in, kWidths, cfg);
    head.train();
    for (int wi = 0; wi < 4; ++wi) {
      INFO(kind << " at width index " << wi);
      int64_t d = cfg.kind == HeadKind::Predictor ? cfg.out_dim : in[wi];
      Tensor y = head.forward(randu({4, d}, 8, -1, 1, DType::F32), wi);
      CHECK(y.shape() == Shape{4, 24});
      CHECK(std::isfinite(abs_sum(y)));
    }
  }
}

TEST_CASE("reset_parameters follows the reference initializers", "[models]") {
  auto std_of = [](const Tensor& t) {
    auto v = t.to_vector<double>();
    double m = 0, s = 0;
    for (double x : v) m += x;
    m /= v.size();
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / v.size());
  };
  auto param = [](const Backbone& b, const std::string& name) {
    for (auto& [n, t] : b.named_parameters())
      if (n == name) return t;
    FAIL("no parameter " << name);
    return Tensor();
  };
  auto mnv3 = create_backbone("mobilenetv3_large");
  mnv3->reset_parameters(3);
  // Kaiming normal, fan_out = 960 * 1 * 1: std sqrt(2 / 960).
  CHECK(std_of(param(*mnv3, "features.16.0.weight")) == Approx(std::sqrt(2.0 / 960)).epsilon(0.02));
  CHECK(std_of(param(*mnv3, "classifier.0.weight")) == Approx(0.01).epsilon(0.02));
  auto vit = create_backbone("deit_tiny_cifar");
  vit->reset_parameters(3);
  CHECK(std_of(param(*vit, "pos_embed")) == Approx(0.02).epsilon(0.05));
  CHECK(std_of(param(*vit, "blocks.0.attn.qkv.weight")) == Approx(0.02).epsilon(0.03));
  CHECK(abs_sum(param(*vit, "blocks.0.attn.qkv.bias")) == 0.0);
  CHECK(abs_sum(param(*vit, "patch_embed.proj.bias")) > 0.0);  // PyTorch's default conv bias
  auto again = create_backbone("deit_tiny_cifar");
  again->reset_parameters(3);
  CHECK(allclose(param(*again, "blocks.5.mlp.fc1.weight"), param(*vit, "blocks.5.mlp.fc1.weight"), 0));
}
