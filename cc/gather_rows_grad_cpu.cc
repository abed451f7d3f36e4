// CPU twin of the gather-rows gradient (cc/gather_rows_grad.h): for each
// destination element the same order of additions as the CUDA kernel (r
// ascending, then t ascending).
#include "cc/gather_rows_grad.h"

#include <algorithm>

namespace xla_rnnt {

template <typename Real>
void GatherRowsGradCpu(const int32_t* idx, const Real* g, const RowsGradSizes& sz, Real* x_grad,
                       Real* sorted) {
  std::fill(x_grad, x_grad + sz.B * sz.N * sz.Q, Real(0));
  for (int64_t b = 0; b < sz.B; ++b) {
    for (int64_t r = 0; r < sz.R; ++r) {
      sorted[b * sz.R + r] = ColumnSorted(idx, sz, b, r) ? Real(1) : Real(0);
      for (int64_t t = 0; t < sz.T; ++t) {
        const int64_t n = idx[(b * sz.T + t) * sz.R + r];
        if (n < 0 || n >= sz.N) continue;
        const Real* src = g + ((b * sz.T + t) * sz.R + r) * sz.Q;
        Real* dst = x_grad + (b * sz.N + n) * sz.Q;
        for (int64_t q = 0; q < sz.Q; ++q) dst[q] += src[q];
      }
    }
  }
}

template void GatherRowsGradCpu<float>(const int32_t*, const float*, const RowsGradSizes&, float*,
                                       float*);
template void GatherRowsGradCpu<double>(const int32_t*, const double*, const RowsGradSizes&,
                                        double*, double*);

}  // namespace xla_rnnt
