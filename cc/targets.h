// The library's custom calls: target names and result shapes, the C++ twin of
// xla_rnnt/_targets.py (the table the TF and JAX bindings are derived from;
// tests/test_targets.py checks that the two agree). "..." are the batch axes,
// which the handlers flatten into B; results have operand 0's dtype (band_backward:
// split's).
//
//   xla_rnnt_mi_forward(px [..., S, T+1 | T], py [..., S+1, T], boundary [..., 4] s32)
//     -> scores [...], p [..., S+1, T+1]
//   xla_rnnt_mi_forward_backward(px, py, boundary)
//     -> scores [...], px_grad (px's shape), py_grad (py's shape), p [..., S+1, T+1],
//        g [..., HandoffRows(S), T+1]
//   xla_rnnt_mi_backward(px, py, boundary, p [..., S+1, T+1])
//     -> px_grad, py_grad, g [..., HandoffRows(S), T+1]
//   xla_rnnt_logsoftmax_gather(logits [..., C], symbols [...] s32; attributes blank i64,
//                              hat bool)
//     -> px [...], py [...], normalizers [...]
//   xla_rnnt_logsoftmax_gather_grad(logits [..., C], symbols [...], normalizers [...],
//                                   px_grad [...], py_grad [...]; blank i64, hat bool)
//     -> logits_grad [..., C]
//   xla_rnnt_gather_rows_grad(x [..., N, Q], idx [..., T, R] s32, g [..., T, R, Q])
//     -> x_grad [..., N, Q], sorted [..., R]
//   xla_rnnt_gather_symbols_grad(x [..., T, V], idx [..., S] s32, g [..., S, T])
//     -> x_grad [..., T, V], links [..., S]
//   xla_rnnt_band_forward(px [..., T, R], py [..., T, R], starts [..., T] s32,
//                         boundary [..., 4] s32; attributes S i64, modified bool)
//     -> scores [...], split [..., T, R], final_split [...]
//   xla_rnnt_band_forward_backward(px, py, starts, boundary; S, modified)
//     -> scores, px_grad [..., T, R], py_grad [..., T, R], split, final_split
//   xla_rnnt_band_backward(starts, boundary, split, final_split; S, modified)
//     -> px_grad, py_grad (dtype of split)
#ifndef XLA_RNNT_CC_TARGETS_H_
#define XLA_RNNT_CC_TARGETS_H_

#include <cstdint>

namespace xla_rnnt {

inline constexpr char kMiForward[] = "xla_rnnt_mi_forward";
inline constexpr char kMiForwardBackward[] = "xla_rnnt_mi_forward_backward";
inline constexpr char kMiBackward[] = "xla_rnnt_mi_backward";
inline constexpr char kLogsoftmaxGather[] = "xla_rnnt_logsoftmax_gather";
inline constexpr char kLogsoftmaxGatherGrad[] = "xla_rnnt_logsoftmax_gather_grad";
inline constexpr char kGatherRowsGrad[] = "xla_rnnt_gather_rows_grad";
inline constexpr char kGatherSymbolsGrad[] = "xla_rnnt_gather_symbols_grad";
inline constexpr char kBandForward[] = "xla_rnnt_band_forward";
inline constexpr char kBandForwardBackward[] = "xla_rnnt_band_forward_backward";
inline constexpr char kBandBackward[] = "xla_rnnt_band_backward";

// The attributes of the gather targets, by name and type (the handlers bind
// them with these names; Attribute in xla_rnnt/_targets.py).
inline constexpr char kBlankAttr[] = "blank";  // int64: the blank class
inline constexpr char kHatAttr[] = "hat";      // bool: the HAT factorisation
// The band targets' attributes: the lattice's S (int64) and whether the
// recursion is the modified one (bool).
inline constexpr char kLatticeSAttr[] = "S";         // int64: the lattice's S
inline constexpr char kModifiedAttr[] = "modified";  // bool: the modified recursion

// The CUDA backward hands the occupations of one row per band of 32*W rows
// (W >= 1 warps) to the next band through the workspace g, so one row per 32
// rows of the lattice always suffices.
inline constexpr int64_t kHandoffRowsPerBand = 32;

// The band targets' widest window on a GPU: one warp per item, a lane per
// window row.
inline constexpr int64_t kBandMaxRows = 32;

// Rows of g for S symbols: ceil((S + 1) / kHandoffRowsPerBand).
constexpr int64_t HandoffRows(int64_t S) { return (S + kHandoffRowsPerBand) / kHandoffRowsPerBand; }

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CC_TARGETS_H_
