// The regular recursion of cc/mutual_information.h row by row, each row a
// parallel scan over its frames (cuda/mi_rows_cuda.cu). The launchers of
// cuda/mutual_information_cuda.h take it where MiRowsServe says so and the
// wavefront otherwise; both leave the same flow splits in p, so either
// backward reads either forward's workspace.
#ifndef XLA_RNNT_CUDA_MI_ROWS_CUDA_H_
#define XLA_RNNT_CUDA_MI_ROWS_CUDA_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cc/mutual_information.h"

namespace xla_rnnt {

constexpr int kRowsColsPerThread = 4;  // frames each thread owns in a row
constexpr int kRowsMaxThreads = 256;   // one block per item, 8 warps at most

// Regular lattices of T + 1 <= 1024 frames. Beyond 8 warps a row's scan
// issues more instructions than the SM's schedulers hide (an H200 measured
// the first version 1.3x slower than the wavefront at 16 warps, T = 2000, and
// 1.2x at 32), so longer rows stay on the wavefront; so does the modified
// recursion, whose cells need only the previous frame.
inline bool MiRowsServe(const MiSizes& sz) {
  return !sz.modified && sz.T + 1 <= int64_t(kRowsColsPerThread) * kRowsMaxThreads;
}

template <typename Real>
cudaError_t LaunchMiForwardRows(cudaStream_t stream, const Real* px, const Real* py,
                                const int32_t* boundary, MiSizes sizes, Real* p, Real* scores);

template <typename Real>
cudaError_t LaunchMiBackwardRows(cudaStream_t stream, const int32_t* boundary, MiSizes sizes,
                                 const Real* p, Real* px_grad, Real* py_grad);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_MI_ROWS_CUDA_H_
