// XLA FFI handler (CUDA) of the gradient of the gather at the symbols; the
// same target, operands and results as cc/ffi_gather_symbols_grad.cc, enqueued
// on XLA's stream.
#include "cc/ffi_checks.h"
#include "cc/handlers.h"
#include "cc/targets.h"
#include "cuda/cuda_status.h"
#include "cuda/gather_symbols_grad_cuda.h"

namespace xla_rnnt {
namespace {

ffi::Error SymbolsGradImpl(cudaStream_t stream, ffi::AnyBuffer x, ffi::AnyBuffer idx,
                           ffi::AnyBuffer g, ffi::Result<ffi::AnyBuffer> x_grad,
                           ffi::Result<ffi::AnyBuffer> links) {
  auto sizes = SymbolsGradCheck(x, idx, g, *x_grad, *links);
  if (sizes.has_error()) return sizes.error();
  const SymbolsGradSizes sz = sizes.value();
  return DispatchReal(x.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    const cudaError_t err =
        LaunchGatherSymbolsGrad<Real>(stream, idx.typed_data<int32_t>(), g.typed_data<Real>(), sz,
                                      x_grad->typed_data<Real>(), links->typed_data<Real>());
    return CudaStatus(err, "symbol-gather gradient launch");
  });
}

}  // namespace
}  // namespace xla_rnnt

namespace ffi = ::xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntGatherSymbolsGradCuda, xla_rnnt::SymbolsGradImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()    // x (its shape)
                                  .Arg<ffi::AnyBuffer>()    // idx
                                  .Arg<ffi::AnyBuffer>()    // g
                                  .Ret<ffi::AnyBuffer>()    // x_grad
                                  .Ret<ffi::AnyBuffer>());  // links
