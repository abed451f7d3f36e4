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

constexpr int kRowsMaxThreads = 512;  // one block per item, 16 warps at most

// The frames each thread owns in a row (1, 2 or 4), as the launchers choose
// them: the fewest that keep the forward within 8 warps and the backward
// within 16. Fewer frames a thread mean more warps, a shorter walk and fewer
// compositions per thread; an H200 measured the forward fastest at 8 warps
// (16: 10% slower at T = 500) and the backward at 16 (T = 1000: 0.172 ms at
// 16 warps against 0.226 at 8; kernel_bench times all three).
inline int MiRowsForwardFrames(const MiSizes& sz) {
  return sz.T + 1 <= 256 ? 1 : sz.T + 1 <= 512 ? 2 : 4;
}
inline int MiRowsBackwardFrames(const MiSizes& sz) { return sz.T + 1 <= 512 ? 1 : 2; }

// What the launchers can run on the row scan: regular lattices of T + 1 <=
// 1024 frames (the modified recursion's cells need only the previous frame;
// longer rows lost to the wavefront at 16 warps: 1.86 against 1.49 ms at
// (8, 2000, 400)).
inline bool MiRowsFit(const MiSizes& sz) { return !sz.modified && sz.T + 1 <= 1024; }

// Where the row scan beats the wavefront: its S + 1 rows cost less than the
// wavefront's S + T steps. Measured (H200, fwd+bwd, kernel_bench) a row cost
// 2.5, 3.0, 3.9, 4.1 and 5.3 wavefront steps at T = 100, 200, 300, 500 and
// 1000, under 2.6 + T / 350; so rows win where S is well below T, as in
// transducer lattices of subword targets, and S near T stays on the wavefront.
inline bool MiRowsServe(const MiSizes& sz) {
  return MiRowsFit(sz) && (sz.S + 1) * (910 + sz.T) <= 350 * (sz.S + sz.T);
}

// Both return cudaErrorInvalidValue where !MiRowsFit(sizes) or where
// frames_per_thread (1, 2 or 4; 0: the launchers' choice above) cannot hold
// T + 1 frames in kRowsMaxThreads threads. Any forward's p serves any
// backward, whatever the frames of each.
template <typename Real>
cudaError_t LaunchMiForwardRows(cudaStream_t stream, const Real* px, const Real* py,
                                const int32_t* boundary, MiSizes sizes, Real* p, Real* scores,
                                int frames_per_thread = 0);

template <typename Real>
cudaError_t LaunchMiBackwardRows(cudaStream_t stream, const int32_t* boundary, MiSizes sizes,
                                 const Real* p, Real* px_grad, Real* py_grad,
                                 int frames_per_thread = 0);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_MI_ROWS_CUDA_H_
