// The gradient of the gather at the symbols on the GPU
// (cc/gather_symbols_grad.h). Two kernels on the stream: every symbol's link
// (a warp each, comparing 32 symbols a step), then one block per (item, 32
// frames): it zeroes its frames' rows of x_grad and stages the item's links
// in shared memory, and its warps take the chain starts in turn, walking each
// chain with a lane per frame (each g read a coalesced run of 32 frames) and
// writing the sum where the chain's index points. Each destination is written
// by one thread in the CPU twin's order: no atomics, no dependence on
// scheduling.
#include "cuda/gather_symbols_grad_cuda.h"

namespace xla_rnnt {
namespace {

constexpr unsigned kFull = 0xffffffffu;
constexpr int kLinkWarps = 8;       // warps per block of the links: a symbol each
constexpr int kSumWarps = 32;       // warps per block of the sums: many chains in flight
constexpr int kFrames = 32;         // frames per block of the sums: a lane each
constexpr int kStagedLinks = 8192;  // an item's links in shared memory (32 KiB); more: global

unsigned Grid(int64_t blocks) {
  return static_cast<unsigned>(blocks < (int64_t{1} << 30) ? blocks : (1 << 30));
}

// Link(idx, sz, b, s) of cc/gather_symbols_grad.h, by a warp: whether an
// earlier symbol equals v (a ballot over 32 at a time, until one does), and
// the first later one that does.
template <typename Real>
__global__ void __launch_bounds__(kLinkWarps * 32)
    LinksKernel(const int32_t* idx, SymbolsGradSizes sz, Real* links) {
  const int lane = threadIdx.x % 32;
  for (int64_t i = blockIdx.x * int64_t{kLinkWarps} + threadIdx.x / 32; i < sz.B * sz.S;
       i += int64_t{gridDim.x} * kLinkWarps) {
    const int64_t b = i / sz.S, s = i % sz.S;
    const int32_t* row = idx + b * sz.S;
    const int32_t v = row[s];
    if (v < 0 || v >= sz.V) {
      if (lane == 0) links[i] = Real(-1 - sz.S);
      continue;
    }
    bool first = true;
    for (int64_t r0 = 0; r0 < s && first; r0 += 32) {
      const int64_t r = r0 + lane;
      first = __ballot_sync(kFull, r < s && row[r] == v) == 0;
    }
    int64_t next = sz.S;
    for (int64_t r0 = s + 1; r0 < sz.S; r0 += 32) {
      const int64_t r = r0 + lane;
      const unsigned hits = __ballot_sync(kFull, r < sz.S && row[r] == v);
      if (hits != 0) {
        next = r0 + __ffs(hits) - 1;
        break;
      }
    }
    if (lane == 0) links[i] = Real(first ? next : -1 - next);
  }
}

// The sums' unit of work: item b's frames [t0, t0 + frames), frames <= kFrames.
struct FrameTile {
  int64_t b, t0, frames;
};

__device__ FrameTile FrameTileAt(int64_t block, const SymbolsGradSizes& sz) {
  const int64_t frame_tiles = (sz.T + kFrames - 1) / kFrames;
  const int64_t b = block / frame_tiles, t0 = block % frame_tiles * kFrames;
  return {b, t0, sz.T - t0 < kFrames ? sz.T - t0 : kFrames};
}

// An item's links as the sums read them: staged in shared memory where they
// fit (S <= kStagedLinks), else from the workspace.
template <typename Real>
struct ItemLinks {
  const Real* global;  // the item's links in the workspace
  int32_t* staged;     // nullptr where not staged

