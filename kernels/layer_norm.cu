// Layer normalization kernels: see layer_norm.h.
#include "kernels/layer_norm.h"
#include "kernels/norm_common.cuh"
#include "kernels/reductions.cuh"

namespace slimssl::kernels {
namespace {

constexpr int kRowBlock = 128;  // threads per row

template <class T>
__global__ void __launch_bounds__(kRowBlock) forward_kernel(Rows2d s, const T* x, Strides2 xs, VecIn weight,
                                                            VecIn bias, double eps, T* y, Strides2 ys, VecOut mean,
                                                            VecOut invstd) {
  using A = acc_t<T>;
  __shared__ A smem[kRowBlock / 32];
  for (int64_t r = blockIdx.x; r < s.rows; r += gridDim.x) {
    const T* xr = x + r * xs.r;
    A sum = 0;
    for (int64_t j = threadIdx.x; j < s.cols; j += blockDim.x) sum += convert<A>(xr[j * xs.c]);
    const A m = block_sum(sum, smem) / static_cast<A>(s.cols);
    A ss = 0;  // two passes: no cancellation
    for (int64_t j = threadIdx.x; j < s.cols; j += blockDim.x) {
      const A dv = convert<A>(xr[j * xs.c]) - m;
      ss += dv * dv;
    }
    const A is = A(1) / math::sqrt(block_sum(ss, smem) / static_cast<A>(s.cols) + static_cast<A>(eps));
    for (int64_t j = threadIdx.x; j < s.cols; j += blockDim.x) {
      const A xh = (convert<A>(xr[j * xs.c]) - m) * is;
      y[r * ys.r + j * ys.c] = convert<T>(xh * vec_at<A>(weight, j, 1) + vec_at<A>(bias, j, 0));
    }
    if (threadIdx.x == 0) vec_put(mean, r, m), vec_put(invstd, r, is);
  }
}

template <class T>
__global__ void __launch_bounds__(kRowBlock) dx_kernel(Rows2d s, const T* gy, Strides2 gys, const T* x, Strides2 xs,
                                                       VecIn mean, VecIn invstd, VecIn weight, T* dx, Strides2 dxs) {
  using A = acc_t<T>;
  __shared__ A smem[kRowBlock / 32];
  for (int64_t r = blockIdx.x; r < s.rows; r += gridDim.x) {
    const A m = vec_at<A>(mean, r, 0), is = vec_at<A>(invstd, r, 1);
    A sum_d = 0, sum_dx = 0;
    for (int64_t j = threadIdx.x; j < s.cols; j += blockDim.x) {
      const A d = convert<A>(gy[r * gys.r + j * gys.c]) * vec_at<A>(weight, j, 1);
      sum_d += d;
      sum_dx += d * (convert<A>(x[r * xs.r + j * xs.c]) - m) * is;
    }
    const A n = static_cast<A>(s.cols);
    const A mean_d = block_sum(sum_d, smem) / n, mean_dx = block_sum(sum_dx, smem) / n;
    for (int64_t j = threadIdx.x; j < s.cols; j += blockDim.x) {
      const A d = convert<A>(gy[r * gys.r + j * gys.c]) * vec_at<A>(weight, j, 1);
      const A xh = (convert<A>(x[r * xs.r + j * xs.c]) - m) * is;
      dx[r * dxs.r + j * dxs.c] = convert<T>(is * (d - mean_d - xh * mean_dx));
    }
  }
}

// (gy * xhat, gy) of element (r, j).
template <class T>
struct AffineTerm {
  using A = acc_t<T>;
  const T* gy;
  Strides2 gys;
  const T* x;
  Strides2 xs;
  VecIn mean, invstd;
  __device__ Pair<A> operator()(int64_t r, int64_t j) const {
    const A g = convert<A>(gy[r * gys.r + j * gys.c]);
    return {g * (convert<A>(x[r * xs.r + j * xs.c]) - vec_at<A>(mean, r, 0)) * vec_at<A>(invstd, r, 1), g};
  }
};

template <class A>
struct AffineFinish {
  VecOut dw, db;
  __device__ void operator()(int64_t j, A sum_gy_xhat, A sum_gy) const {
    vec_put(dw, j, sum_gy_xhat);
    vec_put(db, j, sum_gy);
  }
};

unsigned row_grid(int64_t rows) { return static_cast<unsigned>(std::clamp<int64_t>(rows, 1, 8192)); }

}  // namespace

void layer_norm_forward(const Rows2d& s, DType dt, const void* x, const Strides2& xs, VecIn weight, VecIn bias,
                        double eps, void* y, const Strides2& ys, VecOut mean, VecOut invstd, cudaStream_t st) {
  if (s.rows == 0) return;
  SLIMSSL_DISPATCH_FLOAT_BF16(dt, "layer_norm_forward", [&] {
    using T = scalar_t;
    forward_kernel<T><<<row_grid(s.rows), kRowBlock, 0, st>>>(s, static_cast<const T*>(x), xs, weight, bias, eps,
                                                               static_cast<T*>(y), ys, mean, invstd);
  });
  check_launch("layer_norm_forward");
}

size_t layer_norm_backward_workspace_bytes(const Rows2d& s, DType dt) {
  return static_cast<size_t>(plan_columns(s.rows, s.cols, true).partial_elems(s.cols)) * (dt == DType::F64 ? 8 : 4);
}

void layer_norm_backward(const Rows2d& s, DType dt, const void* gy, const Strides2& gys, const void* x,
                         const Strides2& xs, VecIn mean, VecIn invstd, VecIn weight, void* dx, const Strides2& dxs,
                         VecOut dw, VecOut db, void* workspace, cudaStream_t st) {
  SLIMSSL_DISPATCH_FLOAT_BF16(dt, "layer_norm_backward", [&] {
    using T = scalar_t;
    using A = acc_t<T>;
    if (dx && s.rows > 0) {
      dx_kernel<T><<<row_grid(s.rows), kRowBlock, 0, st>>>(s, static_cast<const T*>(gy), gys, static_cast<const T*>(x),
                                                          xs, mean, invstd, weight, static_cast<T*>(dx), dxs);
      check_launch("layer_norm_backward dx");
    }
    if ((dw.p || db.p) && s.cols > 0) {
      const ColumnPlan p = plan_columns(s.rows, s.cols, true);
      A* partial = static_cast<A*>(workspace);
      const AffineTerm<T> term{static_cast<const T*>(gy), gys, static_cast<const T*>(x), xs, mean, invstd};
      column_partials<A, AffineTerm<T>><<<dim3(static_cast<unsigned>(p.col_blocks), p.splits), kBlock, 0, st>>>(
          term, s.rows, s.cols, p, partial);
      check_launch("layer_norm_backward column_partials");
      column_totals<A, AffineFinish<A>><<<grid_for(s.cols), kBlock, 0, st>>>(AffineFinish<A>{dw, db}, s.cols, p.splits,
                                                                             partial);
      check_launch("layer_norm_backward column_totals");
    }
  });
}

}  // namespace slimssl::kernels
