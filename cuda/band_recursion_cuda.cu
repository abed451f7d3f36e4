// The band recursion (cc/band_recursion.h) on the GPU: one warp per batch
// item, lane k owning window row k, values handed between lanes by shuffles
// only (no shared-memory tiles, no block barriers).
//
// Regular: cell (t, k) needs (t, k-1) and (t-1, k + starts[t] - starts[t-1]),
// so with windows that never move back lane k computes it at step
// (t - t0) + (starts[t] - starts[t0]) + k, one anti-diagonal per step:
// S + T + R steps per item, each lane walking its frames in order. Items
// whose windows move back somewhere in the box (a warp-wide scan of the
// starts first), or jump so far that the wavefront would take more steps,
// go frame by frame instead (k by k inside a frame, R steps per frame). Modified: cell (t, k) needs
// only frame t-1, so every lane computes one cell per step, T steps. The backward runs the same
// orders in reverse on the flow splits.
#include "cuda/band_recursion_cuda.h"

namespace xla_rnnt {
namespace {

constexpr int kWarps = 4;  // items per block
constexpr unsigned kFull = 0xffffffffu;

template <typename Real>
__device__ __forceinline__ Ext<Real> ShflExt(Ext<Real> v, int64_t src) {
  const int lane = static_cast<int>(src & 31);
  return {__shfl_sync(kFull, v.m, lane), __shfl_sync(kFull, v.e, lane)};
}

template <typename Real>
__device__ __forceinline__ Real Shfl(Real v, int64_t src) {
  return __shfl_sync(kFull, v, static_cast<int>(src & 31));
}

// Source lanes as 64-bit offsets: window starts may differ by 2^31 or more.
__device__ __forceinline__ bool LaneOk(int64_t src, int64_t R) { return 0 <= src && src < R; }

// The frames of an item's box that hold band cells: [first, last], empty for
// an invalid row.
struct Frames {
  int64_t first, last;
};

__device__ __forceinline__ Frames BoxFrames(const BandItem& it) {
  return it.valid ? Frames{it.t0, it.LastFrame()} : Frames{0, -1};
}

// The two terms the end cell gathers (band_recursion.h), per warp.
template <typename Real>
struct EndTerms {
  Ext<Real> a, b;
};

// One lane's forward cell (s = starts[t] + lane) from its predecessors'
// terms: writes the split, records the terms the end cell takes from it.
template <typename Real>
__device__ __forceinline__ BandCell<Real> ForwardCell(const BandItem& it, int64_t t, int64_t s,
                                                      Ext<Real> a, Ext<Real> b, Real px, Real py,
                                                      Real* split_cell, EndTerms<Real>* end) {
  const BandCell<Real> c =
      BandForwardCell(a, b, ExtFromLog(px), ExtFromLog(py), it.InBox(s, t), it.IsStart(s, t));
  *split_cell = c.split;
  if (it.IsEnd(s + 1, it.XSuccFrame(t))) end->a = c.x_out;
  if (it.IsEnd(s, t + 1)) end->b = c.y_out;
  return c;
}

// Whether the wavefront serves a regular item: its windows never move back
// in frames [first, last] (the warp's lanes read the starts 32 frames at a
// time) and its steps (frames + window moves + R) are no more than frame by
// frame's R per frame (windows that jump far, which the contract allows).
__device__ bool WavefrontServes(const BandItem& it, Frames f, int lane) {
  const int64_t frames = f.last - f.first + 1;
  if (frames + (it.Start(f.last) - it.Start(f.first)) + it.R - 1 > frames * it.R) return false;
  bool back = false;
#pragma unroll 4
  for (int64_t t = f.first + 1 + lane; t <= f.last; t += 32)
    back = back || it.Start(t) < it.Start(t - 1);
  return !__any_sync(kFull, back);
}

// Regular, where WavefrontServes: one anti-diagonal per step.
template <typename Real>
__device__ void ForwardWavefront(const BandItem& it, Frames f, const Real* px, const Real* py,
                                 Real* split, EndTerms<Real>* end, int lane) {
  const int64_t R = it.R;
  const bool live = lane < R;
  const int64_t base = it.Start(f.first);
  const int64_t steps = (f.last - f.first) + (it.Start(f.last) - base) + R;
  int64_t t = f.first;
  int64_t st = base, st_prev = base;
  int64_t step = lane;  // this lane's next cell's step
  Real pxv = live ? px[t * R + lane] : Real(0), pyv = live ? py[t * R + lane] : Real(0);
  Ext<Real> x_out = ExtZero<Real>(), y_out = ExtZero<Real>();
  for (int64_t d = 0; d < steps; ++d) {
    // Every lane hands on its last cell's terms; a reader's source computed
    // that cell at step d - 1 (its x-predecessor one row down, its
    // y-predecessor the same row a frame earlier).
    const int64_t src_y = lane + (st - st_prev);
    Ext<Real> a = ShflExt(x_out, lane - 1);
    Ext<Real> b = ShflExt(y_out, src_y);
    if (live && t <= f.last && step == d) {
      if (lane == 0) a = ExtZero<Real>();
      if (t == f.first || !LaneOk(src_y, R)) b = ExtZero<Real>();
      const BandCell<Real> c =
          ForwardCell(it, t, st + lane, a, b, pxv, pyv, split + t * R + lane, end);
      x_out = c.x_out;
      y_out = c.y_out;
      if (++t <= f.last) {
        st_prev = st;
        st = it.Start(t);
        pxv = px[t * R + lane];
        pyv = py[t * R + lane];
        step = (t - f.first) + (st - base) + lane;
      }
    }
  }
}

// Frame by frame: all lanes take the y-terms of frame t-1 at once, then the
// x-chain inside frame t runs row by row (regular), or both predecessors come
// from frame t-1 (modified).
template <typename Real>
__device__ void ForwardFrames(const BandItem& it, Frames f, const Real* px, const Real* py,
                              Real* split, EndTerms<Real>* end, int lane) {
  const int64_t R = it.R;
  const bool live = lane < R;
  Ext<Real> x_out = ExtZero<Real>(), y_out = ExtZero<Real>();
  int64_t st_prev = 0;
  for (int64_t t = f.first; t <= f.last; ++t) {
    const int64_t st = it.Start(t);
    const int64_t shift = st - st_prev;
    const bool has_prev = t > f.first;
    const Real pxv = live ? px[t * R + lane] : Real(0), pyv = live ? py[t * R + lane] : Real(0);
    Ext<Real> b = ShflExt(y_out, lane + shift);
    if (!has_prev || !LaneOk(lane + shift, R)) b = ExtZero<Real>();
    if (it.modified) {
      Ext<Real> a = ShflExt(x_out, lane - 1 + shift);
      if (!has_prev || !LaneOk(lane - 1 + shift, R)) a = ExtZero<Real>();
      if (live) {
        const BandCell<Real> c =
            ForwardCell(it, t, st + lane, a, b, pxv, pyv, split + t * R + lane, end);
        x_out = c.x_out;
        y_out = c.y_out;
      }
    } else {
      for (int64_t j = 0; j < R; ++j) {
        Ext<Real> a = ShflExt(x_out, lane - 1);
        if (lane == j) {
          if (lane == 0) a = ExtZero<Real>();
          const BandCell<Real> c =
              ForwardCell(it, t, st + lane, a, b, pxv, pyv, split + t * R + lane, end);
          x_out = c.x_out;
          y_out = c.y_out;
        }
      }
    }
    st_prev = st;
  }
}

template <typename Real>
__global__ void BandForwardKernel(const Real* px, const Real* py, const int32_t* starts,
                                  const int32_t* boundary, BandSizes sz, Real* scores, Real* split,
                                  Real* final_split) {
  __shared__ EndTerms<Real> ends[kWarps];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t b = blockIdx.x * int64_t{kWarps} + warp;
  if (b >= sz.B) return;  // whole warps
  const BandItem it = BandItemAt(starts, boundary, sz, b);
  const int64_t TR = sz.T * sz.R;
  const Real* pxb = px + b * TR;
  const Real* pyb = py + b * TR;
  Real* sb = split + b * TR;
  const Frames f = BoxFrames(it);
  // Frames outside the box: no flow (the kernels below write the others).
  const int64_t lo = f.last >= f.first ? f.first * sz.R : TR;
  const int64_t hi = f.last >= f.first ? (f.last + 1) * sz.R : TR;
  for (int64_t i = lane; i < lo; i += 32) sb[i] = Real(NAN);
  for (int64_t i = hi + lane; i < TR; i += 32) sb[i] = Real(NAN);
  EndTerms<Real>* end = &ends[warp];
  if (lane == 0) *end = {ExtZero<Real>(), ExtZero<Real>()};
  __syncwarp();
  if (f.last >= f.first && sz.R > 0) {
    if (!it.modified && WavefrontServes(it, f, lane))
      ForwardWavefront(it, f, pxb, pyb, sb, end, lane);
    else
      ForwardFrames(it, f, pxb, pyb, sb, end, lane);
  }
  __syncwarp();
  if (lane == 0) {
    const BandEnd<Real> e = BandEndCell(end->a, end->b, it);
    scores[b] = e.score;
    final_split[b] = e.split;
  }
}

// One lane's backward cell: what its successors send (the end cell's shares
// where a successor is the end), its gradients, and what it sends back.
template <typename Real>
__device__ __forceinline__ Shares<Real> BackwardCell(const BandItem& it, int64_t t, int64_t s,
                                                     Real gx, Real gy, Shares<Real> end, Real split,
                                                     Real* px_grad, Real* py_grad) {
  if (it.IsEnd(s + 1, it.XSuccFrame(t))) gx = end.a;
  if (it.IsEnd(s, t + 1)) gy = end.b;
  const bool in_box = it.InBox(s, t);
  *px_grad = in_box ? gx : Real(0);
  *py_grad = in_box ? gy : Real(0);
  return BandBackwardCell(gx, gy, split, in_box, it.IsEnd(s, t));
}

template <typename Real>
__device__ void BackwardWavefront(const BandItem& it, Frames f, const Real* split, Shares<Real> end,
                                  Real* px_grad, Real* py_grad, int lane) {
  const int64_t R = it.R;
  const bool live = lane < R;
  const int64_t base = it.Start(f.first);
  const int64_t steps = (f.last - f.first) + (it.Start(f.last) - base) + R;
  int64_t t = f.last;
  int64_t st = it.Start(t), st_next = st;
  int64_t step = (t - f.first) + (st - base) + lane;
  Real sv = live ? split[t * R + lane] : Real(0);
  Real to_x = Real(0), to_y = Real(0);
  for (int64_t d = steps - 1; d >= 0; --d) {
    const int64_t src_y = lane - (st_next - st);
    Real gx = Shfl(to_x, lane + 1);
    Real gy = Shfl(to_y, src_y);
    if (live && t >= f.first && step == d) {
      if (!LaneOk(lane + 1, R)) gx = Real(0);
      if (t == f.last || !LaneOk(src_y, R)) gy = Real(0);
      const Shares<Real> out = BackwardCell(it, t, st + lane, gx, gy, end, sv,
                                            px_grad + t * R + lane, py_grad + t * R + lane);
      to_x = out.a;
      to_y = out.b;
      if (--t >= f.first) {
        st_next = st;
        st = it.Start(t);
        sv = split[t * R + lane];
        step = (t - f.first) + (st - base) + lane;
      }
    }
  }
}

template <typename Real>
__device__ void BackwardFrames(const BandItem& it, Frames f, const Real* split, Shares<Real> end,
                               Real* px_grad, Real* py_grad, int lane) {
  const int64_t R = it.R;
  const bool live = lane < R;
  Real to_x = Real(0), to_y = Real(0);
  int64_t st_next = 0;
  for (int64_t t = f.last; t >= f.first; --t) {
    const int64_t st = it.Start(t);
    const int64_t shift = st_next - st;
    const bool has_next = t < f.last;
    const Real sv = live ? split[t * R + lane] : Real(0);
    Real gy = Shfl(to_y, lane - shift);
    if (!has_next || !LaneOk(lane - shift, R)) gy = Real(0);
    if (it.modified) {
      Real gx = Shfl(to_x, lane + 1 - shift);
      if (!has_next || !LaneOk(lane + 1 - shift, R)) gx = Real(0);
      if (live) {
        const Shares<Real> out = BackwardCell(it, t, st + lane, gx, gy, end, sv,
                                              px_grad + t * R + lane, py_grad + t * R + lane);
        to_x = out.a;
        to_y = out.b;
      }
    } else {
      for (int64_t j = R - 1; j >= 0; --j) {
        Real gx = Shfl(to_x, lane + 1);
        if (lane == j) {
          if (!LaneOk(lane + 1, R)) gx = Real(0);
          const Shares<Real> out = BackwardCell(it, t, st + lane, gx, gy, end, sv,
                                                px_grad + t * R + lane, py_grad + t * R + lane);
          to_x = out.a;
          to_y = out.b;
        }
      }
    }
    st_next = st;
  }
}

template <typename Real>
__global__ void BandBackwardKernel(const int32_t* starts, const int32_t* boundary, BandSizes sz,
                                   const Real* split, const Real* final_split, Real* px_grad,
                                   Real* py_grad) {
  const int lane = threadIdx.x % 32;
  const int64_t b = blockIdx.x * int64_t{kWarps} + threadIdx.x / 32;
  if (b >= sz.B) return;
  const BandItem it = BandItemAt(starts, boundary, sz, b);
  const int64_t TR = sz.T * sz.R;
  const Real* sb = split + b * TR;
  Real* gxb = px_grad + b * TR;
  Real* gyb = py_grad + b * TR;
  const Frames f = BoxFrames(it);
  const int64_t lo = f.last >= f.first ? f.first * sz.R : TR;
  const int64_t hi = f.last >= f.first ? (f.last + 1) * sz.R : TR;
  for (int64_t i = lane; i < lo; i += 32) gxb[i] = gyb[i] = Real(0);
  for (int64_t i = hi + lane; i < TR; i += 32) gxb[i] = gyb[i] = Real(0);
  const Shares<Real> end = SplitShares(it.valid ? final_split[b] : Real(NAN));
  if (f.last >= f.first && sz.R > 0) {
    if (!it.modified && WavefrontServes(it, f, lane))
      BackwardWavefront(it, f, sb, end, gxb, gyb, lane);
    else
      BackwardFrames(it, f, sb, end, gxb, gyb, lane);
  }
}

}  // namespace

template <typename Real>
cudaError_t LaunchBandForward(cudaStream_t stream, const Real* px, const Real* py,
                              const int32_t* starts, const int32_t* boundary, BandSizes sz,
                              Real* scores, Real* split, Real* final_split) {
  if (sz.R > kBandMaxR) return cudaErrorInvalidValue;
  if (sz.B == 0) return cudaSuccess;
  const int64_t blocks = (sz.B + kWarps - 1) / kWarps;
  BandForwardKernel<Real><<<static_cast<unsigned>(blocks), 32 * kWarps, 0, stream>>>(
      px, py, starts, boundary, sz, scores, split, final_split);
  return cudaGetLastError();
}

template <typename Real>
cudaError_t LaunchBandBackward(cudaStream_t stream, const int32_t* starts, const int32_t* boundary,
                               BandSizes sz, const Real* split, const Real* final_split,
                               Real* px_grad, Real* py_grad) {
  if (sz.R > kBandMaxR) return cudaErrorInvalidValue;
  if (sz.B == 0) return cudaSuccess;
  const int64_t blocks = (sz.B + kWarps - 1) / kWarps;
  BandBackwardKernel<Real><<<static_cast<unsigned>(blocks), 32 * kWarps, 0, stream>>>(
      starts, boundary, sz, split, final_split, px_grad, py_grad);
  return cudaGetLastError();
}

template cudaError_t LaunchBandForward<float>(cudaStream_t, const float*, const float*,
                                              const int32_t*, const int32_t*, BandSizes, float*,
                                              float*, float*);
template cudaError_t LaunchBandForward<double>(cudaStream_t, const double*, const double*,
                                               const int32_t*, const int32_t*, BandSizes, double*,
                                               double*, double*);
template cudaError_t LaunchBandBackward<float>(cudaStream_t, const int32_t*, const int32_t*,
                                               BandSizes, const float*, const float*, float*,
                                               float*);
template cudaError_t LaunchBandBackward<double>(cudaStream_t, const int32_t*, const int32_t*,
                                                BandSizes, const double*, const double*, double*,
                                                double*);

}  // namespace xla_rnnt
