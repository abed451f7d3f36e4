// Kernel-level timing and checking of cuda/mutual_information_cuda.cu (and the
// timing of cuda/band_recursion_cuda.cu at the same shapes, R = 5, and of the
// symbol-gather gradient against its bandwidth floor), with
// no framework in the way: CUDA events around each launcher, median of 30,
// and float32 results compared to the float64 CPU recursion. Results go to
// stdout. The exit status is 2 when the worst float32-vs-float64 error
// reaches 1e-5 (v6 kernels: 1.1e-6 on an H200; the log-domain v3 reached
// 9e-4 at the long lattices): read the check lines, not only the status.
// Correctness proper is tests/cuda/kernel_check.cc's.
// Build (CMake option XLA_RNNT_KERNEL_BENCH) in the CUDA build that
// tools/gpu_build.sh configures (README "GPU check"), then run:
//   cmake -S . -B build/gpu/cmake -DXLA_RNNT_KERNEL_BENCH=ON
//   cmake --build build/gpu/cmake --target xla_rnnt_kernel_bench
//   build/gpu/cmake/xla_rnnt_kernel_bench [TAG [JSON]]  # TAG labels the rows; JSON: results file
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cc/band_recursion.h"
#include "cc/mutual_information.h"
#include "cuda/band_recursion_cuda.h"
#include "cuda/ext_range.h"
#include "cuda/gather_symbols_grad_cuda.h"
#include "cuda/mi_rows_cuda.h"
#include "cuda/mutual_information_cuda.h"

using namespace xla_rnnt;

