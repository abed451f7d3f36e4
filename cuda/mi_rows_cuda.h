// The regular recursion of cc/mutual_information.h row by row, each row a
// parallel scan over its frames (cuda/mi_rows_cuda.cu). The launchers of
// cuda/mutual_information_cuda.h take it where MiRowsServe says so and the
// wavefront otherwise; both leave the same flow splits in p, so either
// backward reads either forward's workspace.
#ifndef XLA_RNNT_CUDA_MI_ROWS_CUDA_H_
#define XLA_RNNT_CUDA_MI_ROWS_CUDA_H_

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>

#include "cc/mutual_information.h"

namespace xla_rnnt {

constexpr int kRowsMaxThreads = 512;  // a block, 16 warps at most
// Blocks an item at most: a thread-block cluster of the portable size, whose
// blocks hand each row's value on through each other's shared memory.
constexpr int kRowsMaxTiles = 8;
// Rows of a tiled item: a hand-off slot a row in shared memory (float64:
// 16 bytes a row, 32 KiB).
constexpr int64_t kRowsMaxTiledRows = 2048;

// How a row is cut: each thread owns `frames` consecutive frames (1, 2 or 4)
// and each item takes `tiles` blocks, one run of frames each (a cluster when
// tiles > 1: compute capability 9.0, MiRowsClusters()).
struct MiRowsPlan {
  int frames, tiles;
};

// The most tiles an item can take (1 without clusters).
inline int MiRowsMaxTiles(const MiSizes& sz, bool clusters) {
  return clusters && sz.S + 1 <= kRowsMaxTiledRows ? kRowsMaxTiles : 1;
}

// The launchers' plans: the fewest frames a thread within `threads` threads a
// block and kRowsMaxTiles blocks (tiles: 1 without clusters), {0, 0} where
// none fits. An H200 measured the single-block forward fastest at 8 warps
// (16: 10% slower at T = 500) and the backward at 16 (T = 1000: 0.172 ms at
// 16 warps against 0.226 at 8); kernel_bench times every plan.
inline MiRowsPlan MiRowsPlanFor(const MiSizes& sz, int threads, bool clusters) {
  const int64_t frames = sz.T + 1;
  const int max_tiles = MiRowsMaxTiles(sz, clusters);
  // One block while it holds the row within 1024 frames (where one block an
  // item was measured), tiles beyond.
  for (int k = 1; k <= 4; k *= 2)
    if (frames <= int64_t(k) * threads && frames <= 1024) return {k, 1};
  for (int k = 1; k <= 4; k *= 2) {
    const int64_t tiles = (frames + int64_t(k) * threads - 1) / (int64_t(k) * threads);
    if (tiles <= max_tiles) return {k, int(tiles)};
  }
  return {0, 0};
}

// The forward spreads rows of 513 to 1024 frames (one block would take 4
// frames a thread) over all the tiles at 1 frame a thread: an H200 measured
// 0.345-0.349 ms against 0.428 at (16,1000,200) (and 0.378 at 4 tiles).
inline MiRowsPlan MiRowsForwardPlan(const MiSizes& sz, bool clusters) {
  const MiRowsPlan one = MiRowsPlanFor(sz, 256, clusters);
  const int max_tiles = MiRowsMaxTiles(sz, clusters);
  if (one.tiles == 1 && one.frames == 4 && max_tiles > 1) return {1, max_tiles};
  return one;
}
inline MiRowsPlan MiRowsBackwardPlan(const MiSizes& sz, bool clusters) {
  return MiRowsPlanFor(sz, kRowsMaxThreads, clusters);
}

// Whether the current device runs the tiled rows (thread-block clusters:
// compute capability 9.0, cluster launch, kernels built for it); cached per
// device.
bool MiRowsClusters();

// What the launchers can run on the row scan: regular lattices (the modified
// recursion's cells need only the previous frame) whose rows a plan holds.
inline bool MiRowsFit(const MiSizes& sz, bool clusters) {
  return !sz.modified && MiRowsForwardPlan(sz, clusters).tiles > 0 &&
         MiRowsBackwardPlan(sz, clusters).tiles > 0;
}

// Where the row scan beats the wavefront: its S + 1 rows cost less than the
// wavefront's S + T steps. Measured (H200, fwd+bwd, kernel_bench) a row of
// one block cost 2.5, 3.0, 3.9, 4.1 and 5.3 wavefront steps at T = 100, 200,
// 300, 500 and 1000, under 2.6 + (its block's frames) / 350; so rows win where
// S is well below T, as in transducer lattices of subword targets, and S near
// T stays on the wavefront.
inline bool MiRowsServe(const MiSizes& sz, bool clusters) {
  if (!MiRowsFit(sz, clusters)) return false;
  const MiRowsPlan f = MiRowsPlanFor(sz, 256, clusters);  // the plan this was measured with
  const int64_t block_frames = std::min<int64_t>(sz.T, int64_t(f.frames) * 256);
  return (sz.S + 1) * (910 + block_frames) <= 350 * (sz.S + sz.T);
}

// Both return cudaErrorInvalidValue where the plan (frames_per_thread 1, 2
// or 4, 0: the launchers' plan above; tiles 1 to kRowsMaxTiles, 0: one) cannot
// hold T + 1 frames in kRowsMaxThreads threads a block, where tiles > 1
// without clusters or with more than kRowsMaxTiledRows rows, or for a
// modified lattice. Any forward's p serves any backward, whatever the plan of
// each.
template <typename Real>
cudaError_t LaunchMiForwardRows(cudaStream_t stream, const Real* px, const Real* py,
                                const int32_t* boundary, MiSizes sizes, Real* p, Real* scores,
                                int frames_per_thread = 0, int tiles = 0);

template <typename Real>
cudaError_t LaunchMiBackwardRows(cudaStream_t stream, const int32_t* boundary, MiSizes sizes,
                                 const Real* p, Real* px_grad, Real* py_grad,
                                 int frames_per_thread = 0, int tiles = 0);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_MI_ROWS_CUDA_H_
