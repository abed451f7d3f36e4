// CPU twin of the gradient of the gather at the symbols
// (cc/gather_symbols_grad.h): each destination's chain summed s ascending,
// as the CUDA kernel does.
#include "cc/gather_symbols_grad.h"

#include <algorithm>

namespace xla_rnnt {

template <typename Real>
void GatherSymbolsGradCpu(const int32_t* idx, const Real* g, const SymbolsGradSizes& sz,
                          Real* x_grad, Real* links) {
  std::fill(x_grad, x_grad + sz.B * sz.T * sz.V, Real(0));
  for (int64_t b = 0; b < sz.B; ++b)
    for (int64_t s = 0; s < sz.S; ++s) links[b * sz.S + s] = Real(Link(idx, sz, b, s));
  for (int64_t b = 0; b < sz.B; ++b)
    for (int64_t s = 0; s < sz.S; ++s) {
      if (!LinkStartsChain(int64_t(links[b * sz.S + s]))) continue;
      Real* dst = x_grad + b * sz.T * sz.V + idx[b * sz.S + s];
      for (int64_t t = 0; t < sz.T; ++t) dst[t * sz.V] = ChainSum(g, links + b * sz.S, sz, b, s, t);
    }
}

template void GatherSymbolsGradCpu<float>(const int32_t*, const float*, const SymbolsGradSizes&,
                                          float*, float*);
template void GatherSymbolsGradCpu<double>(const int32_t*, const double*, const SymbolsGradSizes&,
                                           double*, double*);

}  // namespace xla_rnnt
