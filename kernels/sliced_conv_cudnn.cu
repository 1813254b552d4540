// The CudnnCopy path: see sliced_conv_cudnn.h. Descriptors and algorithms are made once per
// (shape, dtype) and kept; the slice buffer and cuDNN's workspace come from the caching allocator
// on every call (after the first call that is a map lookup, not a cudaMalloc).
#include "kernels/sliced_conv_cudnn.h"
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include "kernels/memory.h"

namespace slimssl::kernels::detail {
namespace {

using bf16_t = __nv_bfloat16;

void check(cudnnStatus_t s, const char* what) {
  if (s != CUDNN_STATUS_SUCCESS)
    throw std::runtime_error(std::string("sliced_conv (cuDNN): ") + what + ": " + cudnnGetErrorString(s));
}
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("sliced_conv (cuDNN): ") + what + ": " + cudaGetErrorString(e));
}

template <class T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ bf16_t from_f<bf16_t>(float v) { return __float2bfloat16_rn(v); }
__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(bf16_t v) { return __bfloat162float(v); }

struct View {
  int K, C, R, S;
  int64_t so, sc, sh, sw;
  __device__ int64_t offset(size_t idx) const {  // parent offset of element idx of the contiguous slice
    const int s = static_cast<int>(idx % S), r = static_cast<int>(idx / S % R), c = static_cast<int>(idx / (S * R) % C);
    const int k = static_cast<int>(idx / (static_cast<size_t>(S) * R * C));
    return k * so + c * sc + r * sh + s * sw;
  }
  __host__ __device__ size_t size() const { return static_cast<size_t>(K) * C * R * S; }
};

// The copy the custom path avoids: the slice, contiguous, in the activations' type.
template <class T>
__global__ void gather_slice_kernel(View v, const float* w, T* out) {
  const size_t n = v.size();
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = from_f<T>(w[v.offset(i)]);
}

// ... and its way back for the weight gradient: parent[view] += contiguous.
template <class T>
__global__ void scatter_add_kernel(View v, const T* g, float* dw) {
  const size_t n = v.size();
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    dw[v.offset(i)] += to_f(g[i]);
}

int grid_for(size_t n) { return static_cast<int>(std::min<size_t>((n + 255) / 256, 4096)); }

struct Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  bool fwd_found = false, data_found = false, filter_found = false;
  cudnnConvolutionFwdAlgo_t fwd{};
  cudnnConvolutionBwdDataAlgo_t data{};
  cudnnConvolutionBwdFilterAlgo_t filter{};
  size_t fwd_ws = 0, data_ws = 0, filter_ws = 0;
};

std::mutex mu;  // one handle per device, shared: calls are serialized
std::map<int, cudnnHandle_t> handles;
std::map<std::array<int, 11>, Plan> plans;

int current_device() {
  int dev = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  return dev;
}

cudnnHandle_t handle(int dev, cudaStream_t st) {
  auto it = handles.find(dev);
  if (it == handles.end()) {
    cudnnHandle_t h;
    check(cudnnCreate(&h), "cudnnCreate");
    it = handles.emplace(dev, h).first;
  }
  check(cudnnSetStream(it->second, st), "cudnnSetStream");
  return it->second;
}

Plan& plan(int dev, const SlicedConvShape& s, DType act) {
  const std::array<int, 11> key{dev, static_cast<int>(act), s.batch, s.in_ch, s.in_h, s.in_w, s.out_ch, s.kh, s.kw,
                                s.stride, s.pad};
  auto it = plans.find(key);
  if (it != plans.end()) return it->second;
  Plan p;
  const cudnnDataType_t dt = act == DType::F32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_BFLOAT16;
  check(cudnnCreateTensorDescriptor(&p.x), "cudnnCreateTensorDescriptor");
  check(cudnnCreateTensorDescriptor(&p.y), "cudnnCreateTensorDescriptor");
  check(cudnnCreateFilterDescriptor(&p.w), "cudnnCreateFilterDescriptor");
  check(cudnnCreateConvolutionDescriptor(&p.conv), "cudnnCreateConvolutionDescriptor");
  check(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, dt, s.batch, s.in_ch, s.in_h, s.in_w), "x descriptor");
  check(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, dt, s.batch, s.out_ch, s.out_h(), s.out_w()), "y descriptor");
  check(cudnnSetFilter4dDescriptor(p.w, dt, CUDNN_TENSOR_NCHW, s.out_ch, s.in_ch, s.kh, s.kw), "w descriptor");
  check(cudnnSetConvolution2dDescriptor(p.conv, s.pad, s.pad, s.stride, s.stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                        CUDNN_DATA_FLOAT),
        "convolution descriptor");
  // Same arithmetic as the custom kernels: float32 FMA for float32 data (no TF32), tensor cores
  // with float32 accumulation for bfloat16.
  check(cudnnSetConvolutionMathType(p.conv, act == DType::F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH),
        "math type");
  return plans.emplace(key, p).first->second;
}

// cudnnFind* times every algorithm once; the first successful result is the fastest.
template <class Perf>
const Perf& first_ok(const Perf* perf, int n, const char* what) {
  for (int i = 0; i < n; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS) return perf[i];
  throw std::runtime_error(std::string("sliced_conv (cuDNN): no ") + what + " algorithm for this shape");
}

