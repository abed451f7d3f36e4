// The mutual-information recursion behind every RNN-T loss of xla_rnnt.
//
// Shapes (B = batch, S = symbols, T = frames; all arrays row-major, contiguous):
//   px       [B, S, T+1]  (regular)  or  [B, S, T]  (modified: one symbol per
//                         frame at most, each symbol consumes a frame)
//   py       [B, S+1, T]
//   boundary [B, 4] int32 rows (s_begin, t_begin, s_end, t_end) with
//            0 <= s_begin <= s_end <= S and 0 <= t_begin <= t_end <= T.
//   p        [B, S+1, T+1] forward scores:
//     p[b, s_begin, t_begin] = 0
//     regular:  p[b,s,t] = log_add(p[b,s-1,t]   + px[b,s-1,t],
//                                  p[b,s,t-1]   + py[b,s,t-1])
//     modified: p[b,s,t] = log_add(p[b,s-1,t-1] + px[b,s-1,t-1],
//                                  p[b,s,t-1]   + py[b,s,t-1])
//     with terms outside the boundary box treated as -inf.
//   scores   [B] = p[b, s_end, t_end]
//   The buffer p is the workspace a forward leaves for the backward on the
//   same device: the CPU kernels keep these log-scores in it; the CUDA forward
//   keeps each box cell's split of its incoming flow instead (its two
//   predecessors' shares, cuda/ext_range.h), which is all its backward needs.
//
// Backward (occupation probabilities, the gradient of scores[b] w.r.t. px/py):
//   g[b, s_end, t_end] = 1, and for every other cell of the box
//     g[s,t] = w_x(s,t) + w_y(s,t), with
//     w_x(s,t) = g[next_x] * exp(p[s,t] + px[s,t] - p[next_x])
//     w_y(s,t) = g[s,t+1]  * exp(p[s,t] + py[s,t] - p[s,t+1])
//   where next_x = (s+1, t) regular or (s+1, t+1) modified, and a successor
//   outside the box contributes 0. px_grad = w_x, py_grad = w_y inside the box,
//   0 outside. Each cell pulls from its successors, so cells of one
//   anti-diagonal are independent: the same order serves the CPU double loop
//   and the CUDA wavefront. A successor with p = -inf (unreachable) or g = 0
//   contributes 0, so an impossible alignment (score -inf) has zero gradients
//   rather than NaN.
#ifndef XLA_RNNT_CC_MUTUAL_INFORMATION_H_
#define XLA_RNNT_CC_MUTUAL_INFORMATION_H_

#include <cmath>
#include <cstdint>

#include "cc/host_device.h"
#include "cc/targets.h"

namespace xla_rnnt {

struct MiSizes {
  int64_t B, S, T;
  bool modified;
  // Length of px's last axis.
  XLA_RNNT_HOST_DEVICE int64_t px_cols() const { return modified ? T : T + 1; }
  // Rows of the backward's workspace g [B, handoff_rows, T+1] (targets.h).
  XLA_RNNT_HOST_DEVICE int64_t handoff_rows() const { return HandoffRows(S); }
};

// log(exp(a) + exp(b)) without overflow; -inf + -inf stays -inf (not NaN),
// and a NaN stays NaN (hi is -inf with lo NaN when a is NaN and b -inf).
template <typename Real>
XLA_RNNT_HOST_DEVICE Real LogAdd(Real a, Real b) {
  using std::exp;
  using std::log1p;
  Real hi = a > b ? a : b;
  Real lo = a > b ? b : a;
  if (hi == NegInf<Real>()) return lo;
  return hi + log1p(exp(lo - hi));
}

// Weight of the edge from a cell with score p_from, through log-weight x, into
// a successor with score p_to and occupation g_to. Zero where the successor is
// unreachable or carries no occupation, so no inf - inf reaches exp().
template <typename Real>
XLA_RNNT_HOST_DEVICE Real EdgeOccupation(Real p_from, Real x, Real p_to, Real g_to) {
  using std::exp;
  if (g_to == Real(0) || !(p_to > NegInf<Real>())) return Real(0);
  Real w = g_to * exp(p_from + x - p_to);
  return w == w ? w : Real(0);  // NaN from +inf inputs: no occupation.
}

// True when a boundary row lies inside the [S+1, T+1] lattice.
XLA_RNNT_HOST_DEVICE bool BoundaryValid(const int32_t* row, int64_t S, int64_t T) {
  return 0 <= row[0] && row[0] <= row[2] && row[2] <= S &&  //
         0 <= row[1] && row[1] <= row[3] && row[3] <= T;
}

// CPU kernels (mutual_information_cpu.cc). `boundary` rows must be valid.
template <typename Real>
void MiForwardCpu(const Real* px, const Real* py, const int32_t* boundary, MiSizes sizes, Real* p,
                  Real* scores);

// Writes px_grad and py_grad (the occupations above), using p from
// MiForwardCpu (g lives in two rows of its own).
template <typename Real>
void MiBackwardCpu(const Real* px, const Real* py, const int32_t* boundary, MiSizes sizes,
                   const Real* p, Real* px_grad, Real* py_grad);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CC_MUTUAL_INFORMATION_H_
