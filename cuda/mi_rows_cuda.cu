// The regular recursion row by row: the serial steps are the S+1 rows, and
// each row is a parallel scan over its frames.
//
// Within row s of the regular lattice (cc/mutual_information.h, linear
// domain, P = exp(p)):
//   P[s,t] = X[t] + A[t] * P[s,t-1],  X[t] = P[s-1,t] * exp(px[s-1,t]),
//                                     A[t] = exp(py[s,t-1]),
// an affine recurrence along t once row s-1 is known: x -> A x + X composes
// associatively, so a block scans a row in log2 steps instead of walking it.
// One block per item, each thread owning K consecutive frames of every row
// (1, 2 or 4; cuda/mi_rows_cuda.h says which):
// it composes its frames' maps, a warp scan (shuffles) and a scan over the
// warps' totals (shared memory, one barrier a row) give it the value entering
// its first frame, and it then walks its own K cells as the wavefront does
// (same cell arithmetic, cuda/ext_range.h), writing each cell's flow split
// into p. The backward is the same scan on the reversed occupations:
//   g[s,t] = D[t] + C[t] * g[s,t+1],  D[t] = g[s+1,t] * share_x(s+1,t),
//                                     C[t] = share_y(s,t+1),
// in plain floating point (flows are <= 1), reading only the splits.
// Rows longer than a block holds are cut into tiles, one block each, the
// item's blocks a thread-block cluster: tile j's maps need only its own
// frames of the row before, so it scans its row alone and waits for one value
// from tile j-1 (P just left of its first frame; backward: g just right of
// its last, from tile j+1), which tile j-1 computes from its block's total map
// as soon as its own arrives and stores into tile j's shared memory (one slot
// a row, a flag released at cluster scope). The tiles thus run a row apart by
// one hand-off, not by a row's work: the chain is S + 1 rows of one tile's
// scan plus one hand-off a tile.
// Serial work per row: a few compositions plus log2 of the block's threads,
// against one cell per anti-diagonal step (S+T steps) for the wavefront,
// which wins where T >> S, as in every transducer lattice.
#include "cuda/mi_rows_cuda.h"

#include <cooperative_groups.h>

#include <algorithm>
#include <atomic>
#include <type_traits>

#include "cuda/ext_range.h"
#include "cuda/lattice_box.h"

