// The gradient of a gather of rows at windows of indices (do_rnnt_pruning's
// lm[b, ranges[b, t, r], :]), summed in a fixed order: bitwise the same run to
// run, where XLA's scatter-add adds with float atomics on GPUs.
//
// Shapes (row-major; the handlers flatten leading axes into B):
//   x      [B, N, Q]     only its shape is read (N rows of Q values)
//   idx    [B, T, R] int32
//   g      [B, T, R, Q]  the cotangent of out[b, t, r, :] = x[b, idx[b, t, r], :]
//   x_grad [B, N, Q]:    x_grad[b, n, q] = the sum of g[b, t, r, q] over the
//                        (t, r) with idx[b, t, r] == n, added r by r (ascending),
//                        t ascending within each r; an index outside [0, N)
//                        adds nothing
//   sorted [B, R]        workspace: 1 where column idx[b, :, r] never decreases
//                        in t (pruning windows' columns do), else 0
// In a sorted column the t with idx == n are one interval, found by binary
// search; other columns are scanned whole. The CPU twin adds in the same order,
// so the two agree bitwise (for normal values: XLA's CPU runtime flushes
// float32 subnormals to zero, the CUDA kernel keeps them).
#ifndef XLA_RNNT_CC_GATHER_ROWS_GRAD_H_
#define XLA_RNNT_CC_GATHER_ROWS_GRAD_H_

#include <cstdint>

#include "cc/host_device.h"

namespace xla_rnnt {

struct RowsGradSizes {
  int64_t B, N, Q, T, R;
};

// Whether column r of item b never decreases in t.
XLA_RNNT_HOST_DEVICE bool ColumnSorted(const int32_t* idx, const RowsGradSizes& sz, int64_t b,
                                       int64_t r) {
  const int32_t* col = idx + b * sz.T * sz.R + r;
  for (int64_t t = 1; t < sz.T; ++t)
    if (col[t * sz.R] < col[(t - 1) * sz.R]) return false;
  return true;
}

// The first t in [0, T) with col[t * R] >= value (T if none), col sorted.
XLA_RNNT_HOST_DEVICE int64_t LowerBound(const int32_t* col, int64_t T, int64_t R, int64_t value) {
  int64_t lo = 0, hi = T;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (col[mid * R] < value)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

// Where column r's sources of row n lie: t in [RowBound(.., false),
// RowBound(.., true)), the whole column where it is not sorted (`sorted` as the
// workspace holds it: nonzero where the column never decreases).
template <typename Real>
XLA_RNNT_HOST_DEVICE int64_t RowBound(const int32_t* idx, const RowsGradSizes& sz,
                                      const Real* sorted, int64_t b, int64_t n, int64_t r,
                                      bool upper) {
  if (sorted[b * sz.R + r] == Real(0)) return upper ? sz.T : 0;
  return LowerBound(idx + b * sz.T * sz.R + r, sz.T, sz.R, upper ? n + 1 : n);
}

// acc plus column r's sources of x_grad[b, n, q] in [lo, hi), t ascending.
template <typename Real>
XLA_RNNT_HOST_DEVICE Real AddColumn(Real acc, const int32_t* idx, const Real* g,
                                    const RowsGradSizes& sz, const Real* sorted, int64_t b,
                                    int64_t n, int64_t q, int64_t r, int64_t lo, int64_t hi) {
  const int32_t* col = idx + b * sz.T * sz.R + r;
  const Real* src = g + (b * sz.T * sz.R + r) * sz.Q + q;  // (t = 0, r, q)
  const bool is_sorted = sorted[b * sz.R + r] != Real(0);
  for (int64_t t = lo; t < hi; ++t)
    if (is_sorted || col[t * sz.R] == n) acc += src[t * sz.R * sz.Q];
  return acc;
}

// x_grad[b, n, q], the contract's sum, element by element (the kernel check's
// CPU emulation of the CUDA kernel, which finds the bounds once per block).
template <typename Real>
XLA_RNNT_HOST_DEVICE Real RowSum(const int32_t* idx, const Real* g, const RowsGradSizes& sz,
                                 const Real* sorted, int64_t b, int64_t n, int64_t q) {
  Real acc = Real(0);
  for (int64_t r = 0; r < sz.R; ++r)
    acc = AddColumn(acc, idx, g, sz, sorted, b, n, q, r, RowBound(idx, sz, sorted, b, n, r, false),
                    RowBound(idx, sz, sorted, b, n, r, true));
  return acc;
}

template <typename Real>
void GatherRowsGradCpu(const int32_t* idx, const Real* g, const RowsGradSizes& sz, Real* x_grad,
                       Real* sorted);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CC_GATHER_ROWS_GRAD_H_
