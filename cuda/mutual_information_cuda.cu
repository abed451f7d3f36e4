// CUDA twin of cc/mutual_information_cpu.cc: a register wavefront.
//
// One thread block per batch item; each thread owns one row s of the item's
// boundary box and walks it left to right (right to left for the backward),
// lane l of a warp lagging lane l-1 by `skew` columns (1 regular, 0 modified).
// The value a row passes to the next row (p + px forward; p and g backward)
// moves between lanes with __shfl_up_sync, between the warps of a block
// through a small ring in shared memory, and between successive bands of
// 32*W rows (S+1 > 32*W) through global memory (p, and for the backward g,
// whose workspace holds only those band-edge rows).
//
// Warps advance in chunks of C columns separated by __syncthreads; warp w
// runs L chunks behind warp w-1, which is enough for every handoff value to
// be written one barrier before it is read. px, py (and p for the backward)
// reach shared memory by cp.async, two chunks ahead (three buffers), as
// "parallelogram" tiles: row i of the warp's tile holds the C columns lane i
// walks in that chunk, so every global access is a contiguous run of C
// elements of one row (the lattice is row-major with stride T between rows,
// so a diagonal is never contiguous), and outputs leave the same way from two
// buffers; this tile traffic is spread over the steps of the next chunk.
// Nothing needs memsets: the backward zeroes the gradient cells outside its
// item's box itself. Measurements and limits: notes/gpu_kernels.md.
#include "cuda/mutual_information_cuda.h"

#include <algorithm>

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

// A box [rlo, rhi] x [clo, chi] of a row-major array with row stride ld.
struct Box {
  int rlo, rhi, clo, chi;
};

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

// Zeroes every cell of a [rows, cols] array outside `box` (which may be empty).
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

// Shared memory: per warp, 3 input tile buffers per input array, 2 output
// tile buffers per output array, and handoff rings; per block, constant
// rings (-inf, 0) and the rings fed from the previous band.
template <typename Real, int C>
constexpr int ForwardSmemPerWarp() {
  return (8 * 32 * (C + 1) + kHand) * sizeof(Real);
}
template <typename Real, int C>
constexpr int ForwardSmemFixed() {
  return 2 * kHand * sizeof(Real);
}
template <typename Real, int C>
constexpr int BackwardSmemPerWarp() {
  return (13 * 32 * (C + 1) + 2 * kHand) * sizeof(Real);
}
template <typename Real, int C>
constexpr int BackwardSmemFixed() {
  return 4 * kHand * sizeof(Real);
}

template <typename Real>
__device__ __forceinline__ Real LogAddSelect(Real a, Real b) {
  using std::exp;
  using std::log1p;
  const Real hi = a > b ? a : b;
  const Real lo = a > b ? b : a;
  const Real r = hi + log1p(exp(lo - hi));
  return hi == NegInf<Real>() ? hi : r;
}

