// XLA FFI handlers (CUDA) of the band recursion; the same targets, operands,
// attributes and results as cc/ffi_band_recursion.cc, enqueued on XLA's
// stream. Boundary rows are not read on the host (no sync): an invalid row
// gives a NaN score and zero gradients. R <= kBandMaxRows (one warp per item).
#include <string>

#include "cc/band_recursion.h"
#include "cc/ffi_checks.h"
#include "cc/handlers.h"
#include "cc/targets.h"
#include "cuda/band_recursion_cuda.h"
#include "cuda/cuda_status.h"

namespace xla_rnnt {
namespace {

ffi::Error CheckWindowRows(const BandSizes& sz) {
  if (sz.R <= kBandMaxRows) return ffi::Error::Success();
  return InvalidArgument("the band recursion on a GPU takes at most " +
                         std::to_string(kBandMaxRows) +
                         " rows per window, got R = " + std::to_string(sz.R));
}

ffi::Error BandForwardImpl(cudaStream_t stream, ffi::AnyBuffer px, ffi::AnyBuffer py,
                           ffi::AnyBuffer starts, ffi::AnyBuffer boundary, int64_t S, bool modified,
                           ffi::Result<ffi::AnyBuffer> scores, ffi::Result<ffi::AnyBuffer> split,
                           ffi::Result<ffi::AnyBuffer> final_split) {
  auto sizes = BandCheckOperands(px, py, starts, boundary, S, modified);
  if (sizes.has_error()) return sizes.error();
  const BandSizes sz = sizes.value();
  if (auto e = BandForwardResults(sz, px.element_type(), *scores, *split, *final_split);
      e.failure())
    return e;
  if (auto e = CheckWindowRows(sz); e.failure()) return e;
  return DispatchReal(px.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    return CudaStatus(
        LaunchBandForward<Real>(stream, px.typed_data<Real>(), py.typed_data<Real>(),
                                starts.typed_data<int32_t>(), boundary.typed_data<int32_t>(), sz,
                                scores->typed_data<Real>(), split->typed_data<Real>(),
                                final_split->typed_data<Real>()),
        "band forward launch");
  });
}

ffi::Error BandForwardBackwardImpl(cudaStream_t stream, ffi::AnyBuffer px, ffi::AnyBuffer py,
                                   ffi::AnyBuffer starts, ffi::AnyBuffer boundary, int64_t S,
                                   bool modified, ffi::Result<ffi::AnyBuffer> scores,
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
  if (auto e = CheckWindowRows(sz); e.failure()) return e;
  return DispatchReal(px.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    const int32_t* st = starts.typed_data<int32_t>();
    const int32_t* rows = boundary.typed_data<int32_t>();
    if (auto e = CudaStatus(
            LaunchBandForward<Real>(stream, px.typed_data<Real>(), py.typed_data<Real>(), st, rows,
                                    sz, scores->typed_data<Real>(), split->typed_data<Real>(),
                                    final_split->typed_data<Real>()),
            "band forward launch");
        e.failure())
      return e;
    return CudaStatus(
        LaunchBandBackward<Real>(stream, st, rows, sz, split->typed_data<Real>(),
                                 final_split->typed_data<Real>(), px_grad->typed_data<Real>(),
                                 py_grad->typed_data<Real>()),
        "band backward launch");
  });
}

ffi::Error BandBackwardImpl(cudaStream_t stream, ffi::AnyBuffer starts, ffi::AnyBuffer boundary,
                            ffi::AnyBuffer split, ffi::AnyBuffer final_split, int64_t S,
                            bool modified, ffi::Result<ffi::AnyBuffer> px_grad,
                            ffi::Result<ffi::AnyBuffer> py_grad) {
  auto sizes = BandCheckWindows("split", split, starts, boundary, S, modified);
  if (sizes.has_error()) return sizes.error();
  const BandSizes sz = sizes.value();
  const ffi::DataType dtype = split.element_type();
  if (auto e = ExpectPerItem("final_split", final_split, sz, dtype, "split"); e.failure()) return e;
  if (auto e = BandGradResults(sz, dtype, *px_grad, *py_grad, "split"); e.failure()) return e;
  if (auto e = CheckWindowRows(sz); e.failure()) return e;
  return DispatchReal(dtype, [&](auto tag) {
    using Real = typename decltype(tag)::type;
    return CudaStatus(LaunchBandBackward<Real>(
                          stream, starts.typed_data<int32_t>(), boundary.typed_data<int32_t>(), sz,
                          split.typed_data<Real>(), final_split.typed_data<Real>(),
                          px_grad->typed_data<Real>(), py_grad->typed_data<Real>()),
                      "band backward launch");
  });
}

}  // namespace
}  // namespace xla_rnnt

namespace ffi = ::xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntBandForwardCuda, xla_rnnt::BandForwardImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()  // px
                                  .Arg<ffi::AnyBuffer>()  // py
                                  .Arg<ffi::AnyBuffer>()  // starts
                                  .Arg<ffi::AnyBuffer>()  // boundary
                                  .Attr<int64_t>(xla_rnnt::kLatticeSAttr)
                                  .Attr<bool>(xla_rnnt::kModifiedAttr)
                                  .Ret<ffi::AnyBuffer>()    // scores
                                  .Ret<ffi::AnyBuffer>()    // split
                                  .Ret<ffi::AnyBuffer>());  // final_split

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntBandForwardBackwardCuda, xla_rnnt::BandForwardBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
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

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntBandBackwardCuda, xla_rnnt::BandBackwardImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()  // starts
                                  .Arg<ffi::AnyBuffer>()  // boundary
                                  .Arg<ffi::AnyBuffer>()  // split
                                  .Arg<ffi::AnyBuffer>()  // final_split
                                  .Attr<int64_t>(xla_rnnt::kLatticeSAttr)
                                  .Attr<bool>(xla_rnnt::kModifiedAttr)
                                  .Ret<ffi::AnyBuffer>()    // px_grad
                                  .Ret<ffi::AnyBuffer>());  // py_grad
