// CUDA twin of cc/mutual_information_cpu.cc: a register wavefront, and the
// launchers, which take the row scan of cuda/mi_rows_cuda.cu instead where it
// serves (regular lattices of up to 1024 frames and S well below T:
// MiRowsServe).
//
// One thread block per batch item; each thread owns one row s of the item's
// boundary box and walks it left to right (right to left for the backward),
// lane l of a warp lagging lane l-1 by `skew` columns (1 regular, 0 modified).
// The value a row passes to the next row moves between lanes with
// __shfl_up_sync, between the warps of a block through a small ring in shared
// memory, and between successive bands of 32*W rows (S+1 > 32*W) through
// global memory.
//
// The forward runs in linear space with an extended exponent
// (cuda/ext_range.h): a cell is an exponent alignment and an add of two
// terms, where the log domain needs exp + log1p on the dependent chain. What
// it keeps for the backward in p is not the log-score but each cell's split
// of its incoming flow between its two predecessors (SplitCode, relative
// precision of the smaller share), so the backward is pure flow: a cell's
// occupation g is what its successors send it, and it sends g times each
// share to its predecessors; those two sends are px_grad and py_grad. No exp,
// no px/py reads, and the shares of a cell sum to one, so the occupations do
// not drift over long lattices. The CPU twin's p holds log-scores; only the
// CUDA backward reads the CUDA forward's p (cc/mutual_information.h).
//
// Warps advance in chunks of C columns separated by __syncthreads; warp w
// runs L chunks behind warp w-1, which is enough for every handoff value to
// be written one barrier before it is read. Inputs reach shared memory by
// cp.async, two chunks ahead (three buffers), as "parallelogram" tiles: row i
// of the warp's tile holds the C columns lane i walks in that chunk, so every
// global access is a contiguous run of C elements of one row (the lattice is
// row-major with stride T between rows, so a diagonal is never contiguous),
// and outputs leave the same way from two buffers; this tile traffic is
// spread over the steps of the next chunk. Nothing needs memsets: the
// backward zeroes the gradient cells outside its item's box itself.
// Measurements and limits: notes/gpu_kernels.md.
#include "cuda/mutual_information_cuda.h"

#include <algorithm>

#include "cuda/ext_range.h"
#include "cuda/lattice_box.h"
#include "cuda/mi_rows_cuda.h"

namespace xla_rnnt {
namespace {

#ifndef XLA_RNNT_MI_CHUNK
#define XLA_RNNT_MI_CHUNK 8
#endif
constexpr int kChunk = XLA_RNNT_MI_CHUNK;  // C: columns per chunk / tile
constexpr int kHand = 128;                 // handoff ring entries per warp (power of 2)
constexpr int kMaxWarps = 16;              // rows per band: 32 * W <= 512
constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ unsigned SmemAddr(const void* ptr) {
  return static_cast<unsigned>(__cvta_generic_to_shared(ptr));
}

template <typename Real>
__device__ __forceinline__ void CpAsync(Real* dst, const Real* src) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"(SmemAddr(dst)), "l"(src),
               "n"(sizeof(Real))
               : "memory");
#else
  *dst = *src;
#endif
}
__device__ __forceinline__ void CpAsyncCommit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void CpAsyncWait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

// One array's parallelogram tiles for one warp: lane-row i is lattice row
// r0 + dr*i; element jj of local chunk c of that row is column
// c0 + dc*(c*C + jj - skew*i). Each lane moves C elements per tile: rows
// i = k*(32/C) + lane/C, k < C, column offset jj = lane % C. Per-band
// constants are computed once so a chunk costs a few integer ops per element.
template <int C, typename Real>
struct TileIo {
  static constexpr int kRowsPerPass = 32 / C;
  Real* gbase;      // element (k = 0) of chunk 0, possibly out of the array
  int64_t gstep_k;  // address step per k
  int t_k0, dt_k;   // column of (k = 0, chunk 0), column step per k
  int clo, chi, dc;
  unsigned rowmask;  // bit k: row of k inside the box
  int soff;          // shared-memory offset of (k = 0)

