// CPU twin of cuda/mutual_information_cuda.cu: the recursion of
// mutual_information.h as plain loops, one batch item at a time.
#include "cc/mutual_information.h"

#include <algorithm>
#include <vector>

namespace xla_rnnt {
namespace {

// Row-major views of one batch item.
template <typename Real>
struct Item {
  const Real* px;       // [S, px_cols]
  const Real* py;       // [S+1, T]
  int64_t px_cols, T1;  // px row length; p row length (T+1)
  int64_t T;
  Real x(int64_t s, int64_t t) const { return px[s * px_cols + t]; }
  Real y(int64_t s, int64_t t) const { return py[s * T + t]; }
};

template <typename Real>
Item<Real> ItemAt(const Real* px, const Real* py, MiSizes sz, int64_t b) {
  return Item<Real>{px + b * sz.S * sz.px_cols(), py + b * (sz.S + 1) * sz.T, sz.px_cols(),
                    sz.T + 1, sz.T};
}

}  // namespace

template <typename Real>
void MiForwardCpu(const Real* px, const Real* py, const int32_t* boundary, MiSizes sz, Real* p,
                  Real* scores) {
  const int64_t T1 = sz.T + 1;
  for (int64_t b = 0; b < sz.B; ++b) {
    const Item<Real> it = ItemAt(px, py, sz, b);
    Real* pb = p + b * (sz.S + 1) * T1;
    const int32_t* row = boundary + 4 * b;
    const int64_t s0 = row[0], t0 = row[1], s1 = row[2], t1 = row[3];
    for (int64_t s = s0; s <= s1; ++s) {
      for (int64_t t = t0; t <= t1; ++t) {
        Real v;
        if (s == s0 && t == t0) {
          v = Real(0);
        } else {
          Real from_x = NegInf<Real>(), from_y = NegInf<Real>();
          if (s > s0) {
            if (!sz.modified) {
              from_x = pb[(s - 1) * T1 + t] + it.x(s - 1, t);
            } else if (t > t0) {
              from_x = pb[(s - 1) * T1 + t - 1] + it.x(s - 1, t - 1);
            }
          }
          if (t > t0) from_y = pb[s * T1 + t - 1] + it.y(s, t - 1);
          v = LogAdd(from_x, from_y);
        }
        pb[s * T1 + t] = v;
      }
    }
    scores[b] = pb[s1 * T1 + t1];
  }
}

template <typename Real>
void MiBackwardCpu(const Real* px, const Real* py, const int32_t* boundary, MiSizes sz,
                   const Real* p, Real* px_grad, Real* py_grad) {
  const int64_t T1 = sz.T + 1, px_cols = sz.px_cols();
  // Row s of g needs only row s+1: two rows, used alternately.
  std::vector<Real> g_rows(2 * T1);
  auto g_row = [&](int64_t s) { return g_rows.data() + (s & 1) * T1; };
  std::fill(px_grad, px_grad + sz.B * sz.S * px_cols, Real(0));
  std::fill(py_grad, py_grad + sz.B * (sz.S + 1) * sz.T, Real(0));
  for (int64_t b = 0; b < sz.B; ++b) {
    const Item<Real> it = ItemAt(px, py, sz, b);
    const Real* pb = p + b * (sz.S + 1) * T1;
    Real* gxb = px_grad + b * sz.S * px_cols;
    Real* gyb = py_grad + b * (sz.S + 1) * sz.T;
    const int32_t* row = boundary + 4 * b;
    const int64_t s0 = row[0], t0 = row[1], s1 = row[2], t1 = row[3];
    for (int64_t s = s1; s >= s0; --s) {
      Real* g_here = g_row(s);
      const Real* g_next = g_row(s + 1);  // row s+1 (unused when s = s1)
      for (int64_t t = t1; t >= t0; --t) {
        if (s == s1 && t == t1) {
          g_here[t] = Real(1);
          continue;
        }
        const Real p_here = pb[s * T1 + t];
        Real wx = Real(0), wy = Real(0);
        if (s < s1) {
          const int64_t tn = sz.modified ? t + 1 : t;
          if (tn <= t1) {
            wx = EdgeOccupation(p_here, it.x(s, t), pb[(s + 1) * T1 + tn], g_next[tn]);
            gxb[s * px_cols + t] = wx;
          }
        }
        if (t < t1) {
          wy = EdgeOccupation(p_here, it.y(s, t), pb[s * T1 + t + 1], g_here[t + 1]);
          gyb[s * sz.T + t] = wy;
        }
        g_here[t] = wx + wy;
      }
    }
  }
}

template void MiForwardCpu<float>(const float*, const float*, const int32_t*, MiSizes, float*,
                                  float*);
template void MiForwardCpu<double>(const double*, const double*, const int32_t*, MiSizes, double*,
                                   double*);
template void MiBackwardCpu<float>(const float*, const float*, const int32_t*, MiSizes,
                                   const float*, float*, float*);
template void MiBackwardCpu<double>(const double*, const double*, const int32_t*, MiSizes,
                                    const double*, double*, double*);
// long double (x86: a 64-bit mantissa): what tests/cuda/kernel_check.cc holds
// the float64 kernels against on long lattices, where float64 itself drifts.
template void MiForwardCpu<long double>(const long double*, const long double*, const int32_t*,
                                        MiSizes, long double*, long double*);
template void MiBackwardCpu<long double>(const long double*, const long double*, const int32_t*,
                                         MiSizes, const long double*, long double*, long double*);

}  // namespace xla_rnnt
