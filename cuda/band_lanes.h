// Device pieces of the band kernels (include from .cu files): lane k of a
// warp owns window row k, and the frame-by-frame walks over a run of frames
// that both the warp-per-item kernels (cuda/band_recursion_cuda.cu) and the
// chunked scan (cuda/band_chunks_cuda.cu) take. A walk starts from what the
// frame before the run (forward) or after it (backward) hands on, nothing at
// the item's first or last frame, so a run can start anywhere in an item.
#ifndef XLA_RNNT_CUDA_BAND_LANES_H_
#define XLA_RNNT_CUDA_BAND_LANES_H_

#include <cstdint>

#include "cc/band_recursion.h"

namespace xla_rnnt {
namespace band {

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

// Fills an item's [T, R] output outside the frames f (everywhere when f is
// empty) with v: the kernels write the frames inside themselves.
template <typename Real>
__device__ void FillOutside(Real* item, Frames f, const BandSizes& sz, Real v, int lane) {
  const int64_t TR = sz.T * sz.R;
  const bool any = f.last >= f.first;
  const int64_t lo = any ? f.first * sz.R : TR, hi = any ? (f.last + 1) * sz.R : TR;
  for (int64_t i = lane; i < lo; i += 32) item[i] = v;
  for (int64_t i = hi + lane; i < TR; i += 32) item[i] = v;
}

// The two terms the end cell gathers (band_recursion.h), per warp.
template <typename Real>
struct EndTerms {
  Ext<Real> a, b;
};

// Item b's score and final split from the end cell's terms.
template <typename Real>
__device__ __forceinline__ void WriteEnd(const EndTerms<Real>& e, const BandItem& it, int64_t b,
                                         Real* scores, Real* final_split) {
  const BandEnd<Real> end = BandEndCell(e.a, e.b, it);
  scores[b] = end.score;
  final_split[b] = end.split;
}

// The end cell's shares for its predecessors (none for an invalid row).
template <typename Real>
__device__ __forceinline__ Shares<Real> EndShares(const BandItem& it, const Real* final_split,
                                                  int64_t b) {
  return SplitShares(it.valid ? final_split[b] : Real(NAN));
}

// What the frame before a forward walk's first hands on: its cells' terms
// (lane = row) and its window's start; none at the item's first frame.
template <typename Real>
struct ForwardCarry {
  Ext<Real> x_out, y_out;
  int64_t st_prev;
  bool has_prev;
};

template <typename Real>
__device__ __forceinline__ ForwardCarry<Real> NoForwardCarry() {
  return {ExtZero<Real>(), ExtZero<Real>(), 0, false};
}

// The carry of frame t whose cells (lane = row) hold the values p.
template <typename Real>
__device__ __forceinline__ ForwardCarry<Real> ForwardCarryOf(const BandItem& it, int64_t t,
                                                             Ext<Real> p, const Real* px,
                                                             const Real* py, int lane) {
  const int64_t st = it.Start(t);
  if (lane >= it.R) return {ExtZero<Real>(), ExtZero<Real>(), st, true};
  const int64_t i = t * it.R + lane;
  const BandCell<Real> c =
      BandTerms(p, ExtFromLog(px[i]), ExtFromLog(py[i]), it.InBox(st + lane, t), Real(NAN));
  return {c.x_out, c.y_out, st, true};
}

// Frames [t_first, t_last] frame by frame: all lanes take the y-terms of
// frame t-1 at once, then the x-chain inside frame t runs row by row
// (regular), or both predecessors come from frame t-1 (modified). kWrite:
// writes the splits and records the end cell's terms. Returns the values of
// the last frame's cells (lane = row).
template <typename Real, bool kWrite>
__device__ Ext<Real> ForwardFramesRun(const BandItem& it, int64_t t_first, int64_t t_last,
                                      ForwardCarry<Real> carry, const Real* px, const Real* py,
                                      Real* split, EndTerms<Real>* end, int lane) {
  const int64_t R = it.R;
  const bool live = lane < R;
  Ext<Real> x_out = carry.x_out, y_out = carry.y_out, p = ExtZero<Real>();
  int64_t st_prev = carry.st_prev;
  bool has_prev = carry.has_prev;
  for (int64_t t = t_first; t <= t_last; ++t) {
    const int64_t st = it.Start(t);
    const int64_t shift = st - st_prev;
    const Real pxv = live ? px[t * R + lane] : Real(0), pyv = live ? py[t * R + lane] : Real(0);
    Ext<Real> b = ShflExt(y_out, lane + shift);
    if (!has_prev || !LaneOk(lane + shift, R)) b = ExtZero<Real>();
    // One cell: its split, and the terms the end cell takes from it.
    auto cell = [&](Ext<Real> a) {
      const int64_t s = st + lane;
      const BandCell<Real> c =
          BandForwardCell(a, b, ExtFromLog(pxv), ExtFromLog(pyv), it.InBox(s, t), it.IsStart(s, t));
      if (kWrite) {
        split[t * R + lane] = c.split;
        if (it.IsEnd(s + 1, it.XSuccFrame(t))) end->a = c.x_out;
        if (it.IsEnd(s, t + 1)) end->b = c.y_out;
      }
      x_out = c.x_out;
      y_out = c.y_out;
      p = c.p;
    };
    if (it.modified) {
      Ext<Real> a = ShflExt(x_out, lane - 1 + shift);
      if (!has_prev || !LaneOk(lane - 1 + shift, R)) a = ExtZero<Real>();
      if (live) cell(a);
    } else {
      for (int64_t j = 0; j < R; ++j) {
        Ext<Real> a = ShflExt(x_out, lane - 1);
        if (lane == j) cell(lane == 0 ? ExtZero<Real>() : a);
      }
    }
    st_prev = st;
    has_prev = true;
  }
  return p;
}

// What the frame after a backward walk's last hands back: its cells' sends
// (lane = row) and its window's start; none at the item's last frame.
template <typename Real>
struct BackwardCarry {
  Real to_x, to_y;
  int64_t st_next;
  bool has_next;
};

template <typename Real>
__device__ __forceinline__ BackwardCarry<Real> NoBackwardCarry() {
  return {Real(0), Real(0), 0, false};
}

// The carry of frame t whose cells (lane = row) have the occupations g.
template <typename Real>
__device__ __forceinline__ BackwardCarry<Real> BackwardCarryOf(const BandItem& it, int64_t t,
                                                               Real g, const Real* split,
                                                               int lane) {
  const int64_t st = it.Start(t);
  if (lane >= it.R) return {Real(0), Real(0), st, true};
  const Shares<Real> out = BandSends(g, split[t * it.R + lane]);
  return {out.a, out.b, st, true};
}

// One lane's backward cell: what its successors send (the end cell's shares
// where a successor is the end), its gradients (kWrite), its occupation and
// what it sends back.
template <typename Real, bool kWrite>
__device__ __forceinline__ Real BackwardCell(const BandItem& it, int64_t t, int64_t s, Real gx,
                                             Real gy, Shares<Real> end, Real split, Real* px_grad,
                                             Real* py_grad, Shares<Real>* out) {
  if (it.IsEnd(s + 1, it.XSuccFrame(t))) gx = end.a;
  if (it.IsEnd(s, t + 1)) gy = end.b;
  const bool in_box = it.InBox(s, t);
  if (kWrite) {
    *px_grad = in_box ? gx : Real(0);
    *py_grad = in_box ? gy : Real(0);
  }
  const Real g = BandOccupation(gx, gy, in_box, it.IsEnd(s, t));
  *out = BandSends(g, split);
  return g;
}

// Frames [t_first, t_last] from the last down, the backward of
// ForwardFramesRun on the flow splits. Returns the occupations of frame
// t_first's cells (lane = row).
template <typename Real, bool kWrite>
__device__ Real BackwardFramesRun(const BandItem& it, int64_t t_first, int64_t t_last,
                                  BackwardCarry<Real> carry, const Real* split, Shares<Real> end,
                                  Real* px_grad, Real* py_grad, int lane) {
  const int64_t R = it.R;
  const bool live = lane < R;
  Real to_x = carry.to_x, to_y = carry.to_y, g = Real(0);
  int64_t st_next = carry.st_next;
  bool has_next = carry.has_next;
  for (int64_t t = t_last; t >= t_first; --t) {
    const int64_t st = it.Start(t);
    const int64_t shift = st_next - st;
    const Real sv = live ? split[t * R + lane] : Real(0);
    Real gy = Shfl(to_y, lane - shift);
    if (!has_next || !LaneOk(lane - shift, R)) gy = Real(0);
    auto cell = [&](Real gx) {
      Shares<Real> out;
      g = BackwardCell<Real, kWrite>(it, t, st + lane, gx, gy, end, sv, px_grad + t * R + lane,
                                     py_grad + t * R + lane, &out);
      to_x = out.a;
      to_y = out.b;
    };
    if (it.modified) {
      Real gx = Shfl(to_x, lane + 1 - shift);
      if (!has_next || !LaneOk(lane + 1 - shift, R)) gx = Real(0);
      if (live) cell(gx);
    } else {
      for (int64_t j = R - 1; j >= 0; --j) {
        const Real gx = Shfl(to_x, lane + 1);
        if (lane == j) cell(LaneOk(lane + 1, R) ? gx : Real(0));
      }
    }
    st_next = st;
    has_next = true;
  }
  return g;
}

}  // namespace band
}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_BAND_LANES_H_
