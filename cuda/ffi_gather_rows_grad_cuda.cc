// XLA FFI handler (CUDA) of the gather-rows gradient; the same target,
// operands and results as cc/ffi_gather_rows_grad.cc, enqueued on XLA's stream.
#include "cc/ffi_checks.h"
#include "cc/handlers.h"
#include "cc/targets.h"
#include "cuda/cuda_status.h"
#include "cuda/gather_rows_grad_cuda.h"

namespace xla_rnnt {
namespace {

ffi::Error RowsGradImpl(cudaStream_t stream, ffi::AnyBuffer x, ffi::AnyBuffer idx, ffi::AnyBuffer g,
                        ffi::Result<ffi::AnyBuffer> x_grad, ffi::Result<ffi::AnyBuffer> sorted) {
  auto sizes = RowsGradCheck(x, idx, g, *x_grad, *sorted);
  if (sizes.has_error()) return sizes.error();
  const RowsGradSizes sz = sizes.value();
  return DispatchReal(x.element_type(), [&](auto tag) {
    using Real = typename decltype(tag)::type;
    const cudaError_t err =
        LaunchGatherRowsGrad<Real>(stream, idx.typed_data<int32_t>(), g.typed_data<Real>(), sz,
                                   x_grad->typed_data<Real>(), sorted->typed_data<Real>());
    return CudaStatus(err, "gather-rows gradient launch");
  });
}

}  // namespace
}  // namespace xla_rnnt

namespace ffi = ::xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntGatherRowsGradCuda, xla_rnnt::RowsGradImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()    // x (its shape)
                                  .Arg<ffi::AnyBuffer>()    // idx
                                  .Arg<ffi::AnyBuffer>()    // g
                                  .Ret<ffi::AnyBuffer>()    // x_grad
                                  .Ret<ffi::AnyBuffer>());  // sorted