#define CK(x)                                                                         \
  do {                                                                                \
    cudaError_t e_ = (x);                                                             \
    if (e_ != cudaSuccess) {                                                          \
      std::fprintf(stderr, "%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

struct Problem {
  MiSizes sz;
  std::vector<float> px, py;
  std::vector<int32_t> bd;
};

Problem Make(std::mt19937_64& gen, int B, int S, int T, bool modified, bool ragged, bool random_box,
             double ninf_frac) {
  Problem pr{MiSizes{B, S, T, modified}, {}, {}, {}};
  std::normal_distribution<float> nd;
  std::uniform_real_distribution<double> ud;
  pr.px.resize(size_t(B) * S * pr.sz.px_cols());
  pr.py.resize(size_t(B) * (S + 1) * T);
  for (auto& v : pr.px) v = ud(gen) < ninf_frac ? -INFINITY : nd(gen);
  for (auto& v : pr.py) v = ud(gen) < ninf_frac ? -INFINITY : nd(gen);
  for (int b = 0; b < B; ++b) {
    int s0 = 0, t0 = 0, s1 = S, t1 = T;
    if (random_box) {
      s0 = gen() % (S + 1);
      s1 = s0 + gen() % (S - s0 + 1);
      t0 = gen() % (T + 1);
      t1 = t0 + gen() % (T - t0 + 1);
      if (modified && s1 - s0 > t1 - t0) s1 = s0 + (t1 - t0);
    } else if (ragged) {
      s1 = int(0.7 * S) + gen() % (S - int(0.7 * S) + 1);
      t1 = int(0.7 * T) + gen() % (T - int(0.7 * T) + 1);
    }
    pr.bd.insert(pr.bd.end(), {s0, t0, s1, t1});
  }
  return pr;
}

double RelErr(const std::vector<float>& got, const std::vector<double>& want, bool* bad) {
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool fw = std::isfinite(want[i]), fg = std::isfinite(got[i]);
    if (fw != fg) {
      *bad = true;
      continue;
    }
    if (!fw) continue;
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

struct Dev {
  float *px, *py, *p, *g, *gx, *gy, *sc;
  int32_t* bd;
};

Dev Upload(const Problem& pr) {
  Dev d;
  const size_t nx = pr.px.size(), ny = pr.py.size(),
               nl = size_t(pr.sz.B) * (pr.sz.S + 1) * (pr.sz.T + 1);
  CK(cudaMalloc(&d.px, std::max<size_t>(nx, 1) * 4));
  CK(cudaMalloc(&d.py, std::max<size_t>(ny, 1) * 4));
  CK(cudaMalloc(&d.p, nl * 4));
  CK(cudaMalloc(&d.g, nl * 4));
  CK(cudaMalloc(&d.gx, std::max<size_t>(nx, 1) * 4));
  CK(cudaMalloc(&d.gy, std::max<size_t>(ny, 1) * 4));
  CK(cudaMalloc(&d.sc, pr.sz.B * 4));
  CK(cudaMalloc(&d.bd, pr.bd.size() * 4));
  CK(cudaMemcpy(d.px, pr.px.data(), nx * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d.py, pr.py.data(), ny * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d.bd, pr.bd.data(), pr.bd.size() * 4, cudaMemcpyHostToDevice));
  // Poison outputs: every element must be written.
  CK(cudaMemset(d.gx, 0x7f, std::max<size_t>(nx, 1) * 4));
  CK(cudaMemset(d.gy, 0x7f, std::max<size_t>(ny, 1) * 4));
  CK(cudaMemset(d.p, 0xff, nl * 4));
  CK(cudaMemset(d.g, 0xff, nl * 4));
  return d;
}

void Free(Dev& d) {
  for (void* ptr : {(void*)d.px, (void*)d.py, (void*)d.p, (void*)d.g, (void*)d.gx, (void*)d.gy,
                    (void*)d.sc, (void*)d.bd})
    cudaFree(ptr);
}

// The band recursion's timing problem: windows of R = 5 rows on each item's
// diagonal, as pruning places them, over the ragged boxes of Make.
struct BandProblem {
  BandSizes sz;
  std::vector<float> px, py;
  std::vector<int32_t> starts, bd;
  int steps;  // the longest item's frames + window moves + R
};

BandProblem MakeBand(std::mt19937_64& gen, int B, int T, int S) {
  const int R = 5;
  Problem pr = Make(gen, B, S, T, false, true, false, 0);
  BandProblem bp{BandSizes{B, T, R, S, false}, {}, {}, {}, pr.bd, 0};
  bp.starts.resize(size_t(B) * T);
  bp.px.resize(size_t(B) * T * R);
  bp.py.resize(bp.px.size());
  std::normal_distribution<float> nd;
  for (auto& v : bp.px) v = nd(gen);
  for (auto& v : bp.py) v = nd(gen);
  for (int b = 0; b < B; ++b) {
    const int s1 = pr.bd[4 * b + 2], t1 = std::max(1, pr.bd[4 * b + 3]);
    for (int t = 0; t < T; ++t)
      bp.starts[size_t(b) * T + t] =
          std::max(0, std::min(s1 + 1 - R, int(int64_t(t) * s1 / t1) - R / 2));
    const int last = std::min(t1, T - 1);
    bp.steps = std::max(bp.steps, last + bp.starts[size_t(b) * T + last] + R);
  }
  return bp;
}

struct BandDev {
  BandSizes sz;
  int steps;
  float *px, *py, *sc, *split, *fin, *gx, *gy;
  int32_t *st, *bd;
};

BandDev UploadBand(const BandProblem& bp) {
  BandDev d{bp.sz,   bp.steps, nullptr, nullptr, nullptr, nullptr,
            nullptr, nullptr,  nullptr, nullptr, nullptr};
  const size_t n = bp.px.size(), B = size_t(bp.sz.B);
  for (float** p : {&d.px, &d.py, &d.split, &d.gx, &d.gy}) CK(cudaMalloc(p, n * 4));
  for (float** p : {&d.sc, &d.fin}) CK(cudaMalloc(p, B * 4));
  CK(cudaMalloc(&d.st, bp.starts.size() * 4));
  CK(cudaMalloc(&d.bd, bp.bd.size() * 4));
  CK(cudaMemcpy(d.px, bp.px.data(), n * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d.py, bp.py.data(), n * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d.st, bp.starts.data(), bp.starts.size() * 4, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(d.bd, bp.bd.data(), bp.bd.size() * 4, cudaMemcpyHostToDevice));
  return d;
}

// chunk_frames as the launchers take it: -1 their choice, 0 a warp per item.
void BandForward(const BandDev& d, int64_t chunk_frames = -1) {
  CK(LaunchBandForward<float>(0, d.px, d.py, d.st, d.bd, d.sz, d.sc, d.split, d.fin, chunk_frames));
}
void BandBackward(const BandDev& d, int64_t chunk_frames = -1) {
  CK(LaunchBandBackward<float>(0, d.st, d.bd, d.sz, d.split, d.fin, d.gx, d.gy, chunk_frames));
}

void FreeBand(BandDev& d) {
  for (void* ptr : {(void*)d.px, (void*)d.py, (void*)d.split, (void*)d.gx, (void*)d.gy, (void*)d.sc,
                    (void*)d.fin, (void*)d.st, (void*)d.bd})
    cudaFree(ptr);
}

// Returns max of the three relative errors; prints a line.
double Check(const char* name, const Problem& pr) {
  Dev d = Upload(pr);
  CK(LaunchMiForwardBackward<float>(0, d.px, d.py, d.bd, pr.sz, d.sc, d.gx, d.gy, d.p, d.g));
  CK(cudaDeviceSynchronize());
  std::vector<float> sc(pr.sz.B), gx(pr.px.size()), gy(pr.py.size());
  CK(cudaMemcpy(sc.data(), d.sc, sc.size() * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(gx.data(), d.gx, gx.size() * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(gy.data(), d.gy, gy.size() * 4, cudaMemcpyDeviceToHost));
  // float64 oracle
  std::vector<double> px(pr.px.begin(), pr.px.end()), py(pr.py.begin(), pr.py.end());
  const size_t nl = size_t(pr.sz.B) * (pr.sz.S + 1) * (pr.sz.T + 1);
  std::vector<double> p(nl), rsc(pr.sz.B), rgx(px.size()), rgy(py.size());
  MiForwardCpu<double>(px.data(), py.data(), pr.bd.data(), pr.sz, p.data(), rsc.data());
  MiBackwardCpu<double>(px.data(), py.data(), pr.bd.data(), pr.sz, p.data(), rgx.data(),
                        rgy.data());
  bool bad = false;
  const double e0 = RelErr(sc, rsc, &bad), e1 = RelErr(gx, rgx, &bad), e2 = RelErr(gy, rgy, &bad);
  for (float v : gx) bad |= std::isnan(v);
  for (float v : gy) bad |= std::isnan(v);
  std::printf("check %-34s scores %.2e px_grad %.2e py_grad %.2e %s\n", name, e0, e1, e2,
              bad ? "FINITE-MISMATCH/NaN" : "");
  Free(d);
  const double e = std::max({e0, e1, e2});
  return bad ? 1.0 : e;
}

// GPU float32 against the CPU float32 recursion, as tests/test_gpu_jax.py
// does (tolerance 1e-5 there): the max of the three relative errors.
double CheckVsCpu32(const Problem& pr) {
  Dev d = Upload(pr);
  CK(LaunchMiForwardBackward<float>(0, d.px, d.py, d.bd, pr.sz, d.sc, d.gx, d.gy, d.p, d.g));
  CK(cudaDeviceSynchronize());
  std::vector<float> sc(pr.sz.B), gx(pr.px.size()), gy(pr.py.size());
  CK(cudaMemcpy(sc.data(), d.sc, sc.size() * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(gx.data(), d.gx, gx.size() * 4, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(gy.data(), d.gy, gy.size() * 4, cudaMemcpyDeviceToHost));
  const size_t nl = size_t(pr.sz.B) * (pr.sz.S + 1) * (pr.sz.T + 1);
  std::vector<float> p(nl), rsc(pr.sz.B), rgx(pr.px.size()), rgy(pr.py.size());
  MiForwardCpu<float>(pr.px.data(), pr.py.data(), pr.bd.data(), pr.sz, p.data(), rsc.data());
  MiBackwardCpu<float>(pr.px.data(), pr.py.data(), pr.bd.data(), pr.sz, p.data(), rgx.data(),
                       rgy.data());
  auto to64 = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  bool bad = false;
  const double e = std::max(
      {RelErr(sc, to64(rsc), &bad), RelErr(gx, to64(rgx), &bad), RelErr(gy, to64(rgy), &bad)});
  Free(d);
  return bad ? 1.0 : e;
}

// ---------------------------------------------------------------- latency floor
// One warp runs kSteps dependent steps of a recursion's chain, as the kernels
// have it: the value from the lane above (a shuffle), the cell's arithmetic,
// the value for the lane below. Cycles per step, from clock64, are the
// latency floor of one step; (S + T) of them are the floor of a pass.
constexpr int kSteps = 4096;

__global__ void StepLatencyExt(const float* in, float* out, long long* cycles) {
  const int lane = threadIdx.x;
  Ext<float> ex = ExtFromLog(in[lane]), ey = ExtFromLog(in[32 + lane]);
  Ext<float> x_out = ExtFromLog(in[64 + lane]), y_carry = x_out;
  const long long start = clock64();
#pragma unroll 8
  for (int j = 0; j < kSteps; ++j) {
    const Ext<float> up{__shfl_up_sync(0xffffffffu, x_out.m, 1),
                        __shfl_up_sync(0xffffffffu, x_out.e, 1)};
    Ext<float> v = ExtAdd(lane == 0 ? y_carry : up, y_carry);
    if ((j & 7) == 0) v = ExtNormalize(v);
    y_carry = ExtMul(v, ey);
    x_out = ExtMul(v, ex);
  }
  const long long stop = clock64();
  out[lane] = ExtToLog(x_out);
  if (lane == 0) *cycles = stop - start;
}

__global__ void StepLatencyOcc(const float* in, float* out, long long* cycles) {
  const int lane = threadIdx.x;
  const float wx = in[lane], wy = in[32 + lane];
  float g = in[64 + lane];
  const long long start = clock64();
#pragma unroll 8
  for (int j = 0; j < kSteps; ++j) {
    const float up = __shfl_up_sync(0xffffffffu, g, 1);
    g = (lane == 0 ? g : up) * wx + g * wy;
  }
  const long long stop = clock64();
  out[lane] = g;
  if (lane == 0) *cycles = stop - start;
}

__global__ void StepLatencyLog(const float* in, float* out, long long* cycles) {
  const int lane = threadIdx.x;
  const float x = in[lane], y = in[32 + lane];
  float x_out = in[64 + lane], y_carry = x_out;
  const long long start = clock64();
#pragma unroll 8
  for (int j = 0; j < kSteps; ++j) {
    const float up = __shfl_up_sync(0xffffffffu, x_out, 1);
    const float v = LogAdd(lane == 0 ? y_carry : up, y_carry);
    y_carry = v + y;
    x_out = v + x;
  }
  const long long stop = clock64();
  out[lane] = x_out;
  if (lane == 0) *cycles = stop - start;
}

struct StepFloor {
  double ext_ns, occ_ns, log_ns, ext_cyc, occ_cyc, log_cyc;
};

template <typename K>
double CyclesPerStep(K kernel, const float* in, float* out, long long* cyc) {
  std::vector<long long> runs;
  for (int r = 0; r < 7; ++r) {
    kernel<<<1, 32>>>(in, out, cyc);
    CK(cudaGetLastError());
    long long c;
    CK(cudaMemcpy(&c, cyc, sizeof(c), cudaMemcpyDeviceToHost));
    runs.push_back(c);
  }
  std::sort(runs.begin(), runs.end());
  return double(runs[runs.size() / 2]) / kSteps;
}

StepFloor MeasureStepFloor() {
  std::vector<float> h(96);
  for (int i = 0; i < 96; ++i) h[i] = -0.1f - 0.01f * i;  // log-weights of real lattices
  float *in, *out;
  long long* cyc;
  CK(cudaMalloc(&in, 96 * 4));
  CK(cudaMalloc(&out, 32 * 4));
  CK(cudaMalloc(&cyc, sizeof(long long)));
  CK(cudaMemcpy(in, h.data(), 96 * 4, cudaMemcpyHostToDevice));
  int dev = 0, khz = 0;
  CK(cudaGetDevice(&dev));
  CK(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, dev));
  StepFloor f{};
  f.ext_cyc = CyclesPerStep(StepLatencyExt, in, out, cyc);
  f.occ_cyc = CyclesPerStep(StepLatencyOcc, in, out, cyc);
  f.log_cyc = CyclesPerStep(StepLatencyLog, in, out, cyc);
  const double ns_per_cycle = 1e6 / khz;
  f.ext_ns = f.ext_cyc * ns_per_cycle;
  f.occ_ns = f.occ_cyc * ns_per_cycle;
  f.log_ns = f.log_cyc * ns_per_cycle;
  cudaFree(in);
  cudaFree(out);
  cudaFree(cyc);
  std::printf(
      "step latency (one warp, %d dependent steps, SM clock %.0f MHz): forward (extended "
      "linear) %.1f cycles = %.1f ns; backward (occupation) %.1f cycles = %.1f ns; "
      "log-domain LogAdd step %.1f cycles = %.1f ns\n",
      kSteps, khz / 1e3, f.ext_cyc, f.ext_ns, f.occ_cyc, f.occ_ns, f.log_cyc, f.log_ns);
  return f;
}

template <typename F>
float MedianMs(F f, int reps = 30) {
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) f();
  std::vector<float> ms;
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(a));
    f();
    CK(cudaEventRecord(b));
    CK(cudaEventSynchronize(b));
    float t;
    CK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// One row of a timing table: printed, and appended to the JSON list (bts_r:
// B, T, S and the band's R, or -1 for the lattice, which has none).
void PrintRow(FILE* json, bool* first_row, const char* tag, std::array<int, 4> bts_r,
              const char* kernel, int steps, std::array<float, 3> ms, double floor_f,
              double floor_b) {
  const int B = bts_r[0], T = bts_r[1], S = bts_r[2], R = bts_r[3];
  const float f = ms[0], bw = ms[1], fb = ms[2];
  std::printf("%-10s %4d %5d %4d %8.3f %8.3f %8.3f %9.2f %9.2f %9.2f %s\n", tag, B, T, S, f, bw, fb,
              f / floor_f, bw / floor_b, fb / (floor_f + floor_b), kernel);
  if (json == nullptr) return;
  std::fprintf(json, "%s{\"B\": %d, \"T\": %d, \"S\": %d, ", *first_row ? "" : ", ", B, T, S);
  if (R >= 0) std::fprintf(json, "\"R\": %d, ", R);
  std::fprintf(json,
               "\"kernel\": \"%s\", \"steps\": %d, \"fwd_ms\": %.4f, \"bwd_ms\": %.4f, "
               "\"fwd_bwd_ms\": %.4f, \"floor_fwd_ms\": %.4f, \"floor_bwd_ms\": %.4f}",
               kernel, steps, f, bw, fb, floor_f, floor_b);
  *first_row = false;
}

// Device-to-device copy bandwidth, bytes per ms (read + write of a 512 MiB copy,
// median of 30): the bandwidth floor of the memory-bound kernels below.
double CopyBytesPerMs() {
  const size_t n = size_t{512} << 20;
  void *src, *dst;
  CK(cudaMalloc(&src, n));
  CK(cudaMalloc(&dst, n));
  CK(cudaMemset(src, 0, n));
  const float ms = MedianMs([&] { CK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice)); });
  CK(cudaFree(src));
  CK(cudaFree(dst));
  return 2.0 * double(n) / ms;
}

// The simple loss's gradient of am at the symbols (cuda/gather_symbols_grad_cuda.cu)
// at the losses' shapes: its floor is its bytes (g read once, x_grad written once,
// the symbols and links) at the copy bandwidth.
void SymbolsGradTable(FILE* json) {
  const double bytes_per_ms = CopyBytesPerMs();
  std::printf("symbols grad (copy bandwidth %.2f TB/s)\n%4s %5s %4s %5s %8s %9s %9s %s\n",
              bytes_per_ms * 1e3 / 1e12, "B", "T", "S", "V", "ms", "floor ms", "x floor", "kernel");
  if (json != nullptr) std::fprintf(json, "], \"symbols_grad_rows\": [");
  const std::vector<std::array<int, 4>> shapes = {{32, 500, 100, 500}, {16, 1000, 200, 500},
                                                  {64, 200, 50, 1024}, {8, 2000, 400, 500},
                                                  {4, 4000, 800, 500}, {128, 100, 30, 256}};
  std::mt19937_64 gen(99);
  bool first = true;
  for (const auto& [B, T, S, V] : shapes) {
    const SymbolsGradSizes sz{B, T, V, S};
    std::vector<int32_t> idx(size_t(B) * S);
    for (int32_t& v : idx) v = 1 + int32_t(gen() % uint64_t(V - 1));
    std::vector<float> g(size_t(B) * S * T);
    std::normal_distribution<float> normal;
    for (float& v : g) v = normal(gen);
    int32_t* d_idx;
    float *d_g, *d_x_grad, *d_links;
    CK(cudaMalloc(&d_idx, idx.size() * sizeof(int32_t)));
    CK(cudaMalloc(&d_g, g.size() * sizeof(float)));
    CK(cudaMalloc(&d_x_grad, size_t(B) * T * V * sizeof(float)));
    CK(cudaMalloc(&d_links, idx.size() * sizeof(float)));
    CK(cudaMemcpy(d_idx, idx.data(), idx.size() * sizeof(int32_t), cudaMemcpyHostToDevice));
    CK(cudaMemcpy(d_g, g.data(), g.size() * sizeof(float), cudaMemcpyHostToDevice));
    const double bytes = 4.0 * (double(B) * S * T + double(B) * T * V + 3.0 * B * S);
    const double floor_ms = bytes / bytes_per_ms;
    for (const SymbolsGradKernel kernel : {SymbolsGradKernel::kDirect, SymbolsGradKernel::kTiles}) {
      const float ms = MedianMs([&] {
        CK(LaunchGatherSymbolsGrad<float>(0, d_idx, d_g, sz, d_x_grad, d_links, kernel));
      });
      const char* name = kernel == SymbolsGradKernel::kDirect ? "direct" : "tiles";
      std::printf("%4d %5d %4d %5d %8.4f %9.4f %9.2f %s\n", B, T, S, V, ms, floor_ms, ms / floor_ms,
                  name);
      if (json != nullptr)
        std::fprintf(json,
                     "%s{\"B\": %d, \"T\": %d, \"S\": %d, \"V\": %d, \"kernel\": \"%s\", "
                     "\"ms\": %.4f, \"floor_ms\": %.4f}",
                     first ? "" : ", ", B, T, S, V, name, ms, floor_ms);
      first = false;
    }
    CK(cudaFree(d_idx));
    CK(cudaFree(d_g));
    CK(cudaFree(d_x_grad));
    CK(cudaFree(d_links));
  }
}

// XLA_RNNT_BENCH_PROFILE="B,T,S[,band]": one forward and one backward launch at that
// shape and nothing else, for a profiler (ncu) to catch.
int ProfileOnce(const char* bts) {
  int B = 0, T = 0, S = 0;
  char kind[8] = "";
  if (std::sscanf(bts, "%d,%d,%d,%7s", &B, &T, &S, kind) < 3) return 1;
  std::mt19937_64 gen(1234);
  if (std::string(kind) == "band") {
    BandDev d = UploadBand(MakeBand(gen, B, T, S));
    BandForward(d);
    BandBackward(d);
    CK(cudaDeviceSynchronize());
    FreeBand(d);
    return 0;
  }
  Problem pr = Make(gen, B, S, T, false, true, false, 0);
  Dev d = Upload(pr);
  CK(LaunchMiForward<float>(0, d.px, d.py, d.bd, pr.sz, d.p, d.sc));
  CK(LaunchMiBackward<float>(0, d.px, d.py, d.bd, pr.sz, d.p, d.gx, d.gy, d.g));
  CK(cudaDeviceSynchronize());
  Free(d);
  return 0;
}

// The benchmark's (B, T, S), timed for the lattice recursion and the band.
const std::vector<std::array<int, 3>> kShapes = {{32, 500, 100}, {16, 1000, 200}, {64, 200, 50},
                                                 {8, 2000, 400}, {4, 4000, 800},  {128, 100, 30},
                                                 {128, 300, 60}};

int main(int argc, char** argv) {
  if (const char* bts = std::getenv("XLA_RNNT_BENCH_PROFILE")) return ProfileOnce(bts);
  const char* tag = argc > 1 ? argv[1] : "default";
  // XLA_RNNT_BENCH_ROWS_ONLY=1: the row scan's shapes timed, nothing else (a
  // quick comparison of builds of one kernel source).
  const bool rows_only = std::getenv("XLA_RNNT_BENCH_ROWS_ONLY") != nullptr;
  std::mt19937_64 gen(1234);
  double worst = 0;
  // Correctness: boxes anywhere, -inf entries, both types of recursion.
  struct C {
    int B, S, T;
    bool mod, rbox;
    double ninf;
  };
  for (C c : rows_only ? std::vector<C>{}
                       : std::vector<C>{
                             C{4, 5, 1, false, true, 0}, C{5, 17, 40, false, true, 0},
                             C{5, 17, 40, true, true, 0}, C{3, 0, 7, false, true, 0},
                             C{3, 6, 0, false, true, 0}, C{2, 300, 150, false, true, 0},
                             C{2, 300, 150, true, true, 0}, C{1, 600, 700, false, false, 0},
                             C{1, 600, 700, true, true, 0}, C{2, 1100, 300, false, false, 0},
                             C{6, 40, 60, false, true, 0.05}, C{6, 40, 60, true, true, 0.05},
                             C{8, 400, 2000, false, false, 0}, C{2, 800, 4000, false, false, 0}}) {
    char name[96];
    std::snprintf(name, sizeof(name), "B%d S%d T%d %s%s%s", c.B, c.S, c.T, c.mod ? "mod" : "reg",
                  c.rbox ? " box" : "", c.ninf > 0 ? " -inf" : "");
    worst = std::max(worst, Check(name, Make(gen, c.B, c.S, c.T, c.mod, true, c.rbox, c.ninf)));
  }
  std::printf("worst relative error (float32 vs float64 CPU): %.2e\n", worst);
  // The GPU tests' criterion (vs float32 CPU, 1e-5), over 12 draws per shape.
  for (C c : rows_only
                 ? std::vector<C>{}
                 : std::vector<C>{C{8, 100, 500, true, true, 0}, C{8, 100, 500, false, true, 0},
                                  C{1, 600, 700, true, true, 0}, C{1, 600, 700, false, true, 0},
                                  C{2, 300, 150, true, true, 0}}) {
    double mx = 0;
    int over = 0;
    for (int r = 0; r < 12; ++r) {
      const double e = CheckVsCpu32(Make(gen, c.B, c.S, c.T, c.mod, true, c.rbox, 0));
      mx = std::max(mx, e);
      over += e >= 1e-5;
    }
    std::printf("vs-cpu32 B%d S%d T%d %s: max %.2e, %d/12 draws >= 1e-5\n", c.B, c.S, c.T,
                c.mod ? "mod" : "reg", mx, over);
  }
  // Timing: the benchmark shapes, ragged 70-100%; the floor of a pass is its
  // longest item's s_end + t_end steps at the measured step latency.
  const StepFloor fl = MeasureStepFloor();
  FILE* json = argc > 2 ? std::fopen(argv[2], "w") : nullptr;
  if (json != nullptr)
    std::fprintf(json,
                 "{\"step_ns\": {\"forward\": %.3f, \"backward\": %.3f, \"log_domain\": %.3f},"
                 " \"rows\": [",
                 fl.ext_ns, fl.occ_ns, fl.log_ns);
  std::printf("%-10s %4s %5s %4s %8s %8s %8s %9s %9s %9s %s\n", "variant", "B", "T", "S", "fwd",
              "bwd", "fwd+bwd", "fwd/floor", "bwd/floor", "fb/floor", "kernel");
  bool first_row = true;
  for (const std::array<int, 3>& bts : kShapes) {
    const int B = bts[0], T = bts[1], S = bts[2];
    const bool clusters = MiRowsClusters();
    if (rows_only && !MiRowsFit(MiSizes{B, S, T, false}, clusters)) continue;
    Problem pr = Make(gen, B, S, T, false, true, false, 0);
    int steps = 0;
    for (int b = 0; b < B; ++b) steps = std::max(steps, pr.bd[4 * b + 2] + pr.bd[4 * b + 3]);
    Dev d = Upload(pr);
    const double floor_f = steps * fl.ext_ns * 1e-6, floor_b = steps * fl.occ_ns * 1e-6;
    // What the launchers run, then each kernel alone on the same inputs: the
    // wavefront and the row scan at 1, 2 and 4 frames a thread in 1, 2, 4 and
    // 8 tiles an item (those that hold the row, none with tiles of under a
    // warp's frames; tiles > 1 where the device runs clusters).
    const bool on_rows = MiRowsServe(pr.sz, clusters);
    const char* served = on_rows ? "launch:rows" : "launch:wavefront";
    const MiRowsPlan pf = MiRowsForwardPlan(pr.sz, clusters),
                     pb = MiRowsBackwardPlan(pr.sz, clusters);
    std::vector<MiRowsPlan> variants = {{-1, 0}, {0, 0}};  // the launchers, the wavefront
    for (int k : {1, 2, 4})
      for (int tiles : {1, 2, 4, 8}) {
        const int64_t T1 = T + 1;
        if (T1 > int64_t(k) * tiles * kRowsMaxThreads ||
            (tiles > 1 && (!clusters || S + 1 > kRowsMaxTiledRows)) ||
            (tiles > 1 && T1 <= int64_t(k) * 32 * (tiles - 1)))
          continue;
        variants.push_back({k, tiles});
      }
    for (const MiRowsPlan v : variants) {
      auto fwd = [&] {
        if (v.frames < 0) CK(LaunchMiForward<float>(0, d.px, d.py, d.bd, pr.sz, d.p, d.sc));
        if (v.frames == 0)
          CK(LaunchMiForwardWavefront<float>(0, d.px, d.py, d.bd, pr.sz, d.p, d.sc));
        if (v.frames > 0)
          CK(LaunchMiForwardRows<float>(0, d.px, d.py, d.bd, pr.sz, d.p, d.sc, v.frames, v.tiles));
      };
      auto bwd = [&] {
        if (v.frames < 0)
          CK(LaunchMiBackward<float>(0, d.px, d.py, d.bd, pr.sz, d.p, d.gx, d.gy, d.g));
        if (v.frames == 0)
          CK(LaunchMiBackwardWavefront<float>(0, d.bd, pr.sz, d.p, d.gx, d.gy, d.g));
        if (v.frames > 0)
          CK(LaunchMiBackwardRows<float>(0, d.bd, pr.sz, d.p, d.gx, d.gy, v.frames, v.tiles));
      };
      const float f = MedianMs(fwd), bw = MedianMs(bwd);
      const float fb = MedianMs([&] {
        fwd();
        bwd();
      });
      char kernel[64];
      if (v.frames < 0 && on_rows)
        std::snprintf(kernel, sizeof(kernel), "%s fwd K=%d x%d bwd K=%d x%d", served, pf.frames,
                      pf.tiles, pb.frames, pb.tiles);
      else
        std::snprintf(kernel, sizeof(kernel), "%s", v.frames < 0 ? served : "wavefront");
      if (v.frames > 0) std::snprintf(kernel, sizeof(kernel), "rows K=%d x%d", v.frames, v.tiles);
      PrintRow(json, &first_row, tag, {B, T, S, -1}, kernel, steps, {f, bw, fb}, floor_f, floor_b);
    }
    Free(d);
  }
  // The band recursion (the pruned loss's windows, R = 5, following each
  // item's diagonal as pruning places them) on the same boxes, as the
  // launchers run it, a warp per item, and in chunks of 12 to 48 frames
  // (cuda/band_chunks_cuda.h); floor: the warp per item's steps (frames +
  // window moves + R) at the lattice's step latencies, so a ratio below 1 is
  // a scan beating the cell-by-cell chain.
  if (json != nullptr) std::fprintf(json, "], \"band_rows\": [");
  std::printf("%-10s %4s %5s %4s %8s %8s %8s %9s %9s %9s %s\n", "band R=5", "B", "T", "S", "fwd",
              "bwd", "fwd+bwd", "fwd/floor", "bwd/floor", "fb/floor", "kernel");
  first_row = true;
  // Beside the benchmark's shapes, two with many more items (whether chunks
  // still pay once the warps alone fill the GPU).
  std::vector<std::array<int, 3>> band_shapes = kShapes;
  band_shapes.push_back({64, 1000, 200});
  band_shapes.push_back({32, 2000, 400});
  for (const std::array<int, 3>& bts :
       rows_only ? std::vector<std::array<int, 3>>{} : band_shapes) {
    const int B = bts[0], T = bts[1], S = bts[2];
    BandDev d = UploadBand(MakeBand(gen, B, T, S));
    const double floor_f = d.steps * fl.ext_ns * 1e-6, floor_b = d.steps * fl.occ_ns * 1e-6;
    for (const int64_t chunks : {int64_t{-1}, int64_t{0}, int64_t{12}, int64_t{16}, int64_t{24},
                                 int64_t{32}, int64_t{48}}) {
      const float f = MedianMs([&] { BandForward(d, chunks); });
      const float bw = MedianMs([&] { BandBackward(d, chunks); });
      const float fb = MedianMs([&] {
        BandForward(d, chunks);
        BandBackward(d, chunks);
      });
      char kernel[48];
      const int64_t C = BandChunkFrames(d.sz, chunks);
      if (chunks < 0)
        std::snprintf(kernel, sizeof(kernel), "launch:%s", C > 0 ? "chunks" : "warp");
      else
        std::snprintf(kernel, sizeof(kernel), "%s", C > 0 ? "chunks" : "warp");
      if (C > 0)
        std::snprintf(kernel + std::strlen(kernel), sizeof(kernel) - std::strlen(kernel), " C=%lld",
                      static_cast<long long>(C));
      PrintRow(json, &first_row, tag, {B, T, S, int(d.sz.R)}, kernel, d.steps, {f, bw, fb}, floor_f,
               floor_b);
    }
    FreeBand(d);
  }
  if (!rows_only) SymbolsGradTable(json);
  if (json != nullptr) {
    std::fprintf(json, "]}\n");
    std::fclose(json);
  }
  return worst < 1e-5 ? 0 : 2;
}