  __device__ __forceinline__ TileIo(const Real* src, int64_t ld, Box box, int r0, int dr, int c0,
                                    int dc_, int skew, int lane) {
    const int q = lane / C, jj = lane % C;
    dc = dc_;
    clo = box.clo;
    chi = box.chi;
    rowmask = 0;
#pragma unroll
    for (int k = 0; k < C; ++k) {
      const int r = r0 + dr * (k * kRowsPerPass + q);
      if (r >= box.rlo && r <= box.rhi) rowmask |= 1u << k;
    }
    const int r_q = r0 + dr * q;
    t_k0 = c0 + dc * (jj - skew * q);
    dt_k = -dc * skew * kRowsPerPass;
    gbase = const_cast<Real*>(src) + int64_t(r_q) * ld + t_k0;
    gstep_k = int64_t(dr) * kRowsPerPass * ld + dt_k;
    soff = q * (C + 1) + jj;
  }
  // Element k of this lane's share of chunk c (k a compile-time constant in
  // unrolled loops), so tile traffic can be spread over the steps of a chunk.
  __device__ __forceinline__ void LoadK(Real* tile, int c, int k) const {
    const int t = t_k0 + dt_k * k + dc * c * C;
    if (((rowmask >> k) & 1u) && t >= clo && t <= chi)
      CpAsync(tile + soff + k * kRowsPerPass * (C + 1), gbase + gstep_k * k + dc * c * C);
  }
  __device__ __forceinline__ void StoreK(const Real* tile, int c, int k) const {
    const int t = t_k0 + dt_k * k + dc * c * C;
    if (((rowmask >> k) & 1u) && t >= clo && t <= chi)
      gbase[gstep_k * k + dc * c * C] = tile[soff + k * kRowsPerPass * (C + 1)];
  }
  __device__ __forceinline__ void Load(Real* tile, int c) const {
    const int shift = dc * c * C;
#pragma unroll
    for (int k = 0; k < C; ++k) {
      const int t = t_k0 + dt_k * k + shift;
      if (((rowmask >> k) & 1u) && t >= clo && t <= chi)
        CpAsync(tile + soff + k * kRowsPerPass * (C + 1), gbase + gstep_k * k + shift);
    }
  }
  __device__ __forceinline__ void Store(const Real* tile, int c) const {
    const int shift = dc * c * C;
#pragma unroll
    for (int k = 0; k < C; ++k) {
      const int t = t_k0 + dt_k * k + shift;
      if (((rowmask >> k) & 1u) && t >= clo && t <= chi)
        gbase[gstep_k * k + shift] = tile[soff + k * kRowsPerPass * (C + 1)];
    }
  }
};

// Chunks warp w lags warp w-1: the handoff value for local step j is written
// at producer step j + 31*skew - (1 - skew), which must fall in an earlier
// chunk than j for every j.
template <int C>
__host__ __device__ constexpr int WarpLag(bool modified) {
  return modified ? 1 : 1 + (31 + C - 1) / C;
}

// Handoff rings are indexed by the consumer's local step + kKeyOff, so the
// producer's key (>= -31) is never negative.
constexpr int kKeyOff = 32;

// Shared memory. Forward, per warp: 3 input tile buffers each for px and py,
// 2 output buffers for p, and a ring of (m, e); per block: the rings of zeros
// and of the previous band's last row. Backward, per warp: 3 input buffers
// for p's splits, 2 output buffers each for px_grad and py_grad, a ring of
// flows; per block: the zero ring and the band ring.
template <typename Real, int C>
constexpr int ForwardSmemPerWarp() {
  return 8 * 32 * (C + 1) * sizeof(Real) + kHand * (sizeof(Real) + sizeof(int));
}
template <typename Real, int C>
constexpr int ForwardSmemFixed() {
  return 2 * kHand * (sizeof(Real) + sizeof(int));
}
template <typename Real, int C>
constexpr int BackwardSmemPerWarp() {
  return (7 * 32 * (C + 1) + kHand) * sizeof(Real);
}
template <typename Real, int C>
constexpr int BackwardSmemFixed() {
  return 2 * kHand * sizeof(Real);
}

template <typename Real>
__device__ __forceinline__ Ext<Real> ShflUp(Ext<Real> v) {
  return {__shfl_up_sync(kFull, v.m, 1), __shfl_up_sync(kFull, v.e, 1)};
}

