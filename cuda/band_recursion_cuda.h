// CUDA launchers of the band recursion (cc/band_recursion.h), R <=
// kBandMaxRows: one warp per batch item (a lane per window row), or for long
// runs of frames the chunked scan of cuda/band_chunks_cuda.h.
#ifndef XLA_RNNT_CUDA_BAND_RECURSION_CUDA_H_
#define XLA_RNNT_CUDA_BAND_RECURSION_CUDA_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cc/band_recursion.h"
#include "cc/targets.h"
#include "cuda/band_chunks_cuda.h"

namespace xla_rnnt {

// chunk_frames: as BandChunkFrames takes it (-1: the launchers' choice, 0: a
// warp per item, > 0: chunks of at least that many frames where they serve).
template <typename Real>
cudaError_t LaunchBandForward(cudaStream_t stream, const Real* px, const Real* py,
                              const int32_t* starts, const int32_t* boundary, BandSizes sizes,
                              Real* scores, Real* split, Real* final_split,
                              int64_t chunk_frames = -1);

template <typename Real>
cudaError_t LaunchBandBackward(cudaStream_t stream, const int32_t* starts, const int32_t* boundary,
                               BandSizes sizes, const Real* split, const Real* final_split,
                               Real* px_grad, Real* py_grad, int64_t chunk_frames = -1);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_BAND_RECURSION_CUDA_H_
