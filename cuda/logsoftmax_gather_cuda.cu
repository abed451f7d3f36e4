// CUDA twin of cc/logsoftmax_gather_cpu.cc: one warp per row of logits.
//
// Memory-bound by design: the forward reads each row once (short rows into
// registers, then max and sum; long rows with a running maximum and a
// rescaled running sum, so no second pass), the backward reads it once and
// writes its gradient once. Rows whose length and base allow it move as
// 16-byte vectors (float4 / double2), else element by element; consecutive
// lanes touch consecutive vectors, so every warp access is contiguous.
//
// HAT (cc/logsoftmax_gather.h) is a compile-time variant of each kernel
// (kHat): the forward reads the blank as -inf (the normalizer is over the
// other classes) and lane 0 finishes the row with HatRowLogprobs; the
// backward writes HatBlankGrad at the blank. The kHat = false kernels are the
// plain log-softmax, unchanged by the variant.
#include "cuda/logsoftmax_gather_cuda.h"

#include <cstdint>

namespace xla_rnnt {
namespace {

constexpr int kWarpsPerBlock = 8;
constexpr unsigned kFull = 0xffffffffu;

template <typename Real, int kVec>
struct alignas(sizeof(Real) * kVec) Pack {
  Real v[kVec];
};

// s * exp(m - m_new): the running sum rescaled to a new maximum; 0 while
// nothing finite was seen (avoids -inf - -inf).
template <typename Real>
__device__ __forceinline__ Real Rescale(Real s, Real m, Real m_new) {
  return m == NegInf<Real>() ? Real(0) : s * exp(m - m_new);
}

// HAT: the blank's entry of pack i (if it holds it) read as -inf, so that
// the max and sum run over the other classes.
template <typename Real, int kVec>
__device__ __forceinline__ void MaskBlank(Pack<Real, kVec>& pk, int64_t i, int64_t blank) {
  const int64_t blank_in_pack = blank - i * kVec;
#pragma unroll
  for (int j = 0; j < kVec; ++j) pk.v[j] = j == blank_in_pack ? NegInf<Real>() : pk.v[j];
}

// Lane 0's end of a forward row: its normalizer, px and py.
template <bool kHat, typename Real>
__device__ __forceinline__ void StoreRow(const Real* row, int32_t symbol, GatherSizes sz, Real norm,
                                         Real* px, Real* py, Real* normalizer) {
  *normalizer = norm;
  if constexpr (kHat) {
    const HatLogprobs<Real> lp = HatRowLogprobs(row, symbol, sz, norm);
    *px = lp.px;
    *py = lp.py;
  } else {
    *px = SymbolLogprob(row, symbol, sz.C, norm);
    *py = row[sz.blank] - norm;
  }
}

template <typename Real, int kVec, bool kHat>
__global__ void __launch_bounds__(32 * kWarpsPerBlock)
    GatherForwardKernel(const Real* __restrict__ logits, const int32_t* __restrict__ symbols,
                        GatherSizes sz, Real* __restrict__ px, Real* __restrict__ py,
                        Real* __restrict__ normalizers) {
  const int lane = threadIdx.x & 31;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (n >= sz.N) return;
  const Real* row = logits + n * sz.C;
  const auto* packs = reinterpret_cast<const Pack<Real, kVec>*>(row);
  const int64_t num_packs = sz.C / kVec;
  Real m = NegInf<Real>(), s = 0;
#pragma unroll 4
  for (int64_t i = lane; i < num_packs; i += 32) {
    Pack<Real, kVec> pk = packs[i];
    if constexpr (kHat) MaskBlank(pk, i, sz.blank);
    Real pm = pk.v[0];
#pragma unroll
    for (int j = 1; j < kVec; ++j) pm = max(pm, pk.v[j]);
    const Real m_new = max(m, pm);
    s = Rescale(s, m, m_new);
    if (m_new > NegInf<Real>()) {
#pragma unroll
      for (int j = 0; j < kVec; ++j) s += exp(pk.v[j] - m_new);
    }
    m = m_new;
  }
  for (int off = 16; off > 0; off >>= 1) {
    const Real m_other = __shfl_xor_sync(kFull, m, off);
    const Real s_other = __shfl_xor_sync(kFull, s, off);
    const Real m_new = max(m, m_other);
    s = Rescale(s, m, m_new) + Rescale(s_other, m_other, m_new);
    m = m_new;
  }
  if (lane == 0)
    StoreRow<kHat>(row, symbols[n], sz, RowNormalizer(m, s), px + n, py + n, normalizers + n);
}

// The same for rows of at most 32 * K vectors: all of a lane's loads are
// issued before any arithmetic (more bytes in flight than the running-sum
// loop, whose loads wait on the previous rescale), then an exact max and sum.
template <typename Real, int kVec, int K, bool kHat>
__global__ void __launch_bounds__(32 * kWarpsPerBlock)
    GatherForwardShortKernel(const Real* __restrict__ logits, const int32_t* __restrict__ symbols,
                             GatherSizes sz, Real* __restrict__ px, Real* __restrict__ py,
                             Real* __restrict__ normalizers) {
  const int lane = threadIdx.x & 31;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (n >= sz.N) return;
  const Real* row = logits + n * sz.C;
  const auto* packs = reinterpret_cast<const Pack<Real, kVec>*>(row);
  const int num_packs = static_cast<int>(sz.C / kVec);
  Pack<Real, kVec> pk[K];
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const int i = lane + 32 * k;
    if (i < num_packs) {
      pk[k] = packs[i];
      if constexpr (kHat) MaskBlank(pk[k], i, sz.blank);
    } else {
#pragma unroll
      for (int j = 0; j < kVec; ++j) pk[k].v[j] = NegInf<Real>();
    }
  }
  Real m = NegInf<Real>();
#pragma unroll
  for (int k = 0; k < K; ++k)
#pragma unroll
    for (int j = 0; j < kVec; ++j) m = max(m, pk[k].v[j]);
  for (int off = 16; off > 0; off >>= 1) m = max(m, __shfl_xor_sync(kFull, m, off));
  Real s = 0;
  if (m > NegInf<Real>()) {
#pragma unroll
    for (int k = 0; k < K; ++k)
#pragma unroll
      for (int j = 0; j < kVec; ++j) s += exp(pk[k].v[j] - m);
  }
  for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(kFull, s, off);
  if (lane == 0)
    StoreRow<kHat>(row, symbols[n], sz, RowNormalizer(m, s), px + n, py + n, normalizers + n);
}

// What a backward row is made of: scale * exp(x - norm) at every class, plus
// at_symbol at the symbol; at the blank at_blank is added (log-softmax) or is
// the value (HAT).
template <typename Real>
struct RowGradTerms {
  Real scale, at_symbol, at_blank;
};

template <bool kHat, typename Real>
__device__ __forceinline__ RowGradTerms<Real> GradTerms(const Real* row, int32_t symbol,
                                                        int64_t blank, Real gx, Real gy) {
  if constexpr (kHat) {
    const HatCotangents<Real> g = HatRowCotangents(gx, gy, symbol, blank);
    return {-g.symbol, g.symbol, HatBlankGrad(row[blank], g)};
  } else {
    return {-(gx + gy), gx, gy};
  }
}

template <typename Real, int kVec, bool kHat>
__global__ void __launch_bounds__(32 * kWarpsPerBlock)
    GatherBackwardKernel(const Real* __restrict__ logits, const int32_t* __restrict__ symbols,
                         const Real* __restrict__ normalizers, const Real* __restrict__ px_grad,
                         const Real* __restrict__ py_grad, GatherSizes sz,
                         Real* __restrict__ logits_grad) {
  const int lane = threadIdx.x & 31;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (n >= sz.N) return;
  const Real* row = logits + n * sz.C;
  const auto* in = reinterpret_cast<const Pack<Real, kVec>*>(row);
  auto* out = reinterpret_cast<Pack<Real, kVec>*>(logits_grad + n * sz.C);
  const Real norm = normalizers[n];
  const int64_t symbol = symbols[n], blank = sz.blank;  // a symbol outside [0, C) never matches
  const RowGradTerms<Real> t = GradTerms<kHat>(row, symbols[n], blank, px_grad[n], py_grad[n]);
  const int64_t num_packs = sz.C / kVec;
#pragma unroll 4
  for (int64_t i = lane; i < num_packs; i += 32) {
    const Pack<Real, kVec> pk = in[i];
    Pack<Real, kVec> g;
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const int64_t c = i * kVec + j;
      const Real v = t.scale * exp(pk.v[j] - norm) + (c == symbol ? t.at_symbol : Real(0));
      if constexpr (kHat)
        g.v[j] = c == blank ? t.at_blank : v;
      else
        g.v[j] = v + (c == blank ? t.at_blank : Real(0));
    }
    out[i] = g;
  }
}

