// A boundary box of a lattice array and the zeroing of everything outside
// it, shared by the recursion kernels (device code: include from .cu files).
#ifndef XLA_RNNT_CUDA_LATTICE_BOX_H_
#define XLA_RNNT_CUDA_LATTICE_BOX_H_

#include <cstdint>

#include "cc/mutual_information.h"

namespace xla_rnnt {

// A box [rlo, rhi] x [clo, chi] of a row-major array with row stride ld.
struct Box {
  int rlo, rhi, clo, chi;
};

// Zeroes every cell of a [rows, cols] array outside `box` (which may be
// empty), one warp per row, so a backward needs no memset before it; block
// `part` of `parts` that share the array takes every parts-th run of warps.
template <typename Real>
__device__ void ZeroOutside(Real* a, int rows, int cols, Box box, int part, int parts) {
  const int lane = threadIdx.x & 31, warps = blockDim.x >> 5;
  for (int r = part * warps + (threadIdx.x >> 5); r < rows; r += parts * warps) {
    Real* ar = a + int64_t(r) * cols;
    if (r < box.rlo || r > box.rhi || box.clo > box.chi) {
      for (int t = lane; t < cols; t += 32) ar[t] = Real(0);
    } else {
      for (int t = lane; t < box.clo; t += 32) ar[t] = Real(0);
      for (int t = box.chi + 1 + lane; t < cols; t += 32) ar[t] = Real(0);
    }
  }
}

// The boxes of px and py (and of their gradients) that an item's valid
// boundary row spans: px [s0, s1) x [t0, t1] (clipped to a modified px's T
// columns), py [s0, s1] x [t0, t1).
struct InputBoxes {
  Box x, y;
};

__device__ inline InputBoxes InputBoxesOf(const int32_t* row, const MiSizes& sz) {
  const int s0 = row[0], t0 = row[1], s1 = row[2], t1 = row[3], pxc = int(sz.px_cols());
  return {Box{s0, s1 - 1, t0, t1 < pxc - 1 ? t1 : pxc - 1}, Box{s0, s1, t0, t1 - 1}};
}

// The recursion backwards' common start: zeroes px_grad and py_grad outside
// the item's boxes (all of them for an invalid boundary row, whose item the
// kernel then skips), block `part` of the item's `parts` its share; false for
// an invalid row.
template <typename Real>
__device__ bool ZeroGradientsOutsideBox(const int32_t* row, const MiSizes& sz, Real* px_grad,
                                        Real* py_grad, int part = 0, int parts = 1) {
  const bool valid = BoundaryValid(row, sz.S, sz.T);
  const Box none{0, -1, 0, -1};
  const InputBoxes boxes = valid ? InputBoxesOf(row, sz) : InputBoxes{none, none};
  ZeroOutside(px_grad, int(sz.S), int(sz.px_cols()), boxes.x, part, parts);
  ZeroOutside(py_grad, int(sz.S) + 1, int(sz.T), boxes.y, part, parts);
  return valid;
}

}  // namespace xla_rnnt

#endif  // XLA_RNNT_CUDA_LATTICE_BOX_H_
