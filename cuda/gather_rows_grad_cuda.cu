// The gather-rows gradient on the GPU (cc/gather_rows_grad.h): one thread per
// destination element (b, n, q), adding its sources in the CPU twin's order,
// so no atomics and no dependence on scheduling. Two kernels on the stream:
// the columns' sortedness [B, R], then the sums.
#include "cuda/gather_rows_grad_cuda.h"

namespace xla_rnnt {
namespace {

constexpr int kThreads = 128;  // threads per block: consecutive q of one (b, n)

// One thread per column (b, r): a pass over T indices, cheap next to the sums.
template <typename Real>
__global__ void ColumnsSortedKernel(const int32_t* idx, RowsGradSizes sz, Real* sorted) {
  const int64_t column = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (column >= sz.B * sz.R) return;
  sorted[column] = ColumnSorted(idx, sz, column / sz.R, column % sz.R) ? Real(1) : Real(0);
}

template <typename Real>
__global__ void SumsKernel(const int32_t* idx, const Real* g, RowsGradSizes sz, const Real* sorted,
                           Real* x_grad) {
  const int64_t q_tiles = (sz.Q + kThreads - 1) / kThreads;
  for (int64_t block = blockIdx.x; block < sz.B * sz.N * q_tiles; block += gridDim.x) {
    const int64_t b = block / (sz.N * q_tiles), n = block / q_tiles % sz.N;
    const int64_t q = block % q_tiles * kThreads + threadIdx.x;
    if (q < sz.Q) x_grad[(b * sz.N + n) * sz.Q + q] = RowSum(idx, g, sz, sorted, b, n, q);
  }
}

}  // namespace

template <typename Real>
cudaError_t LaunchGatherRowsGrad(cudaStream_t stream, const int32_t* idx, const Real* g,
                                 RowsGradSizes sz, Real* x_grad, Real* sorted) {
  if (sz.B * sz.R > 0) {
    const int64_t blocks = (sz.B * sz.R + kThreads - 1) / kThreads;
    ColumnsSortedKernel<Real>
        <<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(idx, sz, sorted);
  }
  const int64_t q_tiles = (sz.Q + kThreads - 1) / kThreads;
  const int64_t blocks = sz.B * sz.N * q_tiles;
  if (blocks == 0) return cudaGetLastError();
  const unsigned grid = static_cast<unsigned>(blocks < (int64_t{1} << 30) ? blocks : (1 << 30));
  SumsKernel<Real><<<grid, kThreads, 0, stream>>>(idx, g, sz, sorted, x_grad);
  return cudaGetLastError();
}

template cudaError_t LaunchGatherRowsGrad<float>(cudaStream_t, const int32_t*, const float*,
                                                 RowsGradSizes, float*, float*);
template cudaError_t LaunchGatherRowsGrad<double>(cudaStream_t, const int32_t*, const double*,
                                                  RowsGradSizes, double*, double*);

}  // namespace xla_rnnt