// 16-byte vectors when every row starts on a 16-byte boundary.
template <typename Real>
bool CanVectorize(const void* a, const void* b, int64_t C) {
  constexpr int kVec = 16 / sizeof(Real);
  return C % kVec == 0 && reinterpret_cast<uintptr_t>(a) % 16 == 0 &&
         reinterpret_cast<uintptr_t>(b) % 16 == 0;
}

unsigned Blocks(int64_t N) {
  return static_cast<unsigned>((N + kWarpsPerBlock - 1) / kWarpsPerBlock);
}

template <typename Real, bool kHat>
cudaError_t LaunchForward(cudaStream_t stream, const Real* logits, const int32_t* symbols,
                          GatherSizes sz, Real* px, Real* py, Real* normalizers) {
  constexpr int kVec = 16 / sizeof(Real);
  const dim3 grid(Blocks(sz.N)), block(32 * kWarpsPerBlock);
  if (CanVectorize<Real>(logits, logits, sz.C)) {
    const int64_t num_packs = sz.C / kVec;
    if (num_packs <= 32 * 4)
      GatherForwardShortKernel<Real, kVec, 4, kHat>
          <<<grid, block, 0, stream>>>(logits, symbols, sz, px, py, normalizers);
    else if (num_packs <= 32 * 8)
      GatherForwardShortKernel<Real, kVec, 8, kHat>
          <<<grid, block, 0, stream>>>(logits, symbols, sz, px, py, normalizers);
    else
      GatherForwardKernel<Real, kVec, kHat>
          <<<grid, block, 0, stream>>>(logits, symbols, sz, px, py, normalizers);
  } else
    GatherForwardKernel<Real, 1, kHat>
        <<<grid, block, 0, stream>>>(logits, symbols, sz, px, py, normalizers);
  return cudaGetLastError();
}

