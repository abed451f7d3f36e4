// Extended-range linear arithmetic for the forward recursion on the GPU.
//
// A probability is held as m * 2^e (m a float or double, e an int), so the
// recursion's LogAdd becomes an exponent alignment, a multiply and a fused
// multiply-add: a dependent chain of a few integer and float operations per
// lattice cell instead of exp + log1p (notes/gpu_kernels.md, "v6"). Values:
//   non-zero: m >= 1 (m may grow above 2 between normalisations), e > -2^28;
//   zero:     m == 0 with e at most -2^27 (ExtZero: kExtZeroExp), far below
//             every non-zero exponent, so it never decides an alignment;
//   +inf, NaN: carried in m (from +inf or NaN inputs), as the log domain does.
// Log-domain inputs beyond +-2^27 * ln 2 nats (about 9e7) saturate.
#ifndef XLA_RNNT_CUDA_EXT_RANGE_H_
#define XLA_RNNT_CUDA_EXT_RANGE_H_

#include <cmath>
#include <cstdint>
#include <cstring>

#include "cc/host_device.h"

namespace xla_rnnt {

constexpr int kExtZeroExp = -(1 << 29);
constexpr int kExtMaxExp = 1 << 27;  // |e| of a converted input

template <typename Real>
struct ExtBits;
template <>
struct ExtBits<float> {
  using Int = int32_t;
  static constexpr int kMantissa = 23, kBias = 127;
};
template <>
struct ExtBits<double> {
  using Int = int64_t;
  static constexpr int kMantissa = 52, kBias = 1023;
};

template <typename Real>
struct Ext {
  Real m;
  int e;
};

template <typename Real>
XLA_RNNT_HOST_DEVICE typename ExtBits<Real>::Int ToBits(Real x) {
  typename ExtBits<Real>::Int i;
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(Real) == 4)
    i = __float_as_int(x);
  else
    i = __double_as_longlong(x);
#else
  std::memcpy(&i, &x, sizeof(x));
#endif
  return i;
}

template <typename Real>
XLA_RNNT_HOST_DEVICE Real FromBits(typename ExtBits<Real>::Int i) {
  Real x;
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(Real) == 4)
    x = __int_as_float(i);
  else
    x = __longlong_as_double(i);
#else
  std::memcpy(&x, &i, sizeof(x));
#endif
  return x;
}

XLA_RNNT_HOST_DEVICE int MaxInt(int a, int b) { return a > b ? a : b; }
XLA_RNNT_HOST_DEVICE int MinInt(int a, int b) { return a < b ? a : b; }

// 2^d for d <= 0, exactly; 0 below the smallest normal number.
template <typename Real>
XLA_RNNT_HOST_DEVICE Real Pow2NonPositive(int d) {
  using B = ExtBits<Real>;
  return FromBits<Real>(typename B::Int(MaxInt(d + B::kBias, 0)) << B::kMantissa);
}

template <typename Real>
XLA_RNNT_HOST_DEVICE Ext<Real> ExtZero() {
  return {Real(0), kExtZeroExp};
}
template <typename Real>
XLA_RNNT_HOST_DEVICE Ext<Real> ExtOne() {
  return {Real(1), 0};
}

// 2^f for f in [0, 1), or +-inf or NaN. float: the special-function unit's
// ex2 (2 ulp; f is never a denormal's exponent), double: exp2.
template <typename Real>
XLA_RNNT_HOST_DEVICE Real Exp2Fraction(Real f) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(Real) == 4) {
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(f));
    return r;
  }
#endif
  using std::exp2;
  return exp2(f);
}

// 1 / x for x in [1, 8) (a sum of aligned terms), +inf or NaN: float takes
// the special-function unit's reciprocal (1 ulp), double divides.
template <typename Real>
XLA_RNNT_HOST_DEVICE Real ReciprocalOfSum(Real x) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(Real) == 4) {
    // ftz: x is never denormal here, and without it the compiler wraps the
    // reciprocal in a denormal rescaling (5 more instructions per cell).
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
  }
#endif
  return Real(1) / x;
}

