// Kernel-level timing and checking of cuda/mutual_information_cuda.cu, with
// no framework in the way: CUDA events around each launcher, median of 30,
// and float32 results compared to the float64 CPU recursion. Results go to
// stdout. The exit status is 2 when the worst float32-vs-float64 error
// reaches 1e-5, which the gradients at the long lattices do (up to 9e-4 on an
// H200, float32 rounding over S + T steps): read the check lines, not only the
// status. Correctness proper is tests/cuda/kernel_check.cc's.
// Build (CMake option XLA_RNNT_KERNEL_BENCH) in the CUDA build that
// tools/gpu_build.sh configures (README "GPU check"), then run:
//   cmake -S . -B build/gpu/cmake -DXLA_RNNT_KERNEL_BENCH=ON
//   cmake --build build/gpu/cmake --target xla_rnnt_kernel_bench
//   build/gpu/cmake/xla_rnnt_kernel_bench [TAG]   # TAG labels the timing rows
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "cc/mutual_information.h"
#include "cuda/mutual_information_cuda.h"

using namespace xla_rnnt;

#define CK(x)                                                                   \
  do {                                                                          \
    cudaError_t e_ = (x);                                                       \
    if (e_ != cudaSuccess) {                                                    \
      std::fprintf(stderr, "%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); \
      std::exit(1);                                                             \
    }                                                                           \
  } while (0)

struct Problem {
  MiSizes sz;
  std::vector<float> px, py;
  std::vector<int32_t> bd;
};

Problem Make(std::mt19937_64& gen, int B, int S, int T, bool modified, bool ragged,
             bool random_box, double ninf_frac) {
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
      s0 = gen() % (S + 1); s1 = s0 + gen() % (S - s0 + 1);
      t0 = gen() % (T + 1); t1 = t0 + gen() % (T - t0 + 1);
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
    if (fw != fg) { *bad = true; continue; }
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
  for (void* ptr : {(void*)d.px, (void*)d.py, (void*)d.p, (void*)d.g, (void*)d.gx,
                    (void*)d.gy, (void*)d.sc, (void*)d.bd})
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
  MiBackwardCpu<double>(px.data(), py.data(), pr.bd.data(), pr.sz, p.data(),
                        rgx.data(), rgy.data());
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
  MiBackwardCpu<float>(pr.px.data(), pr.py.data(), pr.bd.data(), pr.sz, p.data(),
                       rgx.data(), rgy.data());
  auto to64 = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  bool bad = false;
  const double e = std::max({RelErr(sc, to64(rsc), &bad), RelErr(gx, to64(rgx), &bad),
                             RelErr(gy, to64(rgy), &bad)});
  Free(d);
  return bad ? 1.0 : e;
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

int main(int argc, char** argv) {
  const char* tag = argc > 1 ? argv[1] : "default";
  std::mt19937_64 gen(1234);
  double worst = 0;
  // Correctness: boxes anywhere, -inf entries, both types of recursion.
  struct C { int B, S, T; bool mod, rbox; double ninf; };
  for (C c : {C{4, 5, 1, false, true, 0}, C{5, 17, 40, false, true, 0}, C{5, 17, 40, true, true, 0},
              C{3, 0, 7, false, true, 0}, C{3, 6, 0, false, true, 0},
              C{2, 300, 150, false, true, 0}, C{2, 300, 150, true, true, 0},
              C{1, 600, 700, false, false, 0}, C{1, 600, 700, true, true, 0},
              C{2, 1100, 300, false, false, 0}, C{6, 40, 60, false, true, 0.05},
              C{6, 40, 60, true, true, 0.05}, C{8, 400, 2000, false, false, 0}}) {
    char name[96];
    std::snprintf(name, sizeof(name), "B%d S%d T%d %s%s%s", c.B, c.S, c.T,
                  c.mod ? "mod" : "reg", c.rbox ? " box" : "", c.ninf > 0 ? " -inf" : "");
    worst = std::max(worst, Check(name, Make(gen, c.B, c.S, c.T, c.mod, true, c.rbox, c.ninf)));
  }
  std::printf("worst relative error (float32 vs float64 CPU): %.2e\n", worst);
  // The GPU tests' criterion (vs float32 CPU, 1e-5), over 12 draws per shape.
  for (C c : {C{8, 100, 500, true, true, 0}, C{8, 100, 500, false, true, 0},
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
  // Timing: the benchmark shapes, ragged 70-100%.
  std::printf("%-10s %4s %5s %4s %8s %8s %8s\n", "variant", "B", "T", "S", "fwd", "bwd", "fwd+bwd");
  for (auto bts : {std::array<int, 3>{32, 500, 100}, {16, 1000, 200}, {64, 200, 50},
                   {8, 2000, 400}, {4, 4000, 800}, {128, 300, 60}}) {
    const int B = bts[0], T = bts[1], S = bts[2];
    Problem pr = Make(gen, B, S, T, false, true, false, 0);
    Dev d = Upload(pr);
    const float f = MedianMs([&] {
      CK(LaunchMiForward<float>(0, d.px, d.py, d.bd, pr.sz, d.p, d.sc));
    });
    const float bw = MedianMs([&] {
      CK(LaunchMiBackward<float>(0, d.px, d.py, d.bd, pr.sz, d.p, d.gx, d.gy, d.g));
    });
    const float fb = MedianMs([&] {
      CK(LaunchMiForwardBackward<float>(0, d.px, d.py, d.bd, pr.sz, d.sc, d.gx, d.gy, d.p, d.g));
    });
    std::printf("%-10s %4d %5d %4d %8.3f %8.3f %8.3f\n", tag, B, T, S, f, bw, fb);
    Free(d);
  }
  return worst < 1e-5 ? 0 : 2;
}