template <typename Real, int C>
__global__ void __launch_bounds__(kMaxWarps * 32)
    MiForwardWave(const Real* __restrict__ px, const Real* __restrict__ py,
                  const int32_t* __restrict__ boundary, MiSizes sz, Real* __restrict__ p,
                  Real* __restrict__ scores) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  Real* smem = reinterpret_cast<Real*>(smem_raw);
  const int64_t b = blockIdx.x;
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, W = blockDim.x >> 5;
  const int32_t* row = boundary + 4 * b;
  if (!BoundaryValid(row, sz.S, sz.T)) {
    if (threadIdx.x == 0) scores[b] = Real(NAN);
    return;
  }
  using E = Ext<Real>;
  const int S = sz.S, T = sz.T, T1 = T + 1, pxc = sz.px_cols();
  const int s0 = row[0], t0 = row[1], s1 = row[2], t1 = row[3];
  const Real* pxb = px + b * S * pxc;
  const Real* pyb = py + b * (S + 1) * T;
  Real* pb = p + b * (S + 1) * T1;
  const int skew = sz.modified ? 0 : 1;
  const int L = WarpLag<C>(sz.modified);
  const int ns = s1 - s0, nt = t1 - t0;
  const int nloc = (nt + 1 + 31 * skew + C - 1) / C;
  constexpr int kTile = 32 * (C + 1);
  Real* sx = smem + w * 8 * kTile;  // px tiles [3]
  Real* sy = sx + 3 * kTile;        // py tiles [3]
  Real* sp = sy + 3 * kTile;        // p (splits) out tiles [2]
  // Rings of (m, e): [W] warp w's last row -> warp w+1, then zeros, then the
  // previous band's last row -> warp 0.
  Real* ring_m = smem + W * 8 * kTile;
  int* ring_e = reinterpret_cast<int*>(ring_m + (W + 2) * kHand);
  for (int i = threadIdx.x; i < kHand; i += blockDim.x) {
    ring_m[W * kHand + i] = Real(0);
    ring_e[W * kHand + i] = kExtZeroExp;
  }
  const InputBoxes boxes = InputBoxesOf(row, sz);
  const Box box_x = boxes.x, box_y = boxes.y;
  const Box box_p{s0, s1, t0, t1};

  for (int band = 0; band <= ns; band += 32 * W) {
    const int base = band + 32 * w;  // box row offset of lane 0
    const int irow = base + lane;
    const int s = s0 + irow;
    const bool row_ok = irow <= ns;
    const bool warp_on = base <= ns;
    const int w_act = min(W, (ns - band) / 32 + 1);
    const int nglob = nloc + L * (w_act - 1);
    const TileIo<C, Real> io_x(pxb, pxc, box_x, s0 + base, 1, t0, 1, skew, lane);
    const TileIo<C, Real> io_y(pyb, T, box_y, s0 + base, 1, t0, 1, skew, lane);
    const TileIo<C, Real> io_p(pb, T1, box_p, s0 + base, 1, t0, 1, skew, lane);
    const int src = w > 0 ? w - 1 : (band > 0 ? W + 1 : W);
    const Real* in_m = ring_m + src * kHand;
    const int* in_e = ring_e + src * kHand;
    Real* out_m = ring_m + w * kHand;
    int* out_e = ring_e + w * kHand;
    // The band's last row leaves the x terms of the next band's first row in
    // that row of p (log domain), which the next band reads before its own
    // splits overwrite them (two chunks later).
    const bool feeds_band = w == W - 1 && lane == 31 && band + 32 * W <= ns;
    Real* next_band_row = pb + int64_t(s + 1) * T1;
    const Real* band_row = pb + int64_t(s0 + band) * T1;
    auto band_term = [&](int c) {  // x term of local step c*C + lane of lane 0
      const int t = t0 + c * C + lane;
      const bool from_box = lane < C && t - (1 - skew) >= t0 && t <= t1;
      return ExtFromLog(from_box ? band_row[t] : NegInf<Real>());
    };
    E band_next = ExtZero<Real>();
    if (warp_on) {
      io_x.Load(sx, 0);
      io_y.Load(sy, 0);
      CpAsyncCommit();
      io_x.Load(sx + kTile, 1);
      io_y.Load(sy + kTile, 1);
      CpAsyncCommit();
      if (lane == 31) {  // key 0 of modified is never written
        out_m[kKeyOff] = Real(0);
        out_e[kKeyOff] = kExtZeroExp;
      }
      if (w == 0 && band > 0) band_next = band_term(0);
    }
    __syncthreads();
    E x_out = ExtZero<Real>(), y_carry = ExtZero<Real>();
    int bin = 0;  // input buffer of the current chunk (c % 3)
    for (int gc = 0; gc < nglob; ++gc) {
      const int c = gc - L * w;
      if (warp_on && c >= 0 && c < nloc) {
        if (w == 0 && band > 0) {
          if (lane < C) {
            const int k = (c * C + lane + kKeyOff) & (kHand - 1);
            ring_m[(W + 1) * kHand + k] = band_next.m;
            ring_e[(W + 1) * kHand + k] = band_next.e;
          }
          band_next = band_term(c + 1);
        }
        CpAsyncWait<1>();
        __syncwarp();
        const int bnext = bin == 0 ? 2 : bin - 1;  // (c + 2) % 3
        // This chunk's inputs into registers first, off the step chain.
        Real xr[C], yr[C];
        E rr[C];
#pragma unroll
        for (int jj = 0; jj < C; ++jj) {
          xr[jj] = sx[bin * kTile + lane * (C + 1) + jj];
          yr[jj] = sy[bin * kTile + lane * (C + 1) + jj];
          const int k = (c * C + jj + kKeyOff) & (kHand - 1);
          rr[jj] = E{in_m[k], in_e[k]};  // normalised with v at step c*C
        }
        Real* tp = sp + (c & 1) * kTile + lane * (C + 1);
#pragma unroll
        for (int jj = 0; jj < C; ++jj) {
          // Tile traffic of chunks c+2 (in) and c-1 (out; a no-op for c = 0)
          // interleaved with the dependent chain of the steps.
          io_x.LoadK(sx + bnext * kTile, c + 2, jj);
          io_y.LoadK(sy + bnext * kTile, c + 2, jj);
          io_p.StoreK(sp + ((c - 1) & 1) * kTile, c - 1, jj);
          const int j = c * C + jj;
          const int t = t0 + j - skew * lane;
          const E from_up = ShflUp(x_out);
          const E x_in = lane == 0 ? rr[jj] : from_up;
          const E y_in = t > t0 ? y_carry : ExtZero<Real>();
          const ExtAligned<Real> terms = ExtAlign(x_in, y_in);
          E v{terms.a + terms.b, terms.e};
          // Every path reaches step c*C (modified: after at most 31 steps
          // down a warp, growth <= 4^(31+C)), so this bounds every m.
          if (jj == 0) v = ExtNormalize(v);
          v = (irow == 0 && t == t0) ? ExtOne<Real>() : v;
          tp[jj] = SplitCode(terms.a, terms.b);
          y_carry = ExtMul(v, ExtFromLog(yr[jj]));
          const bool col_ok = row_ok && t >= t0 && t <= t1;
          x_out = col_ok ? ExtMul(v, ExtFromLog(xr[jj])) : ExtZero<Real>();
          if (lane == 31) {
            const int k = (j - 31 * skew + (1 - skew) + kKeyOff) & (kHand - 1);
            out_m[k] = x_out.m;
            out_e[k] = x_out.e;
          }
          if (col_ok && s == s1 && t == t1) scores[b] = ExtToLog(v);
          if (feeds_band && col_ok && t + (1 - skew) <= t1)
            next_band_row[t + (1 - skew)] = ExtToLog(x_out);
        }
        CpAsyncCommit();
        bin = bin == 2 ? 0 : bin + 1;
      }
      __syncthreads();
    }
    if (warp_on && nloc > 0) io_p.Store(sp + ((nloc - 1) & 1) * kTile, nloc - 1);
    CpAsyncWait<0>();
    __syncthreads();
  }
}