namespace xla_rnnt {
namespace {

constexpr unsigned kFull = 0xffffffffu;

// ---- the hand-off between the tiles of an item (thread-block clusters)

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
#define XLA_RNNT_NO_CLUSTERS 1  // the launchers run one tile an item there
#endif

// The same shared variable in block `rank` of this cluster.
template <typename T>
__device__ __forceinline__ T* PeerShared(T* p, int rank) {
#ifdef XLA_RNNT_NO_CLUSTERS
  __trap();
  return p;
#else
  return cooperative_groups::this_cluster().map_shared_rank(p, rank);
#endif
}

__device__ __forceinline__ void ClusterSync() {
#ifdef XLA_RNNT_NO_CLUSTERS
  __trap();
#else
  cooperative_groups::this_cluster().sync();
#endif
}

// A row's flag: released by the writer after the value's stores, acquired
// by the reader before its loads (cluster scope: the two blocks' SMs).
__device__ __forceinline__ void ReleaseFlag(int* flag) {
#ifdef XLA_RNNT_NO_CLUSTERS
  __trap();
#else
  asm volatile("st.release.cluster.s32 [%0], %1;" ::"l"(flag), "r"(1) : "memory");
#endif
}

// Spins on relaxed loads (an acquire a poll would cost more), then one fence.
__device__ __forceinline__ void AwaitFlag(const int* flag) {
#ifdef XLA_RNNT_NO_CLUSTERS
  __trap();
#else
  int v = 0;
  do {
    asm volatile("ld.relaxed.cluster.s32 %0, [%1];" : "=r"(v) : "l"(flag) : "memory");
  } while (v == 0);
  asm volatile("fence.acq_rel.cluster;" ::: "memory");
#endif
}

// One slot a row of an item's rows in dynamic shared memory: the value
// handed on (forward: m and e of an extended number; backward: v alone) and
// its flag, the flags zeroed before the cluster's first barrier so that no
// tile writes a slot its owner has yet to clear.
template <typename Real>
struct Handoff {
  Real* v;
  int* e;
  int* flag;
  static size_t Bytes(int64_t rows) { return size_t(rows) * (sizeof(Real) + 2 * sizeof(int)); }
  __device__ static Handoff Carve(void* base, int rows) {
    Real* v = static_cast<Real*>(base);
    int* e = reinterpret_cast<int*>(v + rows);
    return {v, e, e + rows};
  }
  __device__ void Clear(int rows) {
    for (int i = threadIdx.x; i < rows; i += blockDim.x) flag[i] = 0;
  }
  // Row r's value (and exponent, forward) into block `rank`'s slot (one thread).
  __device__ void Send(int rank, int r, Real value) {
    PeerShared(v + r, rank)[0] = value;
    ReleaseFlag(PeerShared(flag + r, rank));
  }
  __device__ void Send(int rank, int r, Real value, int exponent) {
    PeerShared(e + r, rank)[0] = exponent;
    Send(rank, r, value);
  }
  __device__ Real Await(int r) {
    AwaitFlag(flag + r);
    return v[r];
  }
  __device__ Real Await(int r, int* exponent) {
    const Real value = Await(r);
    *exponent = e[r];
    return value;
  }
};

// ---- forward: maps x -> a x + b on extended-range numbers

// x y without renormalising (m may reach [1, 4)); a zero product takes the
// zero's exponent, so products of zeros neither overflow nor climb towards
// real exponents.
template <typename Real>
__device__ __forceinline__ Ext<Real> MulRaw(Ext<Real> x, Ext<Real> y) {
  const Real m = x.m * y.m;
  return {m, m == Real(0) ? kExtZeroExp : MaxInt(x.e + y.e, kExtZeroExp)};
}

template <typename Real>
struct Affine {
  Ext<Real> a, b;
};

template <typename Real>
__device__ __forceinline__ Affine<Real> Identity() {
  return {ExtOne<Real>(), ExtZero<Real>()};
}

// g after f: x -> g.a (f.a x + f.b) + g.b, renormalised once per part.
template <typename Real>
__device__ __forceinline__ Affine<Real> Then(Affine<Real> f, Affine<Real> g) {
  return {ExtNormalize(MulRaw(g.a, f.a)), ExtNormalize(ExtAdd(MulRaw(g.a, f.b), g.b))};
}

template <typename Real>
__device__ __forceinline__ Affine<Real> Shfl(Affine<Real> f, int src_lane) {
  return {{__shfl_sync(kFull, f.a.m, src_lane), __shfl_sync(kFull, f.a.e, src_lane)},
          {__shfl_sync(kFull, f.b.m, src_lane), __shfl_sync(kFull, f.b.e, src_lane)}};
}

template <typename Real>
__device__ __forceinline__ Affine<Real> ShflUp(Affine<Real> f, int d) {
  return {{__shfl_up_sync(kFull, f.a.m, d), __shfl_up_sync(kFull, f.a.e, d)},
          {__shfl_up_sync(kFull, f.b.m, d), __shfl_up_sync(kFull, f.b.e, d)}};
}

// Inclusive scan over lanes 0..n-1 (lanes >= n keep garbage they never hand on).
// The levels compose without renormalising, once at the end: f's parts are
// normalised maps (m < 2), so a level's m stays below 2^(2n) (n <= 32), far
// inside the range, and the chain loses a renormalisation a level (an H200:
// forward 8-14% faster, bound experiments in notes/gpu_kernels.md).
template <typename Real>
__device__ __forceinline__ Affine<Real> WarpScan(Affine<Real> f, int lane, int n) {
  for (int d = 1; d < n; d <<= 1) {
    const Affine<Real> o = ShflUp(f, d);
    if (lane >= d) f = {MulRaw(f.a, o.a), ExtAdd(MulRaw(f.a, o.b), f.b)};
  }
  return {ExtNormalize(f.a), ExtNormalize(f.b)};
}

template <typename Real>
struct ForwardTotals {  // the warps' maps, two rows' worth (one barrier a row)
  Real am[2][32], bm[2][32];
  int ae[2][32], be[2][32];
};

template <typename Real, int K>
__global__ void __launch_bounds__(kRowsMaxThreads)
    MiForwardRowsKernel(const Real* __restrict__ px, const Real* __restrict__ py,
                        const int32_t* __restrict__ boundary, MiSizes sz, int tiles,
                        Real* __restrict__ p, Real* __restrict__ scores) {
  using E = Ext<Real>;
  __shared__ ForwardTotals<Real> tot;
  extern __shared__ __align__(16) unsigned char handoff_bytes[];
  const int64_t b = blockIdx.x / tiles;
  const int j = int(blockIdx.x % tiles);  // this block's tile (its rank in the cluster)
  const int32_t* row = boundary + 4 * b;
  if (!BoundaryValid(row, sz.S, sz.T)) {  // the whole cluster: one item
    if (threadIdx.x == 0 && j == 0) scores[b] = Real(NAN);
    return;
  }
  const int S = sz.S, T = sz.T, T1 = T + 1;
  const int s0 = row[0], t0 = row[1], s1 = row[2], t1 = row[3];
  const Real* pxb = px + b * S * T1;
  const Real* pyb = py + b * (S + 1) * T;
  Real* pb = p + b * (S + 1) * T1;
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, W = blockDim.x >> 5;
  const int tile_frames = K * int(blockDim.x);
  const int tile_t = t0 + j * tile_frames;       // this tile's first frame
  const int tb = tile_t + K * int(threadIdx.x);  // this thread's first frame
  // Tiles wholly right of t1 have nothing to do; the next tile waits for this
  // one's value only if it has frames.
  const bool active = tile_t <= t1, feeds_next = j + 1 < tiles && tile_t + tile_frames <= t1;
  Handoff<Real> in = Handoff<Real>::Carve(handoff_bytes, S + 1);
  if (tiles > 1) {
    in.Clear(S + 1);
    ClusterSync();
  }
  // Row s's inputs, loaded one row ahead: py[s, t-1] and px[s, t].
  auto load = [&](int s, Real* y, Real* x) {
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int t = tb + k;
      y[k] = (t > t0 && t <= t1) ? pyb[int64_t(s) * T + t - 1] : Real(0);
      x[k] = (s < s1 && t <= t1) ? pxb[int64_t(s) * T1 + t] : Real(0);
    }
  };
  E xin[K];  // the x terms into this row: P[s-1,t] exp(px[s-1,t])
#pragma unroll
  for (int k = 0; k < K; ++k) xin[k] = ExtZero<Real>();
  // Row s from its inputs yr, xr, loading row s+1's into yn, xn (two register
  // buffers in turn: a copy would wait on the loads).
  auto do_row = [&](int s, const Real* yr, const Real* xr, Real* yn, Real* xn) {
    if (s < s1) load(s + 1, yn, xn);
    E a[K];
    Affine<Real> f = Identity<Real>();
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int t = tb + k;
      a[k] = t > t0 ? ExtFromLog(yr[k]) : ExtZero<Real>();
      const E x = (s == s0 && t == t0) ? ExtOne<Real>() : xin[k];
      if (t <= t1) f = Then(f, Affine<Real>{a[k], x});
    }
    const Affine<Real> inc = WarpScan(f, lane, 32);
    Affine<Real> exc = ShflUp(inc, 1);
    if (lane == 0) exc = Identity<Real>();
    const int par = s & 1;
    if (lane == 31) {
      tot.am[par][w] = inc.a.m;
      tot.ae[par][w] = inc.a.e;
      tot.bm[par][w] = inc.b.m;
      tot.be[par][w] = inc.b.e;
    }
    __syncthreads();
    // The warps before this one (wp) and the whole tile (all), composed.
    Affine<Real> wp = Identity<Real>(), all = Identity<Real>();
    if (W > 1) {
      Affine<Real> v = Identity<Real>();
      if (lane < W)
        v = {{tot.am[par][lane], tot.ae[par][lane]}, {tot.bm[par][lane], tot.be[par][lane]}};
      v = WarpScan(v, lane, W);
      const Affine<Real> wpv = Shfl(v, w > 0 ? w - 1 : 0);
      if (w > 0) wp = wpv;
      if (tiles > 1) all = Shfl(v, W - 1);
    } else if (tiles > 1) {
      all = Shfl(inc, 31);
    }
    // P just left of the tile: nothing for the first (no frame precedes t0),
    // else tile j-1's hand-off, which this tile then carries to tile j+1.
    E into = ExtZero<Real>();
    if (j > 0) into.m = in.Await(s, &into.e);
    if (feeds_next && threadIdx.x == 0) {
      const E out = ExtNormalize(ExtAdd(MulRaw(all.a, into), all.b));
      in.Send(j + 1, s, out.m, out.e);
    }
    // P before warp w (one tile: wp applied to nothing).
    const E before = j > 0 ? ExtNormalize(ExtAdd(MulRaw(wp.a, into), wp.b)) : wp.b;
    E P = ExtNormalize(ExtAdd(MulRaw(exc.a, before), exc.b));  // P[s, tb - 1]
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int t = tb + k;
      if (t <= t1) {
        const E y_in = ExtMul(P, a[k]);
        const ExtAligned<Real> terms = ExtAlign(xin[k], y_in);
        E v = ExtNormalize(E{terms.a + terms.b, terms.e});
        if (s == s0 && t == t0) v = ExtOne<Real>();
        pb[int64_t(s) * T1 + t] = SplitCode(terms.a, terms.b);
        P = v;
        xin[k] = s < s1 ? ExtMul(v, ExtFromLog(xr[k])) : ExtZero<Real>();
        if (s == s1 && t == t1) scores[b] = ExtToLog(v);
      }
    }
  };
  if (active) {
    Real ya[K], xa[K], yb[K], xb[K];
    load(s0, ya, xa);
    for (int s = s0; s <= s1; s += 2) {
      do_row(s, ya, xa, yb, xb);
      if (s < s1) do_row(s + 1, yb, xb, ya, xa);
    }
  }
  if (tiles > 1) ClusterSync();  // no block leaves while a peer may write its slots
}

