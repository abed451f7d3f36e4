// The gradient of the simple loss's gather of am at the symbols,
// px_am[b, s, t] = x[b, t, idx[b, s]] ([B, S, T] from x [B, T, V]), summed in a
// fixed order: bitwise the same run to run, where XLA's scatter-add adds with
// float atomics on GPUs, and without the transposes and [S, S] equality
// product of the equal-index sums.
//
// Shapes (row-major; the handlers flatten leading axes into B):
//   x      [B, T, V]  only its shape is read
//   idx    [B, S] int32
//   g      [B, S, T]  the cotangent of px_am
//   x_grad [B, T, V]: x_grad[b, t, v] = 0 + the g[b, s, t] over the s with
//                     idx[b, s] == v, s ascending; an index outside [0, V)
//                     adds nothing
//   links  [B, S]     workspace (x's dtype, integers): each s's link to the
//                     next s' > s with the same index (S where none), as
//                     Link() encodes it with whether s is that index's first
// The CPU twin adds in the same order, so the two agree bitwise (for normal
// values: XLA's CPU runtime flushes float32 subnormals to zero, the CUDA
// kernel keeps them).
#ifndef XLA_RNNT_CC_GATHER_SYMBOLS_GRAD_H_
#define XLA_RNNT_CC_GATHER_SYMBOLS_GRAD_H_

#include <cstdint>

#include "cc/host_device.h"

namespace xla_rnnt {

struct SymbolsGradSizes {
  int64_t B, T, V, S;
};

// The link of s in item b: next (the next s' with idx[s'] == idx[s], S where
// none) for the first s of its index, -1 - next for a later one, and -1 - S
// (a later one without a next: never a chain's start) for an index outside
// [0, V). O(S) a symbol: symbol sequences are short.
XLA_RNNT_HOST_DEVICE int64_t Link(const int32_t* idx, const SymbolsGradSizes& sz, int64_t b,
                                  int64_t s) {
  const int32_t* row = idx + b * sz.S;
  const int32_t v = row[s];
  if (v < 0 || v >= sz.V) return -1 - sz.S;
  bool first = true;
  for (int64_t r = 0; r < s && first; ++r) first = row[r] != v;
  int64_t next = s + 1;
  while (next < sz.S && row[next] != v) ++next;
  return first ? next : -1 - next;
}

XLA_RNNT_HOST_DEVICE bool LinkStartsChain(int64_t link) { return link >= 0; }
XLA_RNNT_HOST_DEVICE int64_t LinkNext(int64_t link) { return link >= 0 ? link : -1 - link; }

// x_grad[b, t, idx[b, s]] for the first s of its index: its chain's g in
// the contract's order, on item b's links (in any number type).
template <typename Real, typename Links>
XLA_RNNT_HOST_DEVICE Real ChainSum(const Real* g, const Links* item_links,
                                   const SymbolsGradSizes& sz, int64_t b, int64_t s, int64_t t) {
  Real acc = Real(0);
  for (int64_t n = s; n < sz.S; n = LinkNext(int64_t(item_links[n])))
    acc += g[(b * sz.S + n) * sz.T + t];
  return acc;
}

template <typename Real>
void GatherSymbolsGradCpu(const int32_t* idx, const Real* g, const SymbolsGradSizes& sz,
                          Real* x_grad, Real* links);

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CC_GATHER_SYMBOLS_GRAD_H_
