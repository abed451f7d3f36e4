// The FFI handler symbols of libxla_rnnt, one per (algorithm, device kind).
#ifndef XLA_RNNT_CC_HANDLERS_H_
#define XLA_RNNT_CC_HANDLERS_H_

#include "xla/ffi/api/api.h"

XLA_FFI_DECLARE_HANDLER_SYMBOL(XlaRnntMiForwardCpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(XlaRnntMiForwardBackwardCpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(XlaRnntMiBackwardCpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(XlaRnntLogsoftmaxGatherCpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(XlaRnntLogsoftmaxGatherGradCpu);
XLA_FFI_DECLARE_HANDLER_SYMBOL(XlaRnntGatherRowsGradCpu);

#ifdef XLA_RNNT_WITH_CUDA
XLA_FFI_DECLARE_HANDLER_SYMBOL(XlaRnntMiForwardCuda);
XLA_FFI_DECLARE_HANDLER_SYMBOL(XlaRnntMiForwardBackwardCuda);
XLA_FFI_DECLARE_HANDLER_SYMBOL(XlaRnntMiBackwardCuda);
XLA_FFI_DECLARE_HANDLER_SYMBOL(XlaRnntLogsoftmaxGatherCuda);
XLA_FFI_DECLARE_HANDLER_SYMBOL(XlaRnntLogsoftmaxGatherGradCuda);
XLA_FFI_DECLARE_HANDLER_SYMBOL(XlaRnntGatherRowsGradCuda);
#endif

#endif  // XLA_RNNT_CC_HANDLERS_H_
