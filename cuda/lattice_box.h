// A boundary box of a lattice array and the zeroing of everything outside
// it, shared by the recursion kernels (device code: include from .cu files).
#ifndef XLA_RNNT_CUDA_LATTICE_BOX_H_
#define XLA_RNNT_CUDA_LATTICE_BOX_H_

#include <cstdint>

namespace xla_rnnt {

// A box [rlo, rhi] x [clo, chi] of a row-major array with row stride ld.
struct Box {
  int rlo, rhi, clo, chi;
};

// Zeroes every cell of a [rows, cols] array outside `box` (which may be
// empty), one warp per row, so a backward needs no memset before it.
template <typename Real>
__device__ void ZeroOutside(Real* a, int rows, int cols, Box box) {
  const int lane = threadIdx.x & 31;
  for (int r = threadIdx.x >> 5; r < rows; r += blockDim.x >> 5) {
    Real* ar = a + int64_t(r) * cols;
    if (r < box.rlo || r > box.rhi || box.clo > box.chi) {
      for (int t = lane; t < cols; t += 32) ar[t] = Real(0);
    } else {
      for (int t = lane; t < box.clo; t += 32) ar[t] = Real(0);
      for (int t = box.chi + 1 + lane; t < cols; t += 32) ar[t] = Real(0);
    }
  }
}

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_LATTICE_BOX_H_
