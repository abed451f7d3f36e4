// Standalone check of the CUDA kernels (cuda/*.cu) against their CPU twins
// (cc/*_cpu.cc): it calls the launchers that the FFI handlers call, on ragged
// lattices and rows chosen to reach every code path, and compares every
// result. No XLA and no Python in the process, so a compute-sanitizer report
// can only be about these kernels (README "Kernel check under
// compute-sanitizer").
//
//   xla_rnnt_kernel_check [--seed N] [--only SUBSTRING] [--perturb]
//
// The seed comes from --seed, else $XLA_RNNT_KCHECK_SEED, else a default, and
// is printed first; each case draws from its own stream derived from the seed
// and its index, so --only reproduces a case's inputs. --perturb shifts one
// value of every device result: every case holding a value must then fail
// (shows that the comparison can fail). One line per case, then
// "N passed, M failed"; the exit status is 1 when M > 0.
//
// Device buffers: inputs are uploaded in full; outputs the kernels must write
// completely (scores, gradients, gather results) start as a finite sentinel
// (bytes 0x7f), so a cell left unwritten is a mismatch even where fresh memory
// happens to be zero; p and the workspace g start uninitialised and only the
// cells the contract defines (p inside each valid item's box, compared as each
// cell's flow split: AppendUpShares) are read back, so initcheck reports any
// read of a cell nobody wrote.
//
// Built with XLA_RNNT_KCHECK_CPU_ONLY (target xla_rnnt_kernel_check_cpu) the
// device side is an item-by-item emulation from the CPU twins with the GPU's
// contract (NaN score and zero gradients for an invalid boundary row): it
// checks this driver's own bookkeeping where no GPU is available.
#include <algorithm>
#include <array>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "cc/band_recursion.h"
#include "cc/gather_rows_grad.h"
#include "cc/gather_symbols_grad.h"
#include "cc/logsoftmax_gather.h"
#include "cc/mutual_information.h"

#ifndef XLA_RNNT_KCHECK_CPU_ONLY
#include <cuda_runtime_api.h>

#include "cuda/band_recursion_cuda.h"
#include "cuda/ext_range.h"
#include "cuda/gather_rows_grad_cuda.h"
#include "cuda/gather_symbols_grad_cuda.h"
#include "cuda/logsoftmax_gather_cuda.h"
#include "cuda/mi_rows_cuda.h"
#include "cuda/mutual_information_cuda.h"
#endif

