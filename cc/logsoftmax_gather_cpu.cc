// CPU kernels of cc/logsoftmax_gather.h: one row at a time.
#include <algorithm>
#include <cmath>

#include "logsoftmax_gather.h"

namespace xla_rnnt {

template <typename Real>
void LogsoftmaxGatherCpu(const Real* logits, const int32_t* symbols, GatherSizes sz,
                         Real* px, Real* py, Real* normalizers) {
  for (int64_t n = 0; n < sz.N; ++n) {
    const Real* row = logits + n * sz.C;
    Real m = NegInf<Real>();
    for (int64_t c = 0; c < sz.C; ++c) m = std::max(m, row[c]);
    // A sequential float sum over thousands of classes drifts by ~1e-5;
    // double keeps the CPU as close to the float64 result as the GPU's tree sum.
    double total = 0;
    if (m > NegInf<Real>())
      for (int64_t c = 0; c < sz.C; ++c) total += std::exp(static_cast<double>(row[c] - m));
    const Real norm = RowNormalizer(m, static_cast<Real>(total));
    normalizers[n] = norm;
    px[n] = SymbolLogprob(row, symbols[n], sz.C, norm);
    py[n] = row[sz.blank] - norm;
  }
}

template <typename Real>
void LogsoftmaxGatherGradCpu(const Real* logits, const int32_t* symbols,
                             const Real* normalizers, const Real* px_grad,
                             const Real* py_grad, GatherSizes sz, Real* logits_grad) {
  for (int64_t n = 0; n < sz.N; ++n) {
    const Real* row = logits + n * sz.C;
    Real* out = logits_grad + n * sz.C;
    const Real gx = px_grad[n], gy = py_grad[n], total = gx + gy, norm = normalizers[n];
    for (int64_t c = 0; c < sz.C; ++c) out[c] = -total * std::exp(row[c] - norm);
    const int32_t symbol = symbols[n];
    if (0 <= symbol && symbol < sz.C) out[symbol] += gx;
    out[sz.blank] += gy;
  }
}

template void LogsoftmaxGatherCpu<float>(const float*, const int32_t*, GatherSizes, float*,
                                         float*, float*);
template void LogsoftmaxGatherCpu<double>(const double*, const int32_t*, GatherSizes, double*,
                                          double*, double*);
template void LogsoftmaxGatherGradCpu<float>(const float*, const int32_t*, const float*,
                                             const float*, const float*, GatherSizes, float*);
template void LogsoftmaxGatherGradCpu<double>(const double*, const int32_t*, const double*,
                                              const double*, const double*, GatherSizes,
                                              double*);

}  // namespace xla_rnnt
