#!/usr/bin/env bash
# Run on a machine with several GPUs, from the repository root: builds
# libxla_rnnt as tools/gpu_check.sh does (tools/gpu_build.sh) and runs
# benchmarks/benchmark_sharded.py: the pruned pipeline batch-sharded over all
# GPUs vs one GPU (values, no all-gather of big operands, time). Logs and
# results go to $OUT (default /tmp/xla_rnnt_out).
set -euo pipefail
OUT=${OUT:-/tmp/xla_rnnt_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/device.txt"
source tools/gpu_build.sh
rc=0
for shape in 64,500,100,500 16,2000,400,500; do
  python3 benchmarks/benchmark_sharded.py --shape "$shape" --json "$OUT/sharded_${shape//,/_}.json" \
    2>&1 | tee -a "$OUT/sharded.log" || rc=1
done
exit $rc
