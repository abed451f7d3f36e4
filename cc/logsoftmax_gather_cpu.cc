// CPU kernels of cc/logsoftmax_gather.h: one row at a time, written so that the
// compiler vectorises the inner loops (no library call, no branch per element).
#include "cc/logsoftmax_gather.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace xla_rnnt {
namespace {

constexpr int kLanes = 8;  // independent partial maxima / sums per row

// exp for float without a libm call, so that loops over it vectorise:
// 2^k * e^r with k = round(x / ln 2), |r| <= ln2 / 2, and Cephes' degree-6
// polynomial for e^r: within 1 ulp of exp wherever the result is a normal
// float (checked against double exp at 2e7 points of [-87.3, 88.7]). -inf and
// x < -87.3 (results below the smallest normal float) give 0, NaN stays NaN,
// x > 88.7 gives +inf.
inline float VecExp(float x) {
  const float lo = -87.33654f, hi = 88.72283f;
  const float xc = x < lo ? lo : (x > hi ? hi : x);
  const float k = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round
  const float r = (xc - k * 0.693359375f) - k * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  // 2^k as two factors, each a normal float for every k in [-126, 128].
  const int32_t ki = static_cast<int32_t>(k), k1 = ki / 2;
  const int32_t bits1 = (k1 + 127) << 23, bits2 = (ki - k1 + 127) << 23;
  float scale1, scale2;
  std::memcpy(&scale1, &bits1, sizeof(scale1));
  std::memcpy(&scale2, &bits2, sizeof(scale2));
  const float y = er * scale1 * scale2;
  const float inf = std::numeric_limits<float>::infinity();
  return x != x ? x : (x < lo ? 0.0f : (x > hi ? inf : y));
}

inline double VecExp(double x) { return std::exp(x); }  // float64: accuracy first

// max over a row; NaN-free rows as std::max would give (a NaN row gets a NaN
// sum below anyway).
template <typename Real>
Real RowMax(const Real* row, int64_t C) {
  Real part[kLanes];
  for (int j = 0; j < kLanes; ++j) part[j] = NegInf<Real>();
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes)
    for (int j = 0; j < kLanes; ++j) part[j] = row[c + j] > part[j] ? row[c + j] : part[j];
  Real m = NegInf<Real>();
  for (int j = 0; j < kLanes; ++j) m = part[j] > m ? part[j] : m;
  for (; c < C; ++c) m = row[c] > m ? row[c] : m;
  return m;
}

// sum of exp(row - m), accumulated in double (float sums over thousands of
// classes drift by ~1e-5; the GPU's tree sum does not).
template <typename Real>
double RowSumExp(const Real* row, int64_t C, Real m) {
  double part[kLanes] = {};
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes)
    for (int j = 0; j < kLanes; ++j) part[j] += VecExp(row[c + j] - m);
  double total = 0;
  for (int j = 0; j < kLanes; ++j) total += part[j];
  for (; c < C; ++c) total += VecExp(row[c] - m);
  return total;
}

// The normalizer of row[0, C): log sum_c exp(row[c]).
template <typename Real>
Real RowLogSumExp(const Real* row, int64_t C) {
  const Real m = RowMax(row, C);
  const double total = m > NegInf<Real>() ? RowSumExp(row, C, m) : 0.0;
  return RowNormalizer(m, static_cast<Real>(total));
}

// HAT's normalizer: log sum_{c != blank} exp(row[c]), from the classes before
// and after the blank (two runs of the same vectorised loops, no mask per
// element).
template <typename Real>
Real NonBlankLogSumExp(const Real* row, int64_t C, int64_t blank) {
  const Real* after = row + blank + 1;
  const int64_t num_after = C - blank - 1;
  const Real m_before = RowMax(row, blank), m_after = RowMax(after, num_after);
  const Real m = m_before > m_after ? m_before : m_after;
  const double total =
      m > NegInf<Real>() ? RowSumExp(row, blank, m) + RowSumExp(after, num_after, m) : 0.0;
  return RowNormalizer(m, static_cast<Real>(total));
}

// out[c] = scale * exp(row[c] - norm): the softmax part of a row's gradient.
template <typename Real>
void ScaledProbabilities(const Real* row, int64_t C, Real scale, Real norm, Real* out) {
  for (int64_t c = 0; c < C; ++c) out[c] = scale * VecExp(row[c] - norm);
}