template <typename Real>
__device__ __forceinline__ Real EdgeSelect(Real p_from, Real x, Real p_to, Real g_to) {
  using std::exp;
  const Real w = g_to * exp(p_from + x - p_to);
  return (g_to == Real(0) || !(p_to > NegInf<Real>()) || !(w == w)) ? Real(0) : w;
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
  Real* sx = smem + w * 8 * kTile;    // px tiles [3]
  Real* sy = sx + 3 * kTile;          // py tiles [3]
  Real* sp = sy + 3 * kTile;          // p out tiles [2]
  Real* hand = smem + W * 8 * kTile;  // [W][kHand]: warp w's last row -> warp w+1
  Real* ring_ninf = hand + W * kHand;
  Real* ring_band = ring_ninf + kHand;  // previous band's last row -> warp 0
  const Real ninf = NegInf<Real>();
  for (int i = threadIdx.x; i < kHand; i += blockDim.x) ring_ninf[i] = ninf;
  const Box box_x{s0, s1 - 1, t0, min(t1, pxc - 1)};
  const Box box_y{s0, s1, t0, t1 - 1};
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
    const Real* lsrc = w > 0 ? hand + (w - 1) * kHand : (band > 0 ? ring_band : ring_ninf);
    Real* hand_w = hand + w * kHand;
    const int hr = s0 + band - 1;  // previous band's last row
    Real band_next = ninf;         // its x term for the next chunk (lanes < C)
    auto band_term = [&](int c) {
      const int t = t0 + c * C + lane - (1 - skew);
      Real v = ninf;
      if (lane < C && t >= t0 && t <= t1 && t < pxc)
        v = pb[int64_t(hr) * T1 + t] + pxb[int64_t(hr) * pxc + t];
      return v;
    };
    if (warp_on) {
      io_x.Load(sx, 0);
      io_y.Load(sy, 0);
      CpAsyncCommit();
      io_x.Load(sx + kTile, 1);
      io_y.Load(sy + kTile, 1);
      CpAsyncCommit();
      if (lane == 31) hand_w[kKeyOff] = ninf;  // key 0 of modified is never written
      if (w == 0 && band > 0) band_next = band_term(0);
    }
    __syncthreads();
    Real x_out = ninf, y_carry = ninf;
    int bin = 0;  // input buffer of the current chunk (c % 3)
    for (int gc = 0; gc < nglob; ++gc) {
      const int c = gc - L * w;
      if (warp_on && c >= 0 && c < nloc) {
        if (w == 0 && band > 0) {
          if (lane < C) ring_band[(c * C + lane + kKeyOff) & (kHand - 1)] = band_next;
          band_next = band_term(c + 1);
        }
        CpAsyncWait<1>();
        __syncwarp();
        const int bnext = bin == 0 ? 2 : bin - 1;  // (c + 2) % 3
        // This chunk's inputs into registers first, off the step chain.
        Real xr[C], yr[C], rr[C];
#pragma unroll
        for (int jj = 0; jj < C; ++jj) {
          xr[jj] = sx[bin * kTile + lane * (C + 1) + jj];
          yr[jj] = sy[bin * kTile + lane * (C + 1) + jj];
          rr[jj] = lsrc[(c * C + jj + kKeyOff) & (kHand - 1)];
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
          const Real from_up = __shfl_up_sync(kFull, x_out, 1);
          const Real x_in = lane == 0 ? rr[jj] : from_up;
          const Real y_in = t > t0 ? y_carry : ninf;
          Real v = LogAddSelect(x_in, y_in);
          v = (irow == 0 && t == t0) ? Real(0) : v;
          tp[jj] = v;
          y_carry = v + yr[jj];
          const bool col_ok = row_ok && t >= t0 && t <= t1;
          x_out = col_ok ? v + xr[jj] : ninf;
          if (lane == 31) hand_w[(j - 31 * skew + (1 - skew) + kKeyOff) & (kHand - 1)] = x_out;
          if (col_ok && s == s1 && t == t1) scores[b] = v;
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
    MiBackwardWave(const Real* __restrict__ px, const Real* __restrict__ py,
                   const int32_t* __restrict__ boundary, MiSizes sz, const Real* __restrict__ p,
                   Real* __restrict__ g, Real* __restrict__ px_grad, Real* __restrict__ py_grad) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  Real* smem = reinterpret_cast<Real*>(smem_raw);
  const int64_t b = blockIdx.x;
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, W = blockDim.x >> 5;
  const int S = sz.S, T = sz.T, T1 = T + 1, pxc = sz.px_cols();
  const Real* pxb = px + b * S * pxc;
  const Real* pyb = py + b * (S + 1) * T;
  const Real* pb = p + b * (S + 1) * T1;
  Real* gb = g + b * sz.handoff_rows() * T1;  // one row per band edge
  Real* gxb = px_grad + b * S * pxc;
  Real* gyb = py_grad + b * (S + 1) * T;
  const int32_t* row = boundary + 4 * b;
  if (!BoundaryValid(row, sz.S, sz.T)) {
    ZeroOutside(gxb, S, pxc, Box{0, -1, 0, -1});
    ZeroOutside(gyb, S + 1, T, Box{0, -1, 0, -1});
    return;
  }
  const int s0 = row[0], t0 = row[1], s1 = row[2], t1 = row[3];
  const Box box_x{s0, s1 - 1, t0, min(t1, pxc - 1)};
  const Box box_y{s0, s1, t0, t1 - 1};
  const Box box_p{s0, s1, t0, t1};
  ZeroOutside(gxb, S, pxc, box_x);
  ZeroOutside(gyb, S + 1, T, box_y);

  const int skew = sz.modified ? 0 : 1;
  const int L = WarpLag<C>(sz.modified);
  const int ns = s1 - s0, nt = t1 - t0;
  const int nloc = (nt + 1 + 31 * skew + C - 1) / C;
  constexpr int kTile = 32 * (C + 1);
  Real* sp = smem + w * 13 * kTile;      // p tiles [3]
  Real* sx = sp + 3 * kTile;             // px tiles [3]
  Real* sy = sx + 3 * kTile;             // py tiles [3]
  Real* ox = sy + 3 * kTile;             // px_grad out tiles [2]
  Real* oy = ox + 2 * kTile;             // py_grad out tiles [2]
  Real* hand_p = smem + W * 13 * kTile;  // [W][kHand]
  Real* hand_g = hand_p + W * kHand;     // [W][kHand]
  Real* ring_ninf = hand_g + W * kHand;
  Real* ring_zero = ring_ninf + kHand;
  Real* band_p = ring_zero + kHand;
  Real* band_g = band_p + kHand;
  const Real ninf = NegInf<Real>();
  for (int i = threadIdx.x; i < kHand; i += blockDim.x) {
    ring_ninf[i] = ninf;
    ring_zero[i] = Real(0);
  }

  for (int band = 0; band <= ns; band += 32 * W) {
    const int base = band + 32 * w;
    const int irow = base + lane;
    const bool row_ok = irow <= ns;
    const bool warp_on = base <= ns;
    const int w_act = min(W, (ns - band) / 32 + 1);
    const int nglob = nloc + L * (w_act - 1);
    const TileIo<C, Real> io_p(pb, T1, box_p, s1 - base, -1, t1, -1, skew, lane);
    const TileIo<C, Real> io_x(pxb, pxc, box_x, s1 - base, -1, t1, -1, skew, lane);
    const TileIo<C, Real> io_y(pyb, T, box_y, s1 - base, -1, t1, -1, skew, lane);
    const TileIo<C, Real> io_gx(gxb, pxc, box_x, s1 - base, -1, t1, -1, skew, lane);
    const TileIo<C, Real> io_gy(gyb, T, box_y, s1 - base, -1, t1, -1, skew, lane);
    const Real* psrc = w > 0 ? hand_p + (w - 1) * kHand : (band > 0 ? band_p : ring_ninf);
    const Real* gsrc = w > 0 ? hand_g + (w - 1) * kHand : (band > 0 ? band_g : ring_zero);
    Real* hand_pw = hand_p + w * kHand;
    Real* hand_gw = hand_g + w * kHand;
    const bool band_edge = (w == W - 1) && (lane == 31);  // feeds the next band
    const int hr = s1 - band + 1;                         // successor row of the band's first row
    Real next_p = ninf, next_g = Real(0);
    auto band_load = [&](int c) {
      const int t = t1 - (c * C + lane) + (1 - skew);
      next_p = ninf;
      next_g = Real(0);
      if (lane < C && t >= t0 && t <= t1) {
        next_p = pb[int64_t(hr) * T1 + t];
        next_g = gb[int64_t(band / (32 * W) - 1) * T1 + t];  // the previous band's edge
      }
    };
    if (warp_on) {
      io_p.Load(sp, 0);
      io_x.Load(sx, 0);
      io_y.Load(sy, 0);
      CpAsyncCommit();
      io_p.Load(sp + kTile, 1);
      io_x.Load(sx + kTile, 1);
      io_y.Load(sy + kTile, 1);
      CpAsyncCommit();
      if (lane == 31) {
        hand_pw[kKeyOff] = ninf;
        hand_gw[kKeyOff] = Real(0);
      }
      if (w == 0 && band > 0) band_load(0);
    }
    __syncthreads();
    Real p_prev = ninf, g_prev = Real(0);  // p, g of (s, t+1)
    int bin = 0;
    for (int gc = 0; gc < nglob; ++gc) {
      const int c = gc - L * w;
      if (warp_on && c >= 0 && c < nloc) {
        if (w == 0 && band > 0) {
          if (lane < C) {
            band_p[(c * C + lane + kKeyOff) & (kHand - 1)] = next_p;
            band_g[(c * C + lane + kKeyOff) & (kHand - 1)] = next_g;
          }
          band_load(c + 1);
        }
        CpAsyncWait<1>();
        __syncwarp();
        const int bnext = bin == 0 ? 2 : bin - 1;
        Real pr[C], xr[C], yr[C], rp[C], rg[C];
#pragma unroll
        for (int jj = 0; jj < C; ++jj) {
          pr[jj] = sp[bin * kTile + lane * (C + 1) + jj];
          xr[jj] = sx[bin * kTile + lane * (C + 1) + jj];
          yr[jj] = sy[bin * kTile + lane * (C + 1) + jj];
          rp[jj] = psrc[(c * C + jj + kKeyOff) & (kHand - 1)];
          rg[jj] = gsrc[(c * C + jj + kKeyOff) & (kHand - 1)];
        }
        Real* tox = ox + (c & 1) * kTile + lane * (C + 1);
        Real* toy = oy + (c & 1) * kTile + lane * (C + 1);
#pragma unroll
        for (int jj = 0; jj < C; ++jj) {
          io_p.LoadK(sp + bnext * kTile, c + 2, jj);
          io_x.LoadK(sx + bnext * kTile, c + 2, jj);
          io_y.LoadK(sy + bnext * kTile, c + 2, jj);
          io_gx.StoreK(ox + ((c - 1) & 1) * kTile, c - 1, jj);
          io_gy.StoreK(oy + ((c - 1) & 1) * kTile, c - 1, jj);
          const int j = c * C + jj;
          const int t = t1 - (j - skew * lane);
          const Real p_up = __shfl_up_sync(kFull, p_prev, 1);
          const Real g_up = __shfl_up_sync(kFull, g_prev, 1);
          const Real p_sx = lane == 0 ? rp[jj] : p_up;
          const Real g_sx = lane == 0 ? rg[jj] : g_up;
          const bool col_ok = row_ok && t >= t0 && t <= t1;
          const Real ph = pr[jj];
          const Real wx = EdgeSelect(ph, xr[jj], p_sx, g_sx);
          const Real wy = EdgeSelect(ph, yr[jj], p_prev, g_prev);
          Real gv = (irow == 0 && t == t1) ? Real(1) : wx + wy;
          gv = col_ok ? gv : Real(0);
          tox[jj] = wx;
          toy[jj] = wy;
          p_prev = ph;
          g_prev = gv;
          if (lane == 31) {
            const int k = (j - 31 * skew + (1 - skew) + kKeyOff) & (kHand - 1);
            hand_pw[k] = ph;
            hand_gw[k] = gv;
          }
          if (band_edge && col_ok) gb[int64_t(band / (32 * W)) * T1 + t] = gv;
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
cudaError_t LaunchMiForward(cudaStream_t stream, const Real* px, const Real* py,
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
cudaError_t LaunchMiBackward(cudaStream_t stream, const Real* px, const Real* py,
                             const int32_t* boundary, MiSizes sz, const Real* p, Real* px_grad,
                             Real* py_grad, Real* g) {
  if (sz.B == 0) return cudaSuccess;
  constexpr int C = kChunk;
  const int per_warp = BackwardSmemPerWarp<Real, C>();
  const int fixed = BackwardSmemFixed<Real, C>();
  const int W = WarpsFor(sz, per_warp, fixed);
  const int bytes = W * per_warp + fixed;
  auto kernel = MiBackwardWave<Real, C>;
  cudaError_t err = PrepareSmem(kernel, bytes);
  if (err != cudaSuccess) return err;
  kernel<<<sz.B, 32 * W, bytes, stream>>>(px, py, boundary, sz, p, g, px_grad, py_grad);
  return cudaGetLastError();
}

template <typename Real>
cudaError_t LaunchMiForwardBackward(cudaStream_t stream, const Real* px, const Real* py,
                                    const int32_t* boundary, MiSizes sz, Real* scores,
                                    Real* px_grad, Real* py_grad, Real* p, Real* g) {
  cudaError_t err = LaunchMiForward<Real>(stream, px, py, boundary, sz, p, scores);
  if (err != cudaSuccess) return err;
  return LaunchMiBackward<Real>(stream, px, py, boundary, sz, p, px_grad, py_grad, g);
}

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
