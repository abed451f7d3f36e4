// The band recursion (cc/band_recursion.h) over an item's frames in chunks,
// so that the serial part is one small product per chunk instead of one
// step per cell.
//
// In the linear extended-range numbers the recursion is linear from frame to
// frame: the R values of frame t are a fixed R x R map of those of frame t-1
// (whatever the windows do), and a run of frames composes to one such map.
// So, for an item's frames [first, last] in chunks of C frames (the last one
// C to 2C - 1):
//   1. maps, every chunk at once: chunk c's map from the values of the frame
//      before it to those of its last frame, by walking the chunk once per
//      unit vector (a warp each); chunk 0 walks from the item's start cell
//      instead and gives the values entering chunk 1;
//   2. combine, a warp an item: the values entering each chunk, one
//      map-vector product a chunk;
//   3. replay, every chunk at once: each chunk walks its frames from its
//      entering values and writes its splits, as the warp-per-item kernels
//      do (the last one computes the end cell).
// The backward is the same on the occupations, from the last chunk down
// (its maps are of plain numbers: shares and occupations are at most 1).
// Each walk takes the wavefront where the windows never move back (C +
// window moves + R steps, cuda/band_wave.h), else frame by frame; so the
// serial work per item is about two walks of a chunk and frames / C
// products instead of frames + window moves + R cell steps.
//
// Workspace: a chunk keeps its map and entering values in its own part of
// the output it will overwrite last (forward: split, chunks 1..n-1, maps of
// 1..n-2, 2 R^2 + 2 R words of (m, e) pairs; backward: px_grad, chunks
// 0..n-2, maps of 1..n-2, R^2 + R words; a chunk has C R words), so the
// targets need no extra buffers; a chunk's replay reads them before it
// writes there.
#include "cuda/band_chunks_cuda.h"

#include "cuda/band_wave.h"