// ---- backward: maps g -> c g + d on plain numbers, scanned from the right

template <typename Real>
struct Flow {
  Real c, d;
};

// The map of a frame range followed by the range to its right.
template <typename Real>
__device__ __forceinline__ Flow<Real> LeftOf(Flow<Real> left, Flow<Real> right) {
  return {left.c * right.c, left.c * right.d + left.d};
}

template <typename Real>
__device__ __forceinline__ Flow<Real> ShflDown(Flow<Real> f, int d) {
  return {__shfl_down_sync(kFull, f.c, d), __shfl_down_sync(kFull, f.d, d)};
}

// Inclusive scan from the right over lanes 0..n-1.
template <typename Real>
__device__ __forceinline__ Flow<Real> WarpScanRight(Flow<Real> f, int lane, int n) {
  for (int d = 1; d < n; d <<= 1) {
    const Flow<Real> o = ShflDown(f, d);
    if (lane + d < n) f = LeftOf(f, o);
  }
  return f;
}

template <typename Real, int K>
__global__ void __launch_bounds__(kRowsMaxThreads)
    MiBackwardRowsKernel(const int32_t* __restrict__ boundary, MiSizes sz, int tiles,
                         const Real* __restrict__ p, Real* __restrict__ px_grad,
                         Real* __restrict__ py_grad) {
  __shared__ Real tot_c[2][32], tot_d[2][32];
  extern __shared__ __align__(16) unsigned char handoff_bytes[];
  const int64_t b = blockIdx.x / tiles;
  const int j = int(blockIdx.x % tiles);
  const int S = sz.S, T = sz.T, T1 = T + 1;
  const Real* pb = p + b * (S + 1) * T1;
  Real* gxb = px_grad + b * S * T1;
  Real* gyb = py_grad + b * (S + 1) * T;
  const int32_t* row = boundary + 4 * b;
  // The whole cluster returns here for an invalid row (one item).
  if (!ZeroGradientsOutsideBox(row, sz, gxb, gyb, j, tiles)) return;
  const int s0 = row[0], t0 = row[1], s1 = row[2], t1 = row[3];
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, W = blockDim.x >> 5;
  const int tile_frames = K * int(blockDim.x);
  const int tile_t = t0 + j * tile_frames;
  const int tb = tile_t + K * int(threadIdx.x);
  // The tile holding t1 starts each row's chain; those right of it idle.
  const int last = (t1 - t0) / tile_frames;
  Handoff<Real> in = Handoff<Real>::Carve(handoff_bytes, S + 1);
  if (tiles > 1) {
    in.Clear(S + 1);
    ClusterSync();
  }
  // Row s's splits at this thread's frames and the one after them.
  auto load = [&](int s, Real* r) {
#pragma unroll
    for (int k = 0; k <= K; ++k) {
      const int t = tb + k;
      r[k] = t <= t1 ? pb[int64_t(s) * T1 + t] : Real(NAN);
    }
  };
  Real din[K];  // the x flows into this row: g[s+1,t] share_x(s+1,t)
#pragma unroll
  for (int k = 0; k < K; ++k) din[k] = (tb + k == t1) ? Real(1) : Real(0);  // g[s1,t1] = 1
  auto do_row = [&](int s, const Real* rr, Real* rn) {                      // as the forward's
    if (s > s0) load(s - 1, rn);
    Real c[K];
    Flow<Real> f{Real(1), Real(0)};
#pragma unroll
    for (int k = K - 1; k >= 0; --k) {
      const int t = tb + k;
      c[k] = t < t1 ? SplitShares(rr[k + 1]).b : Real(0);
      if (t <= t1) f = LeftOf(Flow<Real>{c[k], din[k]}, f);
    }
    const Flow<Real> inc = WarpScanRight(f, lane, 32);
    Flow<Real> exc = ShflDown(inc, 1);
    if (lane == 31) exc = Flow<Real>{Real(1), Real(0)};
    const int par = s & 1;
    if (lane == 0) {
      tot_c[par][w] = inc.c;
      tot_d[par][w] = inc.d;
    }
    __syncthreads();
    // The warps after this one (wa) and the whole tile (all), composed.
    Flow<Real> wa{Real(1), Real(0)}, all{Real(1), Real(0)};
    if (W > 1) {
      Flow<Real> v{Real(1), Real(0)};
      if (lane < W) v = Flow<Real>{tot_c[par][lane], tot_d[par][lane]};
      v = WarpScanRight(v, lane, W);
      const Flow<Real> wav = {__shfl_sync(kFull, v.c, w + 1 < W ? w + 1 : 0),
                              __shfl_sync(kFull, v.d, w + 1 < W ? w + 1 : 0)};
      if (w + 1 < W) wa = wav;
      if (tiles > 1) all = {__shfl_sync(kFull, v.c, 0), __shfl_sync(kFull, v.d, 0)};
    } else if (tiles > 1) {
      all = {__shfl_sync(kFull, inc.c, 0), __shfl_sync(kFull, inc.d, 0)};
    }
    // g just right of the tile: nothing for the tile holding t1, else tile
    // j+1's hand-off, which this tile then carries to tile j-1.
    Real into = Real(0);
    if (j < last) into = in.Await(s);
    if (j > 0 && threadIdx.x == 0) in.Send(j - 1, s, all.c * into + all.d);
    const Real after = j < last ? wa.c * into + wa.d : wa.d;  // g right of warp w's frames
    Real g_next = exc.c * after + exc.d;                      // g[s, tb + K]
#pragma unroll
    for (int k = K - 1; k >= 0; --k) {
      const int t = tb + k;
      if (t <= t1) {
        const Real y_flow = c[k] * g_next;
        const Real g = din[k] + y_flow;
        if (t < t1) gyb[int64_t(s) * T + t] = y_flow;
        if (s < s1) gxb[int64_t(s) * T1 + t] = din[k];
        din[k] = g * SplitShares(rr[k]).a;
        g_next = g;
      }
    }
  };
  if (j <= last) {
    Real ra[K + 1], rb[K + 1];
    load(s1, ra);
    for (int s = s1; s >= s0; s -= 2) {
      do_row(s, ra, rb);
      if (s > s0) do_row(s - 1, rb, ra);
    }
  }
  if (tiles > 1) ClusterSync();  // no block leaves while a peer may write its slots
}

