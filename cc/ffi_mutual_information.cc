// XLA FFI handlers (CPU) for the mutual-information recursion:
//   xla_rnnt_mi_forward:          (px, py, boundary) -> (scores, p)
//   xla_rnnt_mi_forward_backward: (px, py, boundary) -> (scores, px_grad,
//                                  py_grad, p, g)
//   xla_rnnt_mi_backward:         (px, py, boundary, p) -> (px_grad, py_grad, g)
// p ([B, S+1, T+1]) is workspace of the forward, kept by callers that run the
// backward later (TF, which cannot know at forward time whether a gradient
// will be asked for); g ([B, ceil((S+1)/32), T+1]) is workspace of the CUDA
// backward, unused here.
#include "cc/ffi_checks.h"
#include "cc/handlers.h"
#include "cc/mutual_information.h"

namespace xla_rnnt {
namespace {

ffi::Error MiForwardImpl(ffi::AnyBuffer px, ffi::AnyBuffer py, ffi::AnyBuffer boundary,
                         ffi::Result<ffi::AnyBuffer> scores, ffi::Result<ffi::AnyBuffer> p) {
  auto sizes = MiCheckOperands(px, py, boundary);
  if (sizes.has_error()) return sizes.error();
  const MiSizes sz = sizes.value();
  if (auto e = CheckForwardResults(sz, px.element_type(), *scores, *p); e.failure()) return e;
  const int32_t* rows = boundary.typed_data<int32_t>();
  if (auto e = CheckBoundaryRows(rows, sz.B, sz.S, sz.T); e.failure()) return e;
  return DispatchReal(px.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    MiForwardCpu<Real>(px.typed_data<Real>(), py.typed_data<Real>(), rows, sz,
                       p->typed_data<Real>(), scores->typed_data<Real>());
    return ffi::Error::Success();
  });
}

ffi::Error MiForwardBackwardImpl(ffi::AnyBuffer px, ffi::AnyBuffer py, ffi::AnyBuffer boundary,
                                 ffi::Result<ffi::AnyBuffer> scores,
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
  if (auto e = CheckBoundaryRows(rows, sz.B, sz.S, sz.T); e.failure()) return e;
  return DispatchReal(px.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    MiForwardCpu<Real>(px.typed_data<Real>(), py.typed_data<Real>(), rows, sz,
                       p->typed_data<Real>(), scores->typed_data<Real>());
    MiBackwardCpu<Real>(px.typed_data<Real>(), py.typed_data<Real>(), rows, sz,
                        p->typed_data<Real>(), px_grad->typed_data<Real>(),
                        py_grad->typed_data<Real>());
    return ffi::Error::Success();
  });
}

ffi::Error MiBackwardImpl(ffi::AnyBuffer px, ffi::AnyBuffer py, ffi::AnyBuffer boundary,
                          ffi::AnyBuffer p, ffi::Result<ffi::AnyBuffer> px_grad,
                          ffi::Result<ffi::AnyBuffer> py_grad, ffi::Result<ffi::AnyBuffer> g) {
  auto sizes = MiCheckOperands(px, py, boundary);
  if (sizes.has_error()) return sizes.error();
  const MiSizes sz = sizes.value();
  if (auto e = ExpectCount("p", p, LatticeSize(sz), px.element_type()); e.failure()) return e;
  if (auto e = CheckGradResults(sz, px.element_type(), *px_grad, *py_grad, *g); e.failure())
    return e;
  const int32_t* rows = boundary.typed_data<int32_t>();
  if (auto e = CheckBoundaryRows(rows, sz.B, sz.S, sz.T); e.failure()) return e;
  return DispatchReal(px.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    MiBackwardCpu<Real>(px.typed_data<Real>(), py.typed_data<Real>(), rows, sz,
                        p.typed_data<Real>(), px_grad->typed_data<Real>(),
                        py_grad->typed_data<Real>());
    return ffi::Error::Success();
  });
}

}  // namespace
}  // namespace xla_rnnt

namespace ffi = ::xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntMiForwardCpu, xla_rnnt::MiForwardImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()    // px
                                  .Arg<ffi::AnyBuffer>()    // py
                                  .Arg<ffi::AnyBuffer>()    // boundary
                                  .Ret<ffi::AnyBuffer>()    // scores
                                  .Ret<ffi::AnyBuffer>());  // p

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntMiForwardBackwardCpu, xla_rnnt::MiForwardBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()    // px
                                  .Arg<ffi::AnyBuffer>()    // py
                                  .Arg<ffi::AnyBuffer>()    // boundary
                                  .Ret<ffi::AnyBuffer>()    // scores
                                  .Ret<ffi::AnyBuffer>()    // px_grad
                                  .Ret<ffi::AnyBuffer>()    // py_grad
                                  .Ret<ffi::AnyBuffer>()    // p
                                  .Ret<ffi::AnyBuffer>());  // g

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntMiBackwardCpu, xla_rnnt::MiBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()    // px
                                  .Arg<ffi::AnyBuffer>()    // py
                                  .Arg<ffi::AnyBuffer>()    // boundary
                                  .Arg<ffi::AnyBuffer>()    // p
                                  .Ret<ffi::AnyBuffer>()    // px_grad
                                  .Ret<ffi::AnyBuffer>()    // py_grad
                                  .Ret<ffi::AnyBuffer>());  // g
