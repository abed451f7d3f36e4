// CPU twin of cuda/band_recursion_cuda.cu: the band recursion of
// band_recursion.h frame by frame (k ascending), one batch item at a time.
// An invalid boundary row (which the handlers reject first) gets the GPU's
// results: NaN score and split, zero gradients.
#include "cc/band_recursion.h"

#include <cmath>
#include <vector>

namespace xla_rnnt {
namespace {

// Frame-major values of one item's cells, [T, R], as initialised where unset.
template <typename V>
struct Cells {
  std::vector<V> v;
  int64_t R;
  V& at(int64_t t, int64_t k) { return v[t * R + k]; }
};

}  // namespace

template <typename Real>
void BandForwardCpu(const Real* px, const Real* py, const int32_t* starts, const int32_t* boundary,
                    const BandSizes& sz, Real* scores, Real* split, Real* final_split) {
  const int64_t TR = sz.T * sz.R;
  for (int64_t b = 0; b < sz.B; ++b) {
    const BandItem it = BandItemAt(starts, boundary, sz, b);
    const Real* pxb = px + b * TR;
    const Real* pyb = py + b * TR;
    Real* sb = split + b * TR;
    for (int64_t i = 0; i < TR; ++i) sb[i] = Real(NAN);
    Cells<Ext<Real>> x_out{std::vector<Ext<Real>>(TR, ExtZero<Real>()), sz.R};
    Cells<Ext<Real>> y_out{std::vector<Ext<Real>>(TR, ExtZero<Real>()), sz.R};
    // A predecessor's term: zero unless it is a band cell of a frame already done.
    auto term = [&](Cells<Ext<Real>>& out, int64_t s, int64_t t) {
      const int64_t k = it.Index(s, t);
      return k >= 0 && t >= it.t0 ? out.at(t, k) : ExtZero<Real>();
    };
    for (int64_t t = it.t0; it.valid && t <= it.LastFrame(); ++t) {
      for (int64_t k = 0; k < sz.R; ++k) {
        const int64_t s = it.Start(t) + k;
        const Ext<Real> a = term(x_out, s - 1, it.XPredFrame(t));
        const Ext<Real> y_pred = term(y_out, s, t - 1);
        const BandCell<Real> c =
            BandForwardCell(a, y_pred, ExtFromLog(pxb[t * sz.R + k]), ExtFromLog(pyb[t * sz.R + k]),
                            it.InBox(s, t), it.IsStart(s, t));
        x_out.at(t, k) = c.x_out;
        y_out.at(t, k) = c.y_out;
        sb[t * sz.R + k] = c.split;
      }
    }
    const BandEnd<Real> end = it.valid ? BandEndCell(term(x_out, it.s1 - 1, it.XPredFrame(it.t1)),
                                                     term(y_out, it.s1, it.t1 - 1), it)
                                       : BandEndCell(ExtZero<Real>(), ExtZero<Real>(), it);
    scores[b] = end.score;
    final_split[b] = end.split;
  }
}

template <typename Real>
void BandBackwardCpu(const int32_t* starts, const int32_t* boundary, const BandSizes& sz,
                     const Real* split, const Real* final_split, Real* px_grad, Real* py_grad) {
  const int64_t TR = sz.T * sz.R;
  for (int64_t b = 0; b < sz.B; ++b) {
    const BandItem it = BandItemAt(starts, boundary, sz, b);
    const Real* sb = split + b * TR;
    Real* gxb = px_grad + b * TR;
    Real* gyb = py_grad + b * TR;
    for (int64_t i = 0; i < TR; ++i) gxb[i] = gyb[i] = Real(0);
    const Shares<Real> end = SplitShares(it.valid ? final_split[b] : Real(NAN));
    // What each cell sends back to its x- and y-predecessor.
    Cells<Real> to_x{std::vector<Real>(TR, Real(0)), sz.R};
    Cells<Real> to_y{std::vector<Real>(TR, Real(0)), sz.R};
    // What successor (s, t) sends back along an edge: the end cell's shares
    // for the end, else a band cell's of a frame already done, else nothing.
    auto sent = [&](Cells<Real>& to, Real end_share, int64_t s, int64_t t) {
      if (it.IsEnd(s, t)) return end_share;
      const int64_t k = it.Index(s, t);
      return k >= 0 && t <= it.LastFrame() ? to.at(t, k) : Real(0);
    };
    for (int64_t t = it.LastFrame(); it.valid && t >= it.t0; --t) {
      for (int64_t k = sz.R - 1; k >= 0; --k) {
        const int64_t s = it.Start(t) + k;
        const Real gx = sent(to_x, end.a, s + 1, it.XSuccFrame(t));
        const Real gy = sent(to_y, end.b, s, t + 1);
        const bool in_box = it.InBox(s, t);
        const Shares<Real> out = BandBackwardCell(gx, gy, sb[t * sz.R + k], in_box, it.IsEnd(s, t));
        to_x.at(t, k) = out.a;
        to_y.at(t, k) = out.b;
        gxb[t * sz.R + k] = in_box ? gx : Real(0);
        gyb[t * sz.R + k] = in_box ? gy : Real(0);
      }
    }
  }
}

template void BandForwardCpu<float>(const float*, const float*, const int32_t*, const int32_t*,
                                    const BandSizes&, float*, float*, float*);
template void BandForwardCpu<double>(const double*, const double*, const int32_t*, const int32_t*,
                                     const BandSizes&, double*, double*, double*);
template void BandBackwardCpu<float>(const int32_t*, const int32_t*, const BandSizes&, const float*,
                                     const float*, float*, float*);
template void BandBackwardCpu<double>(const int32_t*, const int32_t*, const BandSizes&,
                                      const double*, const double*, double*, double*);

}  // namespace xla_rnnt
