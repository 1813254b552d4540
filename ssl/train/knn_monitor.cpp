#include "ssl/train/knn_monitor.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "ssl/data/subset.h"
#include "ssl/eval/knn.h"

namespace slimssl::train {

KnnMonitor::KnnMonitor(const TrainConfig& c, const data::Dataset& full_train, const data::Dataset& full_test,
                       data::AugmentPipeline eval)
    : cfg_(c),
      bank_(data::subset_of(full_train,
                            data::seeded_subset(full_train.size(), c.knn_bank_size, c.seed, data::kSubsetKnnBank))),
      test_(data::subset_of(full_test,
                            data::seeded_subset(full_test.size(), c.knn_test_size, c.seed, data::kSubsetKnnTest))),
      eval_(std::move(eval)) {}

template <class F>
Tensor KnnMonitor::map_images(const data::Dataset& ds, Device device, F&& f) const {
  constexpr int64_t kBatch = 256;
  std::vector<Tensor> parts;
  for (int64_t s = 0; s < ds.size(); s += kBatch) {
    std::vector<int64_t> idx;
    for (int64_t i = s; i < std::min(ds.size(), s + kBatch); ++i) idx.push_back(i);
    Tensor images = data::augment_batch(ds, idx, eval_, cfg_.seed, 0, 0).to(device);
    parts.push_back(f(images).cpu());  // the kNN itself runs on the host
  }
  return concat(parts, 0);
}

double KnnMonitor::top1(const Tensor& bank_features, const Tensor& test_features) const {
  eval::KnnConfig kc;
  kc.k = cfg_.knn_k, kc.temperature = cfg_.knn_t;
  kc.num_classes = static_cast<int64_t>(bank_.classes.size());
  return 100.0 * eval::knn_weighted(bank_features, bank_.labels, test_features, test_.labels, kc).top1;
}

std::vector<double> KnnMonitor::evaluate(Learner& learner) const {
  Encoder& enc = learner.query();
  NoGradGuard ng;
  enc.eval();
  std::vector<double> out;
  for (size_t wi = 0; wi < cfg_.widths.size(); ++wi) {
    auto features = [&](const Tensor& images) { return enc.features(images, static_cast<int>(wi)); };
    out.push_back(top1(map_images(bank_, enc.device(), features), map_images(test_, enc.device(), features)));
  }
  enc.train();
  return out;
}

double KnnMonitor::raw_pixels() const {
  auto flat = [](const Tensor& images) { return images.contiguous().reshape({images.size(0), -1}); };
  return top1(map_images(bank_, Device::cpu(), flat), map_images(test_, Device::cpu(), flat));
}

}  // namespace slimssl::train
