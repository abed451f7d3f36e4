// CUDA launcher of the gather-rows gradient (cc/gather_rows_grad.h).
#ifndef XLA_RNNT_CUDA_GATHER_ROWS_GRAD_CUDA_H_
#define XLA_RNNT_CUDA_GATHER_ROWS_GRAD_CUDA_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cc/gather_rows_grad.h"

namespace xla_rnnt {

template <typename Real>
cudaError_t LaunchGatherRowsGrad(cudaStream_t stream, const int32_t* idx, const Real* g,
                                 RowsGradSizes sizes, Real* x_grad, Real* sorted);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_GATHER_ROWS_GRAD_CUDA_H_