template <typename Real, int C>
__global__ void __launch_bounds__(kMaxWarps * 32)
    MiBackwardWave(const int32_t* __restrict__ boundary, MiSizes sz, const Real* __restrict__ p,
                   Real* __restrict__ g, Real* __restrict__ px_grad, Real* __restrict__ py_grad) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  Real* smem = reinterpret_cast<Real*>(smem_raw);
  const int64_t b = blockIdx.x;
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, W = blockDim.x >> 5;
  const int S = sz.S, T = sz.T, T1 = T + 1, pxc = sz.px_cols();
  const Real* pb = p + b * (S + 1) * T1;
  Real* gb = g + b * sz.handoff_rows() * T1;  // one row per band edge
  Real* gxb = px_grad + b * S * pxc;
  Real* gyb = py_grad + b * (S + 1) * T;
  const int32_t* row = boundary + 4 * b;
  if (!ZeroGradientsOutsideBox(row, sz, gxb, gyb)) return;
  const int s0 = row[0], t0 = row[1], s1 = row[2], t1 = row[3];
  const InputBoxes boxes = InputBoxesOf(row, sz);
  const Box box_x = boxes.x, box_y = boxes.y, box_p{s0, s1, t0, t1};

  const int skew = sz.modified ? 0 : 1;
  const int L = WarpLag<C>(sz.modified);
  const int ns = s1 - s0, nt = t1 - t0;
  const int nloc = (nt + 1 + 31 * skew + C - 1) / C;
  constexpr int kTile = 32 * (C + 1);
  Real* sr = smem + w * 7 * kTile;    // split tiles [3]
  Real* ox = sr + 3 * kTile;          // px_grad out tiles [2]
  Real* oy = ox + 2 * kTile;          // py_grad out tiles [2]
  Real* hand = smem + W * 7 * kTile;  // [W][kHand]: flow into warp w+1's first row
  Real* ring_zero = hand + W * kHand;
  Real* ring_band = ring_zero + kHand;  // flow from the previous band's edge
  for (int i = threadIdx.x; i < kHand; i += blockDim.x) ring_zero[i] = Real(0);

  for (int band = 0; band <= ns; band += 32 * W) {
    const int base = band + 32 * w;
    const int irow = base + lane;
    const bool row_ok = irow <= ns;
    const bool warp_on = base <= ns;
    const int w_act = min(W, (ns - band) / 32 + 1);
    const int nglob = nloc + L * (w_act - 1);
    const TileIo<C, Real> io_r(pb, T1, box_p, s1 - base, -1, t1, -1, skew, lane);
    const TileIo<C, Real> io_gx(gxb, pxc, box_x, s1 - base, -1, t1, -1, skew, lane);
    const TileIo<C, Real> io_gy(gyb, T, box_y, s1 - base, -1, t1, -1, skew, lane);
    const Real* dsrc = w > 0 ? hand + (w - 1) * kHand : (band > 0 ? ring_band : ring_zero);
    Real* hand_w = hand + w * kHand;
    const bool band_edge = (w == W - 1) && (lane == 31);  // feeds the next band
    Real* edge_out = gb + int64_t(band / (32 * W)) * T1;
    const Real* edge_in = gb + int64_t(band / (32 * W) - 1) * T1;  // the previous band's edge
    Real next_d = Real(0);
    auto band_load = [&](int c) {  // the flow lane 0 receives at local step c*C + lane
      const int t = t1 - (c * C + lane) + (1 - skew);
      next_d = Real(0);
      if (lane < C && t >= t0 && t <= t1) next_d = edge_in[t];
    };
    if (warp_on) {
      io_r.Load(sr, 0);
      CpAsyncCommit();
      io_r.Load(sr + kTile, 1);
      CpAsyncCommit();
      if (lane == 31) hand_w[kKeyOff] = Real(0);
      if (w == 0 && band > 0) band_load(0);
    }
    __syncthreads();
    // Flows sent by the previous step: down (to the row below, s-1) and left
    // (to (s, t-1), which the next step is).
    Real d_out = Real(0), l_carry = Real(0);
    int bin = 0;
    for (int gc = 0; gc < nglob; ++gc) {
      const int c = gc - L * w;
      if (warp_on && c >= 0 && c < nloc) {
        if (w == 0 && band > 0) {
          if (lane < C) ring_band[(c * C + lane + kKeyOff) & (kHand - 1)] = next_d;
          band_load(c + 1);
        }
        CpAsyncWait<1>();
        __syncwarp();
        const int bnext = bin == 0 ? 2 : bin - 1;
        Real rr[C], rd[C];
#pragma unroll
        for (int jj = 0; jj < C; ++jj) {
          rr[jj] = sr[bin * kTile + lane * (C + 1) + jj];
          rd[jj] = dsrc[(c * C + jj + kKeyOff) & (kHand - 1)];
        }
        Real* tox = ox + (c & 1) * kTile + lane * (C + 1);
        Real* toy = oy + (c & 1) * kTile + lane * (C + 1);
#pragma unroll
        for (int jj = 0; jj < C; ++jj) {
          io_r.LoadK(sr + bnext * kTile, c + 2, jj);
          io_gx.StoreK(ox + ((c - 1) & 1) * kTile, c - 1, jj);
          io_gy.StoreK(oy + ((c - 1) & 1) * kTile, c - 1, jj);
          const int j = c * C + jj;
          const int t = t1 - (j - skew * lane);
          const Real d_up = __shfl_up_sync(kFull, d_out, 1);
          // The flows into this cell's two out-edges are its gradients.
          const Real x_flow = lane == 0 ? rd[jj] : d_up;
          const Real y_flow = l_carry;
          tox[jj] = x_flow;
          toy[jj] = y_flow;
          const bool col_ok = row_ok && t >= t0 && t <= t1;
          Real gv = (irow == 0 && t == t1) ? Real(1) : x_flow + y_flow;
          gv = col_ok ? gv : Real(0);
          const Shares<Real> share = SplitShares(rr[jj]);  // 0 for stale tile cells
          d_out = gv * share.a;
          l_carry = gv * share.b;
          if (lane == 31) hand_w[(j - 31 * skew + (1 - skew) + kKeyOff) & (kHand - 1)] = d_out;
          if (band_edge && col_ok) edge_out[t] = d_out;
        }
        CpAsyncCommit();
        bin = bin == 2 ? 0 : bin + 1;
      }
      __syncthreads();
    }
    if (warp_on && nloc > 0) {
      io_gx.Store(ox + ((nloc - 1) & 1) * kTile, nloc - 1);
      io_gy.Store(oy + ((nloc - 1) & 1) * kTile, nloc - 1);
    }
    CpAsyncWait<0>();
    __syncthreads();
  }
}

