// Every class of misuse raises an slimssl::Error whose message names the op and what was wrong
// with which shapes, dtypes or devices: the message is the only thing a user sees from the CLI.
#include <catch2/catch.hpp>
#include <sstream>
#include "gpu_gate.h"
#include "gradcheck.h"

using namespace slimssl;
using namespace slimssl::testing;

namespace {

// Matches a message containing every one of the given fragments.
class ContainsAll : public Catch::MatcherBase<std::string> {
 public:
  ContainsAll(std::initializer_list<std::string> parts) : parts_(parts) {}
  bool match(const std::string& msg) const override {
    for (auto& p : parts_)
      if (msg.find(p) == std::string::npos) return false;
    return true;
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "contains all of:";
    for (auto& p : parts_) os << " \"" << p << "\"";
    return os.str();
  }

 private:
  std::vector<std::string> parts_;
};

#define CHECK_ERROR(expr, ...) CHECK_THROWS_WITH(expr, ContainsAll({__VA_ARGS__}))

Tensor f32(const Shape& s) { return Tensor::zeros(s, DType::F32); }
Tensor f64(const Shape& s) { return Tensor::zeros(s, DType::F64); }
Tensor i64(std::vector<int64_t> v) {
  Shape s{static_cast<int64_t>(v.size())};
  return Tensor::from_vector<int64_t>(v, s);
}

}  // namespace

TEST_CASE("errors: shapes that do not broadcast", "[errors]") {
  Tensor a = f32({2, 3}), b = f32({4});
  CHECK_ERROR(add(a, b), "add", "[2, 3]", "[4]", "broadcast");
  CHECK_ERROR(sub(a, b), "sub", "[2, 3]", "[4]", "broadcast");
  CHECK_ERROR(mul(a, b), "mul", "[2, 3]", "[4]", "broadcast");
  CHECK_ERROR(div(a, b), "div", "[2, 3]", "[4]", "broadcast");
  CHECK_ERROR(maximum(a, b), "maximum", "[2, 3]", "[4]", "broadcast");
  CHECK_ERROR(f32({2, 3}).expand({2, 4}), "expand", "[2, 3]", "[2, 4]");
  CHECK_ERROR(matmul(f32({2, 3, 4}), f32({3, 4, 5})), "matmul", "broadcast", "[2]", "[3]");
}

TEST_CASE("errors: dtype mismatches", "[errors]") {
  Tensor a = f32({2, 3}), b = f64({2, 3});
  CHECK_ERROR(add(a, b), "add", "dtype", "float32", "float64", "[2, 3]");
  CHECK_ERROR(mul(a, b), "mul", "dtype", "float32", "float64");
  CHECK_ERROR(maximum(a, b), "maximum", "dtype", "float32", "float64");
  CHECK_ERROR(matmul(f32({2, 3}), f64({3, 4})), "matmul", "dtype", "float32", "float64", "[2, 3]", "[3, 4]");
  CHECK_ERROR(linear(f32({2, 3}), f64({4, 3})), "linear", "dtype", "float32", "float64");
  CHECK_ERROR(linear(f32({2, 3}), f32({4, 3}), f64({4})), "linear", "dtype");
  CHECK_ERROR(concat({f32({2}), f64({2})}, 0), "concat", "dtype", "float32", "float64");
  CHECK_ERROR(stack({f32({2}), f64({2})}, 0), "stack", "dtype");
  CHECK_ERROR(soft_cross_entropy(f32({2, 3}), f64({2, 3})), "soft_cross_entropy", "dtype");
  // float-only ops on integer tensors
  Tensor ints = Tensor::zeros({2, 2}, DType::I64);
  CHECK_ERROR(exp(ints), "exp", "int64");
  CHECK_ERROR(relu(ints), "relu", "int64");
  CHECK_ERROR(gelu(ints), "gelu", "int64");
  CHECK_ERROR(sum(ints), "sum", "int64");
  CHECK_ERROR(var(ints), "var", "int64");
  CHECK_ERROR(amax(ints, 0), "amax", "int64");
  CHECK_ERROR(softmax(ints, 0), "softmax", "int64");
  // integer index/label tensors of the wrong type
  CHECK_ERROR(index_select(f32({3, 2}), 0, f64({2})), "index_select", "int64", "float64", "[3, 2]");
  CHECK_ERROR(gather(f32({3, 2}), 0, f32({3, 2})), "gather", "int64", "float32");
  CHECK_ERROR(cross_entropy(f32({2, 3}), f32({2})), "cross_entropy", "int64", "float32");
}

TEST_CASE("errors: devices", "[errors][cuda]") {
  if (!gpu_or_skip()) return;
  Tensor a = f32({2, 3}), b = f32({2, 3}).to(Device::cuda());
  CHECK_ERROR(add(a, b), "add", "devices", "cpu", "cuda:0", "[2, 3]");
  CHECK_ERROR(matmul(a, f32({3, 2}).to(Device::cuda())), "matmul", "devices");
  CHECK_ERROR(concat({a, b}, 0), "concat", "devices");
}

TEST_CASE("errors: matmul and linear operand ranks and sizes", "[errors]") {
  CHECK_ERROR(matmul(Tensor::scalar(1.0), f32({3})), "matmul", "rank", "[]", "[3]");
  CHECK_ERROR(matmul(f32({2, 3}), f32({4, 5})), "matmul", "[2, 3]", "[4, 5]");
  CHECK_ERROR(matmul(f32({3}), f32({4})), "matmul", "[3]", "[4]");
  CHECK_ERROR(linear(f32({2, 3}), f32({3})), "linear", "weight", "[3]");
  CHECK_ERROR(linear(f32({2, 3}), f32({2, 4, 3})), "linear", "weight", "[2, 4, 3]");
  CHECK_ERROR(linear(f32({2, 3}), f32({5, 4})), "linear", "[2, 3]", "[5, 4]");
  CHECK_ERROR(linear(f32({2, 4}), f32({5, 4}), f32({4})), "linear", "bias", "[4]", "[5, 4]");
}

