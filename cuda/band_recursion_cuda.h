// CUDA launchers of the band recursion (cc/band_recursion.h): one warp per
// batch item, R <= kBandMaxRows (a lane per window row).
#ifndef XLA_RNNT_CUDA_BAND_RECURSION_CUDA_H_
#define XLA_RNNT_CUDA_BAND_RECURSION_CUDA_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cc/band_recursion.h"
#include "cc/targets.h"

namespace xla_rnnt {

template <typename Real>
cudaError_t LaunchBandForward(cudaStream_t stream, const Real* px, const Real* py,
                              const int32_t* starts, const int32_t* boundary, BandSizes sizes,
                              Real* scores, Real* split, Real* final_split);

template <typename Real>
cudaError_t LaunchBandBackward(cudaStream_t stream, const int32_t* starts, const int32_t* boundary,
                               BandSizes sizes, const Real* split, const Real* final_split,
                               Real* px_grad, Real* py_grad);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_BAND_RECURSION_CUDA_H_
