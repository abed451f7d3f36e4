// The band recursion in chunks of frames (cuda/band_chunks_cuda.cu): a scan
// whose serial part is one R x R map-vector product a chunk. The launchers of
// cuda/band_recursion_cuda.h take it for long runs of frames; it leaves the
// same workspace (flow splits) as the warp-per-item kernels, so either
// backward reads either forward's.
#ifndef XLA_RNNT_CUDA_BAND_CHUNKS_CUDA_H_
#define XLA_RNNT_CUDA_BAND_CHUNKS_CUDA_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cc/band_recursion.h"

namespace xla_rnnt {

// Widest window in chunks: a chunk's map takes a block of R warps, and
// the combine step holds a map row in registers.
inline constexpr int64_t kBandChunkMaxRows = 16;
// The launchers take chunks where T is at least kBandChunksFromFrames (a warp
// per item below; measurements: notes/gpu_kernels.md, "The band recursion in
// chunks of frames").
inline constexpr int64_t kBandChunksFromFrames = 200;

// The fewest frames a chunk: its part of the outputs (C R words) holds its
// forward map and entering values, 2 R^2 + 2 R words of (m, e) pairs.
inline constexpr int64_t BandMinChunkFrames(int64_t R) { return 2 * R + 2; }

// Frames a chunk for a request: 0 (a warp per item), > 0 (at least that many,
// raised to BandMinChunkFrames), < 0 (the launchers' choice); 0 wherever
// chunks do not serve (R outside [1, kBandChunkMaxRows], T < 2).
inline int64_t BandChunkFrames(const BandSizes& sz, int64_t requested) {
  if (requested == 0 || sz.R < 1 || sz.R > kBandChunkMaxRows || sz.T < 2) return 0;
  const int64_t least = BandMinChunkFrames(sz.R);
  if (requested > 0) return requested > least ? requested : least;
  if (sz.T < kBandChunksFromFrames) return 0;
  // The walks grow with C and the serial combine with T / C; the same H200
  // measured the best C at about sqrt(T / 2): 12-16 at T = 200-500, 24-32 at
  // T = 1000-2000, 48 at T = 4000.
  int64_t C = 1;
  while ((C + 1) * (C + 1) * 2 <= sz.T) ++C;
  return C > least ? C : least;
}

// C: frames a chunk, at least BandMinChunkFrames(R); R in [1, kBandChunkMaxRows].
template <typename Real>
cudaError_t LaunchBandChunksForward(cudaStream_t stream, const Real* px, const Real* py,
                                    const int32_t* starts, const int32_t* boundary, BandSizes sz,
                                    int64_t C, Real* scores, Real* split, Real* final_split);

template <typename Real>
cudaError_t LaunchBandChunksBackward(cudaStream_t stream, const int32_t* starts,
                                     const int32_t* boundary, BandSizes sz, int64_t C,
                                     const Real* split, const Real* final_split, Real* px_grad,
                                     Real* py_grad);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_BAND_CHUNKS_CUDA_H_