template <typename Real>
void SoftmaxGatherRows(const Real* logits, const int32_t* symbols, GatherSizes sz, Real* px,
                       Real* py, Real* normalizers) {
  for (int64_t n = 0; n < sz.N; ++n) {
    const Real* row = logits + n * sz.C;
    const Real norm = RowLogSumExp(row, sz.C);
    normalizers[n] = norm;
    px[n] = SymbolLogprob(row, symbols[n], sz.C, norm);
    py[n] = row[sz.blank] - norm;
  }
}

template <typename Real>
void HatGatherRows(const Real* logits, const int32_t* symbols, GatherSizes sz, Real* px, Real* py,
                   Real* normalizers) {
  for (int64_t n = 0; n < sz.N; ++n) {
    const Real* row = logits + n * sz.C;
    const Real norm = NonBlankLogSumExp(row, sz.C, sz.blank);
    normalizers[n] = norm;
    const HatLogprobs<Real> lp = HatRowLogprobs(row, symbols[n], sz, norm);
    px[n] = lp.px;
    py[n] = lp.py;
  }
}

template <typename Real>
void SoftmaxGradRows(const Real* logits, const int32_t* symbols, const Real* normalizers,
                     const Real* px_grad, const Real* py_grad, GatherSizes sz, Real* logits_grad) {
  for (int64_t n = 0; n < sz.N; ++n) {
    const Real* row = logits + n * sz.C;
    Real* out = logits_grad + n * sz.C;
    const Real gx = px_grad[n], gy = py_grad[n];
    ScaledProbabilities(row, sz.C, -(gx + gy), normalizers[n], out);
    const int32_t symbol = symbols[n];
    if (0 <= symbol && symbol < sz.C) out[symbol] += gx;
    out[sz.blank] += gy;
  }
}

template <typename Real>
void HatGradRows(const Real* logits, const int32_t* symbols, const Real* normalizers,
                 const Real* px_grad, const Real* py_grad, GatherSizes sz, Real* logits_grad) {
  for (int64_t n = 0; n < sz.N; ++n) {
    const Real* row = logits + n * sz.C;
    Real* out = logits_grad + n * sz.C;
    const int32_t symbol = symbols[n];
    const HatCotangents<Real> g = HatRowCotangents(px_grad[n], py_grad[n], symbol, sz.blank);
    ScaledProbabilities(row, sz.C, -g.symbol, normalizers[n], out);
    if (0 <= symbol && symbol < sz.C) out[symbol] += g.symbol;
    out[sz.blank] = HatBlankGrad(row[sz.blank], g);  // after the symbol's: g.symbol = 0 there
  }
}

}  // namespace

template <typename Real>
void LogsoftmaxGatherCpu(const Real* logits, const int32_t* symbols, GatherSizes sz, bool hat,
                         Real* px, Real* py, Real* normalizers) {
  if (hat)
    HatGatherRows(logits, symbols, sz, px, py, normalizers);
  else
    SoftmaxGatherRows(logits, symbols, sz, px, py, normalizers);
}

template <typename Real>
void LogsoftmaxGatherGradCpu(const Real* logits, const int32_t* symbols, const Real* normalizers,
                             const Real* px_grad, const Real* py_grad, GatherSizes sz, bool hat,
                             Real* logits_grad) {
  if (hat)
    HatGradRows(logits, symbols, normalizers, px_grad, py_grad, sz, logits_grad);
  else
    SoftmaxGradRows(logits, symbols, normalizers, px_grad, py_grad, sz, logits_grad);
}

template void LogsoftmaxGatherCpu<float>(const float*, const int32_t*, GatherSizes, bool, float*,
                                         float*, float*);
template void LogsoftmaxGatherCpu<double>(const double*, const int32_t*, GatherSizes, bool, double*,
                                          double*, double*);
template void LogsoftmaxGatherGradCpu<float>(const float*, const int32_t*, const float*,
                                             const float*, const float*, GatherSizes, bool, float*);
template void LogsoftmaxGatherGradCpu<double>(const double*, const int32_t*, const double*,
                                              const double*, const double*, GatherSizes, bool,
                                              double*);

}  // namespace xla_rnnt