int MaxOptinSmem() {
  int dev = 0, bytes = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return 48 * 1024;
  if (cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess)
    return 48 * 1024;
  return bytes;
}

// Warps per block: one per 32 rows of the lattice, within what shared memory
// and kMaxWarps allow; taller boxes run in several bands.
int WarpsFor(const MiSizes& sz, int per_warp, int fixed) {
  const int want = static_cast<int>((sz.S + 1 + 31) / 32);
  const int fit = (MaxOptinSmem() - fixed) / per_warp;
  return std::max(1, std::min({want, kMaxWarps, fit}));
}

template <typename Kernel>
cudaError_t PrepareSmem(Kernel kernel, int bytes) {
  if (bytes <= 48 * 1024) return cudaSuccess;
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
}

}  // namespace

template <typename Real>
cudaError_t LaunchMiForwardWavefront(cudaStream_t stream, const Real* px, const Real* py,
                                     const int32_t* boundary, MiSizes sz, Real* p, Real* scores) {
  if (sz.B == 0) return cudaSuccess;
  constexpr int C = kChunk;
  const int per_warp = ForwardSmemPerWarp<Real, C>();
  const int fixed = ForwardSmemFixed<Real, C>();
  const int W = WarpsFor(sz, per_warp, fixed);
  const int bytes = W * per_warp + fixed;
  auto kernel = MiForwardWave<Real, C>;
  cudaError_t err = PrepareSmem(kernel, bytes);
  if (err != cudaSuccess) return err;
  kernel<<<sz.B, 32 * W, bytes, stream>>>(px, py, boundary, sz, p, scores);
  return cudaGetLastError();
}