namespace xla_rnnt {
namespace {

using namespace band;  // NOLINT: the lanes' device pieces

constexpr int kReplayWarps = 4;  // chunks a block in the replay and combine kernels

// An item's frames [first, last] in n chunks of C frames, the last C..2C-1.
struct Chunks {
  int64_t first, last, C, n;
  __device__ int64_t Begin(int64_t c) const { return first + c * C; }
  __device__ int64_t End(int64_t c) const { return c + 1 == n ? last : first + (c + 1) * C - 1; }
};

__device__ __forceinline__ Chunks ChunksOf(const BandItem& it, int64_t C) {
  const Frames f = BoxFrames(it);
  const int64_t frames = f.last - f.first + 1;
  return {f.first, f.last, C, frames <= 0 ? 0 : (frames / C > 1 ? frames / C : 1)};
}

// Chunk c's part of an item's [T, R] output.
template <typename Real>
__device__ __forceinline__ Real* Region(Real* item, const Chunks& k, int64_t c, int64_t R) {
  return item + k.Begin(c) * R;
}

// An (m, e) pair in two words of a Real array.
template <typename Real>
__device__ __forceinline__ void StoreExt(Real* w, Ext<Real> v) {
  using Int = typename ExtBits<Real>::Int;
  w[0] = v.m;
  *reinterpret_cast<Int*>(w + 1) = Int(v.e);
}

template <typename Real>
__device__ __forceinline__ Ext<Real> LoadExt(const Real* w) {
  using Int = typename ExtBits<Real>::Int;
  return {w[0], static_cast<int>(*reinterpret_cast<const Int*>(w + 1))};
}

// Forward region layout: map entry (k, j) (row k of the chunk's last frame
// from row j of the frame before it) at 2 (k R + j), entering value k at
// 2 R^2 + 2 k.
__device__ __forceinline__ int64_t FwdMapAt(int64_t R, int64_t k, int64_t j) {
  return 2 * (k * R + j);
}
__device__ __forceinline__ int64_t FwdStateAt(int64_t R, int64_t k) { return 2 * R * R + 2 * k; }
// Backward: (k, j) (row k of the chunk's first frame from row j of the frame
// after its last) at k R + j, entering occupation k at R^2 + k.
__device__ __forceinline__ int64_t BwdMapAt(int64_t R, int64_t k, int64_t j) { return k * R + j; }
__device__ __forceinline__ int64_t BwdStateAt(int64_t R, int64_t k) { return R * R + k; }

// Step 1 forward: a block (R warps) per (item, chunk). Block c = 0 walks
// chunk 0 from the start (all of the item when it is one chunk); block c in
// [1, n - 2] computes chunk c's map, warp j from unit vector j.
template <typename Real>
__global__ void ForwardMapsKernel(const Real* px, const Real* py, const int32_t* starts,
                                  const int32_t* boundary, BandSizes sz, int64_t C,
                                  int64_t max_chunks, Real* scores, Real* split,
                                  Real* final_split) {
  __shared__ EndTerms<Real> end;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t b = blockIdx.x / max_chunks, c = blockIdx.x % max_chunks;
  const BandItem it = BandItemAt(starts, boundary, sz, b);
  const Chunks k = ChunksOf(it, C);
  const int64_t R = sz.R, TR = sz.T * sz.R;
  const Real* pxb = px + b * TR;
  const Real* pyb = py + b * TR;
  Real* sb = split + b * TR;
  if (c == 0) {
    if (warp != 0) return;
    FillOutside(sb, BoxFrames(it), sz, Real(NAN), lane);
    if (lane == 0) end = {ExtZero<Real>(), ExtZero<Real>()};
    __syncwarp();
    if (k.n > 0) {
      const Ext<Real> p = ForwardRun<Real, true>(it, k.first, k.End(0), NoForwardCarry<Real>(), pxb,
                                                 pyb, sb, &end, lane);
      if (k.n > 1) {
        if (lane < R) StoreExt(Region(sb, k, 1, R) + FwdStateAt(R, lane), p);
        return;
      }
    }
    __syncwarp();
    if (lane == 0) WriteEnd(end, it, b, scores, final_split);
    return;
  }
  if (c >= k.n - 1) return;  // the last chunk needs no map
  const Ext<Real> unit = lane == warp ? ExtOne<Real>() : ExtZero<Real>();
  const Ext<Real> p = ForwardRun<Real, false>(
      it, k.Begin(c), k.End(c), ForwardCarryOf(it, k.Begin(c) - 1, unit, pxb, pyb, lane), pxb, pyb,
      sb, nullptr, lane);
  if (lane < R) StoreExt(Region(sb, k, c, R) + FwdMapAt(R, lane, warp), p);
}

// The item of this warp in step 2 (a warp per item) and its chunks; false
// where there is none, or where it has fewer than 3 chunks (step 1 then gave
// every chunk its entering values).
__device__ __forceinline__ bool CombineItem(const int32_t* starts, const int32_t* boundary,
                                            const BandSizes& sz, int64_t C, int64_t* b,
                                            BandItem* it, Chunks* k) {
  *b = blockIdx.x * int64_t{kReplayWarps} + threadIdx.x / 32;
  if (*b >= sz.B) return false;
  *it = BandItemAt(starts, boundary, sz, *b);
  *k = ChunksOf(*it, C);
  return k->n >= 3;
}

// Step 2 forward: a warp per item; lane k holds entering value k.
template <typename Real>
__global__ void ForwardCombineKernel(const int32_t* starts, const int32_t* boundary, BandSizes sz,
                                     int64_t C, Real* split) {
  const int lane = threadIdx.x % 32;
  int64_t b;
  BandItem it;
  Chunks k;
  if (!CombineItem(starts, boundary, sz, C, &b, &it, &k)) return;
  const int64_t R = sz.R;
  const bool live = lane < R;
  Real* sb = split + b * sz.T * R;
  Ext<Real> v = live ? LoadExt(Region(sb, k, 1, R) + FwdStateAt(R, lane)) : ExtZero<Real>();
  // Row `lane` of map c (row) and of map c + 1 (next), loaded a product ahead.
  Ext<Real> row[kBandChunkMaxRows], next[kBandChunkMaxRows] = {};
  auto load = [&](Ext<Real>* dst, int64_t c) {
    const Real* m = Region(sb, k, c, R);
#pragma unroll
    for (int j = 0; j < kBandChunkMaxRows; ++j)
      dst[j] = live && j < R ? LoadExt(m + FwdMapAt(R, lane, j)) : ExtZero<Real>();
  };
  load(row, 1);
  for (int64_t c = 1; c + 1 < k.n; ++c) {
    if (c + 2 < k.n) load(next, c + 1);
    Ext<Real> acc = ExtZero<Real>();
#pragma unroll
    for (int j = 0; j < kBandChunkMaxRows; ++j) {
      if (j >= R) break;
      acc = ExtAdd(acc, ExtMul(row[j], ShflExt(v, j)));
    }
    v = ExtNormalize(acc);
    if (live) StoreExt(Region(sb, k, c + 1, R) + FwdStateAt(R, lane), v);
#pragma unroll
    for (int j = 0; j < kBandChunkMaxRows; ++j) row[j] = next[j];
  }
}

// Step 3 forward: a warp per (item, chunk c >= 1).
template <typename Real>
__global__ void ForwardReplayKernel(const Real* px, const Real* py, const int32_t* starts,
                                    const int32_t* boundary, BandSizes sz, int64_t C,
                                    int64_t max_chunks, Real* scores, Real* split,
                                    Real* final_split) {
  __shared__ EndTerms<Real> ends[kReplayWarps];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t w = blockIdx.x * int64_t{kReplayWarps} + warp;
  const int64_t b = w / max_chunks, c = w % max_chunks;
  if (b >= sz.B) return;
  const BandItem it = BandItemAt(starts, boundary, sz, b);
  const Chunks k = ChunksOf(it, C);
  if (c < 1 || c >= k.n) return;
  const int64_t R = sz.R, TR = sz.T * sz.R;
  const Real* pxb = px + b * TR;
  const Real* pyb = py + b * TR;
  Real* sb = split + b * TR;
  const Ext<Real> p0 =
      lane < R ? LoadExt(Region(sb, k, c, R) + FwdStateAt(R, lane)) : ExtZero<Real>();
  EndTerms<Real>* end = &ends[warp];
  if (lane == 0) *end = {ExtZero<Real>(), ExtZero<Real>()};
  __syncwarp();  // every lane has read the workspace before the splits overwrite it
  ForwardRun<Real, true>(it, k.Begin(c), k.End(c),
                         ForwardCarryOf(it, k.Begin(c) - 1, p0, pxb, pyb, lane), pxb, pyb, sb, end,
                         lane);
  __syncwarp();
  if (c == k.n - 1 && lane == 0) WriteEnd(*end, it, b, scores, final_split);
}

// Step 1 backward: block c = 0 walks the last chunk from the end cell (all
// of the item when it is one chunk); block c in [1, n - 2] computes chunk c's
// map, warp j from unit vector j at the frame after the chunk.
template <typename Real>
__global__ void BackwardMapsKernel(const int32_t* starts, const int32_t* boundary, BandSizes sz,
                                   int64_t C, int64_t max_chunks, const Real* split,
                                   const Real* final_split, Real* px_grad, Real* py_grad) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t b = blockIdx.x / max_chunks, c = blockIdx.x % max_chunks;
  const BandItem it = BandItemAt(starts, boundary, sz, b);
  const Chunks k = ChunksOf(it, C);
  const int64_t R = sz.R, TR = sz.T * sz.R;
  const Real* sb = split + b * TR;
  Real* gxb = px_grad + b * TR;
  Real* gyb = py_grad + b * TR;
  const Shares<Real> end = EndShares(it, final_split, b);
  if (c == 0) {
    if (warp != 0) return;
    FillOutside(gxb, BoxFrames(it), sz, Real(0), lane);
    FillOutside(gyb, BoxFrames(it), sz, Real(0), lane);
    if (k.n == 0) return;
    const int64_t lc = k.n - 1;
    const Real g = BackwardRun<Real, true>(it, k.Begin(lc), k.last, NoBackwardCarry<Real>(), sb,
                                           end, gxb, gyb, lane);
    if (k.n > 1 && lane < R) Region(gxb, k, lc - 1, R)[BwdStateAt(R, lane)] = g;
    return;
  }
  if (c >= k.n - 1) return;
  const Real unit = lane == warp ? Real(1) : Real(0);
  const Real g = BackwardRun<Real, false>(it, k.Begin(c), k.End(c),
                                          BackwardCarryOf(it, k.End(c) + 1, unit, sb, lane), sb,
                                          end, gxb, gyb, lane);
  if (lane < R) Region(gxb, k, c, R)[BwdMapAt(R, lane, warp)] = g;
}

// Step 2 backward: a warp per item, chunk n - 2 down to 1.
template <typename Real>
__global__ void BackwardCombineKernel(const int32_t* starts, const int32_t* boundary, BandSizes sz,
                                      int64_t C, Real* px_grad) {
  const int lane = threadIdx.x % 32;
  int64_t b;
  BandItem it;
  Chunks k;
  if (!CombineItem(starts, boundary, sz, C, &b, &it, &k)) return;
  const int64_t R = sz.R;
  const bool live = lane < R;
  Real* gxb = px_grad + b * sz.T * R;
  Real v = live ? Region(gxb, k, k.n - 2, R)[BwdStateAt(R, lane)] : Real(0);
  // Row `lane` of map c (row) and of map c - 1 (next), loaded a product ahead.
  Real row[kBandChunkMaxRows], next[kBandChunkMaxRows] = {};
  auto load = [&](Real* dst, int64_t c) {
    const Real* m = Region(gxb, k, c, R);
#pragma unroll
    for (int j = 0; j < kBandChunkMaxRows; ++j)
      dst[j] = live && j < R ? m[BwdMapAt(R, lane, j)] : Real(0);
  };
  load(row, k.n - 2);
  for (int64_t c = k.n - 2; c >= 1; --c) {
    if (c >= 2) load(next, c - 1);
    Real acc = Real(0);
#pragma unroll
    for (int j = 0; j < kBandChunkMaxRows; ++j) {
      if (j >= R) break;
      acc = fma(row[j], Shfl(v, j), acc);
    }
    v = acc;
    if (live) Region(gxb, k, c - 1, R)[BwdStateAt(R, lane)] = v;
#pragma unroll
    for (int j = 0; j < kBandChunkMaxRows; ++j) row[j] = next[j];
  }
}

// Step 3 backward: a warp per (item, chunk c <= n - 2).
template <typename Real>
__global__ void BackwardReplayKernel(const int32_t* starts, const int32_t* boundary, BandSizes sz,
                                     int64_t C, int64_t max_chunks, const Real* split,
                                     const Real* final_split, Real* px_grad, Real* py_grad) {
  const int lane = threadIdx.x % 32;
  const int64_t w = blockIdx.x * int64_t{kReplayWarps} + threadIdx.x / 32;
  const int64_t b = w / max_chunks, c = w % max_chunks;
  if (b >= sz.B) return;
  const BandItem it = BandItemAt(starts, boundary, sz, b);
  const Chunks k = ChunksOf(it, C);
  if (c >= k.n - 1) return;
  const int64_t R = sz.R, TR = sz.T * sz.R;
  const Real* sb = split + b * TR;
  Real* gxb = px_grad + b * TR;
  Real* gyb = py_grad + b * TR;
  const Shares<Real> end = EndShares(it, final_split, b);
  const Real g0 = lane < R ? Region(gxb, k, c, R)[BwdStateAt(R, lane)] : Real(0);
  __syncwarp();  // every lane has read the workspace before the gradients overwrite it
  BackwardRun<Real, true>(it, k.Begin(c), k.End(c), BackwardCarryOf(it, k.End(c) + 1, g0, sb, lane),
                          sb, end, gxb, gyb, lane);
}

// Chunks of the longest possible item: the grids' chunk index runs over them.
int64_t MaxChunks(const BandSizes& sz, int64_t C) { return sz.T / C > 1 ? sz.T / C : 1; }

unsigned Blocks(int64_t warps, int64_t per_block) {
  return static_cast<unsigned>((warps + per_block - 1) / per_block);
}

}  // namespace

