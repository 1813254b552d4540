#include "engine/fused_infonce.h"
#include "engine/autograd.h"
#include "engine/profile.h"
#ifdef SLIMSSL_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#include "kernels/infonce.h"
#endif

namespace slimssl {

bool fused_contrastive_available(Device d) {
#ifdef SLIMSSL_WITH_CUDA
  return d.is_cuda();
#else
  return false;
#endif
}

#ifdef SLIMSSL_WITH_CUDA
namespace {

// The problem's matrices, detached and contiguous (the kernel reads rows of D elements).
struct Matrices {
  Tensor q, keys, pos, q_teacher, keys_teacher;
};

Tensor rows_of(const Tensor& t) { return t.defined() ? t.detach().contiguous() : Tensor(); }

void check_problem(const ContrastiveProblem& p) {
  SLIMSSL_CHECK(p.q.defined() && p.q.dim() == 2, "fused_contrastive_loss: q must be [N, D]");
  const int64_t n = p.q.size(0), d = p.q.size(1);
  SLIMSSL_CHECK(p.q.dtype() == DType::F32 || p.q.dtype() == DType::BF16,
                "fused_contrastive_loss: float32 or bfloat16 rows, got ", dtype_name(p.q.dtype()));
  SLIMSSL_CHECK(d <= 256, "fused_contrastive_loss: embedding dimension ", d, " above the kernel's 256");
  auto same = [&](const Tensor& t, const char* what, int64_t rows) {
    if (!t.defined()) return;
    SLIMSSL_CHECK(t.dim() == 2 && t.size(1) == d && (rows < 0 || t.size(0) == rows) && t.dtype() == p.q.dtype() &&
                      t.device() == p.q.device(),
                  "fused_contrastive_loss: ", what, " ", shape_str(t.shape()), " ", dtype_name(t.dtype()),
                  " does not go with q ", shape_str(p.q.shape()), " ", dtype_name(p.q.dtype()));
  };
  if (p.kind == ContrastKind::MoCo) {
    SLIMSSL_CHECK(p.pos.defined() && p.keys.defined(), "fused_contrastive_loss: MoCo needs pos and the queue");
    same(p.pos, "pos", n), same(p.keys, "queue", -1);
  } else if (p.kind == ContrastKind::InBatch) {
    SLIMSSL_CHECK(p.keys.defined(), "fused_contrastive_loss: in-batch needs keys");
    same(p.keys, "keys", n);
  } else {
    SLIMSSL_CHECK(n % 2 == 0, "fused_contrastive_loss: NT-Xent needs [z1; z2], got ", n, " rows");
  }
  same(p.q_teacher, "teacher q", n), same(p.keys_teacher, "teacher keys", -1);
}

kernels::InfoNCEProblem kernel_problem(const ContrastiveProblem& p, const Matrices& m) {
  const DType t = m.q.dtype();
  const int n = static_cast<int>(m.q.size(0)), d = static_cast<int>(m.q.size(1));
  const float T = static_cast<float>(p.temperature);
  kernels::InfoNCEProblem k;
  switch (p.kind) {
    case ContrastKind::MoCo:
      k = kernels::infonce_moco(t, m.q.raw(), m.pos.raw(), m.keys.raw(), n, static_cast<int>(m.keys.size(0)), d, T);
      break;
    case ContrastKind::InBatch: k = kernels::infonce_inbatch(t, m.q.raw(), m.keys.raw(), n, d, T); break;
    case ContrastKind::NTXent: k = kernels::infonce_ntxent(t, m.q.raw(), n / 2, d, T); break;
  }
  if (m.q_teacher.defined()) {
    const void* kt = m.keys_teacher.defined() ? m.keys_teacher.raw()
                                              : (p.kind == ContrastKind::NTXent ? m.q_teacher.raw() : nullptr);
    kernels::infonce_add_distill(k, m.q_teacher.raw(), kt, nullptr, static_cast<float>(p.t_student),
                                 static_cast<float>(p.t_teacher));
  }
  return k;
}

}  // namespace

Tensor fused_contrastive_loss(const ContrastiveProblem& p) {
  check_problem(p);
  SLIMSSL_CHECK(p.q.device().is_cuda(), "fused_contrastive_loss: runs on CUDA tensors; on ", p.q.device().str(),
                " the loss is composed of ops (ssl/train/contrastive.h)");
  Matrices m{rows_of(p.q), rows_of(p.keys), rows_of(p.pos), rows_of(p.q_teacher), rows_of(p.keys_teacher)};
  const bool keys_grad = p.kind == ContrastKind::InBatch && p.keys.requires_grad();
  const kernels::InfoNCEProblem k = kernel_problem(p, m);
  cuda::CudaContext& ctx = cuda::cuda_backend(p.q.device().index).context();
  const Device dev = p.q.device();
  Tensor loss = Tensor::empty({2}, DType::F32, dev);
  Tensor saved = Tensor::empty({static_cast<int64_t>(kernels::infonce_saved_floats(k))}, DType::F32, dev);
  kernels::InfoNCEOptions opts;
  opts.kernel = p.tensor_cores ? kernels::InfoNCEKernel::Auto : kernels::InfoNCEKernel::V1Fma;
  {
    profile::PrimitiveScope timed("fused_infonce_forward", dev);  // a kernel outside the Backend
    kernels::infonce_forward(k, loss.data<float>(), saved.data<float>(),
                             ctx.workspace(kernels::infonce_workspace_bytes(k, keys_grad, opts)), ctx.stream(), opts);
  }
  std::vector<Tensor> inputs{p.q};
  if (keys_grad) inputs.push_back(p.keys);
  return record("fused_contrastive_loss", loss, inputs,
                [p_ = ContrastiveProblem{p.kind, p.temperature, {}, {}, {}, {}, {}, p.t_student, p.t_teacher,
                                         p.tensor_cores},
                 m, saved, keys_grad, opts](const Tensor& g, GradSink& s) {
                  const kernels::InfoNCEProblem k = kernel_problem(p_, m);
                  cuda::CudaContext& ctx = cuda::cuda_backend(m.q.device().index).context();
                  Tensor grad_loss = g.to(DType::F32).contiguous();  // {dL/dnce, dL/dkd}, on the device
                  Tensor dq = Tensor::empty(m.q.shape(), m.q.dtype(), m.q.device());
                  const bool want_dk = keys_grad && s.needs(1);
                  Tensor dk = want_dk ? Tensor::empty(m.keys.shape(), m.keys.dtype(), m.keys.device()) : Tensor();
                  // NT-Xent: q and keys are the same rows; the kernel sums both roles into dq.
                  void* dkeys = p_.kind == ContrastKind::NTXent ? dq.raw() : (want_dk ? dk.raw() : nullptr);
                  {
                    profile::PrimitiveScope timed("fused_infonce_backward", m.q.device());
                    kernels::infonce_backward(k, grad_loss.data<float>(), saved.data<float>(), dq.raw(), dkeys,
                                              ctx.workspace(kernels::infonce_workspace_bytes(k, dkeys != nullptr, opts)),
                                              ctx.stream(), opts);
                  }
                  s.add(0, dq);
                  if (want_dk) s.add(1, dk);
                });
}

#else

Tensor fused_contrastive_loss(const ContrastiveProblem& p) {
  fail("fused_contrastive_loss: slimssl was built without CUDA; the loss is composed of ops on the CPU");
}

#endif

}  // namespace slimssl