namespace xla_rnnt {
namespace {

// ---------------------------------------------------------------- utilities

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

struct Rng {
  uint64_t state;
  double Uniform() { return static_cast<double>(SplitMix(state) >> 11) * 0x1.0p-53; }
  double Range(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [lo, hi]; lo when hi < lo.
  int64_t Int(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<int64_t>(SplitMix(state) % static_cast<uint64_t>(hi - lo + 1));
  }
};

uint64_t g_seed = 20261126;
bool g_perturb = false;
const char* g_only = nullptr;
int g_case_index = 0;  // every case counts, filtered or not (stable streams)
int g_passed = 0, g_failed = 0;

Rng CaseRng() {
  uint64_t s = g_seed ^ (0xd1b54a32d192ed03ull * static_cast<uint64_t>(g_case_index + 1));
  SplitMix(s);
  return Rng{s};
}

template <typename Real>
const char* DtypeName() {
  return sizeof(Real) == 4 ? "f32" : "f64";
}

template <typename Real>
Real Inf() {
  return std::numeric_limits<Real>::infinity();
}

// ---------------------------------------------------------------- comparison

enum class Cls { kFinite, kNegInf, kPosInf, kNaN };

template <typename Real>
Cls Classify(Real v) {
  if (std::isnan(v)) return Cls::kNaN;
  if (std::isinf(v)) return v < 0 ? Cls::kNegInf : Cls::kPosInf;
  return Cls::kFinite;
}

struct ArrayCheck {
  std::string name;
  bool ok = true;
  double err = 0;  // max |dev - ref| / scale over finite cells
  std::string detail;
};

// Same NaN/inf pattern, and finite values within tolerance of the CPU twin:
// float64 1e-12 relative, float32 max(1e-5 relative, 4 ulps) of the scale;
// or, where a long chain drifts beyond that (NOTES "Correctness on the GPU";
// float64 from S + T ~ 1000 on), no further from the more precise result
// (ref64: float64 for float32, long double for float64) than 3x the CPU
// twin of the same dtype is.
// Scale: max(1, |ref|) per cell for log-domain values, max(1, max |ref|) over
// the array for gradients (often exactly 0, where relative means nothing).
template <typename Real>
ArrayCheck Compare(const char* name, const std::vector<Real>& dev, const std::vector<Real>& ref,
                   const std::vector<double>* ref64, bool per_cell_scale) {
  ArrayCheck out;
  out.name = name;
  if (dev.size() != ref.size()) {
    out.ok = false;
    out.detail = "size " + std::to_string(dev.size()) + " vs " + std::to_string(ref.size());
    return out;
  }
  const bool f32 = std::is_same<Real, float>::value;
  const double rtol = f32 ? 1e-5 : 1e-12;
  double array_scale = 1;
  for (Real r : ref)
    if (Classify(r) == Cls::kFinite) array_scale = std::max(array_scale, std::fabs(double(r)));
  bool pattern_ok = true, direct_ok = true;
  double err64 = 0, cpu64 = 0;
  size_t first_bad = dev.size();
  for (size_t i = 0; i < dev.size(); ++i) {
    const double d = dev[i], r = ref[i];
    if (Classify(dev[i]) != Classify(ref[i])) {
      pattern_ok = false;
      if (first_bad == dev.size()) first_bad = i;
      continue;
    }
    if (Classify(ref[i]) != Cls::kFinite) continue;
    const double scale = per_cell_scale ? std::max(1.0, std::fabs(r)) : array_scale;
    const Real rs = static_cast<Real>(scale);
    const double ulp = double(std::nextafter(rs, Inf<Real>())) - double(rs);
    const double allowed = std::max(rtol * scale, 4 * ulp);
    const double e = std::fabs(d - r);
    out.err = std::max(out.err, e / scale);
    if (e > allowed) {
      if (direct_ok && first_bad == dev.size()) first_bad = i;
      direct_ok = false;
    }
    if (ref64 != nullptr && std::isfinite((*ref64)[i])) {
      err64 = std::max(err64, std::fabs(d - (*ref64)[i]) / scale);
      cpu64 = std::max(cpu64, std::fabs(r - (*ref64)[i]) / scale);
    }
  }
  const bool chain_ok = ref64 != nullptr && err64 <= 3 * cpu64;
  out.ok = pattern_ok && (direct_ok || chain_ok);
  char buf[256];
  if (!out.ok && first_bad < dev.size()) {
    std::snprintf(buf, sizeof(buf), " [%zu]: dev %.17g ref %.17g%s", first_bad,
                  double(dev[first_bad]), double(ref[first_bad]),
                  pattern_ok ? "" : " (inf/NaN pattern differs)");
    out.detail = buf;
  }
  if (!direct_ok && ref64 != nullptr) {
    std::snprintf(buf, sizeof(buf), " (vs f64: dev %.2g, cpu f32 %.2g)", err64, cpu64);
    out.detail += buf;
  }
  return out;
}

void Report(const std::string& label, const std::vector<ArrayCheck>& checks, double tol) {
  bool ok = true;
  std::string body;
  char buf[64];
  for (const ArrayCheck& c : checks) {
    ok = ok && c.ok;
    std::snprintf(buf, sizeof(buf), " %s %.1e", c.name.c_str(), c.err);
    body += buf;
    if (!c.ok) body += " FAILED" + c.detail;
  }
  std::snprintf(buf, sizeof(buf), " (tol %.0e)", tol);
  std::printf("%s %s:%s%s\n", ok ? "PASS" : "FAIL", label.c_str(), body.c_str(), buf);
  (ok ? g_passed : g_failed) += 1;
}

void ReportError(const std::string& label, const std::string& what) {
  std::printf("FAIL %s: %s\n", label.c_str(), what.c_str());
  ++g_failed;
}

// True (and the case counted) unless --only filters it out.
bool Selected(const std::string& label) {
  ++g_case_index;
  return g_only == nullptr || label.find(g_only) != std::string::npos;
}

// --perturb: moves the first value of the first non-empty array far enough
// to fail any tolerance: a finite value by 1e-2 of its scale (the float32
// fallback admits ~1e-3 on the longest lattices here, where the CPU's float32
// occupations drift ~3e-4 from float64), a non-finite one to 0.
template <typename Real>
void Perturb(std::vector<std::vector<Real>*> arrays) {
  if (!g_perturb) return;
  for (std::vector<Real>* a : arrays) {
    for (Real& v : *a) {
      if (Classify(v) == Cls::kFinite) {
        v += static_cast<Real>(1e-2 * std::max(1.0, std::fabs(double(v))));
        return;
      }
    }
  }
  for (std::vector<Real>* a : arrays) {
    if (!a->empty()) {
      (*a)[0] = Real(0);
      return;
    }
  }
}

template <typename Wide = double, typename Real>
std::vector<Wide> Widen(const std::vector<Real>& v) {
  return std::vector<Wide>(v.begin(), v.end());
}

// ---------------------------------------------------------------- device side

#ifndef XLA_RNNT_KCHECK_CPU_ONLY

struct CudaFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void Check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw CudaFailure(std::string(what) + ": " + cudaGetErrorName(err) + " " +
                      cudaGetErrorString(err));
}

cudaStream_t g_stream = nullptr;

// A launcher's status, then the kernel's own errors (which surface only
// after it ran).
void Launched(cudaError_t launch_status, const char* what) {
  Check(launch_status, what);
  Check(cudaDeviceSynchronize(), what);
  Check(cudaGetLastError(), what);
}

// A device array of n elements (storage for at least one, so that empty
// arrays still have a distinct address); freed by the destructor.
template <typename T>
class DevBuf {
 public:
  explicit DevBuf(size_t n) : n_(n) {
    Check(cudaMalloc(reinterpret_cast<void**>(&ptr_), std::max<size_t>(n, 1) * sizeof(T)),
          "cudaMalloc");
  }
  ~DevBuf() { cudaFree(ptr_); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  T* get() const { return ptr_; }
  void Upload(const std::vector<T>& v) {
    if (v.size() != n_) throw std::logic_error("upload size");
    if (n_) Check(cudaMemcpy(ptr_, v.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), "upload");
  }
  void Sentinel() {
    if (n_) Check(cudaMemset(ptr_, 0x7f, n_ * sizeof(T)), "cudaMemset");
  }
  std::vector<T> Download(size_t offset, size_t n) const {
    std::vector<T> v(n);
    if (n)
      Check(cudaMemcpy(v.data(), ptr_ + offset, n * sizeof(T), cudaMemcpyDeviceToHost), "download");
    return v;
  }
  std::vector<T> Download() const { return Download(0, n_); }

 private:
  size_t n_;
  T* ptr_ = nullptr;
};

#endif  // XLA_RNNT_KCHECK_CPU_ONLY

// ---------------------------------------------------------------- recursion

enum class Lattice { kRegular, kModified, kConstrained };

const char* LatticeName(Lattice l) {
  switch (l) {
    case Lattice::kRegular:
      return "regular";
    case Lattice::kModified:
      return "modified";
    default:
      return "constrained";
  }
}

using Row = std::array<int32_t, 4>;  // s_begin, t_begin, s_end, t_end

enum class BoxKind { kFull, kOffsets, kRagged, kEmptyS, kEmptyT, kPoint };

// A boundary row of the given kind inside [S+1, T+1]; for the modified
// lattices most rows leave at least as many frames as symbols (the others
// have no alignment: score -inf).
Row MakeRow(BoxKind kind, int64_t S, int64_t T, bool modified, Rng& rng) {
  int64_t s0 = 0, t0 = 0, s1 = S, t1 = T;
  switch (kind) {
    case BoxKind::kFull:
      break;
    case BoxKind::kOffsets:  // s_begin > 0 and t_begin > 0 where the lattice allows
      s0 = S > 0 ? rng.Int(1, std::max<int64_t>(1, S / 3)) : 0;
      t0 = T > 0 ? rng.Int(1, std::max<int64_t>(1, T / 3)) : 0;
      s1 = rng.Int(std::max(s0, S - S / 4), S);
      t1 = rng.Int(std::max(t0, T - T / 4), T);
      break;
    case BoxKind::kRagged:
      s0 = rng.Int(0, S / 4);
      t0 = rng.Int(0, T / 4);
      s1 = rng.Int(s0, S);
      t1 = rng.Int(t0, T);
      break;
    case BoxKind::kEmptyS:
      s0 = s1 = rng.Int(0, S);
      t0 = rng.Int(0, T / 2);
      t1 = rng.Int(t0, T);
      break;
    case BoxKind::kEmptyT:
      t0 = t1 = rng.Int(0, T);
      s0 = rng.Int(0, S / 2);
      s1 = rng.Int(s0, S);
      break;
    case BoxKind::kPoint:
      s0 = s1 = rng.Int(0, S);
      t0 = t1 = rng.Int(0, T);
      break;
  }
  if (modified && kind != BoxKind::kFull && kind != BoxKind::kEmptyT && rng.Uniform() < 0.8)
    s1 = std::min(s1, s0 + (t1 - t0));
  return Row{int32_t(s0), int32_t(t0), int32_t(s1), int32_t(t1)};
}

bool RowValid(const Row& r, int64_t S, int64_t T) { return BoundaryValid(r.data(), S, T); }

template <typename Real>
struct MiInputs {
  MiSizes sz;
  std::vector<Real> px, py;
  std::vector<int32_t> boundary;      // as given to the kernels
  std::vector<int32_t> cpu_boundary;  // invalid rows replaced by (0, 0, 0, 0)
  std::vector<char> valid;
};

// px, py uniform in [-3, 0.5] with a fraction of -inf cells. Regular: odd
// items look like the losses' px (-inf in column T and column t_end);
// constrained: a modified px plus py of the next context (as _rnnt.py builds it).
template <typename Real>
MiInputs<Real> MakeMiInputs(int64_t S, int64_t T, Lattice lattice, const std::vector<Row>& rows,
                            double ninf_rate, Rng& rng) {
  MiInputs<Real> in;
  const int64_t B = static_cast<int64_t>(rows.size());
  in.sz = MiSizes{B, S, T, lattice != Lattice::kRegular};
  const int64_t pxc = in.sz.px_cols();
  auto draw = [&]() {
    return rng.Uniform() < ninf_rate ? -Inf<Real>() : static_cast<Real>(rng.Range(-3.0, 0.5));
  };
  in.px.resize(B * S * pxc);
  in.py.resize(B * (S + 1) * T);
  for (Real& v : in.px) v = draw();
  for (Real& v : in.py) v = draw();
  for (int64_t b = 0; b < B; ++b) {
    const Row& r = rows[b];
    Real* pxb = in.px.data() + b * S * pxc;
    const Real* pyb = in.py.data() + b * (S + 1) * T;
    if (lattice == Lattice::kRegular && (b & 1)) {
      for (int64_t s = 0; s < S; ++s) {
        pxb[s * pxc + T] = -Inf<Real>();
        if (r[3] >= 0 && r[3] <= T) pxb[s * pxc + r[3]] = -Inf<Real>();
      }
    }
    if (lattice == Lattice::kConstrained)
      for (int64_t s = 0; s < S; ++s)
        for (int64_t t = 0; t < T; ++t) pxb[s * pxc + t] += pyb[(s + 1) * T + t];
  }
  for (int64_t b = 0; b < B; ++b) {
    const bool ok = RowValid(rows[b], S, T);
    in.valid.push_back(ok);
    for (int k = 0; k < 4; ++k) {
      in.boundary.push_back(rows[b][k]);
      in.cpu_boundary.push_back(ok ? rows[b][k] : 0);
    }
  }
  return in;
}

template <typename R>
struct MiResult {
  std::vector<R> scores, up_share, px_grad, py_grad;
};

// The forward's p as the backward uses it, in one form for both twins: for
// each cell of each valid item's box (items, rows, columns), the share of its
// incoming flow that comes from the predecessor in the row below; NaN where no
// flow comes in (the box's first cell, unreachable cells). The CPU twin's p
// holds log-scores (share = exp(p_up + px_up - p)); the CUDA forward's holds
// the split itself (cuda/ext_range.h, SplitCode).
template <typename R>
void AppendUpShares(const R* pb, const R* pxb, int64_t T1, int64_t pxc, bool modified,
                    const int32_t* row, std::vector<R>* out) {
  for (int64_t s = row[0]; s <= row[2]; ++s) {
    for (int64_t t = row[1]; t <= row[3]; ++t) {
      const R p = pb[s * T1 + t];
      R share = std::numeric_limits<R>::quiet_NaN();
      if (std::isfinite(p) && !(s == row[0] && t == row[1])) {
        share = R(0);
        const int64_t tu = modified ? t - 1 : t;  // the up predecessor's column
        if (s > row[0] && tu >= row[1])
          share = std::exp(pb[(s - 1) * T1 + tu] + pxb[(s - 1) * pxc + tu] - p);
      }
      out->push_back(share);
    }
  }
}

template <typename R>
MiResult<double> Narrow(const MiResult<R>& r) {
  return {Widen(r.scores), Widen(r.up_share), Widen(r.px_grad), Widen(r.py_grad)};
}

// The CPU twins on the whole batch (the reference), from px/py of dtype R
// and the rows of `in`.
template <typename R, typename In>
MiResult<R> CpuMiRef(const std::vector<R>& px, const std::vector<R>& py, const In& in) {
  const MiSizes sz = in.sz;
  const int64_t T1 = sz.T + 1;
  MiResult<R> r;
  std::vector<R> p(sz.B * (sz.S + 1) * T1, std::numeric_limits<R>::quiet_NaN());
  r.scores.resize(sz.B);
  r.px_grad.resize(px.size());
  r.py_grad.resize(py.size());
  MiForwardCpu<R>(px.data(), py.data(), in.cpu_boundary.data(), sz, p.data(), r.scores.data());
  MiBackwardCpu<R>(px.data(), py.data(), in.cpu_boundary.data(), sz, p.data(), r.px_grad.data(),
                   r.py_grad.data());
  for (int64_t b = 0; b < sz.B; ++b) {
    if (!in.valid[b]) {
      r.scores[b] = std::numeric_limits<R>::quiet_NaN();  // the GPU's answer
      continue;
    }
    AppendUpShares(p.data() + b * (sz.S + 1) * T1, px.data() + b * sz.S * sz.px_cols(), T1,
                   sz.px_cols(), sz.modified, in.boundary.data() + 4 * b, &r.up_share);
  }
  return r;
}

struct TilePlan {  // of the row scan: frames a thread, blocks an item
  int frames, tiles;
};

// Device results of the three entry points: forward alone; backward alone
// from the forward's p (as the FFI backward gets it); forward+backward into
// fresh buffers.
template <typename Real>
struct MiDevice {
  MiResult<Real> fwd, bwd, fb;
  // Gradients of the other backward kernel from fwd's p, where both can run
  // (regular lattices the row scan holds): the row scan and the wavefront
  // read each other's workspace (cuda/mi_rows_cuda.h). Elsewhere a copy of bwd.
  MiResult<Real> crossed;
  // The row scan forced into tiles (2 to 8 blocks an item, the hand-off
  // between them) at 1, 2 and 4 frames a thread, a tile a warp's worth of
  // frames where 8 tiles hold the row: forward into a fresh p, then backward
  // from it. Empty where the device runs no clusters or the lattice is not
  // regular.
  std::vector<std::pair<TilePlan, MiResult<Real>>> tiled;
};

#ifndef XLA_RNNT_KCHECK_CPU_ONLY

// The up shares (AppendUpShares) from the CUDA forward's p: each box cell's
// split code, decoded.
template <typename Real>
std::vector<Real> DownloadUpShares(const DevBuf<Real>& p, const MiInputs<Real>& in) {
  const MiSizes sz = in.sz;
  const int64_t T1 = sz.T + 1;
  std::vector<Real> out;
  for (int64_t b = 0; b < sz.B; ++b) {
    if (!in.valid[b]) continue;  // p is not written for such items
    const int32_t* row = in.boundary.data() + 4 * b;
    const size_t h = row[2] - row[0] + 1, w = row[3] - row[1] + 1;
    std::vector<Real> box(h * w);
    const Real* src = p.get() + b * (sz.S + 1) * T1 + row[0] * T1 + row[1];
    Check(cudaMemcpy2D(box.data(), w * sizeof(Real), src, T1 * sizeof(Real), w * sizeof(Real), h,
                       cudaMemcpyDeviceToHost),
          "download p box");
    for (Real r : box)
      out.push_back(std::fabs(r) <= Real(0.5) ? SplitShares(r).a
                                              : std::numeric_limits<Real>::quiet_NaN());
  }
  return out;
}

template <typename Real>
MiDevice<Real> DeviceMi(const MiInputs<Real>& in) {
  const MiSizes sz = in.sz;
  const size_t n_p = sz.B * (sz.S + 1) * (sz.T + 1), n_g = sz.B * sz.handoff_rows() * (sz.T + 1);
  DevBuf<Real> px(in.px.size()), py(in.py.size());
  DevBuf<int32_t> boundary(in.boundary.size());
  px.Upload(in.px);
  py.Upload(in.py);
  boundary.Upload(in.boundary);
  MiDevice<Real> out;
  {
    DevBuf<Real> p(n_p), scores(sz.B), px_grad(in.px.size()), py_grad(in.py.size()), g(n_g);
    scores.Sentinel();
    px_grad.Sentinel();
    py_grad.Sentinel();
    Launched(LaunchMiForward<Real>(g_stream, px.get(), py.get(), boundary.get(), sz, p.get(),
                                   scores.get()),
             "LaunchMiForward");
    out.fwd.scores = scores.Download();
    out.fwd.up_share = DownloadUpShares(p, in);
    Launched(LaunchMiBackward<Real>(g_stream, px.get(), py.get(), boundary.get(), sz, p.get(),
                                    px_grad.get(), py_grad.get(), g.get()),
             "LaunchMiBackward");
    out.bwd.px_grad = px_grad.Download();
    out.bwd.py_grad = py_grad.Download();
    out.crossed = out.bwd;
    const bool clusters = MiRowsClusters();
    if (MiRowsFit(sz, clusters)) {
      px_grad.Sentinel();
      py_grad.Sentinel();
      Launched(MiRowsServe(sz, clusters)
                   ? LaunchMiBackwardWavefront<Real>(g_stream, boundary.get(), sz, p.get(),
                                                     px_grad.get(), py_grad.get(), g.get())
                   : LaunchMiBackwardRows<Real>(g_stream, boundary.get(), sz, p.get(),
                                                px_grad.get(), py_grad.get()),
               "the other backward");
      out.crossed.px_grad = px_grad.Download();
      out.crossed.py_grad = py_grad.Download();
    }
    for (const int frames : {1, 2, 4}) {
      if (sz.modified || !clusters || sz.S + 1 > kRowsMaxTiledRows) break;
      const int64_t T1 = sz.T + 1, warp_frames = 32 * frames;
      const int tiles = int(std::min<int64_t>(
          kRowsMaxTiles, std::max<int64_t>(2, (T1 + warp_frames - 1) / warp_frames)));
      if (T1 > int64_t(frames) * tiles * kRowsMaxThreads) continue;
      p.Sentinel();  // every cell the tiled forward misses then fails
      scores.Sentinel();
      px_grad.Sentinel();
      py_grad.Sentinel();
      Launched(LaunchMiForwardRows<Real>(g_stream, px.get(), py.get(), boundary.get(), sz, p.get(),
                                         scores.get(), frames, tiles),
               "LaunchMiForwardRows (tiles)");
      MiResult<Real> r;
      r.scores = scores.Download();
      r.up_share = DownloadUpShares(p, in);
      Launched(LaunchMiBackwardRows<Real>(g_stream, boundary.get(), sz, p.get(), px_grad.get(),
                                          py_grad.get(), frames, tiles),
               "LaunchMiBackwardRows (tiles)");
      r.px_grad = px_grad.Download();
      r.py_grad = py_grad.Download();
      out.tiled.push_back({TilePlan{frames, tiles}, r});
    }
  }
  DevBuf<Real> p(n_p), scores(sz.B), px_grad(in.px.size()), py_grad(in.py.size()), g(n_g);
  scores.Sentinel();
  px_grad.Sentinel();
  py_grad.Sentinel();
  Launched(
      LaunchMiForwardBackward<Real>(g_stream, px.get(), py.get(), boundary.get(), sz, scores.get(),
                                    px_grad.get(), py_grad.get(), p.get(), g.get()),
      "LaunchMiForwardBackward");
  out.fb.scores = scores.Download();
  out.fb.up_share = DownloadUpShares(p, in);
  out.fb.px_grad = px_grad.Download();
  out.fb.py_grad = py_grad.Download();
  return out;
}

#else  // XLA_RNNT_KCHECK_CPU_ONLY

// The GPU's contract from the CPU twins, one item at a time (B = 1 slices),
// so that slicing, the invalid-row rule and the box read-back are computed
// independently of the reference's whole-batch call.
template <typename Real>
MiDevice<Real> DeviceMi(const MiInputs<Real>& in) {
  const MiSizes sz = in.sz;
  const int64_t T1 = sz.T + 1, pxc = sz.px_cols();
  MiResult<Real> r;
  r.scores.assign(sz.B, Real(1e30));  // a sentinel, as on the device
  r.px_grad.assign(in.px.size(), Real(1e30));
  r.py_grad.assign(in.py.size(), Real(1e30));
  for (int64_t b = 0; b < sz.B; ++b) {
    const int32_t* row = in.boundary.data() + 4 * b;
    Real* gx = r.px_grad.data() + b * sz.S * pxc;
    Real* gy = r.py_grad.data() + b * (sz.S + 1) * sz.T;
    if (!BoundaryValid(row, sz.S, sz.T)) {
      r.scores[b] = std::numeric_limits<Real>::quiet_NaN();
      std::fill(gx, gx + sz.S * pxc, Real(0));
      std::fill(gy, gy + (sz.S + 1) * sz.T, Real(0));
      continue;
    }
    const MiSizes one{1, sz.S, sz.T, sz.modified};
    std::vector<Real> p((sz.S + 1) * T1, Real(-7777));  // outside the box: never read
    const Real* pxb = in.px.data() + b * sz.S * pxc;
    const Real* pyb = in.py.data() + b * (sz.S + 1) * sz.T;
    MiForwardCpu<Real>(pxb, pyb, row, one, p.data(), &r.scores[b]);
    MiBackwardCpu<Real>(pxb, pyb, row, one, p.data(), gx, gy);
    AppendUpShares(p.data(), pxb, T1, pxc, sz.modified, row, &r.up_share);
  }
  MiDevice<Real> out{r, r, r, r, {}};
  if (!sz.modified) out.tiled.push_back({TilePlan{1, 2}, r});
  return out;
}

#endif  // XLA_RNNT_KCHECK_CPU_ONLY

struct MiConfig {
  const char* tag;
  int64_t S, T;
  std::vector<BoxKind> kinds;  // one item per kind; empty: explicit rows
  double ninf_rate;
  bool invalid_rows;  // the invalid-boundary case
};

std::vector<Row> InvalidRows(int64_t S, int64_t T, bool modified, Rng& rng) {
  const int32_t s = int32_t(S), t = int32_t(T);
  return {MakeRow(BoxKind::kFull, S, T, modified, rng),
          Row{-1, 0, s, t},     // s_begin < 0
          Row{0, 0, s + 1, t},  // s_end > S
          MakeRow(BoxKind::kRagged, S, T, modified, rng),
          Row{0, 5, s, 4},      // t_begin > t_end
          Row{3, 0, 2, t},      // s_begin > s_end
          Row{0, 0, s, t + 1},  // t_end > T
          Row{0, -1, s, t},     // t_begin < 0
          MakeRow(BoxKind::kOffsets, S, T, modified, rng)};
}

template <typename Real>
void RunMi(const MiConfig& cfg, Lattice lattice) {
  char label[160];
  std::snprintf(label, sizeof(label), "mi %-11s %s %-8s S=%" PRId64 " T=%" PRId64,
                LatticeName(lattice), DtypeName<Real>(), cfg.tag, cfg.S, cfg.T);
  const std::string base = label;
  const std::string labels[4] = {base + " fwd", base + " bwd", base + " fwd+bwd", base + " tiles"};
  Rng rng = CaseRng();  // the stream of the case's first line
  bool any = false;
  for (const std::string& l : labels) any = Selected(l) || any;
  if (!any) return;
  const bool modified = lattice != Lattice::kRegular;
  std::vector<Row> rows;
  if (cfg.invalid_rows) {
    rows = InvalidRows(cfg.S, cfg.T, modified, rng);
  } else {
    for (BoxKind k : cfg.kinds) rows.push_back(MakeRow(k, cfg.S, cfg.T, modified, rng));
  }
  const MiInputs<Real> in = MakeMiInputs<Real>(cfg.S, cfg.T, lattice, rows, cfg.ninf_rate, rng);
  const MiResult<Real> ref = CpuMiRef<Real>(in.px, in.py, in);
  // The more precise twin: float64 for float32, long double for float64
  // (rounded to double, far below the float64 chains' drift).
  const bool f32 = std::is_same<Real, float>::value;
  const MiResult<double> ref64 =
      f32 ? CpuMiRef<double>(Widen<double>(in.px), Widen<double>(in.py), in)
          : Narrow(CpuMiRef<long double>(Widen<long double>(in.px), Widen<long double>(in.py), in));
  MiDevice<Real> dev;
  try {
    dev = DeviceMi<Real>(in);
  } catch (const std::exception& e) {
    for (const std::string& l : labels) ReportError(l, e.what());
    return;
  }
  Perturb<Real>({&dev.fwd.scores, &dev.fwd.up_share});
  Perturb<Real>({&dev.bwd.px_grad, &dev.bwd.py_grad});
  Perturb<Real>({&dev.crossed.px_grad, &dev.crossed.py_grad});
  Perturb<Real>({&dev.fb.scores, &dev.fb.up_share, &dev.fb.px_grad, &dev.fb.py_grad});
  for (auto& t : dev.tiled)
    Perturb<Real>({&t.second.scores, &t.second.up_share, &t.second.px_grad, &t.second.py_grad});
  const double tol = f32 ? 1e-5 : 1e-12;
  Report(labels[0],
         {Compare("scores", dev.fwd.scores, ref.scores, &ref64.scores, true),
          Compare("up_share", dev.fwd.up_share, ref.up_share, &ref64.up_share, false)},
         tol);
  Report(labels[1],
         {Compare("px_grad", dev.bwd.px_grad, ref.px_grad, &ref64.px_grad, false),
          Compare("py_grad", dev.bwd.py_grad, ref.py_grad, &ref64.py_grad, false),
          Compare("px_grad(other bwd)", dev.crossed.px_grad, ref.px_grad, &ref64.px_grad, false),
          Compare("py_grad(other bwd)", dev.crossed.py_grad, ref.py_grad, &ref64.py_grad, false)},
         tol);
  Report(labels[2],
         {Compare("scores", dev.fb.scores, ref.scores, &ref64.scores, true),
          Compare("up_share", dev.fb.up_share, ref.up_share, &ref64.up_share, false),
          Compare("px_grad", dev.fb.px_grad, ref.px_grad, &ref64.px_grad, false),
          Compare("py_grad", dev.fb.py_grad, ref.py_grad, &ref64.py_grad, false)},
         tol);
  for (const auto& t : dev.tiled) {
    char plan[48];
    std::snprintf(plan, sizeof(plan), " K=%d x%d", t.first.frames, t.first.tiles);
    const MiResult<Real>& r = t.second;
    Report(labels[3] + plan,
           {Compare("scores", r.scores, ref.scores, &ref64.scores, true),
            Compare("up_share", r.up_share, ref.up_share, &ref64.up_share, false),
            Compare("px_grad", r.px_grad, ref.px_grad, &ref64.px_grad, false),
            Compare("py_grad", r.py_grad, ref.py_grad, &ref64.py_grad, false)},
           tol);
  }
  if (!modified && dev.tiled.empty())
    std::printf("SKIP %s: the device runs no thread-block clusters (not counted)\n",
                labels[3].c_str());
}

// ---------------------------------------------------------------- log-softmax + gather

enum class Misalign { kNone, kBoth, kGradOnly };

struct GatherConfig {
  int64_t N, C, blank;
  Misalign misalign;  // base one element past a 16-byte boundary: the scalar path
  const char* path;   // the forward kernel the launcher picks (for the label)
  bool hat;           // the HAT variant of every kernel (cc/logsoftmax_gather.h)
};

template <typename Real>
struct GatherInputs {
  GatherSizes sz;
  bool hat;
  std::vector<Real> logits, px_grad, py_grad;
  std::vector<int32_t> symbols;
};

// Rows: uniform [-8, 8]; every 7th (from 3) all -inf; every 7th (from 5) 30%
// -inf cells; every 11th (from 4) shifted by +60; HAT: every 17th (from 8)
// -inf but at the blank (no non-blank mass: normalizer 0). Symbols: every
// 5th (from 2) outside [0, C), every 13th (from 6) the blank. Cotangents
// uniform [-2, 2], every 9th row zero.
template <typename Real>
GatherInputs<Real> MakeGatherInputs(const GatherConfig& cfg, Rng& rng) {
  GatherInputs<Real> in;
  in.sz = GatherSizes{cfg.N, cfg.C, cfg.blank};
  in.hat = cfg.hat;
  in.logits.resize(cfg.N * cfg.C);
  const int64_t C = cfg.C;
  const int32_t outside[] = {-1, int32_t(C), int32_t(C + 5), std::numeric_limits<int32_t>::min(),
                             std::numeric_limits<int32_t>::max()};
  for (int64_t n = 0; n < cfg.N; ++n) {
    Real* row = in.logits.data() + n * C;
    for (int64_t c = 0; c < C; ++c) {
      double v = rng.Range(-8.0, 8.0);
      if (n % 11 == 4) v += 60;
      row[c] = static_cast<Real>(v);
      if (n % 7 == 5 && rng.Uniform() < 0.3) row[c] = -Inf<Real>();
      if (n % 7 == 3) row[c] = -Inf<Real>();
      if (cfg.hat && n % 17 == 8 && c != cfg.blank) row[c] = -Inf<Real>();
    }
    int32_t sym = int32_t(rng.Int(0, C - 1));
    if (n % 5 == 2) sym = outside[(n / 5) % 5];
    if (n % 13 == 6) sym = int32_t(cfg.blank);
    in.symbols.push_back(sym);
    const bool zero = n % 9 == 0;
    in.px_grad.push_back(zero ? Real(0) : static_cast<Real>(rng.Range(-2.0, 2.0)));
    in.py_grad.push_back(zero ? Real(0) : static_cast<Real>(rng.Range(-2.0, 2.0)));
  }
  return in;
}

template <typename R>
struct GatherResult {
  std::vector<R> px, py, normalizers, logits_grad;
};

// The CPU twins; the gradient from `normalizers` (the float CPU ones, which
// the device's backward gets too, so it is checked on its own).
template <typename R>
GatherResult<R> CpuGather(const std::vector<R>& logits, const std::vector<int32_t>& symbols,
                          const std::vector<R>& px_grad, const std::vector<R>& py_grad,
                          const std::vector<R>* normalizers, GatherSizes sz, bool hat) {
  GatherResult<R> r;
  r.px.resize(sz.N);
  r.py.resize(sz.N);
  r.normalizers.resize(sz.N);
  r.logits_grad.resize(sz.N * sz.C);
  LogsoftmaxGatherCpu<R>(logits.data(), symbols.data(), sz, hat, r.px.data(), r.py.data(),
                         r.normalizers.data());
  const R* norm = normalizers != nullptr ? normalizers->data() : r.normalizers.data();
  LogsoftmaxGatherGradCpu<R>(logits.data(), symbols.data(), norm, px_grad.data(), py_grad.data(),
                             sz, hat, r.logits_grad.data());
  return r;
}

#ifndef XLA_RNNT_KCHECK_CPU_ONLY

template <typename Real>
GatherResult<Real> DeviceGather(const GatherInputs<Real>& in, const std::vector<Real>& norm_in,
                                Misalign misalign) {
  const GatherSizes sz = in.sz;
  const size_t n = sz.N * sz.C;
  const size_t off_in = misalign == Misalign::kBoth ? 1 : 0;
  const size_t off_out = misalign == Misalign::kNone ? 0 : 1;
  std::vector<Real> padded(off_in, Real(0));  // the pad element is written too
  padded.insert(padded.end(), in.logits.begin(), in.logits.end());
  DevBuf<Real> logits(n + off_in), px_grad(sz.N), py_grad(sz.N), normalizers_in(sz.N);
  DevBuf<int32_t> symbols(sz.N);
  logits.Upload(padded);
  symbols.Upload(in.symbols);
  px_grad.Upload(in.px_grad);
  py_grad.Upload(in.py_grad);
  normalizers_in.Upload(norm_in);
  DevBuf<Real> px(sz.N), py(sz.N), normalizers(sz.N), logits_grad(n + off_out);
  px.Sentinel();
  py.Sentinel();
  normalizers.Sentinel();
  logits_grad.Sentinel();
  GatherResult<Real> r;
  Launched(LaunchLogsoftmaxGather<Real>(g_stream, logits.get() + off_in, symbols.get(), sz, in.hat,
                                        px.get(), py.get(), normalizers.get()),
           "LaunchLogsoftmaxGather");
  r.px = px.Download();
  r.py = py.Download();
  r.normalizers = normalizers.Download();
  Launched(LaunchLogsoftmaxGatherGrad<Real>(g_stream, logits.get() + off_in, symbols.get(),
                                            normalizers_in.get(), px_grad.get(), py_grad.get(), sz,
                                            in.hat, logits_grad.get() + off_out),
           "LaunchLogsoftmaxGatherGrad");
  r.logits_grad = logits_grad.Download(off_out, n);
  return r;
}

#else  // XLA_RNNT_KCHECK_CPU_ONLY

// Row by row (N = 1 slices), for the same reason as DeviceMi.
template <typename Real>
GatherResult<Real> DeviceGather(const GatherInputs<Real>& in, const std::vector<Real>& norm_in,
                                Misalign) {
  const GatherSizes sz = in.sz;
  GatherResult<Real> r;
  r.px.resize(sz.N);
  r.py.resize(sz.N);
  r.normalizers.resize(sz.N);
  r.logits_grad.resize(sz.N * sz.C);
  const GatherSizes one{1, sz.C, sz.blank};
  for (int64_t n = 0; n < sz.N; ++n) {
    const Real* row = in.logits.data() + n * sz.C;
    LogsoftmaxGatherCpu<Real>(row, &in.symbols[n], one, in.hat, &r.px[n], &r.py[n],
                              &r.normalizers[n]);
    LogsoftmaxGatherGradCpu<Real>(row, &in.symbols[n], &norm_in[n], &in.px_grad[n], &in.py_grad[n],
                                  one, in.hat, r.logits_grad.data() + n * sz.C);
  }
  return r;
}

#endif  // XLA_RNNT_KCHECK_CPU_ONLY

template <typename Real>
void RunGather(const GatherConfig& cfg) {
  static const char* kMisalign[] = {"", " misaligned", " grad-misaligned"};
  char label[160];
  std::snprintf(label, sizeof(label),
                "gather%s %s N=%" PRId64 " C=%" PRId64 " blank=%" PRId64 " (%s%s)",
                cfg.hat ? " hat" : "", DtypeName<Real>(), cfg.N, cfg.C, cfg.blank, cfg.path,
                kMisalign[int(cfg.misalign)]);
  const std::string labels[2] = {std::string(label) + " fwd", std::string(label) + " bwd"};
  Rng rng = CaseRng();
  bool any = false;
  for (const std::string& l : labels) any = Selected(l) || any;
  if (!any) return;
  const GatherInputs<Real> in = MakeGatherInputs<Real>(cfg, rng);
  const GatherResult<Real> ref =
      CpuGather<Real>(in.logits, in.symbols, in.px_grad, in.py_grad, nullptr, in.sz, in.hat);
  const bool f32 = std::is_same<Real, float>::value;
  GatherResult<double> ref64;
  if (f32) {
    const std::vector<double> norm64 = Widen(ref.normalizers);
    ref64 = CpuGather<double>(Widen(in.logits), in.symbols, Widen(in.px_grad), Widen(in.py_grad),
                              &norm64, in.sz, in.hat);
  }
  auto r64 = [&](const std::vector<double>& v) { return f32 ? &v : nullptr; };
  GatherResult<Real> dev;
  try {
    dev = DeviceGather<Real>(in, ref.normalizers, cfg.misalign);
  } catch (const std::exception& e) {
    for (const std::string& l : labels) ReportError(l, e.what());
    return;
  }
  Perturb<Real>({&dev.px, &dev.py, &dev.normalizers});
  Perturb<Real>({&dev.logits_grad});
  const double tol = f32 ? 1e-5 : 1e-12;
  Report(labels[0],
         {Compare("px", dev.px, ref.px, r64(ref64.px), true),
          Compare("py", dev.py, ref.py, r64(ref64.py), true),
          Compare("normalizers", dev.normalizers, ref.normalizers, r64(ref64.normalizers), true)},
         tol);
  Report(labels[1],
         {Compare("logits_grad", dev.logits_grad, ref.logits_grad, r64(ref64.logits_grad), false)},
         tol);
}

// The launcher's forward paths (cuda/logsoftmax_gather_cuda.cu): rows of
// P = C / V vectors (V = 16 bytes / element) when C % V == 0 and the base is
// 16-byte aligned: P <= 128 short kernel K = 4, P <= 256 K = 8, else the
// running-sum kernel; otherwise the running-sum kernel element by element.
// Each with hat false and true (the HAT kernels are other instantiations);
// the blanks sit first, last and inside a vector, in a lane's first and
// later packs.
template <typename Real>
std::vector<GatherConfig> GatherConfigs(bool hat) {
  const int64_t V = 16 / sizeof(Real);
  return {
      {19, 1, 0, Misalign::kNone, "scalar", hat},
      {37, V, V - 1, Misalign::kNone, "short K=4, 1 vector", hat},
      {64, 25 * V, 0, Misalign::kNone, "short K=4", hat},
      {40, 128 * V, 128 * V - 1, Misalign::kNone, "short K=4, last", hat},
      {33, 129 * V, 7, Misalign::kNone, "short K=8, first", hat},
      {21, 256 * V, 0, Misalign::kNone, "short K=8, last", hat},
      {17, 257 * V, 257 * V - 1, Misalign::kNone, "long vector, first", hat},
      {9, 1250 * V, 3, Misalign::kNone, "long vector", hat},
      {13, 1001, 500, Misalign::kNone, "long scalar", hat},
      {9, 37, 36, Misalign::kNone, "scalar, C % V != 0", hat},
      {11, 128 * V, 1, Misalign::kBoth, "scalar", hat},
      {10, 25 * V, 2, Misalign::kGradOnly, "short K=4, scalar backward", hat},
      {0, 16, 0, Misalign::kNone, "N=0, no launch", hat},
  };
}

// ------------------------------------------------------- gather-rows gradient

struct RowsConfig {
  int64_t B, T, R, N, Q;
  bool windows;  // sorted window columns (binary search) or arbitrary (scan)
};

// Bitwise equality: both twins add in the contract's order.
template <typename Real>
ArrayCheck Exact(const char* name, const std::vector<Real>& dev, const std::vector<Real>& ref) {
  ArrayCheck out;
  out.name = name;
  out.ok = dev.size() == ref.size();
  for (size_t i = 0; out.ok && i < dev.size(); ++i) {
    if (dev[i] == ref[i] || (std::isnan(double(dev[i])) && std::isnan(double(ref[i])))) continue;
    out.ok = false;
    char buf[128];
    std::snprintf(buf, sizeof(buf), " [%zu]: dev %.17g ref %.17g", i, double(dev[i]),
                  double(ref[i]));
    out.detail = buf;
  }
  return out;
}

template <typename Real>
void RunRowsGrad(const RowsConfig& cfg) {
  char label[160];
  std::snprintf(
      label, sizeof(label),
      "rows grad %s B=%" PRId64 " T=%" PRId64 " R=%" PRId64 " N=%" PRId64 " Q=%" PRId64 " (%s)",
      DtypeName<Real>(), cfg.B, cfg.T, cfg.R, cfg.N, cfg.Q, cfg.windows ? "windows" : "arbitrary");
  Rng rng = CaseRng();
  if (!Selected(label)) return;
  const RowsGradSizes sz{cfg.B, cfg.N, cfg.Q, cfg.T, cfg.R};
  std::vector<int32_t> idx(sz.B * sz.T * sz.R);
  for (int64_t b = 0; b < sz.B; ++b) {
    int64_t start = 0;
    for (int64_t t = 0; t < sz.T; ++t) {
      // Windows: starts that never decrease; else any value in [-1, N]
      // (values outside [0, N) add nothing).
      // Sorted columns reach below 0 and past N - 1 at their ends (-1 then
      // N + 1 - R as the first and last starts).
      if (cfg.windows && rng.Uniform() < 0.3) start = std::min(start + 1, sz.N - sz.R);
      const int64_t s = t == 0 ? -1 : (t == sz.T - 1 && sz.T > 2 ? sz.N + 1 - sz.R : start);
      for (int64_t r = 0; r < sz.R; ++r)
        idx[(b * sz.T + t) * sz.R + r] =
            cfg.windows ? int32_t(s + r)
                        : int32_t(std::floor(rng.Uniform() * double(sz.N + 2))) - 1;
    }
  }
  std::vector<Real> g(sz.B * sz.T * sz.R * sz.Q);
  for (Real& v : g) v = Real(rng.Uniform() * 2 - 1);
  std::vector<Real> ref(sz.B * sz.N * sz.Q), ref_sorted(sz.B * sz.R);
  GatherRowsGradCpu<Real>(idx.data(), g.data(), sz, ref.data(), ref_sorted.data());
  std::vector<Real> dev, dev_sorted;
  try {
#ifndef XLA_RNNT_KCHECK_CPU_ONLY
    DevBuf<int32_t> d_idx(idx.size());
    DevBuf<Real> d_g(g.size()), d_x_grad(ref.size()), d_sorted(ref_sorted.size());
    d_idx.Upload(idx);
    d_g.Upload(g);
    d_x_grad.Sentinel();
    d_sorted.Sentinel();
    Launched(LaunchGatherRowsGrad<Real>(g_stream, d_idx.get(), d_g.get(), sz, d_x_grad.get(),
                                        d_sorted.get()),
             "LaunchGatherRowsGrad");
    dev = d_x_grad.Download();
    dev_sorted = d_sorted.Download();
#else
    // The device's per-element sums (RowSum, binary searches included) on
    // the CPU's sortedness flags.
    dev_sorted.resize(ref_sorted.size());
    for (int64_t b = 0; b < sz.B; ++b)
      for (int64_t r = 0; r < sz.R; ++r)
        dev_sorted[b * sz.R + r] = ColumnSorted(idx.data(), sz, b, r) ? Real(1) : Real(0);
    dev.resize(ref.size());
    for (int64_t b = 0; b < sz.B; ++b)
      for (int64_t n = 0; n < sz.N; ++n)
        for (int64_t q = 0; q < sz.Q; ++q)
          dev[(b * sz.N + n) * sz.Q + q] =
              RowSum(idx.data(), g.data(), sz, dev_sorted.data(), b, n, q);
#endif
  } catch (const std::exception& e) {
    ReportError(label, e.what());
    return;
  }
  Perturb<Real>({&dev});
  Report(label, {Exact("x_grad", dev, ref), Exact("sorted", dev_sorted, ref_sorted)}, 0);
}

// Window columns and arbitrary ones; Q below, at and above a block of 128
// threads; long T (the binary search); empty T, R and N; more blocks than
// the grid (the stride loop) is not reached at these sizes; R over a pass.
std::vector<RowsConfig> RowsConfigs() {
  return {
      {3, 7, 2, 5, 4, true},
      {3, 7, 2, 5, 4, false},
      {2, 300, 5, 101, 128, true},
      {2, 300, 5, 101, 129, false},
      {4, 2000, 4, 401, 300, true},
      {1, 1, 1, 1, 1, true},
      {2, 0, 3, 6, 5, true},
      {2, 4, 0, 6, 5, true},
      {2, 4, 1, 0, 5, false},
      // R above one block's pass of 64 columns (the bounds found in passes).
      {2, 40, 70, 120, 33, true},
      {2, 40, 130, 9, 33, false},
  };
}

// ---------------------------------------------------------------- symbol-gather gradient

struct SymbolsConfig {
  int64_t B, T, S, V;
};

// tiles: how the CUDA sums reach x_grad (cuda/gather_symbols_grad_cuda.h).
template <typename Real>
void RunSymbolsGrad(const SymbolsConfig& cfg, bool tiles) {
  char label[160];
  std::snprintf(label, sizeof(label),
                "symbols grad %s B=%" PRId64 " T=%" PRId64 " S=%" PRId64 " V=%" PRId64 " (%s)",
                DtypeName<Real>(), cfg.B, cfg.T, cfg.S, cfg.V, tiles ? "tiles" : "direct");
  Rng rng = CaseRng();
  if (!Selected(label)) return;
  const SymbolsGradSizes sz{cfg.B, cfg.T, cfg.V, cfg.S};
  // Indices in [-1, V]: repeats (chains) and, at both ends, ones that add nothing.
  std::vector<int32_t> idx(sz.B * sz.S);
  for (int32_t& v : idx) v = int32_t(std::floor(rng.Uniform() * double(sz.V + 2))) - 1;
  std::vector<Real> g(sz.B * sz.S * sz.T);
  for (Real& v : g) v = Real(rng.Uniform() * 2 - 1);
  std::vector<Real> ref(sz.B * sz.T * sz.V), ref_links(sz.B * sz.S);
  GatherSymbolsGradCpu<Real>(idx.data(), g.data(), sz, ref.data(), ref_links.data());
  std::vector<Real> dev, dev_links;
  try {
#ifndef XLA_RNNT_KCHECK_CPU_ONLY
    DevBuf<int32_t> d_idx(idx.size());
    DevBuf<Real> d_g(g.size()), d_x_grad(ref.size()), d_links(ref_links.size());
    d_idx.Upload(idx);
    d_g.Upload(g);
    d_x_grad.Sentinel();
    d_links.Sentinel();
    Launched(LaunchGatherSymbolsGrad<Real>(
                 g_stream, d_idx.get(), d_g.get(), sz, d_x_grad.get(), d_links.get(),
                 tiles ? SymbolsGradKernel::kTiles : SymbolsGradKernel::kDirect),
             "LaunchGatherSymbolsGrad");
    dev = d_x_grad.Download();
    dev_links = d_links.Download();
#else
    // The device's per-destination chain sums on links found one by one.
    dev_links.resize(ref_links.size());
    for (int64_t b = 0; b < sz.B; ++b)
      for (int64_t s = 0; s < sz.S; ++s) dev_links[b * sz.S + s] = Real(Link(idx.data(), sz, b, s));
    dev.assign(ref.size(), Real(0));
    for (int64_t b = 0; b < sz.B; ++b)
      for (int64_t s = 0; s < sz.S; ++s)
        if (LinkStartsChain(int64_t(dev_links[b * sz.S + s])))
          for (int64_t t = 0; t < sz.T; ++t)
            dev[(b * sz.T + t) * sz.V + idx[b * sz.S + s]] =
                ChainSum(g.data(), dev_links.data() + b * sz.S, sz, b, s, t);
#endif
  } catch (const std::exception& e) {
    ReportError(label, e.what());
    return;
  }
  Perturb<Real>({&dev, &dev_links});
  Report(label, {Exact("x_grad", dev, ref), Exact("links", dev_links, ref_links)}, 0);
}

// T below, at and above a block's 32 frames; S above V (long chains) and
// below; a single class; empty T, S and V; the simple loss's long shapes; S
// beyond the sums' shared-memory stage of links; V beyond one tile of kTiles.
std::vector<SymbolsConfig> SymbolsConfigs() {
  return {
      {3, 7, 5, 4},       {2, 32, 40, 3},      {2, 33, 7, 50},     {3, 100, 64, 1},
      {1, 1, 1, 1},       {2, 0, 5, 4},        {2, 6, 0, 4},       {2, 6, 5, 0},
      {4, 500, 100, 500}, {2, 4000, 800, 500}, {2, 1000, 300, 37}, {1, 40, 8192, 7},
      {1, 40, 8193, 7},   // the shared-memory stage of links full, and beyond
      {2, 70, 60, 2000},  // classes beyond one shared-memory tile (kTiles' chunks)
  };
}

// ---------------------------------------------------------------- band recursion

enum class Windows { kMonotone, kBack, kOutside, kAny };

const char* WindowsName(Windows w) {
  switch (w) {
    case Windows::kMonotone:
      return "monotone";
    case Windows::kBack:
      return "back";
    case Windows::kOutside:
      return "outside";
    default:
      return "any";
  }
}

struct BandConfig {
  const char* tag;
  int64_t S, T, R;
  Windows windows;
  std::vector<BoxKind> kinds;  // one item per kind
  double ninf_rate;
  bool invalid_rows;  // InvalidRows instead of kinds
};

template <typename Real>
struct BandResult {
  std::vector<Real> scores, split, final_split, px_grad, py_grad;
  // The gradients of the other GPU backward (chunks where the launchers ran a
  // warp per item, and the reverse) from the same forward's workspace.
  std::vector<Real> px_grad_other, py_grad_other;
};

template <typename R>
BandResult<R> CpuBand(const std::vector<R>& px, const std::vector<R>& py,
                      const std::vector<int32_t>& starts, const std::vector<int32_t>& rows,
                      const BandSizes& sz) {
  BandResult<R> r;
  const size_t n = size_t(sz.B * sz.T * sz.R);
  r.scores.resize(sz.B);
  r.final_split.resize(sz.B);
  r.split.resize(n);
  r.px_grad.resize(n);
  r.py_grad.resize(n);
  BandForwardCpu<R>(px.data(), py.data(), starts.data(), rows.data(), sz, r.scores.data(),
                    r.split.data(), r.final_split.data());
  BandBackwardCpu<R>(starts.data(), rows.data(), sz, r.split.data(), r.final_split.data(),
                     r.px_grad.data(), r.py_grad.data());
  r.px_grad_other = r.px_grad;
  r.py_grad_other = r.py_grad;
  return r;
}

// The launchers: forward, then the backward from the forward's workspace.
// chunk_frames as the launchers take it (cuda/band_chunks_cuda.h).
template <typename Real>
BandResult<Real> DeviceBand(const std::vector<Real>& px, const std::vector<Real>& py,
                            const std::vector<int32_t>& starts, const std::vector<int32_t>& rows,
                            const BandSizes& sz, int64_t chunk_frames) {
#ifndef XLA_RNNT_KCHECK_CPU_ONLY
  const size_t n = size_t(sz.B * sz.T * sz.R);
  DevBuf<Real> d_px(n), d_py(n), d_scores(sz.B), d_split(n), d_final(sz.B), d_gx(n), d_gy(n);
  DevBuf<int32_t> d_starts(starts.size()), d_rows(rows.size());
  d_px.Upload(px);
  d_py.Upload(py);
  d_starts.Upload(starts);
  d_rows.Upload(rows);
  for (DevBuf<Real>* d : {&d_scores, &d_split, &d_final, &d_gx, &d_gy}) d->Sentinel();
  Launched(LaunchBandForward<Real>(g_stream, d_px.get(), d_py.get(), d_starts.get(), d_rows.get(),
                                   sz, d_scores.get(), d_split.get(), d_final.get(), chunk_frames),
           "LaunchBandForward");
  Launched(LaunchBandBackward<Real>(g_stream, d_starts.get(), d_rows.get(), sz, d_split.get(),
                                    d_final.get(), d_gx.get(), d_gy.get(), chunk_frames),
           "LaunchBandBackward");
  BandResult<Real> r{d_scores.Download(),
                     d_split.Download(),
                     d_final.Download(),
                     d_gx.Download(),
                     d_gy.Download(),
                     {},
                     {}};
  // The other backward: a warp per item after chunks, the smallest chunks
  // after a warp per item (where chunks serve; else the same path again).
  const int64_t other = BandChunkFrames(sz, chunk_frames) > 0 ? 0 : 1;
  for (DevBuf<Real>* d : {&d_gx, &d_gy}) d->Sentinel();
  Launched(LaunchBandBackward<Real>(g_stream, d_starts.get(), d_rows.get(), sz, d_split.get(),
                                    d_final.get(), d_gx.get(), d_gy.get(), other),
           "LaunchBandBackward (other)");
  r.px_grad_other = d_gx.Download();
  r.py_grad_other = d_gy.Download();
  return r;
#else
  (void)chunk_frames;
  return CpuBand<Real>(px, py, starts, rows, sz);  // the driver's bookkeeping only
#endif
}

// chunk_frames: -1 the launchers' choice; > 0 chunks forced (the fewest
// frames a chunk takes, so that short lattices run many chunks).
template <typename Real>
void RunBand(const BandConfig& cfg, bool modified, int64_t chunk_frames) {
  char label[180];
  std::snprintf(
      label, sizeof(label), "band %-8s %s %-8s %-8s S=%" PRId64 " T=%" PRId64 " R=%" PRId64 " %s",
      modified ? "modified" : "regular", DtypeName<Real>(), cfg.tag, WindowsName(cfg.windows),
      cfg.S, cfg.T, cfg.R, chunk_frames < 0 ? "launchers" : "chunks");
  Rng rng = CaseRng();
  if (!Selected(label)) return;
  std::vector<Row> items;
  if (cfg.invalid_rows) {
    items = InvalidRows(cfg.S, cfg.T, modified, rng);
  } else {
    for (BoxKind k : cfg.kinds) items.push_back(MakeRow(k, cfg.S, cfg.T, modified, rng));
  }
  const BandSizes sz{int64_t(items.size()), cfg.T, cfg.R, cfg.S, modified};
  std::vector<int32_t> rows, starts(size_t(sz.B * sz.T));
  for (const Row& r : items) rows.insert(rows.end(), r.begin(), r.end());
  for (int64_t b = 0; b < sz.B; ++b) {
    // Windows that follow the diagonal of the item's box, as pruning places them.
    int64_t s = cfg.windows == Windows::kOutside ? -cfg.R / 2 : 0;
    for (int64_t t = 0; t < sz.T; ++t) {
      const double slope = double(cfg.S + 1) / double(std::max<int64_t>(1, cfg.T));
      if (rng.Uniform() < std::min(0.9, slope)) s += 1 + (rng.Uniform() < 0.1 ? 2 : 0);
      if (cfg.windows == Windows::kBack && rng.Uniform() < 0.1) s -= rng.Int(1, 3);
      const int64_t hi = cfg.windows == Windows::kOutside ? cfg.S + 2 : cfg.S + 1 - cfg.R;
      s = std::min<int64_t>(std::max<int64_t>(s, cfg.windows == Windows::kOutside ? -cfg.R : 0),
                            std::max<int64_t>(hi, 0));
      // kAny: the diagonal moved by -2..2 on 10% of the frames, the last
      // item's starts anywhere in [-R - 1, S + 2] (tests/inputs_rnnt.py).
      if (cfg.windows == Windows::kAny) {
        s = std::llround(double(t) * cfg.S / std::max<double>(1, cfg.T)) - cfg.R / 2;
        if (rng.Uniform() < 0.1) s += rng.Int(-2, 2);
        s = std::min<int64_t>(std::max<int64_t>(s, -2), cfg.S + 2);
        if (b == sz.B - 1) s = rng.Int(-cfg.R - 1, cfg.S + 2);
      }
      starts[size_t(b * sz.T + t)] = int32_t(s);
    }
  }
  const size_t n = size_t(sz.B * sz.T * sz.R);
  std::vector<Real> px(n), py(n);
  for (size_t i = 0; i < n; ++i) {
    px[i] = rng.Uniform() < cfg.ninf_rate ? -Inf<Real>() : Real(rng.Range(-3, 0));
    py[i] = Real(rng.Range(-3, 0));
  }
  const BandResult<Real> ref = CpuBand<Real>(px, py, starts, rows, sz);
  const bool f32 = std::is_same<Real, float>::value;
  BandResult<double> ref64;
  if (f32) ref64 = CpuBand<double>(Widen(px), Widen(py), starts, rows, sz);
  auto r64 = [&](const std::vector<double>& v) { return f32 ? &v : nullptr; };
  BandResult<Real> dev;
  try {
    dev = DeviceBand<Real>(px, py, starts, rows, sz, chunk_frames);
  } catch (const std::exception& e) {
    ReportError(label, e.what());
    return;
  }
  Perturb<Real>({&dev.scores, &dev.split, &dev.final_split, &dev.px_grad, &dev.py_grad,
                 &dev.px_grad_other, &dev.py_grad_other});
  Report(label,
         {Compare("scores", dev.scores, ref.scores, r64(ref64.scores), true),
          Compare("split", dev.split, ref.split, r64(ref64.split), false),
          Compare("final_split", dev.final_split, ref.final_split, r64(ref64.final_split), false),
          Compare("px_grad", dev.px_grad, ref.px_grad, r64(ref64.px_grad), false),
          Compare("py_grad", dev.py_grad, ref.py_grad, r64(ref64.py_grad), false),
          Compare("px_grad(other bwd)", dev.px_grad_other, ref.px_grad, r64(ref64.px_grad), false),
          Compare("py_grad(other bwd)", dev.py_grad_other, ref.py_grad, r64(ref64.py_grad), false)},
         f32 ? 1e-5 : 1e-12);
}

// Windows of 1 to 32 rows (one warp), ones that move back (the frame-by-frame
// path), ones reaching outside [0, S]; every box kind; long lattices.
std::vector<BandConfig> BandConfigs() {
  using K = BoxKind;
  using W = Windows;
  const std::vector<K> all = {K::kFull, K::kOffsets, K::kRagged, K::kEmptyS, K::kEmptyT, K::kPoint};
  return {
      {"tiny", 5, 7, 3, W::kMonotone, all, 0, false},
      {"R=1", 6, 9, 1, W::kMonotone, all, 0, false},
      {"R=1long", 30, 60, 1, W::kMonotone, all, 0, false},
      {"R=32", 40, 50, 32, W::kMonotone, all, 0, false},
      {"main", 100, 300, 5, W::kMonotone, all, 0.02, false},
      {"back", 60, 90, 4, W::kBack, all, 0, false},
      {"outside", 30, 40, 6, W::kOutside, all, 0, false},
      {"long", 400, 2000, 5, W::kMonotone, {K::kFull, K::kRagged}, 0, false},
      {"longback",
       300,
       700,
       8,
       W::kBack,
       {K::kFull, K::kOffsets, K::kRagged, K::kPoint},
       0.02,
       false},
      {"longany", 200, 400, 16, W::kAny, all, 0, false},
      {"any", 17, 40, 5, W::kAny, all, 0, false},
      {"any16", 100, 150, 16, W::kAny, all, 0, false},
      {"invalid", 20, 30, 4, W::kMonotone, {}, 0, true},
      {"T=0", 4, 0, 3, W::kMonotone, {K::kFull, K::kEmptyS}, 0, false},
      {"R=0", 4, 5, 0, W::kMonotone, {K::kFull, K::kPoint}, 0, false},
      {"B=0", 4, 5, 3, W::kMonotone, {}, 0, false},
  };
}

std::vector<MiConfig> MiConfigs() {
  using K = BoxKind;
  const std::vector<K> all = {K::kFull, K::kOffsets, K::kRagged, K::kEmptyS, K::kEmptyT, K::kPoint};
  // Rows per band: 32 lanes per warp, W <= 16 warps (fewer where shared
  // memory runs out: for H200 float64 backward W = 7), so S = 520 runs in 2-3
  // bands and S = 1100 in 3-5; T = 300 wraps the 128-entry handoff rings.
  // Regular lattices with S well below T run the row scan
  // (cuda/mi_rows_cuda.h MiRowsServe: "S=0", "longT" and the "rows..."
  // cases: 1 frame a thread both ways up to T = 255, "longT" 2 forward and 1
  // backward, T = 1023 backward 2 frames in 16 full warps (forward: 4 frames
  // in 8 warps without clusters, else 8 tiles at 1 frame); on devices with clusters,
  // "wave1100" and "tiles..." in tiles of one cluster an item: forward 5 and
  // 6 tiles at 1 frame a thread at T = 1100 and 1500, 6 at 2 frames at
  // T = 3000; backward 3, 3 and 6 tiles at 1 frame);
  // the others the wavefront. Every regular case also runs forced tiles
  // (MiDevice::tiled).
  // float64 lattices much longer than these drift past 1e-12 in both twins
  // (an H200 measured 2e-12 to 2e-11 at S + T = 4100).
  return {
      {"empty", 0, 0, {K::kFull, K::kFull}, 0, false},
      {"S=0", 0, 6, {K::kFull, K::kOffsets, K::kEmptyT}, 0, false},
      {"T=0", 4, 0, {K::kFull, K::kEmptyS, K::kOffsets}, 0, false},
      {"tiny", 5, 7, all, 0, false},
      {"1warp", 31, 40, all, 0, false},
      {"2warps", 32, 33, all, 0, false},
      {"4warps", 100, 150, all, 0, false},
      {"longT", 20, 300, all, 0, false},
      {"masked", 60, 70, all, 0.05, false},
      {"bands", 520, 530, {K::kFull, K::kOffsets}, 0, false},
      {"manybands", 1100, 40, {K::kFull, K::kOffsets, K::kRagged}, 0, false},
      {"rowstiny", 1, 9, all, 0, false},
      {"rowsmask", 10, 200, all, 0.05, false},
      {"rows8w", 12, 1023, {K::kFull, K::kOffsets, K::kRagged, K::kEmptyS}, 0.02, false},
      {"rowsinv", 6, 60, {}, 0, true},
      {"wave1100", 4, 1100, {K::kFull, K::kRagged}, 0, false},
      {"tiles1500", 40, 1500, {K::kFull, K::kOffsets, K::kRagged, K::kEmptyS}, 0.02, false},
      {"tiles3000", 10, 3000, {K::kFull, K::kRagged, K::kPoint}, 0, false},
      {"invalid", 40, 50, {}, 0, true},
      {"B=0", 3, 4, {}, 0, false},
  };
}

int Main(int argc, char** argv) {
  if (const char* env = std::getenv("XLA_RNNT_KCHECK_SEED"))
    g_seed = std::strtoull(env, nullptr, 0);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seed" && i + 1 < argc) {
      g_seed = std::strtoull(argv[++i], nullptr, 0);
    } else if (a == "--only" && i + 1 < argc) {
      g_only = argv[++i];
    } else if (a == "--perturb") {
      g_perturb = true;
    } else {
      std::fprintf(stderr, "usage: %s [--seed N] [--only SUBSTRING] [--perturb]\n", argv[0]);
      return 2;
    }
  }
  std::printf("kernel_check: seed %" PRIu64 " (--seed N or XLA_RNNT_KCHECK_SEED)%s\n", g_seed,
              g_perturb ? ", perturbed: every case holding a value must FAIL" : "");
#ifndef XLA_RNNT_KCHECK_CPU_ONLY
  int dev = 0, smem = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess ||
      cudaStreamCreate(&g_stream) != cudaSuccess) {
    std::printf("no usable CUDA device: %s\n0 passed, 1 failed\n",
                cudaGetErrorString(cudaGetLastError()));
    return 1;
  }
  std::printf("device %d: %s, sm_%d%d, %d KiB shared memory per block (opt-in)\n", dev, prop.name,
              prop.major, prop.minor, smem / 1024);
#else
  std::printf("device side: CPU emulation (built without CUDA; checks the driver only)\n");
#endif
  for (const MiConfig& cfg : MiConfigs()) {
    for (Lattice l : {Lattice::kRegular, Lattice::kModified, Lattice::kConstrained}) {
      RunMi<float>(cfg, l);
      RunMi<double>(cfg, l);
    }
  }
  for (const bool hat : {false, true}) {
    for (const GatherConfig& cfg : GatherConfigs<float>(hat)) RunGather<float>(cfg);
    for (const GatherConfig& cfg : GatherConfigs<double>(hat)) RunGather<double>(cfg);
  }
  for (const RowsConfig& cfg : RowsConfigs()) {
    RunRowsGrad<float>(cfg);
    RunRowsGrad<double>(cfg);
  }
  for (const SymbolsConfig& cfg : SymbolsConfigs()) {
    for (const bool tiles : {false, true}) {
      RunSymbolsGrad<float>(cfg, tiles);
      RunSymbolsGrad<double>(cfg, tiles);
    }
  }
  for (const BandConfig& cfg : BandConfigs()) {
    // Chunks forced where they serve (cuda/band_chunks_cuda.h), beside what
    // the launchers choose ("long" and "longback": chunks of their own size).
#ifndef XLA_RNNT_KCHECK_CPU_ONLY
    const int64_t forced = BandChunkFrames(BandSizes{1, cfg.T, cfg.R, cfg.S, false}, 1);
#else
    const int64_t forced = 0;
#endif
    for (const bool modified : {false, true}) {
      for (const int64_t chunks : {int64_t{-1}, forced}) {
        if (chunks == 0) continue;
        RunBand<float>(cfg, modified, chunks);
        RunBand<double>(cfg, modified, chunks);
      }
    }
  }
#ifndef XLA_RNNT_KCHECK_CPU_ONLY
  cudaStreamDestroy(g_stream);
#endif
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}

}  // namespace
}  // namespace xla_rnnt

int main(int argc, char** argv) { return xla_rnnt::Main(argc, argv); }
