// CUDA launchers of the fused log-softmax + gather (cc/logsoftmax_gather.h).
#ifndef XLA_RNNT_CUDA_LOGSOFTMAX_GATHER_CUDA_H_
#define XLA_RNNT_CUDA_LOGSOFTMAX_GATHER_CUDA_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cc/logsoftmax_gather.h"

namespace xla_rnnt {

template <typename Real>
cudaError_t LaunchLogsoftmaxGather(cudaStream_t stream, const Real* logits, const int32_t* symbols,
                                   GatherSizes sizes, bool hat, Real* px, Real* py,
                                   Real* normalizers);

template <typename Real>
cudaError_t LaunchLogsoftmaxGatherGrad(cudaStream_t stream, const Real* logits,
                                       const int32_t* symbols, const Real* normalizers,
                                       const Real* px_grad, const Real* py_grad, GatherSizes sizes,
                                       bool hat, Real* logits_grad);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_LOGSOFTMAX_GATHER_CUDA_H_
