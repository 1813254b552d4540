// cuDNN convolution: see conv_cudnn.h. A Plan holds one problem's descriptors and, once found,
// each direction's algorithm; plans live in a map keyed by (handle, problem), under one mutex
// (the engine queues from one host thread per device; the lock only guards the map).
#include "kernels/conv_cudnn.h"
#include <cudnn.h>
#include <array>
#include <climits>
#include <map>
#include <mutex>
#include <utility>
#include "kernels/launch.h"

namespace slimssl::kernels {
namespace {

void check(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS) fail("cuDNN error in ", what, ": ", cudnnGetErrorString(s));
}

int as_int(int64_t v, const char* what) {
  SLIMSSL_CHECK(v >= 0 && v <= INT_MAX, "conv (cuDNN): ", what, " ", v, " is beyond cuDNN's int range");
  return static_cast<int>(v);
}

cudnnDataType_t data_type(DType t) {
  switch (t) {
    case DType::F32: return CUDNN_DATA_FLOAT;
    case DType::BF16: return CUDNN_DATA_BFLOAT16;
    case DType::F64: return CUDNN_DATA_DOUBLE;
    default: fail("conv (cuDNN): unsupported dtype ", dtype_name(t));
  }
}

struct Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  std::array<bool, 3> found{};
  std::array<ConvAlgo, 3> algo{};
};

using Key = std::pair<DnnHandle, std::array<int64_t, 24>>;
Key key_of(DnnHandle h, const ConvProblem& p) {
  return {h,
          {p.x.n, p.x.c, p.x.h, p.x.w, p.k, p.r, p.s, p.pad_h, p.pad_w, p.stride_h, p.stride_w, p.dil_h, p.dil_w,
           p.groups, static_cast<int64_t>(p.dt), p.xs.n, p.xs.c, p.xs.h, p.xs.w, p.ys.n, p.ys.c, p.ys.h, p.ys.w,
           p.filter_krsc}};
}

std::mutex mu;
std::map<Key, Plan> plans;

void set_tensor(cudnnTensorDescriptor_t d, DType dt, const Dims4& s, const Strides4& st) {
  check(cudnnSetTensor4dDescriptorEx(d, data_type(dt), as_int(s.n, "n"), as_int(s.c, "channels"),
                                     as_int(s.h, "height"), as_int(s.w, "width"), as_int(st.n, "stride"),
                                     as_int(st.c, "stride"), as_int(st.h, "stride"), as_int(st.w, "stride")),
        "cudnnSetTensor4dDescriptorEx");
}

Plan& plan_of(DnnHandle h, const ConvProblem& p) {
  const Key key = key_of(h, p);
  auto it = plans.find(key);
  if (it != plans.end()) return it->second;
  SLIMSSL_CHECK(p.groups >= 1 && p.x.c % p.groups == 0 && p.k % p.groups == 0, "conv (cuDNN): ", p.groups,
                " groups do not divide ", p.x.c, " input and ", p.k, " output channels");
  Plan pl;
  check(cudnnCreateTensorDescriptor(&pl.x), "cudnnCreateTensorDescriptor");
  check(cudnnCreateTensorDescriptor(&pl.y), "cudnnCreateTensorDescriptor");
  check(cudnnCreateFilterDescriptor(&pl.w), "cudnnCreateFilterDescriptor");
  check(cudnnCreateConvolutionDescriptor(&pl.conv), "cudnnCreateConvolutionDescriptor");
  set_tensor(pl.x, p.dt, p.x, p.xs);
  set_tensor(pl.y, p.dt, p.y(), p.ys);
  const Dims4 f = p.filter();
  check(cudnnSetFilter4dDescriptor(pl.w, data_type(p.dt), p.filter_krsc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW,
                                   as_int(f.n, "k"), as_int(f.c, "c/groups"), as_int(f.h, "r"), as_int(f.w, "s")),
        "cudnnSetFilter4dDescriptor");
  check(cudnnSetConvolution2dDescriptor(pl.conv, as_int(p.pad_h, "pad"), as_int(p.pad_w, "pad"),
                                        as_int(p.stride_h, "stride"), as_int(p.stride_w, "stride"),
                                        as_int(p.dil_h, "dilation"), as_int(p.dil_w, "dilation"),
                                        CUDNN_CROSS_CORRELATION,
                                        p.dt == DType::F64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT),
        "cudnnSetConvolution2dDescriptor");
  check(cudnnSetConvolutionGroupCount(pl.conv, as_int(p.groups, "groups")), "cudnnSetConvolutionGroupCount");
  // float32: plain FMA (no TF32); bfloat16: tensor cores with float32 accumulation.
  check(cudnnSetConvolutionMathType(pl.conv, p.dt == DType::F32   ? CUDNN_FMA_MATH
                                             : p.dt == DType::BF16 ? CUDNN_TENSOR_OP_MATH
                                                                   : CUDNN_DEFAULT_MATH),
        "cudnnSetConvolutionMathType");
  return plans.emplace(key, pl).first->second;
}