// exp(x) for a log-domain x: -inf -> zero, +inf -> m = +inf, NaN -> m = NaN.
template <typename Real>
XLA_RNNT_HOST_DEVICE Ext<Real> ExtFromLog(Real x) {
  using std::exp2;
  using std::floor;
  using std::fmax;
  using std::fmin;
  const Real y = x * Real(1.4426950408889634074);  // log2(e)
  // fmax/fmin drop a NaN, so k stays finite and NaN reaches m through y - k.
  const Real k = fmin(fmax(floor(y), Real(-kExtMaxExp)), Real(kExtMaxExp));
  return {Exp2Fraction(y - k), static_cast<int>(k)};
}

// log(m * 2^e): -inf for zero.
template <typename Real>
XLA_RNNT_HOST_DEVICE Real ExtToLog(Ext<Real> a) {
  using std::fma;
  using std::log;
  return fma(Real(a.e), Real(0.69314718055994530942), log(a.m));
}

template <typename Real>
XLA_RNNT_HOST_DEVICE Ext<Real> ExtMul(Ext<Real> a, Ext<Real> b) {
  return {a.m * b.m, a.e + b.e};
}

// a + b as two terms at a common exponent e: the larger exponent decides; the
// smaller term is scaled down exactly (or lost below 2^-126 of the larger
// one, far beneath rounding). The terms' shares of the sum are the split of
// a lattice cell's incoming flow (SplitCode).
template <typename Real>
struct ExtAligned {
  Real a, b;
  int e;
};

template <typename Real>
XLA_RNNT_HOST_DEVICE ExtAligned<Real> ExtAlign(Ext<Real> a, Ext<Real> b) {
  const int e = MaxInt(MaxInt(a.e, b.e), kExtZeroExp);
  return {a.m * Pow2NonPositive<Real>(a.e - e), b.m * Pow2NonPositive<Real>(b.e - e), e};
}

template <typename Real>
XLA_RNNT_HOST_DEVICE Ext<Real> ExtAdd(Ext<Real> a, Ext<Real> b) {
  const ExtAligned<Real> t = ExtAlign(a, b);
  return {t.a + t.b, t.e};
}

// Moves m back into [1, 2) (zero, +inf and NaN stay what they are).
template <typename Real>
XLA_RNNT_HOST_DEVICE Ext<Real> ExtNormalize(Ext<Real> a) {
  using B = ExtBits<Real>;
  const int k = MinInt(MaxInt(int(ToBits(a.m) >> B::kMantissa) - B::kBias, 0), 100);
  return {a.m * Pow2NonPositive<Real>(-k), a.e + k};
}

// The split of a cell's incoming flow between its two predecessors, the
// shares a / (a + b) and b / (a + b) of the aligned terms, in one number that
// keeps the smaller share's relative precision: r = +share_a when a <= b,
// r = -share_b otherwise (so |r| <= 1/2), NaN where the sum is zero or not
// finite (an unreachable cell, or +inf/NaN inputs: no flow either way).
template <typename Real>
XLA_RNNT_HOST_DEVICE Real SplitCode(Real a, Real b) {
  using std::isfinite;
  const Real sum = a + b;
  const Real inv = ReciprocalOfSum(sum);
  const Real r = a <= b ? a * inv : -(b * inv);
  return (sum > Real(0) && isfinite(sum)) ? r : Real(NAN);
}

// The two shares of a SplitCode; both 0 for NaN (and for any |r| > 1/2).
template <typename Real>
struct Shares {
  Real a, b;
};

template <typename Real>
XLA_RNNT_HOST_DEVICE Shares<Real> SplitShares(Real r) {
  using std::fabs;
  using std::signbit;
  const bool valid = fabs(r) <= Real(0.5);
  const bool b_smaller = signbit(r);
  const Real share_a = b_smaller ? Real(1) + r : r;
  const Real share_b = b_smaller ? -r : Real(1) - r;
  return {valid ? share_a : Real(0), valid ? share_b : Real(0)};
}

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_EXT_RANGE_H_
