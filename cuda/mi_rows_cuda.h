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

// Where the row scan beats the wavefront: regular lattices of T + 1 <= 1024
// frames whose S + 1 rows cost less than the wavefront's S + T steps. Beyond
// 8 warps a row's scan issues more than the schedulers hide (an H200 measured
// the first version 1.3x slower at 16 warps, T = 2000, 1.2x at 32). Below, a
// row cost 3.9, 4.3, 4.8, 4.7 and 5.8 wavefront steps (fwd+bwd) at 1, 2, 3, 4
// and 8 warps, i.e. about 3.6 + 0.3 per warp, so rows win only where S is
// well below T, as in transducer lattices of subword targets; S near T stays
// on the wavefront. So does the modified recursion (its cells need only the
// previous frame).
inline bool MiRowsFit(const MiSizes& sz) {  // what the kernels can run at all
  return !sz.modified && sz.T + 1 <= int64_t(kRowsColsPerThread) * kRowsMaxThreads;
}
inline bool MiRowsServe(const MiSizes& sz) {
  if (!MiRowsFit(sz)) return false;
  const int64_t warps = (sz.T + 1 + 32 * kRowsColsPerThread - 1) / (32 * kRowsColsPerThread);
  return (sz.S + 1) * (36 + 3 * warps) <= 10 * (sz.S + sz.T);
}

// Both return cudaErrorInvalidValue where !MiRowsFit(sizes).
template <typename Real>
cudaError_t LaunchMiForwardRows(cudaStream_t stream, const Real* px, const Real* py,
                                const int32_t* boundary, MiSizes sizes, Real* p, Real* scores);

template <typename Real>
cudaError_t LaunchMiBackwardRows(cudaStream_t stream, const int32_t* boundary, MiSizes sizes,
                                 const Real* p, Real* px_grad, Real* py_grad);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_MI_ROWS_CUDA_H_
