// The band recursion (cc/band_recursion.h) on the GPU, a warp per batch
// item: lane k owns window row k, values pass between lanes by shuffles only
// (no shared-memory tiles, no block barriers). The item's frames take the
// wavefront where its windows never move back, else frame by frame
// (cuda/band_wave.h, cuda/band_lanes.h). The launchers below take the chunked
// scan of cuda/band_chunks_cuda.h instead for long runs of frames.
#include "cuda/band_recursion_cuda.h"

#include "cuda/band_wave.h"

namespace xla_rnnt {
namespace {

using namespace band;  // NOLINT: the lanes' device pieces

constexpr int kWarps = 4;  // items per block

template <typename Real>
__global__ void BandForwardKernel(const Real* px, const Real* py, const int32_t* starts,
                                  const int32_t* boundary, BandSizes sz, Real* scores, Real* split,
                                  Real* final_split) {
  __shared__ EndTerms<Real> ends[kWarps];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t b = blockIdx.x * int64_t{kWarps} + warp;
  if (b >= sz.B) return;  // whole warps
  const BandItem it = BandItemAt(starts, boundary, sz, b);
  const int64_t TR = sz.T * sz.R;
  const Real* pxb = px + b * TR;
  const Real* pyb = py + b * TR;
  Real* sb = split + b * TR;
  const Frames f = BoxFrames(it);
  FillOutside(sb, f, sz, Real(NAN), lane);
  EndTerms<Real>* end = &ends[warp];
  if (lane == 0) *end = {ExtZero<Real>(), ExtZero<Real>()};
  __syncwarp();
  if (f.last >= f.first && sz.R > 0)
    ForwardRun<Real, true>(it, f.first, f.last, NoForwardCarry<Real>(), pxb, pyb, sb, end, lane);
  __syncwarp();
  if (lane == 0) WriteEnd(*end, it, b, scores, final_split);
}

template <typename Real>
__global__ void BandBackwardKernel(const int32_t* starts, const int32_t* boundary, BandSizes sz,
                                   const Real* split, const Real* final_split, Real* px_grad,
                                   Real* py_grad) {
  const int lane = threadIdx.x % 32;
  const int64_t b = blockIdx.x * int64_t{kWarps} + threadIdx.x / 32;
  if (b >= sz.B) return;
  const BandItem it = BandItemAt(starts, boundary, sz, b);
  const int64_t TR = sz.T * sz.R;
  const Real* sb = split + b * TR;
  Real* gxb = px_grad + b * TR;
  Real* gyb = py_grad + b * TR;
  const Frames f = BoxFrames(it);
  FillOutside(gxb, f, sz, Real(0), lane);
  FillOutside(gyb, f, sz, Real(0), lane);
  const Shares<Real> end = EndShares(it, final_split, b);
  if (f.last >= f.first && sz.R > 0)
    BackwardRun<Real, true>(it, f.first, f.last, NoBackwardCarry<Real>(), sb, end, gxb, gyb, lane);
}

}  // namespace

template <typename Real>
cudaError_t LaunchBandForward(cudaStream_t stream, const Real* px, const Real* py,
                              const int32_t* starts, const int32_t* boundary, BandSizes sz,
                              Real* scores, Real* split, Real* final_split, int64_t chunk_frames) {
  if (sz.R > kBandMaxRows) return cudaErrorInvalidValue;
  if (sz.B == 0) return cudaSuccess;
  if (const int64_t C = BandChunkFrames(sz, chunk_frames); C > 0)
    return LaunchBandChunksForward(stream, px, py, starts, boundary, sz, C, scores, split,
                                   final_split);
  const int64_t blocks = (sz.B + kWarps - 1) / kWarps;
  BandForwardKernel<Real><<<static_cast<unsigned>(blocks), 32 * kWarps, 0, stream>>>(
      px, py, starts, boundary, sz, scores, split, final_split);
  return cudaGetLastError();
}

template <typename Real>
cudaError_t LaunchBandBackward(cudaStream_t stream, const int32_t* starts, const int32_t* boundary,
                               BandSizes sz, const Real* split, const Real* final_split,
                               Real* px_grad, Real* py_grad, int64_t chunk_frames) {
  if (sz.R > kBandMaxRows) return cudaErrorInvalidValue;
  if (sz.B == 0) return cudaSuccess;
  if (const int64_t C = BandChunkFrames(sz, chunk_frames); C > 0)
    return LaunchBandChunksBackward(stream, starts, boundary, sz, C, split, final_split, px_grad,
                                    py_grad);
  const int64_t blocks = (sz.B + kWarps - 1) / kWarps;
  BandBackwardKernel<Real><<<static_cast<unsigned>(blocks), 32 * kWarps, 0, stream>>>(
      starts, boundary, sz, split, final_split, px_grad, py_grad);
  return cudaGetLastError();
}

template cudaError_t LaunchBandForward<float>(cudaStream_t, const float*, const float*,
                                              const int32_t*, const int32_t*, BandSizes, float*,
                                              float*, float*, int64_t);
template cudaError_t LaunchBandForward<double>(cudaStream_t, const double*, const double*,
                                               const int32_t*, const int32_t*, BandSizes, double*,
                                               double*, double*, int64_t);
template cudaError_t LaunchBandBackward<float>(cudaStream_t, const int32_t*, const int32_t*,
                                               BandSizes, const float*, const float*, float*,
                                               float*, int64_t);
template cudaError_t LaunchBandBackward<double>(cudaStream_t, const int32_t*, const int32_t*,
                                                BandSizes, const double*, const double*, double*,
                                                double*, int64_t);

}  // namespace xla_rnnt
