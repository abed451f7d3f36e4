// The recursion of mutual_information.h on a band of the lattice: the pruned
// loss's windows, R cells per frame, without lattice-sized arrays.
//
// Shapes (row-major, contiguous; the handlers flatten leading axes into B):
//   px       [B, T, R]  px[b, t, k]: log-weight of emitting from s = starts[b, t] + k
//                       at frame t (to (s+1, t), or (s+1, t+1) when modified)
//   py       [B, T, R]  py[b, t, k]: log-weight of (s, t) -> (s, t+1)
//   starts   [B, T] int32, the window of frame t: s in [starts[b,t], starts[b,t] + R)
//   boundary [B, 4] int32 (s_begin, t_begin, s_end, t_end) as in mutual_information.h,
//            checked against S (an attribute: the lattice's S) and T
// Semantics: exactly the recursion of mutual_information.h on the lattice
//   PX[b, s, t] = px[b, t, s - starts[b, t]] where 0 <= s - starts[b, t] < R and
//                 t < T, else -inf (column T of a regular PX is -inf),
//   PY[b, s, t] likewise from py,
// so scores [B] = p[b, s_end, t_end] and the gradients px_grad, py_grad [B, T, R] are
// those of PX, PY at the band's cells (0 outside the boundary box). Windows may
// overlap, jump or go back, and reach outside [0, S]: a cell outside the box
// carries no flow.
//
// Arithmetic: the linear extended-range numbers of cuda/ext_range.h (host and
// device code), cell by cell, both twins:
//   forward:  p(c) = a + b with a = p(x-pred) exp(px[x-pred]), b = p(y-pred) exp(py[y-pred])
//             (p = 1 at the box's start cell, 0 outside the box); split[c] = SplitCode(a, b),
//             the two predecessors' shares of c's flow. The end cell (s_end, t_end) may lie
//             outside every window (column T, say): its own split is final_split[b], and
//             scores[b] = log(a + b) there (0 when it is the start cell).
//   backward: pure flow from the splits (no px, py): g(end) = 1; a cell sends g(c) times
//             its shares to its predecessors; px_grad[c] is what c's x-successor sends
//             back to c, py_grad[c] what its y-successor sends.
// So the workspace (split, final_split) means the same on CPU and GPU, and the twins
// agree to rounding of exp2 and 1/x (the GPU's chunked scan also to the order of its
// products; with +inf inputs it may give a NaN score where the walks give +inf: both
// non-finite, both with zero gradients). An invalid boundary row: the CPU handler raises
// InvalidArgument; the CUDA kernels give a NaN score and zero gradients.
#ifndef XLA_RNNT_CC_BAND_RECURSION_H_
#define XLA_RNNT_CC_BAND_RECURSION_H_

#include <cstdint>

#include "cc/host_device.h"
#include "cc/mutual_information.h"
#include "cuda/ext_range.h"

namespace xla_rnnt {

struct BandSizes {
  int64_t B, T, R, S;
  bool modified;
};

// One item's view: its windows and box.
struct BandItem {
  const int32_t* starts;  // [T]
  int64_t T, R;
  int64_t s0, t0, s1, t1;
  bool modified, valid;

