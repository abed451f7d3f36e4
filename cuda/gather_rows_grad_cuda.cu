// The gather-rows gradient on the GPU (cc/gather_rows_grad.h): one thread per
// destination element (b, n, q), adding its sources in the CPU twin's order,
// so no atomics and no dependence on scheduling. Two kernels on the stream:
// the columns' sortedness [B, R], then the sums.
#include "cuda/gather_rows_grad_cuda.h"

namespace xla_rnnt {
namespace {

constexpr int kThreads = 128;  // threads per block: consecutive q of one (b, n)

constexpr int kColumnsPerBlock = kThreads / 32;  // sortedness: one warp per column

constexpr int kColumnsPerPass = kThreads / 2;  // sums: one bound per thread

// One warp per column (b, r): its lanes compare neighbours 32 frames at a
// time (one thread per column would wait on T loads in a row).
template <typename Real>
__global__ void ColumnsSortedKernel(const int32_t* idx, RowsGradSizes sz, Real* sorted) {
  const int64_t column = blockIdx.x * int64_t{kColumnsPerBlock} + threadIdx.x / 32;
  if (column >= sz.B * sz.R) return;  // whole warps: the same column per warp
  const int32_t* col = idx + column / sz.R * sz.T * sz.R + column % sz.R;
  bool decreases = false;
  for (int64_t t = 1 + threadIdx.x % 32; t < sz.T; t += 32)
    decreases = decreases || col[t * sz.R] < col[(t - 1) * sz.R];
  decreases = __any_sync(0xffffffffu, decreases);
  if (threadIdx.x % 32 == 0) sorted[column] = decreases ? Real(0) : Real(1);
}

// One block per (b, n, tile of kThreads q): its threads first find the
// bounds of kColumnsPerPass columns at once (binary searches side by side),
// then each adds its q over them; one thread per element searching alone
// waited on 2 * R * log2(T) dependent loads.
template <typename Real>
__global__ void SumsKernel(const int32_t* idx, const Real* g, RowsGradSizes sz, const Real* sorted,
                           Real* x_grad) {
  __shared__ int64_t bounds[kThreads];  // [lo, hi) of column r0 + i / 2
  const int64_t q_tiles = (sz.Q + kThreads - 1) / kThreads;
  for (int64_t block = blockIdx.x; block < sz.B * sz.N * q_tiles; block += gridDim.x) {
    const int64_t b = block / (sz.N * q_tiles), n = block / q_tiles % sz.N;
    const int64_t q = block % q_tiles * kThreads + threadIdx.x;
    Real acc = Real(0);
    for (int64_t r0 = 0; r0 < sz.R; r0 += kColumnsPerPass) {
      const int64_t r = r0 + threadIdx.x / 2;
      __syncthreads();  // the previous pass's bounds are read
      if (r < sz.R) bounds[threadIdx.x] = RowBound(idx, sz, sorted, b, n, r, threadIdx.x % 2 == 1);
      __syncthreads();
      const int64_t end = r0 + kColumnsPerPass < sz.R ? r0 + kColumnsPerPass : sz.R;
      if (q < sz.Q)
        for (int64_t c = r0; c < end; ++c)
          acc = AddColumn(acc, idx, g, sz, sorted, b, n, q, c, bounds[2 * (c - r0)],
                          bounds[2 * (c - r0) + 1]);
    }
    if (q < sz.Q) x_grad[(b * sz.N + n) * sz.Q + q] = acc;
  }
}

}  // namespace

template <typename Real>
cudaError_t LaunchGatherRowsGrad(cudaStream_t stream, const int32_t* idx, const Real* g,
                                 RowsGradSizes sz, Real* x_grad, Real* sorted) {
  if (sz.B * sz.R > 0) {
    const int64_t blocks = (sz.B * sz.R + kColumnsPerBlock - 1) / kColumnsPerBlock;
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
