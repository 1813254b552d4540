// slimssl eval knn: weighted kNN (the MoCo monitor) and best-kNN (the small-model study) per width.
#include "engine/ops.h"
#include "ssl/eval/knn.h"
#include "ssl/report/evaluations.h"

namespace slimssl::report {

nlohmann::json evaluate_knn(const EvalSubject& s, const KnnOptions& o, const Log& log) {
  SLIMSSL_CHECK(o.k >= 1 && o.temperature > 0 && o.max_k >= 1, "eval knn: k (", o.k, "), temperature (", o.temperature,
                ") and the best-kNN k (", o.max_k, ") must be positive");
  nlohmann::json out = {{"checkpoint", s.where.checkpoint}, {"step", s.loaded.step}, {"k", o.k},
                        {"temperature", o.temperature}, {"max_k", o.max_k}, {"widths", nlohmann::json::array()}};
  for (size_t wi = 0; wi < s.widths().size(); ++wi) {
    auto [bank, bank_labels] = split_or_subset(s, "train", Transform::Eval, o.bank, o.seed, data::kSubsetKnnBank, static_cast<int>(wi), log);
    auto [test, test_labels] = split_or_subset(s, "test", Transform::Eval, o.test, o.seed, data::kSubsetKnnTest, static_cast<int>(wi), log);
    out["bank"] = bank.size(0), out["test"] = test.size(0);
    eval::KnnConfig kc;
    kc.k = o.k, kc.temperature = o.temperature, kc.num_classes = s.num_classes();
    eval::KnnResult weighted = eval::knn_weighted(bank, bank_labels, test, test_labels, kc);
    eval::BestKnnResult best = eval::knn_best(bank, bank_labels, test, test_labels, o.max_k);
    out["widths"].push_back({{"width", s.widths()[wi]},
                             {"knn_top1", 100 * weighted.top1},
                             {"knn_top5", 100 * weighted.top5},
                             {"k_used", weighted.k},
                             {"best_knn_top1", 100 * best.best_accuracy},
                             {"best_k", best.best_k}});
  }
  return out;
}

}  // namespace slimssl::report