// The plan a launcher runs: the given one (frames 1, 2 or 4, tiles 1 to
// kRowsMaxTiles, 0: one) or, for frames 0 and tiles 0, the launchers'; {0, 0}
// where it cannot run.
MiRowsPlan CheckedPlan(const MiSizes& sz, MiRowsPlan given, MiRowsPlan chosen) {
  if (given.frames == 0 && given.tiles != 0) return {0, 0};
  const MiRowsPlan pl =
      given.frames == 0 ? chosen : MiRowsPlan{given.frames, given.tiles == 0 ? 1 : given.tiles};
  const bool clusters = pl.tiles == 1 || (MiRowsClusters() && sz.S + 1 <= kRowsMaxTiledRows);
  const bool ok = !sz.modified && (pl.frames == 1 || pl.frames == 2 || pl.frames == 4) &&
                  pl.tiles >= 1 && pl.tiles <= kRowsMaxTiles && clusters &&
                  sz.T + 1 <= int64_t(pl.frames) * pl.tiles * kRowsMaxThreads;
  return ok ? pl : MiRowsPlan{0, 0};
}

// Threads a block: the tile's frames, whole warps.
int ThreadsFor(const MiSizes& sz, MiRowsPlan pl) {
  const int64_t per_tile = (sz.T + 1 + pl.tiles - 1) / pl.tiles;
  const int64_t want = (per_tile + pl.frames - 1) / pl.frames;
  return int(std::min<int64_t>(kRowsMaxThreads, (want + 31) / 32 * 32));
}