// The fastest deterministic algorithm cudnnFind* returned (results come fastest first), else the
// fastest that ran.
template <class Perf>
ConvAlgo pick(const Perf* perf, int n, const char* what) {
  const Perf* best = nullptr;
  for (int i = 0; i < n && !best; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC) best = &perf[i];
  for (int i = 0; i < n && !best; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS) best = &perf[i];
  SLIMSSL_CHECK(best, "conv (cuDNN): no ", what, " algorithm runs this problem");
  return {static_cast<int>(best->algo), static_cast<int>(best->mathType), best->memory};
}

ConvAlgo find(DnnHandle h, Plan& pl, ConvDir dir) {
  int n = 0;
  if (dir == ConvDir::Forward) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    check(cudnnFindConvolutionForwardAlgorithm(h, pl.x, pl.w, pl.conv, pl.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf),
          "cudnnFindConvolutionForwardAlgorithm");
    return pick(perf, n, "forward");
  }
  if (dir == ConvDir::BackwardData) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    check(cudnnFindConvolutionBackwardDataAlgorithm(h, pl.w, pl.y, pl.conv, pl.x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                    &n, perf),
          "cudnnFindConvolutionBackwardDataAlgorithm");
    return pick(perf, n, "backward-data");
  }
  cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  check(cudnnFindConvolutionBackwardFilterAlgorithm(h, pl.x, pl.y, pl.conv, pl.w,
                                                    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf),
        "cudnnFindConvolutionBackwardFilterAlgorithm");
  return pick(perf, n, "backward-filter");
}

// alpha = 1, beta = 0, in the scaling type cuDNN wants for the data type.
struct Scale {
  double d1 = 1, d0 = 0;
  float f1 = 1, f0 = 0;
  bool f64;
  explicit Scale(DType dt) : f64(dt == DType::F64) {}
  const void* one() const { return f64 ? static_cast<const void*>(&d1) : &f1; }
  const void* zero() const { return f64 ? static_cast<const void*>(&d0) : &f0; }
};

// The plan with `a`'s math type set, under the lock.
Plan& ready(DnnHandle h, const ConvProblem& p, const ConvAlgo& a) {
  Plan& pl = plan_of(h, p);
  check(cudnnSetConvolutionMathType(pl.conv, static_cast<cudnnMathType_t>(a.math)), "cudnnSetConvolutionMathType");
  return pl;
}

}  // namespace

DnnHandle dnn_create(cudaStream_t stream) {
  cudnnHandle_t h = nullptr;
  check(cudnnCreate(&h), "cudnnCreate");
  check(cudnnSetStream(h, stream), "cudnnSetStream");
  return h;
}

void dnn_destroy(DnnHandle h) {
  if (!h) return;
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = plans.begin(); it != plans.end();) {
    if (it->first.first != h) {
      ++it;
      continue;
    }
    cudnnDestroyTensorDescriptor(it->second.x);
    cudnnDestroyTensorDescriptor(it->second.y);
    cudnnDestroyFilterDescriptor(it->second.w);
    cudnnDestroyConvolutionDescriptor(it->second.conv);
    it = plans.erase(it);
  }
  cudnnDestroy(h);
}

ConvAlgo conv_algo(DnnHandle h, const ConvProblem& p, ConvDir dir) {
  std::lock_guard<std::mutex> lock(mu);
  Plan& pl = plan_of(h, p);
  const int d = static_cast<int>(dir);
  if (!pl.found[d]) pl.algo[d] = find(h, pl, dir), pl.found[d] = true;
  return pl.algo[d];
}

void conv_forward(DnnHandle h, const ConvProblem& p, const ConvAlgo& a, const void* x, const void* w, void* y,
                  void* workspace) {
  std::lock_guard<std::mutex> lock(mu);
  Plan& pl = ready(h, p, a);
  const Scale s(p.dt);
  check(cudnnConvolutionForward(h, s.one(), pl.x, x, pl.w, w, pl.conv, static_cast<cudnnConvolutionFwdAlgo_t>(a.algo),
                                workspace, a.workspace_bytes, s.zero(), pl.y, y),
        "cudnnConvolutionForward");
}

void conv_backward_data(DnnHandle h, const ConvProblem& p, const ConvAlgo& a, const void* dy, const void* w, void* dx,
                        void* workspace) {
  std::lock_guard<std::mutex> lock(mu);
  Plan& pl = ready(h, p, a);
  const Scale s(p.dt);
  check(cudnnConvolutionBackwardData(h, s.one(), pl.w, w, pl.y, dy, pl.conv,
                                     static_cast<cudnnConvolutionBwdDataAlgo_t>(a.algo), workspace, a.workspace_bytes,
                                     s.zero(), pl.x, dx),
        "cudnnConvolutionBackwardData");
}

void conv_backward_filter(DnnHandle h, const ConvProblem& p, const ConvAlgo& a, const void* x, const void* dy,
                          void* dw, void* workspace) {
  std::lock_guard<std::mutex> lock(mu);
  Plan& pl = ready(h, p, a);
  const Scale s(p.dt);
  check(cudnnConvolutionBackwardFilter(h, s.one(), pl.x, x, pl.y, dy, pl.conv,
                                       static_cast<cudnnConvolutionBwdFilterAlgo_t>(a.algo), workspace,
                                       a.workspace_bytes, s.zero(), pl.w, dw),
        "cudnnConvolutionBackwardFilter");
}

}  // namespace slimssl::kernels
