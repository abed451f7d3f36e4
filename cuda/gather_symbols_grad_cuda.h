// CUDA launcher of the gradient of the gather at the symbols
// (cc/gather_symbols_grad.h).
#ifndef XLA_RNNT_CUDA_GATHER_SYMBOLS_GRAD_CUDA_H_
#define XLA_RNNT_CUDA_GATHER_SYMBOLS_GRAD_CUDA_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cc/gather_symbols_grad.h"

namespace xla_rnnt {

template <typename Real>
cudaError_t LaunchGatherSymbolsGrad(cudaStream_t stream, const int32_t* idx, const Real* g,
                                    SymbolsGradSizes sizes, Real* x_grad, Real* links);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_GATHER_SYMBOLS_GRAD_CUDA_H_