// launch(std::integral_constant<int, K>{}) for K = 1, 2, 4.
template <typename Launch>
void WithFrames(int K, Launch&& launch) {
  if (K == 1) launch(std::integral_constant<int, 1>{});
  if (K == 2) launch(std::integral_constant<int, 2>{});
  if (K == 4) launch(std::integral_constant<int, 4>{});
}

// One block an item, or a cluster of pl.tiles blocks with a hand-off slot a
// row in dynamic shared memory.
template <typename Real, typename... Params, typename... Args>
cudaError_t LaunchTiled(void (*kernel)(Params...), cudaStream_t stream, const MiSizes& sz,
                        MiRowsPlan pl, Args... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(unsigned(sz.B * pl.tiles));
  cfg.blockDim = dim3(unsigned(ThreadsFor(sz, pl)));
  cfg.dynamicSmemBytes = pl.tiles > 1 ? Handoff<Real>::Bytes(sz.S + 1) : 0;
  cfg.stream = stream;
  cudaLaunchAttribute cluster[1];
  cluster[0].id = cudaLaunchAttributeClusterDimension;
  cluster[0].val.clusterDim.x = unsigned(pl.tiles);
  cluster[0].val.clusterDim.y = 1;
  cluster[0].val.clusterDim.z = 1;
  cfg.attrs = cluster;
  cfg.numAttrs = pl.tiles > 1 ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, Params(args)...);
}

}  // namespace