  __device__ ItemLinks(const Real* links, const SymbolsGradSizes& sz, int64_t b, int32_t* stage)
      : global(links + b * sz.S), staged(sz.S <= kStagedLinks ? stage : nullptr) {}
  // By the whole block, after a barrier that ends the previous item's reads.
  __device__ void Stage(const SymbolsGradSizes& sz) const {
    if (staged != nullptr)
      for (int64_t s = threadIdx.x; s < sz.S; s += blockDim.x) staged[s] = int32_t(global[s]);
  }
  __device__ int64_t operator[](int64_t s) const {
    return staged != nullptr ? staged[s] : int64_t(global[s]);
  }
  // ChainSum on whichever copy holds them.
  __device__ Real Sum(const Real* g, const SymbolsGradSizes& sz, int64_t b, int64_t s,
                      int64_t t) const {
    return staged != nullptr ? ChainSum(g, staged, sz, b, s, t) : ChainSum(g, global, sz, b, s, t);
  }
};

template <typename Real>
__global__ void __launch_bounds__(kSumWarps * 32)
    SumsKernel(const int32_t* idx, const Real* g, SymbolsGradSizes sz, const Real* links,
               Real* x_grad) {
  __shared__ int32_t staged[kStagedLinks];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t tiles = sz.B * ((sz.T + kFrames - 1) / kFrames);
  for (int64_t block = blockIdx.x; block < tiles; block += gridDim.x) {
    const auto [b, t0, frames] = FrameTileAt(block, sz);
    const ItemLinks<Real> item(links, sz, b, staged);
    Real* rows = x_grad + (b * sz.T + t0) * sz.V;  // frames t0.. of x_grad, contiguous
    __syncthreads();  // the previous tile's walks are done with `staged`
    item.Stage(sz);
    for (int64_t i = threadIdx.x; i < frames * sz.V; i += blockDim.x) rows[i] = Real(0);
    __syncthreads();  // the zeros land before the sums over them; links staged
    for (int64_t s = warp; s < sz.S; s += kSumWarps) {
      if (!LinkStartsChain(item[s]) || lane >= frames) continue;
      rows[lane * sz.V + idx[b * sz.S + s]] = item.Sum(g, sz, b, s, t0 + lane);
    }
  }
}

// The sums with the block's rows in shared memory: a tile [32 frames, up to
// kTileBytes of classes] zeroed there, each chain's sum stored into it, then
// copied out in runs of consecutive classes, so x_grad is written once and
// coalesced (kDirect's 4-byte stores cost a 32-byte sector each). Classes
// beyond one tile go in chunks, each walking only the chains that end in it.
// Rows are padded to an odd stride: a warp's 32 frames then hit 32 banks.
constexpr int64_t kTileBytes = 96 << 10;

template <typename Real>
int64_t TileClasses(const SymbolsGradSizes& sz) {
  const int64_t most = kTileBytes / (kFrames * int64_t{sizeof(Real)}) - 1;
  return sz.V < most ? sz.V : most;
}

template <typename Real>
__global__ void __launch_bounds__(kSumWarps * 32)
    TileSumsKernel(const int32_t* idx, const Real* g, SymbolsGradSizes sz, const Real* links,
                   int64_t classes, int64_t stride, Real* x_grad) {
  extern __shared__ __align__(16) unsigned char tile_bytes[];
  Real* tile = reinterpret_cast<Real*>(tile_bytes);                       // [kFrames][stride]
  int32_t* staged = reinterpret_cast<int32_t*>(tile + kFrames * stride);  // [S], if staged
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t tiles = sz.B * ((sz.T + kFrames - 1) / kFrames);
  for (int64_t block = blockIdx.x; block < tiles; block += gridDim.x) {
    const auto [b, t0, frames] = FrameTileAt(block, sz);
    const ItemLinks<Real> item(links, sz, b, staged);
    __syncthreads();  // the previous tile's walks are done with `staged`
    item.Stage(sz);
    for (int64_t v0 = 0; v0 < sz.V; v0 += classes) {
      const int64_t n = sz.V - v0 < classes ? sz.V - v0 : classes;
      for (int64_t i = threadIdx.x; i < kFrames * stride; i += blockDim.x) tile[i] = Real(0);
      __syncthreads();  // zeros (and the staged links) before the sums
      for (int64_t s = warp; s < sz.S; s += kSumWarps) {
        if (!LinkStartsChain(item[s])) continue;
        const int64_t v = idx[b * sz.S + s] - v0;  // a chain start's index is in [0, V)
        if (v < 0 || v >= n || lane >= frames) continue;
        tile[lane * stride + v] = item.Sum(g, sz, b, s, t0 + lane);
      }
      __syncthreads();  // the sums before the copy out
      Real* rows = x_grad + (b * sz.T + t0) * sz.V + v0;
      const int run = int(n), count = int(frames) * run;  // < 2^15: 32-bit division
      for (int i = threadIdx.x; i < count; i += blockDim.x)
        rows[int64_t(i / run) * sz.V + i % run] = tile[(i / run) * stride + i % run];
      __syncthreads();  // the copy before the next chunk's zeros
    }
  }
}

}  // namespace

template <typename Real>
cudaError_t LaunchGatherSymbolsGrad(cudaStream_t stream, const int32_t* idx, const Real* g,
                                    SymbolsGradSizes sz, Real* x_grad, Real* links,
                                    SymbolsGradKernel kernel) {
  if (sz.B * sz.S > 0)
    LinksKernel<Real>
        <<<Grid((sz.B * sz.S + kLinkWarps - 1) / kLinkWarps), kLinkWarps * 32, 0, stream>>>(idx, sz,
                                                                                            links);
  const int64_t blocks = sz.B * ((sz.T + kFrames - 1) / kFrames);
  if (blocks == 0 || sz.V == 0) return cudaGetLastError();
  if (kernel == SymbolsGradKernel::kDirect) {
    SumsKernel<Real><<<Grid(blocks), kSumWarps * 32, 0, stream>>>(idx, g, sz, links, x_grad);
    return cudaGetLastError();
  }
  const int64_t classes = TileClasses<Real>(sz), stride = classes | 1;
  const size_t bytes = size_t(kFrames * stride) * sizeof(Real) +
                       (sz.S <= kStagedLinks ? size_t(sz.S) * sizeof(int32_t) : 0);
  if (cudaError_t e = cudaFuncSetAttribute(TileSumsKernel<Real>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes));
      e != cudaSuccess)
    return e;
  TileSumsKernel<Real>
      <<<Grid(blocks), kSumWarps * 32, bytes, stream>>>(idx, g, sz, links, classes, stride, x_grad);
  return cudaGetLastError();
}

template cudaError_t LaunchGatherSymbolsGrad<float>(cudaStream_t, const int32_t*, const float*,
                                                    SymbolsGradSizes, float*, float*,
                                                    SymbolsGradKernel);
template cudaError_t LaunchGatherSymbolsGrad<double>(cudaStream_t, const int32_t*, const double*,
                                                     SymbolsGradSizes, double*, double*,
                                                     SymbolsGradKernel);

}  // namespace xla_rnnt
