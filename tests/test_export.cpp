// Export: one width's sub-network, copied out, loads by name into a plain network of that width
// and computes the same features.
#include <catch2/catch.hpp>
#include <map>
#include "engine/safetensors.h"
#include "gradcheck.h"
#include "models/zoo.h"
#include "train_fixture.h"

using namespace slimssl;
using namespace slimssl::testing;

TEST_CASE("export: every zoo model at every width round-trips into a plain network", "[export]") {
  const std::vector<double> widths = {1.0, 0.5, 0.25};
  for (auto& entry : models::zoo()) {
    if (entry.name.find("resnet50") != std::string::npos) continue;  // same code path as resnet18, 4x the time
    DYNAMIC_SECTION(entry.name) {
      auto slim = entry.make(widths);
      slim->reset_parameters(5);
      int64_t res = entry.name.find("cifar") != std::string::npos || entry.name == "deit_tiny_cifar" ? 32 : 64;
      if (entry.name == "deit_tiny") res = 224;  // patch 16 and a learned position table for 14x14 patches
      Tensor x = randu({2, 3, res, res}, 9, -1, 1, DType::F32);
      // Give the norms non-trivial statistics and affine values, so a wrong width's BN shows.
      {
        NoGradGuard ng;
        for (int wi = 0; wi < 3; ++wi) slim->forward(x, wi);
        for (auto& [n, t] : slim->named_parameters())
          if (t.dim() == 1) t.detach().add_(randu(t.shape(), 77, -0.2, 0.2, DType::F32));
      }
      slim->eval();
      for (int wi = 0; wi < 3; ++wi) {
        INFO("width " << widths[wi]);
        auto exported = slim->export_state(wi);
        std::string path = fresh_dir("export") + "/m.safetensors";
        save_safetensors(path, exported);
        auto file = load_safetensors(path);
        auto plain = entry.make({widths[wi]});
        auto expect = plain->named_parameters();
        auto buffers = plain->named_buffers();
        expect.insert(expect.end(), buffers.begin(), buffers.end());
        REQUIRE(file.names.size() == expect.size());
        NoGradGuard ng;
        for (auto& [name, t] : expect) {
          INFO(name);
          REQUIRE(file.contains(name));
          REQUIRE(file.at(name).shape() == t.shape());
          t.detach().copy_(file.at(name));
        }
        plain->eval();
        CHECK(allclose(plain->forward(x, 0), slim->forward(x, wi), 1e-4, 1e-3));
      }
    }
  }
}
