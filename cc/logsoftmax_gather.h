// Log-softmax + gather over the joiner logits, fused: the part of the full and
// pruned RNN-T losses that touches the [..., C] logits. One pass reads the
// logits forward, one pass reads them and writes their gradient backward;
// nothing of the logits' size is kept in between.
//
// Shapes (N = product of the leading axes, C = classes; row-major):
//   logits      [N, C] float32/float64
//   symbols     [N] int32, the class whose log-probability px takes per row
//   blank       attribute, the termination class of py, 0 <= blank < C
//   normalizers [N]: log sum_c exp(logits[n, c]); 0 for a row that is all
//               -inf (no probability mass), so its log-probabilities stay
//               -inf and its gradient is 0 rather than NaN.
//   px [N] = logits[n, symbols[n]] - normalizers[n], -inf where symbols[n] is
//            outside [0, C) (probability 0; the row is never read there)
//   py [N] = logits[n, blank] - normalizers[n]
// Backward, for cotangents px_grad, py_grad [N]:
//   logits_grad[n, c] = px_grad[n] * [c == symbols[n]] + py_grad[n] * [c == blank]
//                       - (px_grad[n] + py_grad[n]) * exp(logits[n, c] - normalizers[n])
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

// CPU kernels (logsoftmax_gather_cpu.cc).
template <typename Real>
void LogsoftmaxGatherCpu(const Real* logits, const int32_t* symbols, GatherSizes sizes, Real* px,
                         Real* py, Real* normalizers);

template <typename Real>
void LogsoftmaxGatherGradCpu(const Real* logits, const int32_t* symbols, const Real* normalizers,
                             const Real* px_grad, const Real* py_grad, GatherSizes sizes,
                             Real* logits_grad);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CC_LOGSOFTMAX_GATHER_H_
