// CUDA twin of cc/mutual_information_cpu.cc. One thread block per batch item
// sweeps the anti-diagonals d = s + t of its boundary box; cells of one
// diagonal depend only on earlier diagonals, so the threads of the block take
// the rows of a diagonal in parallel and a barrier separates diagonals. Every
// diagonal runs inside one launch: no host round trip per step.
#include "mutual_information_cuda.h"

namespace xla_rnnt {
namespace {

constexpr int kThreads = 256;

template <typename Real>
__global__ void MiForwardKernel(const Real* __restrict__ px,
                                const Real* __restrict__ py,
                                const int32_t* __restrict__ boundary,
                                MiSizes sz, Real* __restrict__ p,
                                Real* __restrict__ scores) {
  const int64_t b = blockIdx.x;
  const int64_t T1 = sz.T + 1, px_cols = sz.px_cols();
  const int32_t* row = boundary + 4 * b;
  const int64_t s0 = row[0], t0 = row[1], s1 = row[2], t1 = row[3];
  if (!BoundaryValid(row, sz.S, sz.T)) {
    if (threadIdx.x == 0) scores[b] = Real(NAN);
    return;
  }
  const Real* pxb = px + b * sz.S * px_cols;
  const Real* pyb = py + b * (sz.S + 1) * sz.T;
  Real* pb = p + b * (sz.S + 1) * T1;
  const int64_t ns = s1 - s0, nt = t1 - t0;
  for (int64_t d = 0; d <= ns + nt; ++d) {
    // Rows of this diagonal: max(0, d - nt) <= i <= min(ns, d).
    const int64_t i_lo = d > nt ? d - nt : 0, i_hi = d < ns ? d : ns;
    for (int64_t i = i_lo + threadIdx.x; i <= i_hi; i += blockDim.x) {
      const int64_t s = s0 + i, t = t0 + (d - i);
      Real v;
      if (d == 0) {
        v = Real(0);
      } else {
        Real from_x = NegInf<Real>(), from_y = NegInf<Real>();
        if (s > s0) {
          if (!sz.modified) {
            from_x = pb[(s - 1) * T1 + t] + pxb[(s - 1) * px_cols + t];
          } else if (t > t0) {
            from_x = pb[(s - 1) * T1 + t - 1] + pxb[(s - 1) * px_cols + t - 1];
          }
        }
        if (t > t0) from_y = pb[s * T1 + t - 1] + pyb[s * sz.T + t - 1];
        v = LogAdd(from_x, from_y);
      }
      pb[s * T1 + t] = v;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) scores[b] = pb[s1 * T1 + t1];
}

template <typename Real>
__global__ void MiBackwardKernel(const Real* __restrict__ px,
                                 const Real* __restrict__ py,
                                 const int32_t* __restrict__ boundary,
                                 MiSizes sz, const Real* __restrict__ p,
                                 Real* __restrict__ g,
                                 Real* __restrict__ px_grad,
                                 Real* __restrict__ py_grad) {
  const int64_t b = blockIdx.x;
  const int64_t T1 = sz.T + 1, px_cols = sz.px_cols();
  const int32_t* row = boundary + 4 * b;
  const int64_t s0 = row[0], t0 = row[1], s1 = row[2], t1 = row[3];
  if (!BoundaryValid(row, sz.S, sz.T)) return;  // grads stay zero
  const Real* pxb = px + b * sz.S * px_cols;
  const Real* pyb = py + b * (sz.S + 1) * sz.T;
  const Real* pb = p + b * (sz.S + 1) * T1;
  Real* gb = g + b * (sz.S + 1) * T1;
  Real* gxb = px_grad + b * sz.S * px_cols;
  Real* gyb = py_grad + b * (sz.S + 1) * sz.T;
  const int64_t ns = s1 - s0, nt = t1 - t0;
  for (int64_t d = ns + nt; d >= 0; --d) {
    const int64_t i_lo = d > nt ? d - nt : 0, i_hi = d < ns ? d : ns;
    for (int64_t i = i_lo + threadIdx.x; i <= i_hi; i += blockDim.x) {
      const int64_t s = s0 + i, t = t0 + (d - i);
      if (s == s1 && t == t1) {
        gb[s * T1 + t] = Real(1);
        continue;
      }
      const Real p_here = pb[s * T1 + t];
      Real wx = Real(0), wy = Real(0);
      if (s < s1) {
        const int64_t tn = sz.modified ? t + 1 : t;
        if (tn <= t1) {
          wx = EdgeOccupation(p_here, pxb[s * px_cols + t], pb[(s + 1) * T1 + tn],
                              gb[(s + 1) * T1 + tn]);
          gxb[s * px_cols + t] = wx;
        }
      }
      if (t < t1) {
        wy = EdgeOccupation(p_here, pyb[s * sz.T + t], pb[s * T1 + t + 1],
                            gb[s * T1 + t + 1]);
        gyb[s * sz.T + t] = wy;
      }
      gb[s * T1 + t] = wx + wy;
    }
    __syncthreads();
  }
}

}  // namespace

template <typename Real>
cudaError_t LaunchMiForward(cudaStream_t stream, const Real* px, const Real* py,
                            const int32_t* boundary, MiSizes sz, Real* p,
                            Real* scores) {
  if (sz.B == 0) return cudaSuccess;
  MiForwardKernel<Real><<<sz.B, kThreads, 0, stream>>>(px, py, boundary, sz, p, scores);
  return cudaGetLastError();
}

template <typename Real>
cudaError_t LaunchMiBackward(cudaStream_t stream, const Real* px, const Real* py,
                             const int32_t* boundary, MiSizes sz, const Real* p,
                             Real* px_grad, Real* py_grad, Real* g) {
  // Cells outside each box are never visited by the kernel: zero them first.
  cudaError_t err = cudaMemsetAsync(
      px_grad, 0, sizeof(Real) * sz.B * sz.S * sz.px_cols(), stream);
  if (err == cudaSuccess)
    err = cudaMemsetAsync(py_grad, 0, sizeof(Real) * sz.B * (sz.S + 1) * sz.T, stream);
  if (err != cudaSuccess || sz.B == 0) return err;
  MiBackwardKernel<Real><<<sz.B, kThreads, 0, stream>>>(px, py, boundary, sz, p,
                                                        g, px_grad, py_grad);
  return cudaGetLastError();
}

template <typename Real>
cudaError_t LaunchMiForwardBackward(cudaStream_t stream, const Real* px,
                                    const Real* py, const int32_t* boundary,
                                    MiSizes sz, Real* scores, Real* px_grad,
                                    Real* py_grad, Real* p, Real* g) {
  cudaError_t err = LaunchMiForward<Real>(stream, px, py, boundary, sz, p, scores);
  if (err != cudaSuccess) return err;
  return LaunchMiBackward<Real>(stream, px, py, boundary, sz, p, px_grad, py_grad, g);
}

template cudaError_t LaunchMiForward<float>(cudaStream_t, const float*, const float*,
                                            const int32_t*, MiSizes, float*, float*);
template cudaError_t LaunchMiForward<double>(cudaStream_t, const double*, const double*,
                                             const int32_t*, MiSizes, double*, double*);
template cudaError_t LaunchMiBackward<float>(cudaStream_t, const float*, const float*,
                                             const int32_t*, MiSizes, const float*,
                                             float*, float*, float*);
template cudaError_t LaunchMiBackward<double>(cudaStream_t, const double*, const double*,
                                              const int32_t*, MiSizes, const double*,
                                              double*, double*, double*);
template cudaError_t LaunchMiForwardBackward<float>(cudaStream_t, const float*,
                                                    const float*, const int32_t*,
                                                    MiSizes, float*, float*, float*,
                                                    float*, float*);
template cudaError_t LaunchMiForwardBackward<double>(cudaStream_t, const double*,
                                                     const double*, const int32_t*,
                                                     MiSizes, double*, double*,
                                                     double*, double*, double*);

}  // namespace xla_rnnt