TEST_CASE("errors: dimensions out of range", "[errors]") {
  Tensor x = f32({2, 3});
  CHECK_ERROR(sum(x, {2}), "sum", "dimension 2", "rank 2");
  CHECK_ERROR(sum(x, {0, -2}), "sum", "repeated");
  CHECK_ERROR(mean(x, {-3}), "mean", "dimension -3", "rank 2");
  CHECK_ERROR(var(x, {5}), "var", "dimension 5");
  CHECK_ERROR(amax(x, 2), "amax", "dimension 2");
  CHECK_ERROR(argmax(x, -3), "argmax", "dimension -3");
  CHECK_ERROR(softmax(x, 2), "softmax", "dimension 2");
  CHECK_ERROR(log_softmax(x, -3), "log_softmax", "dimension -3");
  CHECK_ERROR(normalize(x, 4), "normalize", "dimension 4");
  CHECK_ERROR(concat({x, x}, 2), "concat", "dimension 2");
  CHECK_ERROR(stack({x, x}, 3), "stack", "dimension 3");
  CHECK_ERROR(index_select(x, 2, i64({0})), "index_select", "dimension 2");
  CHECK_ERROR(gather(x, -3, Tensor::zeros({2, 3}, DType::I64)), "gather", "dimension -3");
  CHECK_ERROR(x.narrow(2, 0, 1), "narrow", "dimension 2");
  CHECK_ERROR(x.select(-3, 0), "select", "dimension -3");
  CHECK_ERROR(x.transpose(0, 2), "transpose", "dimension 2");
  CHECK_ERROR(x.permute({0, 0}), "permute", "repeated");
  CHECK_ERROR(x.permute({0}), "permute", "rank 2");
  CHECK_ERROR(amax(Tensor::scalar(1.0), 0), "amax", "scalar");
  CHECK_ERROR(amax(f32({2, 0}), 1), "amax", "[2, 0]", "empty");
}

TEST_CASE("errors: indices and labels out of range", "[errors]") {
  Tensor x = f32({3, 4});
  CHECK_ERROR(index_select(x, 0, i64({0, 3})), "index_select", "index 3", "size 3", "[3, 4]");
  CHECK_ERROR(index_select(x, 1, i64({-1})), "index_select", "index -1", "size 4");
  CHECK_ERROR(gather(x, 1, Tensor::full({3, 2}, 4, DType::I64)), "gather", "index 4", "size 4", "[3, 2]");
  CHECK_ERROR(gather(x, 0, Tensor::full({2, 2}, -1, DType::I64)), "gather", "index -1");
  CHECK_ERROR(x.select(0, 3), "select", "index 3", "[3, 4]");
  CHECK_ERROR(x.narrow(1, 2, 3), "narrow", "[2, 5)", "[3, 4]");
  CHECK_ERROR(cross_entropy(x, i64({0, 4, 1})), "cross_entropy", "target 4", "4 classes");
  CHECK_ERROR(cross_entropy(x, i64({0, 1, -2})), "cross_entropy", "target -2", "4 classes");
}

TEST_CASE("errors: shapes an op cannot take", "[errors]") {
  CHECK_ERROR(cross_entropy(f32({4}), i64({0})), "cross_entropy", "[N, C]", "[4]");
  CHECK_ERROR(cross_entropy(f32({3, 4}), i64({0, 1})), "cross_entropy", "[2]", "[3, 4]");
  CHECK_ERROR(cross_entropy(f32({0, 4}), i64({})), "cross_entropy", "empty");
  CHECK_ERROR(soft_cross_entropy(f32({3, 4}), f32({3, 5})), "soft_cross_entropy", "[3, 5]", "[3, 4]");
  CHECK_ERROR(concat({}, 0), "concat", "no tensors");
  CHECK_ERROR(concat({f32({2, 3}), f32({3, 3})}, 1), "concat", "[3, 3]", "[2, 3]");
  CHECK_ERROR(concat({f32({2, 3}), f32({2, 3, 1})}, 0), "concat", "[2, 3, 1]", "[2, 3]");
  CHECK_ERROR(concat({Tensor::scalar(1.0), Tensor::scalar(2.0)}, 0), "concat", "scalar");
  CHECK_ERROR(stack({f32({2, 3}), f32({3, 2})}, 0), "stack", "[3, 2]", "[2, 3]");
  CHECK_ERROR(index_select(f32({3, 4}), 0, Tensor::zeros({2, 2}, DType::I64)), "index_select", "1-d", "[2, 2]");
  CHECK_ERROR(gather(f32({3, 4}), 1, Tensor::zeros({3}, DType::I64)), "gather", "rank", "[3]", "[3, 4]");
  CHECK_ERROR(gather(f32({3, 4}), 1, Tensor::zeros({4, 1}, DType::I64)), "gather", "[4, 1]", "[3, 4]");
  CHECK_ERROR(f32({2, 3}).reshape({4, 2}), "reshape", "[2, 3]", "[4, 2]");
  CHECK_ERROR(f32({2, 3}).t().view({6}), "view", "[3, 2]", "[6]");
  CHECK_ERROR(f32({2, 3}).squeeze(0), "squeeze", "[2, 3]");
  CHECK_ERROR(clamp(f32({2}), 1.0, 0.0), "clamp", "lower bound");
  CHECK_ERROR(mean(f32({0, 3}), {0}), "mean", "[0, 3]");
}
