// XLA FFI handlers (CUDA) for the mutual-information recursion; the same
// targets, operands and results as cc/ffi_mutual_information.cc. Work is
// enqueued on XLA's stream; nothing here synchronises with the host.

#include "../cc/ffi_checks.h"
#include "../cc/handlers.h"
#include "cuda_status.h"
#include "mutual_information_cuda.h"

namespace xla_rnnt {
namespace {

ffi::Error MiForwardImpl(cudaStream_t stream, ffi::AnyBuffer px,
                         ffi::AnyBuffer py, ffi::AnyBuffer boundary,
                         ffi::Result<ffi::AnyBuffer> scores,
                         ffi::Result<ffi::AnyBuffer> p) {
  auto sizes = MiCheckOperands(px, py, boundary);
  if (sizes.has_error()) return sizes.error();
  const MiSizes sz = sizes.value();
  if (auto e = CheckForwardResults(sz, px.element_type(), *scores, *p); e.failure()) return e;
  const int32_t* rows = boundary.typed_data<int32_t>();
  cudaError_t err;
  if (px.element_type() == ffi::DataType::F32) {
    err = LaunchMiForward<float>(stream, px.typed_data<float>(), py.typed_data<float>(),
                                 rows, sz, p->typed_data<float>(),
                                 scores->typed_data<float>());
  } else {
    err = LaunchMiForward<double>(stream, px.typed_data<double>(),
                                  py.typed_data<double>(), rows, sz,
                                  p->typed_data<double>(), scores->typed_data<double>());
  }
  return CudaStatus(err, "mutual-information forward launch");
}

template <typename Real>
cudaError_t ForwardBackward(cudaStream_t stream, ffi::AnyBuffer px,
                            ffi::AnyBuffer py, const int32_t* rows,
                            const MiSizes& sz, ffi::AnyBuffer scores,
                            ffi::AnyBuffer px_grad, ffi::AnyBuffer py_grad,
                            ffi::AnyBuffer p, ffi::AnyBuffer g) {
  return LaunchMiForwardBackward<Real>(
      stream, px.typed_data<Real>(), py.typed_data<Real>(), rows, sz,
      scores.typed_data<Real>(), px_grad.typed_data<Real>(),
      py_grad.typed_data<Real>(), p.typed_data<Real>(), g.typed_data<Real>());
}

ffi::Error MiForwardBackwardImpl(cudaStream_t stream, ffi::AnyBuffer px,
                                 ffi::AnyBuffer py, ffi::AnyBuffer boundary,
                                 ffi::Result<ffi::AnyBuffer> scores,
                                 ffi::Result<ffi::AnyBuffer> px_grad,
                                 ffi::Result<ffi::AnyBuffer> py_grad,
                                 ffi::Result<ffi::AnyBuffer> p,
                                 ffi::Result<ffi::AnyBuffer> g) {
  auto sizes = MiCheckOperands(px, py, boundary);
  if (sizes.has_error()) return sizes.error();
  const MiSizes sz = sizes.value();
  if (auto e = CheckForwardResults(sz, px.element_type(), *scores, *p); e.failure()) return e;
  if (auto e = CheckGradResults(sz, px.element_type(), *px_grad, *py_grad, *g); e.failure())
    return e;
  const int32_t* rows = boundary.typed_data<int32_t>();
  cudaError_t err =
      px.element_type() == ffi::DataType::F32
          ? ForwardBackward<float>(stream, px, py, rows, sz, *scores, *px_grad, *py_grad, *p, *g)
          : ForwardBackward<double>(stream, px, py, rows, sz, *scores, *px_grad, *py_grad, *p, *g);
  return CudaStatus(err, "mutual-information forward-backward launch");
}

ffi::Error MiBackwardImpl(cudaStream_t stream, ffi::AnyBuffer px,
                          ffi::AnyBuffer py, ffi::AnyBuffer boundary,
                          ffi::AnyBuffer p, ffi::Result<ffi::AnyBuffer> px_grad,
                          ffi::Result<ffi::AnyBuffer> py_grad,
                          ffi::Result<ffi::AnyBuffer> g) {
  auto sizes = MiCheckOperands(px, py, boundary);
  if (sizes.has_error()) return sizes.error();
  const MiSizes sz = sizes.value();
  if (auto e = ExpectCount("p", p, LatticeSize(sz), px.element_type()); e.failure()) return e;
  if (auto e = CheckGradResults(sz, px.element_type(), *px_grad, *py_grad, *g); e.failure())
    return e;
  const int32_t* rows = boundary.typed_data<int32_t>();
  cudaError_t err;
  if (px.element_type() == ffi::DataType::F32) {
    err = LaunchMiBackward<float>(stream, px.typed_data<float>(), py.typed_data<float>(), rows,
                                  sz, p.typed_data<float>(), px_grad->typed_data<float>(),
                                  py_grad->typed_data<float>(), g->typed_data<float>());
  } else {
    err = LaunchMiBackward<double>(stream, px.typed_data<double>(), py.typed_data<double>(),
                                   rows, sz, p.typed_data<double>(),
                                   px_grad->typed_data<double>(),
                                   py_grad->typed_data<double>(), g->typed_data<double>());
  }
  return CudaStatus(err, "mutual-information backward launch");
}

}  // namespace
}  // namespace xla_rnnt

namespace ffi = ::xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntMiForwardCuda, xla_rnnt::MiForwardImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()   // px
                                  .Arg<ffi::AnyBuffer>()   // py
                                  .Arg<ffi::AnyBuffer>()   // boundary
                                  .Ret<ffi::AnyBuffer>()   // scores
                                  .Ret<ffi::AnyBuffer>());  // p

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntMiForwardBackwardCuda,
                              xla_rnnt::MiForwardBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()   // px
                                  .Arg<ffi::AnyBuffer>()   // py
                                  .Arg<ffi::AnyBuffer>()   // boundary
                                  .Ret<ffi::AnyBuffer>()   // scores
                                  .Ret<ffi::AnyBuffer>()   // px_grad
                                  .Ret<ffi::AnyBuffer>()   // py_grad
                                  .Ret<ffi::AnyBuffer>()   // p
                                  .Ret<ffi::AnyBuffer>());  // g

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntMiBackwardCuda, xla_rnnt::MiBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()   // px
                                  .Arg<ffi::AnyBuffer>()   // py
                                  .Arg<ffi::AnyBuffer>()   // boundary
                                  .Arg<ffi::AnyBuffer>()   // p
                                  .Ret<ffi::AnyBuffer>()   // px_grad
                                  .Ret<ffi::AnyBuffer>()   // py_grad
                                  .Ret<ffi::AnyBuffer>());  // g