bool MiRowsClusters() {
  // Per device: 0 unknown, 1 no, 2 yes (every thread that asks finds the same).
  static std::atomic<int> known[64] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return false;
  if (known[dev].load(std::memory_order_relaxed) == 0) {
    int major = 0, cluster_launch = 0;
    cudaFuncAttributes attr{};
    const bool yes =
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
        major >= 9 &&
        cudaDeviceGetAttribute(&cluster_launch, cudaDevAttrClusterLaunch, dev) == cudaSuccess &&
        cluster_launch != 0 &&
        cudaFuncGetAttributes(&attr, MiForwardRowsKernel<float, 1>) == cudaSuccess &&
        attr.ptxVersion >= 90 && attr.binaryVersion >= 90;  // not sm_80 code run by JIT
    known[dev].store(yes ? 2 : 1, std::memory_order_relaxed);
  }
  return known[dev].load(std::memory_order_relaxed) == 2;
}

template <typename Real>
cudaError_t LaunchMiForwardRows(cudaStream_t stream, const Real* px, const Real* py,
                                const int32_t* boundary, MiSizes sz, Real* p, Real* scores,
                                int frames_per_thread, int tiles) {
  const MiRowsPlan pl =
      CheckedPlan(sz, {frames_per_thread, tiles}, MiRowsForwardPlan(sz, MiRowsClusters()));
  if (pl.tiles == 0) return cudaErrorInvalidValue;
  if (sz.B == 0) return cudaSuccess;
  cudaError_t err = cudaSuccess;
  WithFrames(pl.frames, [&](auto k) {
    err = LaunchTiled<Real>(MiForwardRowsKernel<Real, decltype(k)::value>, stream, sz, pl, px, py,
                            boundary, sz, pl.tiles, p, scores);
  });
  return err;
}

