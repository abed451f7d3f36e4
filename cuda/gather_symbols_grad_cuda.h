// CUDA launcher of the gradient of the gather at the symbols
// (cc/gather_symbols_grad.h).
#ifndef XLA_RNNT_CUDA_GATHER_SYMBOLS_GRAD_CUDA_H_
#define XLA_RNNT_CUDA_GATHER_SYMBOLS_GRAD_CUDA_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cc/gather_symbols_grad.h"

namespace xla_rnnt {

// How the sums reach x_grad: each destination written where its chain ends
// (kDirect), or the block's rows built in shared memory and written out
// coalesced (kTiles: written 2026-12-04, not yet run on a GPU; the handlers
// keep kDirect until kernel_check and kernel_bench have run it; it asks for
// up to ~130 KiB of shared memory a block, more than before sm_80 allows).
enum class SymbolsGradKernel { kDirect, kTiles };

template <typename Real>
cudaError_t LaunchGatherSymbolsGrad(cudaStream_t stream, const int32_t* idx, const Real* g,
                                    SymbolsGradSizes sizes, Real* x_grad, Real* links,
                                    SymbolsGradKernel kernel = SymbolsGradKernel::kDirect);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_GATHER_SYMBOLS_GRAD_CUDA_H_
