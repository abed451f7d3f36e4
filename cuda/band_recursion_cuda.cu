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

constexpr int kWarps = 4;                         // items per block
constexpr int64_t kWaveLimit = int64_t{1} << 30;  // bound of a wavefront item's rows and steps
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
// time), its steps (frames + window moves + R) are no more than frame by
// frame's R per frame (windows that jump far, which the contract allows), and
// frames * R < kWaveLimit, so that every row and step of the item fits the
// wavefront's 32-bit coordinates (Wave).
__device__ bool WavefrontServes(const BandItem& it, Frames f, int lane) {
  const int64_t frames = f.last - f.first + 1;
  if (frames * it.R >= kWaveLimit) return false;
  if (frames + (it.Start(f.last) - it.Start(f.first)) + it.R - 1 > frames * it.R) return false;
  bool back = false;
#pragma unroll 4
  for (int64_t t = f.first + 1 + lane; t <= f.last; t += 32)
    back = back || it.Start(t) < it.Start(t - 1);
  return !__any_sync(kFull, back);
}

// An item on the wavefront in 32-bit coordinates: frames relative to its
// first frame, rows relative to its first window (box rows clamped, which
// keeps every comparison with a row of the item, all below kWaveLimit).
struct Wave {
  int64_t first, base;  // the first frame, its window's start
  int frames, steps;
  int s0, s1;  // the box's rows
  int t1;      // the box's last frame: frames - 1, or frames when it is column T
};

__device__ __forceinline__ int ClampRow(int64_t s) {
  const int64_t lim = kWaveLimit + 64;
  return static_cast<int>(s < -lim ? -lim : (s > lim ? lim : s));
}

__device__ __forceinline__ Wave MakeWave(const BandItem& it, Frames f) {
  const int64_t base = it.Start(f.first);
  return Wave{f.first,
              base,
              static_cast<int>(f.last - f.first + 1),
              static_cast<int>((f.last - f.first) + (it.Start(f.last) - base) + it.R),
              ClampRow(it.s0 - base),
              ClampRow(it.s1 - base),
              static_cast<int>(it.t1 - f.first)};
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

// Regular, where WavefrontServes: one anti-diagonal per step.
template <typename Real>
__device__ void ForwardWavefront(const BandItem& it, Frames f, const Real* px, const Real* py,
                                 Real* split, EndTerms<Real>* end, int lane) {
  const Wave w = MakeWave(it, f);
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
  int tr = 0, st_prev = 0;
  int step = lane;  // this lane's next cell's step
  Ext<Real> x_out = ExtZero<Real>(), y_out = ExtZero<Real>();
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
      if (tr == 0 || src_y >= R) b = ExtZero<Real>();
      const int s = st + lane;
      // Frames [first, last] lie inside the box's: only its rows bound a cell.
      const BandCell<Real> c = BandForwardCell(a, b, ExtFromLog(qx.q[0]), ExtFromLog(qy.q[0]),
                                               w.s0 <= s && s <= w.s1, tr == 0 && s == w.s0);
      sl[tr * R] = c.split;
      // The end cell's predecessors: (s_end - 1, t_end) and (s_end, t_end - 1).
      if (tr >= w.t1 - 1) {
        if (s + 1 == w.s1 && tr == w.t1) end->a = c.x_out;
        if (s == w.s1 && tr + 1 == w.t1) end->b = c.y_out;
      }
      x_out = c.x_out;
      y_out = c.y_out;
      st_prev = st;
      ++tr;
      const int tn = min(tr + kAhead - 1, w.frames - 1);
      qx.Shift(pxl[tn * R]);
      qy.Shift(pyl[tn * R]);
      qs.Shift(static_cast<int>(st_abs[tn] - w.base));
      step = tr + qs.q[0] + lane;
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
  const Wave w = MakeWave(it, f);
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
  int tr = w.frames - 1;
  int st_next = qs.q[0];
  int step = tr + qs.q[0] + lane;
  Real to_x = Real(0), to_y = Real(0);
  for (int d = w.steps - 1; d >= 0; --d) {
    const int st = qs.q[0];
    const int src_y = lane - (st_next - st);  // <= lane: windows never move back here
    Real gx = Shfl(to_x, lane + 1);
    Real gy = Shfl(to_y, src_y);
    if (live && tr >= 0 && step == d) {
      if (lane + 1 >= R) gx = Real(0);
      if (tr == w.frames - 1 || src_y < 0) gy = Real(0);
      const int s = st + lane;
      bool is_end = false;
      if (tr >= w.t1 - 1) {  // the end cell and its predecessors
        if (s + 1 == w.s1 && tr == w.t1) gx = end.a;
        if (s == w.s1 && tr + 1 == w.t1) gy = end.b;
        is_end = s == w.s1 && tr == w.t1;
      }
      const bool in_box = w.s0 <= s && s <= w.s1;
      gxl[tr * R] = in_box ? gx : Real(0);
      gyl[tr * R] = in_box ? gy : Real(0);
      const Shares<Real> out = BandBackwardCell(gx, gy, qv.q[0], in_box, is_end);
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
  if (sz.R > kBandMaxRows) return cudaErrorInvalidValue;
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
  if (sz.R > kBandMaxRows) return cudaErrorInvalidValue;
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