template <typename Real>
cudaError_t LaunchMiBackwardRows(cudaStream_t stream, const int32_t* boundary, MiSizes sz,
                                 const Real* p, Real* px_grad, Real* py_grad, int frames_per_thread,
                                 int tiles) {
  const MiRowsPlan pl =
      CheckedPlan(sz, {frames_per_thread, tiles}, MiRowsBackwardPlan(sz, MiRowsClusters()));
  if (pl.tiles == 0) return cudaErrorInvalidValue;
  if (sz.B == 0) return cudaSuccess;
  cudaError_t err = cudaSuccess;
  WithFrames(pl.frames, [&](auto k) {
    err = LaunchTiled<Real>(MiBackwardRowsKernel<Real, decltype(k)::value>, stream, sz, pl,
                            boundary, sz, pl.tiles, p, px_grad, py_grad);
  });
  return err;
}

template cudaError_t LaunchMiForwardRows<float>(cudaStream_t, const float*, const float*,
                                                const int32_t*, MiSizes, float*, float*, int, int);
template cudaError_t LaunchMiForwardRows<double>(cudaStream_t, const double*, const double*,
                                                 const int32_t*, MiSizes, double*, double*, int,
                                                 int);
template cudaError_t LaunchMiBackwardRows<float>(cudaStream_t, const int32_t*, MiSizes,
                                                 const float*, float*, float*, int, int);
template cudaError_t LaunchMiBackwardRows<double>(cudaStream_t, const int32_t*, MiSizes,
                                                  const double*, double*, double*, int, int);

}  // namespace xla_rnnt
