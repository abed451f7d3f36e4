#!/usr/bin/env bash
# Run on a machine with several GPUs (device tool, e.g. nvidia-h100-x2): builds
# libxla_rnnt for sm_90 (FFI headers carried in .devcarry/ffi_include) and runs
# benchmarks/benchmark_sharded.py: the pruned pipeline batch-sharded over all
# GPUs vs one GPU (values, no all-gather of big operands, time).
set -euo pipefail
OUT=${OUT:-/tmp/xla_rnnt_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/device.txt"
cmake -S . -B build/gpu -GNinja -DCMAKE_BUILD_TYPE=Release \
  -DXLA_FFI_INCLUDE_DIR="$PWD/.devcarry/ffi_include" \
  -DXLA_RNNT_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 > "$OUT/build.log" 2>&1
cmake --build build/gpu >> "$OUT/build.log" 2>&1
export XLA_RNNT_LIBRARY="$PWD/build/gpu/libxla_rnnt.so"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
rc=0
for shape in 64,500,100,500 16,2000,400,500; do
  python3 benchmarks/benchmark_sharded.py --shape "$shape" --json "$OUT/sharded_${shape//,/_}.json" \
    2>&1 | tee -a "$OUT/sharded.log" || rc=1
done
exit $rc