template <typename Real>
cudaError_t LaunchBandChunksForward(cudaStream_t stream, const Real* px, const Real* py,
                                    const int32_t* starts, const int32_t* boundary, BandSizes sz,
                                    int64_t C, Real* scores, Real* split, Real* final_split) {
  if (sz.R < 1 || sz.R > kBandChunkMaxRows || C < BandMinChunkFrames(sz.R))
    return cudaErrorInvalidValue;
  if (sz.B == 0) return cudaSuccess;
  const int64_t max_chunks = MaxChunks(sz, C);
  const int threads = static_cast<int>(32 * sz.R);
  ForwardMapsKernel<Real><<<Blocks(sz.B * max_chunks, 1), threads, 0, stream>>>(
      px, py, starts, boundary, sz, C, max_chunks, scores, split, final_split);
  ForwardCombineKernel<Real><<<Blocks(sz.B, kReplayWarps), 32 * kReplayWarps, 0, stream>>>(
      starts, boundary, sz, C, split);
  ForwardReplayKernel<Real>
      <<<Blocks(sz.B * max_chunks, kReplayWarps), 32 * kReplayWarps, 0, stream>>>(
          px, py, starts, boundary, sz, C, max_chunks, scores, split, final_split);
  return cudaGetLastError();
}

template <typename Real>
cudaError_t LaunchBandChunksBackward(cudaStream_t stream, const int32_t* starts,
                                     const int32_t* boundary, BandSizes sz, int64_t C,
                                     const Real* split, const Real* final_split, Real* px_grad,
                                     Real* py_grad) {
  if (sz.R < 1 || sz.R > kBandChunkMaxRows || C < BandMinChunkFrames(sz.R))
    return cudaErrorInvalidValue;
  if (sz.B == 0) return cudaSuccess;
  const int64_t max_chunks = MaxChunks(sz, C);
  const int threads = static_cast<int>(32 * sz.R);
  BackwardMapsKernel<Real><<<Blocks(sz.B * max_chunks, 1), threads, 0, stream>>>(
      starts, boundary, sz, C, max_chunks, split, final_split, px_grad, py_grad);
  BackwardCombineKernel<Real><<<Blocks(sz.B, kReplayWarps), 32 * kReplayWarps, 0, stream>>>(
      starts, boundary, sz, C, px_grad);
  BackwardReplayKernel<Real>
      <<<Blocks(sz.B * max_chunks, kReplayWarps), 32 * kReplayWarps, 0, stream>>>(
          starts, boundary, sz, C, max_chunks, split, final_split, px_grad, py_grad);
  return cudaGetLastError();
}

template cudaError_t LaunchBandChunksForward<float>(cudaStream_t, const float*, const float*,
                                                    const int32_t*, const int32_t*, BandSizes,
                                                    int64_t, float*, float*, float*);
template cudaError_t LaunchBandChunksForward<double>(cudaStream_t, const double*, const double*,
                                                     const int32_t*, const int32_t*, BandSizes,
                                                     int64_t, double*, double*, double*);
template cudaError_t LaunchBandChunksBackward<float>(cudaStream_t, const int32_t*, const int32_t*,
                                                     BandSizes, int64_t, const float*, const float*,
                                                     float*, float*);
template cudaError_t LaunchBandChunksBackward<double>(cudaStream_t, const int32_t*, const int32_t*,
                                                      BandSizes, int64_t, const double*,
                                                      const double*, double*, double*);

}  // namespace xla_rnnt
