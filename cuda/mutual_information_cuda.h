// CUDA launchers for the recursion of cc/mutual_information.h.
#ifndef XLA_RNNT_CUDA_MUTUAL_INFORMATION_CUDA_H_
#define XLA_RNNT_CUDA_MUTUAL_INFORMATION_CUDA_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cc/mutual_information.h"

namespace xla_rnnt {

// Forward: fills p inside each item's box and scores. Items whose boundary
// row is invalid get a NaN score (checking on the host would need a sync).
template <typename Real>
cudaError_t LaunchMiForward(cudaStream_t stream, const Real* px, const Real* py,
                            const int32_t* boundary, MiSizes sizes, Real* p, Real* scores);

// Forward, then the occupations px_grad/py_grad (zero outside each box and
// for items with an invalid boundary row); g is workspace [B,
// sizes.handoff_rows(), T+1] (one row per band edge).
template <typename Real>
cudaError_t LaunchMiForwardBackward(cudaStream_t stream, const Real* px, const Real* py,
                                    const int32_t* boundary, MiSizes sizes, Real* scores,
                                    Real* px_grad, Real* py_grad, Real* p, Real* g);

// The occupations alone, from p of an earlier LaunchMiForward (which holds
// each cell's flow split there, so px and py are not read).
template <typename Real>
cudaError_t LaunchMiBackward(cudaStream_t stream, const Real* px, const Real* py,
                             const int32_t* boundary, MiSizes sizes, const Real* p, Real* px_grad,
                             Real* py_grad, Real* g);

// The wavefront kernels alone, which the launchers above run only where the
// row scan (cuda/mi_rows_cuda.h) does not serve: for benchmarks of the two.
template <typename Real>
cudaError_t LaunchMiForwardWavefront(cudaStream_t stream, const Real* px, const Real* py,
                                     const int32_t* boundary, MiSizes sizes, Real* p, Real* scores);
template <typename Real>
cudaError_t LaunchMiBackwardWavefront(cudaStream_t stream, const int32_t* boundary, MiSizes sizes,
                                      const Real* p, Real* px_grad, Real* py_grad, Real* g);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_MUTUAL_INFORMATION_CUDA_H_
