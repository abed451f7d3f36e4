#!/usr/bin/env bash
# Run on a machine with a CUDA GPU, from the repository root:
#   builds libxla_rnnt with CUDA (tools/gpu_build.sh: setup.py's CMake build,
#   XLA_RNNT_CUDA_ARCHS default 90), runs the JAX test suite on the GPU (the
#   default JAX device there) including tests/test_gpu_jax.py, the whole suite
#   when TensorFlow is importable, then the recursion benchmark, and (when
#   .gpu_inputs/fast_rnnt-1.3.tar.gz exists) the side-by-side loss benchmark
#   against fast_rnnt and torchaudio.
#   XLA_RNNT_SKIP_TESTS=1 skips tests and recursion benchmark,
#   XLA_RNNT_SKIP_LOSS_BENCH=1 the loss benchmark; XLA_RNNT_NCU=1 adds per-kernel
#   Nsight Compute breakdowns (benchmarks/ncu_breakdown.py) of one call per loss.
#   First the kernel check (tests/cuda/kernel_check.cc, target
#   xla_rnnt_kernel_check of the same CMake build) plain and under each
#   compute-sanitizer tool ($OUT/kernel_check.log, $OUT/sanitizer_<tool>.log),
#   then memcheck around the pipeline's gradient in JAX and TF
#   (tools/sanitize_pipeline.py, $OUT/sanitizer_pipeline.log);
#   XLA_RNNT_SKIP_KERNEL_CHECK=1 skips it; XLA_RNNT_SANITIZERS names the tools
#   (default: memcheck racecheck initcheck synccheck). XLA_RNNT_PYTEST_ARGS adds
#   pytest arguments (e.g. "-n 8" where pytest-xdist is installed).
#   Without TensorFlow there, the XLA FFI headers go in .gpu_inputs/ffi_include
#   (copied from TensorFlow 2.21's wheel, FFI API 0.2: see README "GPU check").
#   Logs and results go to $OUT (default /tmp/xla_rnnt_out).
set -euo pipefail
OUT=${OUT:-/tmp/xla_rnnt_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/device.txt"
python3 -c "import jax; print('jax', jax.__version__, jax.devices())" | tee -a "$OUT/device.txt"

source tools/gpu_build.sh

set +e
sanitizer=$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")
tests_rc=0
kcheck_rc=0
if [ -z "${XLA_RNNT_SKIP_KERNEL_CHECK:-}" ]; then
  # The kernels alone against their CPU twins: no XLA in the process, so every
  # sanitizer report is about them. A failure counts but later steps still run.
  # The library's CMake build, reconfigured with one option more: the same
  # compiler, architectures and headers as the library.
  if cmake -S . -B "$XLA_RNNT_CMAKE_DIR" -DXLA_RNNT_KERNEL_CHECK=ON > "$OUT/kcheck_build.log" 2>&1 &&
    cmake --build "$XLA_RNNT_CMAKE_DIR" --target xla_rnnt_kernel_check >> "$OUT/kcheck_build.log" 2>&1; then
    kcheck="$XLA_RNNT_CMAKE_DIR/xla_rnnt_kernel_check"
    "$kcheck" > "$OUT/kernel_check.log" 2>&1 || kcheck_rc=1
    grep -E '^FAIL' "$OUT/kernel_check.log" | head -20
    echo "kernel check: $(tail -1 "$OUT/kernel_check.log")"
    for tool in ${XLA_RNNT_SANITIZERS:-memcheck racecheck initcheck synccheck}; do
      timeout "${XLA_RNNT_SANITIZER_TIMEOUT:-300}" "$sanitizer" --tool "$tool" --error-exitcode 1 \
        --print-limit 0 "$kcheck" > "$OUT/sanitizer_$tool.log" 2>&1
      rc=$?
      echo "compute-sanitizer $tool: exit $rc;" \
        "$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|passed, [0-9]+ failed' "$OUT/sanitizer_$tool.log" | tr '\n' ' ')"
      # racecheck reports the tiled row scan's flag hand-offs (acquire/release,
      # which it does not model); anything else fails.
      if [ $rc -eq 1 ] && [ "$tool" = racecheck ] &&
        python3 tools/racecheck_known.py "$OUT/sanitizer_$tool.log"; then
        rc=0
      fi
      [ $rc -eq 0 ] || { kcheck_rc=1; tail -3 "$OUT/sanitizer_$tool.log"; }
    done
  else
    kcheck_rc=1
    echo "kernel check: build failed"; tail -20 "$OUT/kcheck_build.log"
  fi
fi
if [ -z "${XLA_RNNT_SKIP_KERNEL_CHECK:-}" ]; then
  # The pipeline's gradient with XLA's own kernels beside ours (command
  # buffers off: the sanitizer crashes on them; no autotuning, whose many
  # launches it would slow down).
  frameworks=jax
  python3 -c "import tensorflow" > /dev/null 2>&1 && frameworks="jax tf"
  # shellcheck disable=SC2086
  XLA_PYTHON_CLIENT_PREALLOCATE=false \
    XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_enable_command_buffer= --xla_gpu_autotune_level=0" \
    timeout "${XLA_RNNT_SANITIZER_TIMEOUT:-300}" "$sanitizer" --tool memcheck --error-exitcode 1 \
    python3 tools/sanitize_pipeline.py --frameworks $frameworks > "$OUT/sanitizer_pipeline.log" 2>&1
  rc=$?
  echo "compute-sanitizer memcheck, pipeline ($frameworks): exit $rc;" \
    "$(grep -E 'ERROR SUMMARY' "$OUT/sanitizer_pipeline.log" | tr '\n' ' ')"
  [ $rc -eq 0 ] || { kcheck_rc=1; tail -5 "$OUT/sanitizer_pipeline.log"; }
fi
if [ -z "${XLA_RNNT_SKIP_TESTS:-}" ]; then
  if python3 -c "import tensorflow" > /dev/null 2>&1; then
    # Both frameworks see the GPU: the whole suite, TF's and JAX's GPU tests
    # included (tests pin the CPU where they expect the CPU's behaviour).
    echo "tests: TensorFlow and JAX" | tee -a "$OUT/device.txt"
    python3 -c "import tensorflow as tf; print('tensorflow', tf.__version__, tf.config.list_physical_devices('GPU'))" 2>&1 \
      | grep -v '^[WIE]0000' | tee -a "$OUT/device.txt"
    test_files=tests
  else
    echo "tests: JAX only (TensorFlow is not importable here)" | tee -a "$OUT/device.txt"
    test_files="tests/test_gpu_jax.py tests/test_logsoftmax_gather.py tests/test_mutual_information_jax.py tests/test_losses_jax.py"
  fi
  # shellcheck disable=SC2086
  python3 -m pytest -q -p no:cacheprovider -rs ${XLA_RNNT_PYTEST_ARGS:-} $test_files 2>&1 | tee "$OUT/tests.log"
  tests_rc=${PIPESTATUS[0]}
  python3 benchmarks/benchmark_recursion.py --json "$OUT/benchmark_recursion.json" 2>&1 | tee "$OUT/bench.log"
fi
if [ -n "${XLA_RNNT_NCU:-}" ]; then
  # Per-kernel times of one call of each loss (Nsight Compute; clocks left
  # alone; no autotuning, whose many launches ncu would slow down).
  metrics=gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed
  case "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)" in
    *H200*) bandwidth=4.8 ;;
    *) bandwidth=3.35 ;;
  esac
  for case in ${XLA_RNNT_NCU_CASES:-recursion simple pruned full}; do
    # No preallocation: ncu needs device memory to save and replay each kernel.
    XLA_PYTHON_CLIENT_PREALLOCATE=false XLA_FLAGS="--xla_gpu_autotune_level=0" timeout 240 \
      ncu --clock-control none --profile-from-start off --csv --log-file "$OUT/ncu_$case.csv" \
      --metrics "$metrics" python3 benchmarks/ncu_breakdown.py --case "$case" \
      > "$OUT/ncu_run.log" 2>&1 || tail -5 "$OUT/ncu_run.log"
    python3 benchmarks/ncu_breakdown.py --parse "$OUT/ncu_$case.csv" --bandwidth $bandwidth \
      --json "$OUT/ncu_$case.json" 2>&1 | tee "$OUT/ncu_$case.txt"
  done
fi
if [ -f .gpu_inputs/fast_rnnt-1.3.tar.gz ] && [ -z "${XLA_RNNT_SKIP_LOSS_BENCH:-}" ]; then
  python3 benchmarks/benchmark_losses.py --fast-rnnt-sdist "$PWD/.gpu_inputs/fast_rnnt-1.3.tar.gz" \
    --json "$OUT/benchmark_losses.json" 2>&1 | tee "$OUT/bench_losses.log"
fi
[ "$tests_rc" -ne 0 ] && exit "$tests_rc"
exit $kcheck_rc
