// The band's wavefront over a run of frames (include from .cu files): where
// windows never move back, cell (t, k) needs (t, k-1) and (t-1, k + starts[t]
// - starts[t-1]), so lane k computes it at step (t - t_first) + (starts[t] -
// starts[t_first]) + k, one anti-diagonal per step: frames + window moves + R
// steps instead of frame by frame's R a frame. ForwardRun and BackwardRun
// pick the wavefront or the frame walk of cuda/band_lanes.h for a run.
#ifndef XLA_RNNT_CUDA_BAND_WAVE_H_
#define XLA_RNNT_CUDA_BAND_WAVE_H_

#include <cstdint>

#include "cuda/band_lanes.h"

namespace xla_rnnt {
namespace band {

constexpr int64_t kWaveLimit = int64_t{1} << 30;  // bound of a wavefront run's rows and steps

// Whether the wavefront serves a regular run of frames [t_first, t_last]
// (with the frame before it when has_prev, the frame after when has_next):
// its windows never move back there (the warp's lanes read the starts 32
// frames at a time), its steps (frames + window moves + R) are no more than
// frame by frame's R per frame (windows that jump far, which the contract
// allows), and frames * R < kWaveLimit, so that every row and step fits the
// wavefront's 32-bit coordinates (Wave).
__device__ inline bool WavefrontServes(const BandItem& it, int64_t t_first, int64_t t_last,
                                       bool has_prev, bool has_next, int lane) {
  const int64_t frames = t_last - t_first + 1;
  if (frames * it.R >= kWaveLimit) return false;
  if (frames + (it.Start(t_last) - it.Start(t_first)) + it.R - 1 > frames * it.R) return false;
  const int64_t lo = has_prev ? t_first - 1 : t_first, hi = has_next ? t_last + 1 : t_last;
  bool back = false;
#pragma unroll 4
  for (int64_t t = lo + 1 + lane; t <= hi; t += 32) back = back || it.Start(t) < it.Start(t - 1);
  return !__any_sync(kFull, back);
}

__device__ __forceinline__ int ClampRow(int64_t s) {
  const int64_t lim = kWaveLimit + 64;
  return static_cast<int>(s < -lim ? -lim : (s > lim ? lim : s));
}

// A run on the wavefront in 32-bit coordinates: frames relative to its first
// frame, rows relative to its first window (box rows and the box's last
// frame clamped, which keeps every comparison with a row or frame of the
// run, all below kWaveLimit).
struct Wave {
  int64_t first, base;  // the first frame, its window's start
  int frames, steps;
  int s0, s1;  // the box's rows
  int t1;      // the box's last frame
};

__device__ __forceinline__ Wave MakeWave(const BandItem& it, int64_t t_first, int64_t t_last) {
  const int64_t base = it.Start(t_first);
  return Wave{t_first,
              base,
              static_cast<int>(t_last - t_first + 1),
              static_cast<int>((t_last - t_first) + (it.Start(t_last) - base) + it.R),
              ClampRow(it.s0 - base),
              ClampRow(it.s1 - base),
              ClampRow(it.t1 - t_first)};
}

// Inputs travel kAhead frames ahead of their use in registers (a lane walks
// one frame per step while its window stays, and a step is shorter than an
// L2 access). q[0] is the current frame's.
constexpr int kAhead = 3;

template <typename V>
struct Ahead {
  V q[kAhead];
  // Moves on one frame; `next` is the value kAhead - 1 frames after the new current one.
  __device__ __forceinline__ void Shift(V next) {
#pragma unroll
    for (int i = 0; i + 1 < kAhead; ++i) q[i] = q[i + 1];
    q[kAhead - 1] = next;
  }
};

// The forward on the wavefront, as ForwardFramesRun takes and returns it.
// The carry's terms start in the lanes' registers: a lane's first cell reads
// its y-source before that source computes its own first cell.
template <typename Real, bool kWrite>
__device__ Ext<Real> ForwardWave(const BandItem& it, int64_t t_first, int64_t t_last,
                                 ForwardCarry<Real> carry, const Real* px, const Real* py,
                                 Real* split, EndTerms<Real>* end, int lane) {
  const Wave w = MakeWave(it, t_first, t_last);
  const int R = static_cast<int>(it.R);
  const bool live = lane < R;
  // This lane's cell of the first frame; frame tr's is tr * R further on.
  const int64_t cell0 = w.first * it.R + (live ? lane : 0);
  const Real* pxl = px + cell0;
  const Real* pyl = py + cell0;
  Real* sl = split + cell0;
  const int32_t* st_abs = it.starts + w.first;
  Ahead<Real> qx, qy;
  Ahead<int> qs;  // window starts, relative to the first
#pragma unroll
  for (int i = 0; i < kAhead; ++i) {
    const int ti = min(i, w.frames - 1);
    qx.q[i] = pxl[ti * R];
    qy.q[i] = pyl[ti * R];
    qs.q[i] = static_cast<int>(st_abs[ti] - w.base);
  }
  const bool has_prev = carry.has_prev;
  int tr = 0, st_prev = has_prev ? ClampRow(carry.st_prev - w.base) : 0;
  int step = lane;  // this lane's next cell's step
  Ext<Real> x_out = carry.x_out, y_out = carry.y_out, p = ExtZero<Real>();
  for (int d = 0; d < w.steps; ++d) {
    // Every lane hands on its last cell's terms; a reader's source computed
    // that cell at step d - 1 (its x-predecessor one row down, its
    // y-predecessor the same row a frame earlier).
    const int st = qs.q[0];
    const int src_y = lane + (st - st_prev);  // >= lane: windows never move back here
    Ext<Real> a = ShflExt(x_out, lane - 1);
    Ext<Real> b = ShflExt(y_out, src_y);
    if (live && tr < w.frames && step == d) {
      if (lane == 0) a = ExtZero<Real>();
      if ((tr == 0 && !has_prev) || src_y >= R) b = ExtZero<Real>();
      const int s = st + lane;
      // The run's frames lie inside the box's: only its rows bound a cell.
      const BandCell<Real> c =
          BandForwardCell(a, b, ExtFromLog(qx.q[0]), ExtFromLog(qy.q[0]), w.s0 <= s && s <= w.s1,
                          tr == 0 && !has_prev && s == w.s0);
      if (kWrite) {
        sl[tr * R] = c.split;
        // The end cell's predecessors: (s_end - 1, t_end) and (s_end, t_end - 1).
        if (tr >= w.t1 - 1) {
          if (s + 1 == w.s1 && tr == w.t1) end->a = c.x_out;
          if (s == w.s1 && tr + 1 == w.t1) end->b = c.y_out;
        }
      }
      x_out = c.x_out;
      y_out = c.y_out;
      p = c.p;
      st_prev = st;
      ++tr;
      const int tn = min(tr + kAhead - 1, w.frames - 1);
      qx.Shift(pxl[tn * R]);
      qy.Shift(pyl[tn * R]);
      qs.Shift(static_cast<int>(st_abs[tn] - w.base));
      step = tr + qs.q[0] + lane;
    }
  }
  return p;
}

// The backward on the wavefront, as BackwardFramesRun takes and returns it.
template <typename Real, bool kWrite>
__device__ Real BackwardWave(const BandItem& it, int64_t t_first, int64_t t_last,
                             BackwardCarry<Real> carry, const Real* split, Shares<Real> end,
                             Real* px_grad, Real* py_grad, int lane) {
  const Wave w = MakeWave(it, t_first, t_last);
  const int R = static_cast<int>(it.R);
  const bool live = lane < R;
  const int64_t cell0 = w.first * it.R + (live ? lane : 0);
  const Real* sl = split + cell0;
  Real* gxl = px_grad + cell0;
  Real* gyl = py_grad + cell0;
  const int32_t* st_abs = it.starts + w.first;
  // Frames walk down: q[i] holds frame tr - i's value.
  Ahead<Real> qv;
  Ahead<int> qs;
#pragma unroll
  for (int i = 0; i < kAhead; ++i) {
    const int ti = max(w.frames - 1 - i, 0);
    qv.q[i] = sl[ti * R];
    qs.q[i] = static_cast<int>(st_abs[ti] - w.base);
  }
  const bool has_next = carry.has_next;
  int tr = w.frames - 1;
  int st_next = has_next ? ClampRow(carry.st_next - w.base) : qs.q[0];
  int step = tr + qs.q[0] + lane;
  Real to_x = carry.to_x, to_y = carry.to_y, g = Real(0);
  for (int d = w.steps - 1; d >= 0; --d) {
    const int st = qs.q[0];
    const int src_y = lane - (st_next - st);  // <= lane: windows never move back here
    Real gx = Shfl(to_x, lane + 1);
    Real gy = Shfl(to_y, src_y);
    if (live && tr >= 0 && step == d) {
      if (lane + 1 >= R) gx = Real(0);
      if ((tr == w.frames - 1 && !has_next) || src_y < 0) gy = Real(0);
      const int s = st + lane;
      bool is_end = false;
      if (tr >= w.t1 - 1) {  // the end cell and its predecessors
        if (s + 1 == w.s1 && tr == w.t1) gx = end.a;
        if (s == w.s1 && tr + 1 == w.t1) gy = end.b;
        is_end = s == w.s1 && tr == w.t1;
      }
      const bool in_box = w.s0 <= s && s <= w.s1;
      if (kWrite) {
        gxl[tr * R] = in_box ? gx : Real(0);
        gyl[tr * R] = in_box ? gy : Real(0);
      }
      g = BandOccupation(gx, gy, in_box, is_end);
      const Shares<Real> out = BandSends(g, qv.q[0]);
      to_x = out.a;
      to_y = out.b;
      st_next = st;
      --tr;
      const int tn = max(tr - (kAhead - 1), 0);
      qv.Shift(sl[tn * R]);
      qs.Shift(static_cast<int>(st_abs[tn] - w.base));
      step = tr + qs.q[0] + lane;
    }
  }
  return g;
}

// Frames [t_first, t_last] forward: the wavefront where it serves, else
// frame by frame (always for modified, whose cells need only frame t-1).
template <typename Real, bool kWrite>
__device__ Ext<Real> ForwardRun(const BandItem& it, int64_t t_first, int64_t t_last,
                                ForwardCarry<Real> carry, const Real* px, const Real* py,
                                Real* split, EndTerms<Real>* end, int lane) {
  if (!it.modified && WavefrontServes(it, t_first, t_last, carry.has_prev, false, lane))
    return ForwardWave<Real, kWrite>(it, t_first, t_last, carry, px, py, split, end, lane);
  return ForwardFramesRun<Real, kWrite>(it, t_first, t_last, carry, px, py, split, end, lane);
}

template <typename Real, bool kWrite>
__device__ Real BackwardRun(const BandItem& it, int64_t t_first, int64_t t_last,
                            BackwardCarry<Real> carry, const Real* split, Shares<Real> end,
                            Real* px_grad, Real* py_grad, int lane) {
  if (!it.modified && WavefrontServes(it, t_first, t_last, false, carry.has_next, lane))
    return BackwardWave<Real, kWrite>(it, t_first, t_last, carry, split, end, px_grad, py_grad,
                                      lane);
  return BackwardFramesRun<Real, kWrite>(it, t_first, t_last, carry, split, end, px_grad, py_grad,
                                         lane);
}

}  // namespace band
}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_BAND_WAVE_H_
