// XLA FFI handlers (CPU) of the band recursion (cc/band_recursion.h):
//   xla_rnnt_band_forward:          (px, py, starts, boundary) -> (scores, split, final_split)
//   xla_rnnt_band_forward_backward: (px, py, starts, boundary)
//                                   -> (scores, px_grad, py_grad, split, final_split)
//   xla_rnnt_band_backward:         (starts, boundary, split, final_split) -> (px_grad, py_grad)
// Attributes S (the lattice's S, for the boundary rows) and modified.
#include "cc/band_recursion.h"
#include "cc/ffi_checks.h"
#include "cc/handlers.h"
#include "cc/targets.h"

namespace xla_rnnt {
namespace {

ffi::Error BandForwardImpl(ffi::AnyBuffer px, ffi::AnyBuffer py, ffi::AnyBuffer starts,
                           ffi::AnyBuffer boundary, int64_t S, bool modified,
                           ffi::Result<ffi::AnyBuffer> scores, ffi::Result<ffi::AnyBuffer> split,
                           ffi::Result<ffi::AnyBuffer> final_split) {
  auto sizes = BandCheckOperands(px, py, starts, boundary, S, modified);
  if (sizes.has_error()) return sizes.error();
  const BandSizes sz = sizes.value();
  if (auto e = BandForwardResults(sz, px.element_type(), *scores, *split, *final_split);
      e.failure())
    return e;
  const int32_t* rows = boundary.typed_data<int32_t>();
  if (auto e = CheckBoundaryRows(rows, sz.B, sz.S, sz.T); e.failure()) return e;
  return DispatchReal(px.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    BandForwardCpu<Real>(px.typed_data<Real>(), py.typed_data<Real>(), starts.typed_data<int32_t>(),
                         rows, sz, scores->typed_data<Real>(), split->typed_data<Real>(),
                         final_split->typed_data<Real>());
    return ffi::Error::Success();
  });
}

ffi::Error BandForwardBackwardImpl(ffi::AnyBuffer px, ffi::AnyBuffer py, ffi::AnyBuffer starts,
                                   ffi::AnyBuffer boundary, int64_t S, bool modified,
                                   ffi::Result<ffi::AnyBuffer> scores,
                                   ffi::Result<ffi::AnyBuffer> px_grad,
                                   ffi::Result<ffi::AnyBuffer> py_grad,
                                   ffi::Result<ffi::AnyBuffer> split,
                                   ffi::Result<ffi::AnyBuffer> final_split) {
  auto sizes = BandCheckOperands(px, py, starts, boundary, S, modified);
  if (sizes.has_error()) return sizes.error();
  const BandSizes sz = sizes.value();
  if (auto e = BandForwardResults(sz, px.element_type(), *scores, *split, *final_split);
      e.failure())
    return e;
  if (auto e = BandGradResults(sz, px.element_type(), *px_grad, *py_grad, "px"); e.failure())
    return e;
  const int32_t* rows = boundary.typed_data<int32_t>();
  if (auto e = CheckBoundaryRows(rows, sz.B, sz.S, sz.T); e.failure()) return e;
  return DispatchReal(px.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    const int32_t* st = starts.typed_data<int32_t>();
    BandForwardCpu<Real>(px.typed_data<Real>(), py.typed_data<Real>(), st, rows, sz,
                         scores->typed_data<Real>(), split->typed_data<Real>(),
                         final_split->typed_data<Real>());
    BandBackwardCpu<Real>(st, rows, sz, split->typed_data<Real>(), final_split->typed_data<Real>(),
                          px_grad->typed_data<Real>(), py_grad->typed_data<Real>());
    return ffi::Error::Success();
  });
}

ffi::Error BandBackwardImpl(ffi::AnyBuffer starts, ffi::AnyBuffer boundary, ffi::AnyBuffer split,
                            ffi::AnyBuffer final_split, int64_t S, bool modified,
                            ffi::Result<ffi::AnyBuffer> px_grad,
                            ffi::Result<ffi::AnyBuffer> py_grad) {
  auto sizes = BandCheckWindows("split", split, starts, boundary, S, modified);
  if (sizes.has_error()) return sizes.error();
  const BandSizes sz = sizes.value();
  const ffi::DataType dtype = split.element_type();
  if (auto e = ExpectPerItem("final_split", final_split, sz, dtype, "split"); e.failure()) return e;
  if (auto e = BandGradResults(sz, dtype, *px_grad, *py_grad, "split"); e.failure()) return e;
  const int32_t* rows = boundary.typed_data<int32_t>();
  if (auto e = CheckBoundaryRows(rows, sz.B, sz.S, sz.T); e.failure()) return e;
  return DispatchReal(dtype, [&](auto tag) {
    using Real = typename decltype(tag)::type;
    BandBackwardCpu<Real>(starts.typed_data<int32_t>(), rows, sz, split.typed_data<Real>(),
                          final_split.typed_data<Real>(), px_grad->typed_data<Real>(),
                          py_grad->typed_data<Real>());
    return ffi::Error::Success();
  });
}

}  // namespace
}  // namespace xla_rnnt

namespace ffi = ::xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntBandForwardCpu, xla_rnnt::BandForwardImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // px
                                  .Arg<ffi::AnyBuffer>()  // py
                                  .Arg<ffi::AnyBuffer>()  // starts
                                  .Arg<ffi::AnyBuffer>()  // boundary
                                  .Attr<int64_t>(xla_rnnt::kLatticeSAttr)
                                  .Attr<bool>(xla_rnnt::kModifiedAttr)
                                  .Ret<ffi::AnyBuffer>()    // scores
                                  .Ret<ffi::AnyBuffer>()    // split
                                  .Ret<ffi::AnyBuffer>());  // final_split

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntBandForwardBackwardCpu, xla_rnnt::BandForwardBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // px
                                  .Arg<ffi::AnyBuffer>()  // py
                                  .Arg<ffi::AnyBuffer>()  // starts
                                  .Arg<ffi::AnyBuffer>()  // boundary
                                  .Attr<int64_t>(xla_rnnt::kLatticeSAttr)
                                  .Attr<bool>(xla_rnnt::kModifiedAttr)
                                  .Ret<ffi::AnyBuffer>()    // scores
                                  .Ret<ffi::AnyBuffer>()    // px_grad
                                  .Ret<ffi::AnyBuffer>()    // py_grad
                                  .Ret<ffi::AnyBuffer>()    // split
                                  .Ret<ffi::AnyBuffer>());  // final_split

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntBandBackwardCpu, xla_rnnt::BandBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // starts
                                  .Arg<ffi::AnyBuffer>()  // boundary
                                  .Arg<ffi::AnyBuffer>()  // split
                                  .Arg<ffi::AnyBuffer>()  // final_split
                                  .Attr<int64_t>(xla_rnnt::kLatticeSAttr)
                                  .Attr<bool>(xla_rnnt::kModifiedAttr)
                                  .Ret<ffi::AnyBuffer>()    // px_grad
                                  .Ret<ffi::AnyBuffer>());  // py_grad
