// Batch normalization kernels: see batch_norm.h. x is seen as a [rows = N*H*W, cols = C] matrix
// whose row r is (n, h, w) in row-major order; the per-channel sums are column sums
// (kernels/reductions.cuh), cut channels-inner when channels are adjacent in memory.
#include "kernels/batch_norm.h"
#include "kernels/norm_common.cuh"
#include "kernels/reductions.cuh"

namespace slimssl::kernels {
namespace {

struct RowIndex {
  int64_t H, W;
  __device__ __forceinline__ Index4 at(int64_t r, int64_t c) const { return {r / (H * W), c, (r / W) % H, r % W}; }
};

// Pass 1 (center null): x. Pass 2: (x - center[c])^2.
template <class T>
struct StatTerm {
  using A = acc_t<T>;
  const T* x;
  Strides4 xs;
  RowIndex rows;
  const A* center;
  __device__ Pair<A> operator()(int64_t r, int64_t c) const {
    A v = convert<A>(x[xs.at(rows.at(r, c))]);
    if (center) v = (v - center[c]) * (v - center[c]);
    return {v, A(0)};
  }
};

template <class A>
struct MeanFinish {
  A* center;
  VecOut mean;
  A count;
  __device__ void operator()(int64_t c, A sum, A) const {
    center[c] = sum / count;
    vec_put(mean, c, sum / count);
  }
};

template <class A>
struct VarFinish {
  VecOut var;
  A count;
  __device__ void operator()(int64_t c, A sum, A) const { vec_put(var, c, sum / count); }
};

// (gy, gy * xhat).
template <class T>
struct GradTerm {
  using A = acc_t<T>;
  const T* gy;
  Strides4 gys;
  const T* x;
  Strides4 xs;
  RowIndex rows;
  VecIn mean, invstd;
  __device__ Pair<A> operator()(int64_t r, int64_t c) const {
    const Index4 i = rows.at(r, c);
    const A g = convert<A>(gy[gys.at(i)]);
    const A xh = (convert<A>(x[xs.at(i)]) - vec_at<A>(mean, c, 0)) * vec_at<A>(invstd, c, 1);
    return {g, g * xh};
  }
};

// Keeps both sums for the dx kernel (sums[c], sums[C + c]) and writes the wanted gradients.
template <class A>
struct GradFinish {
  A* sums;
  int64_t C;
  VecOut dw, db;
  __device__ void operator()(int64_t c, A sum_gy, A sum_gy_xhat) const {
    sums[c] = sum_gy, sums[C + c] = sum_gy_xhat;
    vec_put(db, c, sum_gy);
    vec_put(dw, c, sum_gy_xhat);
  }
};

template <class T>
__global__ void __launch_bounds__(kBlock) forward_kernel(Dims4 d, const T* x, Strides4 xs, VecIn mean, VecIn invstd,
                                                         VecIn weight, VecIn bias, T* y, Strides4 ys, bool ci) {
  using A = acc_t<T>;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < d.numel();
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const Index4 i = unravel(e, d, ci);
    const A xh = (convert<A>(x[xs.at(i)]) - vec_at<A>(mean, i.c, 0)) * vec_at<A>(invstd, i.c, 1);
    y[ys.at(i)] = convert<T>(xh * vec_at<A>(weight, i.c, 1) + vec_at<A>(bias, i.c, 0));
  }
}

template <class T>
__global__ void __launch_bounds__(kBlock) dx_kernel(Dims4 d, const T* gy, Strides4 gys, const T* x, Strides4 xs,
                                                    VecIn mean, VecIn invstd, VecIn weight, const acc_t<T>* sums,
                                                    bool training, T* dx, Strides4 dxs, bool ci) {
  using A = acc_t<T>;
  const A count = static_cast<A>(d.n * d.h * d.w);
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < d.numel();
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const Index4 i = unravel(e, d, ci);
    const A is = vec_at<A>(invstd, i.c, 1), k = vec_at<A>(weight, i.c, 1) * is;
    A g = convert<A>(gy[gys.at(i)]);
    if (training) {
      const A xh = (convert<A>(x[xs.at(i)]) - vec_at<A>(mean, i.c, 0)) * is;
      g = g - sums[i.c] / count - xh * (sums[d.c + i.c] / count);
    }
    dx[dxs.at(i)] = convert<T>(k * g);
  }
}

bool channels_inner(const Dims4& d, const Strides4& s) { return s.c == 1 && d.c > 1; }

ColumnPlan plan_for(const Dims4& d, const Strides4& xs) {
  return plan_columns(d.n * d.h * d.w, d.c, channels_inner(d, xs));
}