template <typename Real>
cudaError_t LaunchMiBackwardWavefront(cudaStream_t stream, const int32_t* boundary, MiSizes sz,
                                      const Real* p, Real* px_grad, Real* py_grad, Real* g) {
  if (sz.B == 0) return cudaSuccess;
  constexpr int C = kChunk;
  const int per_warp = BackwardSmemPerWarp<Real, C>();
  const int fixed = BackwardSmemFixed<Real, C>();
  const int W = WarpsFor(sz, per_warp, fixed);
  const int bytes = W * per_warp + fixed;
  auto kernel = MiBackwardWave<Real, C>;
  cudaError_t err = PrepareSmem(kernel, bytes);
  if (err != cudaSuccess) return err;
  kernel<<<sz.B, 32 * W, bytes, stream>>>(boundary, sz, p, g, px_grad, py_grad);
  return cudaGetLastError();
}

template <typename Real>
cudaError_t LaunchMiForward(cudaStream_t stream, const Real* px, const Real* py,
                            const int32_t* boundary, MiSizes sz, Real* p, Real* scores) {
  if (MiRowsServe(sz, MiRowsClusters()))
    return LaunchMiForwardRows<Real>(stream, px, py, boundary, sz, p, scores);
  return LaunchMiForwardWavefront<Real>(stream, px, py, boundary, sz, p, scores);
}