template <typename Real, bool kHat>
cudaError_t LaunchBackward(cudaStream_t stream, const Real* logits, const int32_t* symbols,
                           const Real* normalizers, const Real* px_grad, const Real* py_grad,
                           GatherSizes sz, Real* logits_grad) {
  constexpr int kVec = 16 / sizeof(Real);
  const dim3 grid(Blocks(sz.N)), block(32 * kWarpsPerBlock);
  if (CanVectorize<Real>(logits, logits_grad, sz.C))
    GatherBackwardKernel<Real, kVec, kHat><<<grid, block, 0, stream>>>(
        logits, symbols, normalizers, px_grad, py_grad, sz, logits_grad);
  else
    GatherBackwardKernel<Real, 1, kHat><<<grid, block, 0, stream>>>(
        logits, symbols, normalizers, px_grad, py_grad, sz, logits_grad);
  return cudaGetLastError();
}

}  // namespace

template <typename Real>
cudaError_t LaunchLogsoftmaxGather(cudaStream_t stream, const Real* logits, const int32_t* symbols,
                                   GatherSizes sz, bool hat, Real* px, Real* py,
                                   Real* normalizers) {
  if (sz.N == 0) return cudaSuccess;
  return hat ? LaunchForward<Real, true>(stream, logits, symbols, sz, px, py, normalizers)
             : LaunchForward<Real, false>(stream, logits, symbols, sz, px, py, normalizers);
}

template <typename Real>
cudaError_t LaunchLogsoftmaxGatherGrad(cudaStream_t stream, const Real* logits,
                                       const int32_t* symbols, const Real* normalizers,
                                       const Real* px_grad, const Real* py_grad, GatherSizes sz,
                                       bool hat, Real* logits_grad) {
  if (sz.N == 0) return cudaSuccess;
  return hat ? LaunchBackward<Real, true>(stream, logits, symbols, normalizers, px_grad, py_grad,
                                          sz, logits_grad)
             : LaunchBackward<Real, false>(stream, logits, symbols, normalizers, px_grad, py_grad,
                                           sz, logits_grad);
}

template cudaError_t LaunchLogsoftmaxGather<float>(cudaStream_t, const float*, const int32_t*,
                                                   GatherSizes, bool, float*, float*, float*);
template cudaError_t LaunchLogsoftmaxGather<double>(cudaStream_t, const double*, const int32_t*,
                                                    GatherSizes, bool, double*, double*, double*);
template cudaError_t LaunchLogsoftmaxGatherGrad<float>(cudaStream_t, const float*, const int32_t*,
                                                       const float*, const float*, const float*,
                                                       GatherSizes, bool, float*);
template cudaError_t LaunchLogsoftmaxGatherGrad<double>(cudaStream_t, const double*, const int32_t*,
                                                        const double*, const double*, const double*,
                                                        GatherSizes, bool, double*);

}  // namespace xla_rnnt