  XLA_RNNT_HOST_DEVICE int64_t Start(int64_t t) const { return starts[t]; }
  // The last frame with cells in the box (< t0 when none).
  XLA_RNNT_HOST_DEVICE int64_t LastFrame() const { return t1 < T - 1 ? t1 : T - 1; }
  XLA_RNNT_HOST_DEVICE bool InBox(int64_t s, int64_t t) const {
    return valid && s0 <= s && s <= s1 && t0 <= t && t <= t1;
  }
  // Window index of row s at frame t, or -1 when (s, t) is no band cell.
  XLA_RNNT_HOST_DEVICE int64_t Index(int64_t s, int64_t t) const {
    if (t < 0 || t >= T) return -1;
    const int64_t k = s - Start(t);
    return 0 <= k && k < R ? k : -1;
  }
  XLA_RNNT_HOST_DEVICE bool IsEnd(int64_t s, int64_t t) const {
    return valid && s == s1 && t == t1;
  }
  XLA_RNNT_HOST_DEVICE bool IsStart(int64_t s, int64_t t) const {
    return valid && s == s0 && t == t0;
  }
  // The predecessor through an emission of (s, t), and the successor of one from (s, t).
  XLA_RNNT_HOST_DEVICE int64_t XPredFrame(int64_t t) const { return modified ? t - 1 : t; }
  XLA_RNNT_HOST_DEVICE int64_t XSuccFrame(int64_t t) const { return modified ? t + 1 : t; }
};

XLA_RNNT_HOST_DEVICE BandItem BandItemAt(const int32_t* starts, const int32_t* boundary,
                                         const BandSizes& sz, int64_t b) {
  const int32_t* row = boundary + 4 * b;
  return BandItem{starts + b * sz.T,
                  sz.T,
                  sz.R,
                  row[0],
                  row[1],
                  row[2],
                  row[3],
                  sz.modified,
                  BoundaryValid(row, sz.S, sz.T)};
}

// One forward cell: its value, split, and the two terms it hands on.
template <typename Real>
struct BandCell {
  Ext<Real> p;             // p(c), zero outside the box
  Ext<Real> x_out, y_out;  // p(c) exp(px[c]), p(c) exp(py[c])
  Real split;
};

// The terms a cell of value p hands on (x, y: exp(px[c]), exp(py[c])).
template <typename Real>
XLA_RNNT_HOST_DEVICE BandCell<Real> BandTerms(Ext<Real> p, Ext<Real> x, Ext<Real> y, bool in_box,
                                              Real split) {
  // Outside the box nothing flows, whatever px and py hold there (0 * inf is NaN).
  if (!in_box) return {ExtZero<Real>(), ExtZero<Real>(), ExtZero<Real>(), split};
  return {p, ExtMul(p, x), ExtMul(p, y), split};
}

// a: the x-predecessor's term, b: the y-predecessor's; x, y: exp(px[c]), exp(py[c]).
template <typename Real>
XLA_RNNT_HOST_DEVICE BandCell<Real> BandForwardCell(Ext<Real> a, Ext<Real> b, Ext<Real> x,
                                                    Ext<Real> y, bool in_box, bool is_start) {
  const ExtAligned<Real> t = ExtAlign(a, b);
  Ext<Real> p = ExtNormalize(Ext<Real>{t.a + t.b, t.e});
  if (is_start) p = ExtOne<Real>();
  const Real split = in_box && !is_start ? SplitCode(t.a, t.b) : Real(NAN);
  return BandTerms(p, x, y, in_box, split);
}

// The end cell's split and log-score from its predecessors' terms.
template <typename Real>
struct BandEnd {
  Real score, split;
};

template <typename Real>
XLA_RNNT_HOST_DEVICE BandEnd<Real> BandEndCell(Ext<Real> a, Ext<Real> b, const BandItem& it) {
  if (!it.valid) return {Real(NAN), Real(NAN)};
  if (it.s0 == it.s1 && it.t0 == it.t1) return {Real(0), Real(NAN)};
  const ExtAligned<Real> t = ExtAlign(a, b);
  // log of zero is -inf; a NaN term stays NaN (as in the lattice recursion).
  return {ExtToLog(Ext<Real>{t.a + t.b, t.e}), SplitCode(t.a, t.b)};
}

// A cell's occupation g(c) from what its successors send (1 more at the end).
template <typename Real>
XLA_RNNT_HOST_DEVICE Real BandOccupation(Real gx, Real gy, bool in_box, bool is_end) {
  return in_box ? gx + gy + (is_end ? Real(1) : Real(0)) : Real(0);
}

// What a cell of occupation g sends its (x, y) predecessors.
template <typename Real>
XLA_RNNT_HOST_DEVICE Shares<Real> BandSends(Real g, Real split) {
  const Shares<Real> s = SplitShares(split);
  return {g * s.a, g * s.b};
}

// One backward cell: gx, gy are what its x- and y-successors send back (its
// px_grad, py_grad); returns its shares for its (x, y) predecessors.
template <typename Real>
XLA_RNNT_HOST_DEVICE Shares<Real> BandBackwardCell(Real gx, Real gy, Real split, bool in_box,
                                                   bool is_end) {
  return BandSends(BandOccupation(gx, gy, in_box, is_end), split);
}

// CPU twins (band_recursion_cpu.cc); boundary rows must be valid.
template <typename Real>
void BandForwardCpu(const Real* px, const Real* py, const int32_t* starts, const int32_t* boundary,
                    const BandSizes& sz, Real* scores, Real* split, Real* final_split);

template <typename Real>
void BandBackwardCpu(const int32_t* starts, const int32_t* boundary, const BandSizes& sz,
                     const Real* split, const Real* final_split, Real* px_grad, Real* py_grad);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CC_BAND_RECURSION_H_