// Device memory from the caching allocator for one call.
struct Buffer {
  void* ptr = nullptr;
  int dev = 0;
  Buffer(size_t bytes, int d) : dev(d) { ptr = bytes ? device_alloc(bytes, dev) : nullptr; }
  ~Buffer() {
    if (ptr) device_free(ptr, dev);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

View view_of(const SlicedConvShape& s, SliceStrides ws) { return {s.out_ch, s.in_ch, s.kh, s.kw, ws.o, ws.c, ws.h, ws.w}; }

void gather(const View& v, DType act, const float* w, void* out, cudaStream_t st) {
  if (act == DType::F32) gather_slice_kernel<float><<<grid_for(v.size()), 256, 0, st>>>(v, w, static_cast<float*>(out));
  else gather_slice_kernel<bf16_t><<<grid_for(v.size()), 256, 0, st>>>(v, w, static_cast<bf16_t*>(out));
  check(cudaGetLastError(), "gather launch");
}

}  // namespace

void cudnn_conv_forward(const SlicedConvShape& s, DType act, const void* x, const float* w, SliceStrides ws,
                        void* y, cudaStream_t st) {
  std::lock_guard<std::mutex> lock(mu);
  const int dev = current_device();
  cudnnHandle_t h = handle(dev, st);
  Plan& p = plan(dev, s, act);
  if (!p.fwd_found) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int n = 0;
    check(cudnnFindConvolutionForwardAlgorithm(h, p.x, p.w, p.conv, p.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf),
          "find forward algorithm");
    const auto& best = first_ok(perf, n, "forward");
    p.fwd = best.algo, p.fwd_ws = best.memory, p.fwd_found = true;
  }
  const View v = view_of(s, ws);
  Buffer slice(v.size() * dtype_size(act), dev), work(p.fwd_ws, dev);
  gather(v, act, w, slice.ptr, st);
  const float one = 1.f, zero = 0.f;
  check(cudnnConvolutionForward(h, &one, p.x, x, p.w, slice.ptr, p.conv, p.fwd, work.ptr, p.fwd_ws, &zero, p.y, y),
        "cudnnConvolutionForward");
}

void cudnn_conv_backward_data(const SlicedConvShape& s, DType act, const void* dy, const float* w,
                              SliceStrides ws, void* dx, cudaStream_t st) {
  std::lock_guard<std::mutex> lock(mu);
  const int dev = current_device();
  cudnnHandle_t h = handle(dev, st);
  Plan& p = plan(dev, s, act);
  if (!p.data_found) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int n = 0;
    check(cudnnFindConvolutionBackwardDataAlgorithm(h, p.w, p.y, p.conv, p.x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                    &n, perf),
          "find backward-data algorithm");
    const auto& best = first_ok(perf, n, "backward-data");
    p.data = best.algo, p.data_ws = best.memory, p.data_found = true;
  }
  const View v = view_of(s, ws);
  Buffer slice(v.size() * dtype_size(act), dev), work(p.data_ws, dev);
  gather(v, act, w, slice.ptr, st);
  const float one = 1.f, zero = 0.f;
  check(cudnnConvolutionBackwardData(h, &one, p.w, slice.ptr, p.y, dy, p.conv, p.data, work.ptr, p.data_ws, &zero,
                                     p.x, dx),
        "cudnnConvolutionBackwardData");
}

void cudnn_conv_backward_weight(const SlicedConvShape& s, DType act, const void* x, const void* dy, float* dw,
                                SliceStrides ws, cudaStream_t st) {
  std::lock_guard<std::mutex> lock(mu);
  const int dev = current_device();
  cudnnHandle_t h = handle(dev, st);
  Plan& p = plan(dev, s, act);
  if (!p.filter_found) {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int n = 0;
    check(cudnnFindConvolutionBackwardFilterAlgorithm(h, p.x, p.y, p.conv, p.w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                      &n, perf),
          "find backward-filter algorithm");
    const auto& best = first_ok(perf, n, "backward-filter");
    p.filter = best.algo, p.filter_ws = best.memory, p.filter_found = true;
  }
  const View v = view_of(s, ws);
  Buffer grad(v.size() * dtype_size(act), dev), work(p.filter_ws, dev);
  const float one = 1.f, zero = 0.f;
  check(cudnnConvolutionBackwardFilter(h, &one, p.x, x, p.y, dy, p.conv, p.filter, work.ptr, p.filter_ws, &zero, p.w,
                                       grad.ptr),
        "cudnnConvolutionBackwardFilter");
  if (act == DType::F32)
    scatter_add_kernel<float><<<grid_for(v.size()), 256, 0, st>>>(v, static_cast<const float*>(grad.ptr), dw);
  else
    scatter_add_kernel<bf16_t><<<grid_for(v.size()), 256, 0, st>>>(v, static_cast<const bf16_t*>(grad.ptr), dw);
  check(cudaGetLastError(), "scatter launch");
}

}  // namespace slimssl::kernels::detail
