// XLA FFI handlers (CUDA) for the mutual-information recursion; the same
// targets, operands and results as cc/ffi_mutual_information.cc. Work is
// enqueued on XLA's stream; nothing here synchronises with the host.

#include "cc/ffi_checks.h"
#include "cc/handlers.h"
#include "cuda/cuda_status.h"
#include "cuda/mutual_information_cuda.h"

namespace xla_rnnt {
namespace {

ffi::Error MiForwardImpl(cudaStream_t stream, ffi::AnyBuffer px, ffi::AnyBuffer py,
                         ffi::AnyBuffer boundary, ffi::Result<ffi::AnyBuffer> scores,
                         ffi::Result<ffi::AnyBuffer> p) {
  auto sizes = MiCheckOperands(px, py, boundary);
  if (sizes.has_error()) return sizes.error();
  const MiSizes sz = sizes.value();
  if (auto e = CheckForwardResults(sz, px.element_type(), *scores, *p); e.failure()) return e;
  const int32_t* rows = boundary.typed_data<int32_t>();
  return DispatchReal(px.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    const cudaError_t err =
        LaunchMiForward<Real>(stream, px.typed_data<Real>(), py.typed_data<Real>(), rows, sz,
                              p->typed_data<Real>(), scores->typed_data<Real>());
    return CudaStatus(err, "mutual-information forward launch");
  });
}

ffi::Error MiForwardBackwardImpl(cudaStream_t stream, ffi::AnyBuffer px, ffi::AnyBuffer py,
                                 ffi::AnyBuffer boundary, ffi::Result<ffi::AnyBuffer> scores,
                                 ffi::Result<ffi::AnyBuffer> px_grad,
                                 ffi::Result<ffi::AnyBuffer> py_grad, ffi::Result<ffi::AnyBuffer> p,
                                 ffi::Result<ffi::AnyBuffer> g) {
  auto sizes = MiCheckOperands(px, py, boundary);
  if (sizes.has_error()) return sizes.error();
  const MiSizes sz = sizes.value();
  if (auto e = CheckForwardResults(sz, px.element_type(), *scores, *p); e.failure()) return e;
  if (auto e = CheckGradResults(sz, px.element_type(), *px_grad, *py_grad, *g); e.failure())
    return e;
  const int32_t* rows = boundary.typed_data<int32_t>();
  return DispatchReal(px.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    const cudaError_t err = LaunchMiForwardBackward<Real>(
        stream, px.typed_data<Real>(), py.typed_data<Real>(), rows, sz, scores->typed_data<Real>(),
        px_grad->typed_data<Real>(), py_grad->typed_data<Real>(), p->typed_data<Real>(),
        g->typed_data<Real>());
    return CudaStatus(err, "mutual-information forward-backward launch");
  });
}

ffi::Error MiBackwardImpl(cudaStream_t stream, ffi::AnyBuffer px, ffi::AnyBuffer py,
                          ffi::AnyBuffer boundary, ffi::AnyBuffer p,
                          ffi::Result<ffi::AnyBuffer> px_grad, ffi::Result<ffi::AnyBuffer> py_grad,
                          ffi::Result<ffi::AnyBuffer> g) {
  auto sizes = MiCheckOperands(px, py, boundary);
  if (sizes.has_error()) return sizes.error();
  const MiSizes sz = sizes.value();
  if (auto e = ExpectCount("p", p, LatticeSize(sz), px.element_type()); e.failure()) return e;
  if (auto e = CheckGradResults(sz, px.element_type(), *px_grad, *py_grad, *g); e.failure())
    return e;
  const int32_t* rows = boundary.typed_data<int32_t>();
  return DispatchReal(px.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    const cudaError_t err = LaunchMiBackward<Real>(
        stream, px.typed_data<Real>(), py.typed_data<Real>(), rows, sz, p.typed_data<Real>(),
        px_grad->typed_data<Real>(), py_grad->typed_data<Real>(), g->typed_data<Real>());
    return CudaStatus(err, "mutual-information backward launch");
  });
}

}  // namespace
}  // namespace xla_rnnt

namespace ffi = ::xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntMiForwardCuda, xla_rnnt::MiForwardImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()    // px
                                  .Arg<ffi::AnyBuffer>()    // py
                                  .Arg<ffi::AnyBuffer>()    // boundary
                                  .Ret<ffi::AnyBuffer>()    // scores
                                  .Ret<ffi::AnyBuffer>());  // p

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntMiForwardBackwardCuda, xla_rnnt::MiForwardBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()    // px
                                  .Arg<ffi::AnyBuffer>()    // py
                                  .Arg<ffi::AnyBuffer>()    // boundary
                                  .Ret<ffi::AnyBuffer>()    // scores
                                  .Ret<ffi::AnyBuffer>()    // px_grad
                                  .Ret<ffi::AnyBuffer>()    // py_grad
                                  .Ret<ffi::AnyBuffer>()    // p
                                  .Ret<ffi::AnyBuffer>());  // g

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntMiBackwardCuda, xla_rnnt::MiBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()    // px
                                  .Arg<ffi::AnyBuffer>()    // py
                                  .Arg<ffi::AnyBuffer>()    // boundary
                                  .Arg<ffi::AnyBuffer>()    // p
                                  .Ret<ffi::AnyBuffer>()    // px_grad
                                  .Ret<ffi::AnyBuffer>()    // py_grad
                                  .Ret<ffi::AnyBuffer>());  // g
