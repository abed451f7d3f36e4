// XLA FFI handler (CPU) of the gradient of the gather at the symbols
// (cc/gather_symbols_grad.h):
//   xla_rnnt_gather_symbols_grad: (x, idx, g) -> (x_grad, links)
#include "cc/ffi_checks.h"
#include "cc/gather_symbols_grad.h"
#include "cc/handlers.h"
#include "cc/targets.h"

namespace xla_rnnt {
namespace {

ffi::Error SymbolsGradImpl(ffi::AnyBuffer x, ffi::AnyBuffer idx, ffi::AnyBuffer g,
                           ffi::Result<ffi::AnyBuffer> x_grad, ffi::Result<ffi::AnyBuffer> links) {
  auto sizes = SymbolsGradCheck(x, idx, g, *x_grad, *links);
  if (sizes.has_error()) return sizes.error();
  const SymbolsGradSizes sz = sizes.value();
  return DispatchReal(x.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    GatherSymbolsGradCpu<Real>(idx.typed_data<int32_t>(), g.typed_data<Real>(), sz,
                               x_grad->typed_data<Real>(), links->typed_data<Real>());
    return ffi::Error::Success();
  });
}

}  // namespace
}  // namespace xla_rnnt

namespace ffi = ::xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntGatherSymbolsGradCpu, xla_rnnt::SymbolsGradImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()    // x (its shape)
                                  .Arg<ffi::AnyBuffer>()    // idx
                                  .Arg<ffi::AnyBuffer>()    // g
                                  .Ret<ffi::AnyBuffer>()    // x_grad
                                  .Ret<ffi::AnyBuffer>());  // links
