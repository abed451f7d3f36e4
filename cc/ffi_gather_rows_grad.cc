// XLA FFI handler (CPU) of the gather-rows gradient (cc/gather_rows_grad.h):
//   xla_rnnt_gather_rows_grad: (x, idx, g) -> (x_grad, sorted)
#include "cc/ffi_checks.h"
#include "cc/gather_rows_grad.h"
#include "cc/handlers.h"
#include "cc/targets.h"

namespace xla_rnnt {
namespace {

ffi::Error RowsGradImpl(ffi::AnyBuffer x, ffi::AnyBuffer idx, ffi::AnyBuffer g,
                        ffi::Result<ffi::AnyBuffer> x_grad, ffi::Result<ffi::AnyBuffer> sorted) {
  auto sizes = RowsGradCheck(x, idx, g, *x_grad, *sorted);
  if (sizes.has_error()) return sizes.error();
  const RowsGradSizes sz = sizes.value();
  return DispatchReal(x.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    GatherRowsGradCpu<Real>(idx.typed_data<int32_t>(), g.typed_data<Real>(), sz,
                            x_grad->typed_data<Real>(), sorted->typed_data<Real>());
    return ffi::Error::Success();
  });
}

}  // namespace
}  // namespace xla_rnnt

namespace ffi = ::xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntGatherRowsGradCpu, xla_rnnt::RowsGradImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()    // x (its shape)
                                  .Arg<ffi::AnyBuffer>()    // idx
                                  .Arg<ffi::AnyBuffer>()    // g
                                  .Ret<ffi::AnyBuffer>()    // x_grad
                                  .Ret<ffi::AnyBuffer>());  // sorted
