// XLA FFI handlers (CUDA) of the fused log-softmax + gather; the same targets,
// operands and results as cc/ffi_logsoftmax_gather.cc, enqueued on XLA's stream.

#include "cc/ffi_checks.h"
#include "cc/handlers.h"
#include "cc/targets.h"
#include "cuda/cuda_status.h"
#include "cuda/logsoftmax_gather_cuda.h"

namespace xla_rnnt {
namespace {

ffi::Error GatherImpl(cudaStream_t stream, ffi::AnyBuffer logits, ffi::AnyBuffer symbols,
                      int64_t blank, bool hat, ffi::Result<ffi::AnyBuffer> px,
                      ffi::Result<ffi::AnyBuffer> py, ffi::Result<ffi::AnyBuffer> normalizers) {
  auto sizes = GatherCheckOperands(logits, symbols, blank);
  if (sizes.has_error()) return sizes.error();
  const GatherSizes sz = sizes.value();
  const ffi::DataType dtype = logits.element_type();
  if (auto e = CheckGatherResults(sz, dtype, *px, *py, *normalizers); e.failure()) return e;
  const int32_t* sym = symbols.typed_data<int32_t>();
  return DispatchReal(dtype, [&](auto tag) {
    using Real = typename decltype(tag)::type;
    const cudaError_t err = LaunchLogsoftmaxGather<Real>(
        stream, logits.typed_data<Real>(), sym, sz, hat, px->typed_data<Real>(),
        py->typed_data<Real>(), normalizers->typed_data<Real>());
    return CudaStatus(err, "log-softmax gather launch");
  });
}

ffi::Error GatherGradImpl(cudaStream_t stream, ffi::AnyBuffer logits, ffi::AnyBuffer symbols,
                          ffi::AnyBuffer normalizers, ffi::AnyBuffer px_grad,
                          ffi::AnyBuffer py_grad, int64_t blank, bool hat,
                          ffi::Result<ffi::AnyBuffer> logits_grad) {
  auto sizes = GatherCheckOperands(logits, symbols, blank);
  if (sizes.has_error()) return sizes.error();
  const GatherSizes sz = sizes.value();
  const ffi::DataType dtype = logits.element_type();
  if (auto e = CheckGatherGradBuffers(sz, dtype, normalizers, px_grad, py_grad, *logits_grad);
      e.failure())
    return e;
  const int32_t* sym = symbols.typed_data<int32_t>();
  return DispatchReal(dtype, [&](auto tag) {
    using Real = typename decltype(tag)::type;
    const cudaError_t err = LaunchLogsoftmaxGatherGrad<Real>(
        stream, logits.typed_data<Real>(), sym, normalizers.typed_data<Real>(),
        px_grad.typed_data<Real>(), py_grad.typed_data<Real>(), sz, hat,
        logits_grad->typed_data<Real>());
    return CudaStatus(err, "log-softmax gather gradient launch");
  });
}

}  // namespace
}  // namespace xla_rnnt

namespace ffi = ::xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntLogsoftmaxGatherCuda, xla_rnnt::GatherImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()  // logits
                                  .Arg<ffi::AnyBuffer>()  // symbols
                                  .Attr<int64_t>(xla_rnnt::kBlankAttr)
                                  .Attr<bool>(xla_rnnt::kHatAttr)
                                  .Ret<ffi::AnyBuffer>()    // px
                                  .Ret<ffi::AnyBuffer>()    // py
                                  .Ret<ffi::AnyBuffer>());  // normalizers

XLA_FFI_DEFINE_HANDLER_SYMBOL(XlaRnntLogsoftmaxGatherGradCuda, xla_rnnt::GatherGradImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::PlatformStream<cudaStream_t>>()
                                  .Arg<ffi::AnyBuffer>()  // logits
                                  .Arg<ffi::AnyBuffer>()  // symbols
                                  .Arg<ffi::AnyBuffer>()  // normalizers
                                  .Arg<ffi::AnyBuffer>()  // px_grad
                                  .Arg<ffi::AnyBuffer>()  // py_grad
                                  .Attr<int64_t>(xla_rnnt::kBlankAttr)
                                  .Attr<bool>(xla_rnnt::kHatAttr)
                                  .Ret<ffi::AnyBuffer>());  // logits_grad