// The workspace: partial sums, then two per-channel arrays (the mean of pass 1, or the two sums
// of the backward).
template <class A>
struct Work {
  A* partial;
  A* sums;
  Work(void* ws, const ColumnPlan& p, int64_t C)
      : partial(static_cast<A*>(ws)), sums(static_cast<A*>(ws) + p.partial_elems(C)) {}
};

template <class A, class Term, class Finish>
void column_sums(const ColumnPlan& p, int64_t rows, int64_t cols, const Term& term, const Finish& finish,
                 A* partial, cudaStream_t st) {
  column_partials<A, Term><<<dim3(static_cast<unsigned>(p.col_blocks), p.splits), kBlock, 0, st>>>(term, rows, cols, p,
                                                                                              partial);
  check_launch("batch_norm column_partials");
  column_totals<A, Finish><<<grid_for(cols), kBlock, 0, st>>>(finish, cols, p.splits, partial);
  check_launch("batch_norm column_totals");
}

}  // namespace

size_t batch_norm_workspace_bytes(const Dims4& d, const Strides4& xs, DType dt) {
  const size_t acc = dt == DType::F64 ? 8 : 4;
  return static_cast<size_t>(plan_for(d, xs).partial_elems(d.c) + 2 * d.c) * acc;
}

void batch_norm_stats(const Dims4& d, DType dt, const void* x, const Strides4& xs, VecOut mean, VecOut var,
                      void* workspace, cudaStream_t st) {
  if (d.c == 0) return;
  const ColumnPlan p = plan_for(d, xs);
  const int64_t rows = d.n * d.h * d.w;
  SLIMSSL_DISPATCH_FLOAT_BF16(dt, "batch_norm_stats", [&] {
    using T = scalar_t;
    using A = acc_t<T>;
    Work<A> w(workspace, p, d.c);
    const RowIndex ri{d.h, d.w};
    const A count = static_cast<A>(rows);
    column_sums(p, rows, d.c, StatTerm<T>{static_cast<const T*>(x), xs, ri, nullptr},
                MeanFinish<A>{w.sums, mean, count}, w.partial, st);
    column_sums(p, rows, d.c, StatTerm<T>{static_cast<const T*>(x), xs, ri, w.sums}, VarFinish<A>{var, count},
                w.partial, st);
  });
}

void batch_norm_forward(const Dims4& d, DType dt, const void* x, const Strides4& xs, VecIn mean, VecIn invstd,
                        VecIn weight, VecIn bias, void* y, const Strides4& ys, cudaStream_t st) {
  if (d.numel() == 0) return;
  SLIMSSL_DISPATCH_FLOAT_BF16(dt, "batch_norm_forward", [&] {
    using T = scalar_t;
    forward_kernel<T><<<grid_for(d.numel()), kBlock, 0, st>>>(d, static_cast<const T*>(x), xs, mean, invstd, weight,
                                                               bias, static_cast<T*>(y), ys, channels_inner(d, ys));
  });
  check_launch("batch_norm_forward");
}

void batch_norm_backward(const Dims4& d, DType dt, const void* gy, const Strides4& gys, const void* x,
                         const Strides4& xs, VecIn mean, VecIn invstd, VecIn weight, bool training, void* dx,
                         const Strides4& dxs, VecOut dw, VecOut db, void* workspace, cudaStream_t st) {
  const ColumnPlan p = plan_for(d, xs);
  const int64_t rows = d.n * d.h * d.w;
  const bool need_sums = (dw.p || db.p || (dx && training)) && d.c > 0;
  SLIMSSL_DISPATCH_FLOAT_BF16(dt, "batch_norm_backward", [&] {
    using T = scalar_t;
    using A = acc_t<T>;
    Work<A> w(workspace, p, d.c);
    if (need_sums)
      column_sums(p, rows, d.c,
                  GradTerm<T>{static_cast<const T*>(gy), gys, static_cast<const T*>(x), xs, RowIndex{d.h, d.w}, mean,
                              invstd},
                  GradFinish<A>{w.sums, d.c, dw, db}, w.partial, st);
    if (dx && d.numel() > 0) {
      dx_kernel<T><<<grid_for(d.numel()), kBlock, 0, st>>>(d, static_cast<const T*>(gy), gys, static_cast<const T*>(x),
                                                          xs, mean, invstd, weight, w.sums, training,
                                                          static_cast<T*>(dx), dxs, channels_inner(d, dxs));
      check_launch("batch_norm_backward dx");
    }
  });
}

}  // namespace slimssl::kernels
