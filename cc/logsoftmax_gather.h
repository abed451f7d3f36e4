// Log-softmax + gather over the joiner logits, fused: the part of the full and
// pruned RNN-T losses that touches the [..., C] logits. One pass reads the
// logits forward, one pass reads them and writes their gradient backward;
// nothing of the logits' size is kept in between.
//
// Shapes (N = product of the leading axes, C = classes; row-major):
//   logits      [N, C] float32/float64
//   symbols     [N] int32, the class whose log-probability px takes per row
//   blank       attribute, the termination class of py, 0 <= blank < C
//   hat         attribute, false: log-softmax; true: the HAT factorisation below
//   normalizers [N]: log sum_c exp(logits[n, c]); 0 for a row that is all
//               -inf (no probability mass), so its log-probabilities stay
//               -inf and its gradient is 0 rather than NaN.
//   px [N] = logits[n, symbols[n]] - normalizers[n], -inf where symbols[n] is
//            outside [0, C) (probability 0; the row is never read there)
//   py [N] = logits[n, blank] - normalizers[n]
// Backward, for cotangents px_grad, py_grad [N]:
//   logits_grad[n, c] = px_grad[n] * [c == symbols[n]] + py_grad[n] * [c == blank]
//                       - (px_grad[n] + py_grad[n]) * exp(logits[n, c] - normalizers[n])
//
// hat (Hybrid Autoregressive Transducer, k2's use_hat_loss), with b = blank,
// x = logits[n], k = symbols[n]:
//   normalizers[n] = log sum_{c != b} exp(x[c]) (0 where those are all -inf)
//   py[n] = log_sigmoid(x[b])
//   px[n] = x[k] - normalizers[n] + log_sigmoid(-x[b]) for k in [0, C), k != b;
//           py[n] for k == b (the blank's own log-probability); -inf outside [0, C)
// Backward: the cotangent reaching the non-blank softmax is gs = px_grad (0
// when k == b), the one reaching log_sigmoid(x[b]) is gb = py_grad (+ px_grad
// when k == b); with p[c] = exp(x[c] - normalizers[n]),
//   logits_grad[n, c != b] = gs * ([c == k] - p[c])
//   logits_grad[n, b]      = gb * sigmoid(-x[b]) - gs * sigmoid(x[b])
// Both gradients are those of the formulas for any cotangent: a caller passes
// 0 for an output that is -inf (as the losses' recursion does).
#ifndef XLA_RNNT_CC_LOGSOFTMAX_GATHER_H_
#define XLA_RNNT_CC_LOGSOFTMAX_GATHER_H_

#include <cmath>
#include <cstdint>

#include "cc/host_device.h"

namespace xla_rnnt {

struct GatherSizes {
  int64_t N, C, blank;
};

// The normalizer from a row's maximum m and sum of exp(x - m) (0 when m = -inf).
template <typename Real>
XLA_RNNT_HOST_DEVICE Real RowNormalizer(Real m, Real total) {
  using std::log;
  return m == NegInf<Real>() ? Real(0) : m + log(total);
}

// px of one row: the symbol's log-probability, -inf for a symbol out of range.
template <typename Real>
XLA_RNNT_HOST_DEVICE Real SymbolLogprob(const Real* row, int32_t symbol, int64_t C,
                                        Real normalizer) {
  return 0 <= symbol && symbol < C ? row[symbol] - normalizer : NegInf<Real>();
}

// log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): no overflow, and accurate
// for large |x| on both sides; -inf at -inf, 0 at +inf.
template <typename Real>
XLA_RNNT_HOST_DEVICE Real LogSigmoid(Real x) {
  using std::exp;
  using std::log1p;
  const Real low = x < Real(0) ? x : Real(0);
  const Real minus_abs = x < Real(0) ? x : -x;
  return low - log1p(exp(minus_abs));
}

// (px, py) of one HAT row from its non-blank normalizer (header comment).
template <typename Real>
struct HatLogprobs {
  Real px, py;
};

template <typename Real>
XLA_RNNT_HOST_DEVICE HatLogprobs<Real> HatRowLogprobs(const Real* row, int32_t symbol,
                                                      GatherSizes sz, Real normalizer) {
  const Real blank_logit = row[sz.blank];
  const Real py = LogSigmoid(blank_logit);
  if (symbol == sz.blank) return {py, py};
  return {SymbolLogprob(row, symbol, sz.C, normalizer) + LogSigmoid(-blank_logit), py};
}

// The cotangents of one HAT row's two factors (header comment): `symbol` for
// the non-blank softmax, `blank` for log_sigmoid(blank logit).
template <typename Real>
struct HatCotangents {
  Real symbol, blank;
};

template <typename Real>
XLA_RNNT_HOST_DEVICE HatCotangents<Real> HatRowCotangents(Real px_grad, Real py_grad,
                                                          int32_t symbol, int64_t blank) {
  if (symbol == blank) return {Real(0), py_grad + px_grad};
  return {px_grad, py_grad};
}

// sigmoid(x) from e = exp(-|x|), which cannot overflow: 0 at -inf, 1 at +inf.
template <typename Real>
XLA_RNNT_HOST_DEVICE Real Sigmoid(Real x) {
  using std::exp;
  const Real e = exp(x < Real(0) ? x : -x);
  return (x < Real(0) ? e : Real(1)) / (Real(1) + e);
}

// logits_grad at the blank of one HAT row.
template <typename Real>
XLA_RNNT_HOST_DEVICE Real HatBlankGrad(Real blank_logit, HatCotangents<Real> g) {
  return g.blank * Sigmoid(-blank_logit) - g.symbol * Sigmoid(blank_logit);
}

// CPU kernels (logsoftmax_gather_cpu.cc).
template <typename Real>
void LogsoftmaxGatherCpu(const Real* logits, const int32_t* symbols, GatherSizes sizes, bool hat,
                         Real* px, Real* py, Real* normalizers);

template <typename Real>
void LogsoftmaxGatherGradCpu(const Real* logits, const int32_t* symbols, const Real* normalizers,
                             const Real* px_grad, const Real* py_grad, GatherSizes sizes, bool hat,
                             Real* logits_grad);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CC_LOGSOFTMAX_GATHER_H_