template <typename Real>
cudaError_t LaunchMiBackward(cudaStream_t stream, const Real* px, const Real* py,
                             const int32_t* boundary, MiSizes sz, const Real* p, Real* px_grad,
                             Real* py_grad, Real* g) {
  if (MiRowsServe(sz, MiRowsClusters()))
    return LaunchMiBackwardRows<Real>(stream, boundary, sz, p, px_grad, py_grad);
  return LaunchMiBackwardWavefront<Real>(stream, boundary, sz, p, px_grad, py_grad, g);
}

template <typename Real>
cudaError_t LaunchMiForwardBackward(cudaStream_t stream, const Real* px, const Real* py,
                                    const int32_t* boundary, MiSizes sz, Real* scores,
                                    Real* px_grad, Real* py_grad, Real* p, Real* g) {
  cudaError_t err = LaunchMiForward<Real>(stream, px, py, boundary, sz, p, scores);
  if (err != cudaSuccess) return err;
  return LaunchMiBackward<Real>(stream, px, py, boundary, sz, p, px_grad, py_grad, g);
}

template cudaError_t LaunchMiForwardWavefront<float>(cudaStream_t, const float*, const float*,
                                                     const int32_t*, MiSizes, float*, float*);
template cudaError_t LaunchMiForwardWavefront<double>(cudaStream_t, const double*, const double*,
                                                      const int32_t*, MiSizes, double*, double*);
template cudaError_t LaunchMiBackwardWavefront<float>(cudaStream_t, const int32_t*, MiSizes,
                                                      const float*, float*, float*, float*);
template cudaError_t LaunchMiBackwardWavefront<double>(cudaStream_t, const int32_t*, MiSizes,
                                                       const double*, double*, double*, double*);
template cudaError_t LaunchMiForward<float>(cudaStream_t, const float*, const float*,
                                            const int32_t*, MiSizes, float*, float*);
template cudaError_t LaunchMiForward<double>(cudaStream_t, const double*, const double*,
                                             const int32_t*, MiSizes, double*, double*);
template cudaError_t LaunchMiBackward<float>(cudaStream_t, const float*, const float*,
                                             const int32_t*, MiSizes, const float*, float*, float*,
                                             float*);
template cudaError_t LaunchMiBackward<double>(cudaStream_t, const double*, const double*,
                                              const int32_t*, MiSizes, const double*, double*,
                                              double*, double*);
template cudaError_t LaunchMiForwardBackward<float>(cudaStream_t, const float*, const float*,
                                                    const int32_t*, MiSizes, float*, float*, float*,
                                                    float*, float*);
template cudaError_t LaunchMiForwardBackward<double>(cudaStream_t, const double*, const double*,
                                                     const int32_t*, MiSizes, double*, double*,
                                                     double*, double*, double*);

}  // namespace xla_rnnt
