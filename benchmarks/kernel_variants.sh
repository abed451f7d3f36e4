#!/usr/bin/env bash
# On the GPU machine: the library's GPU tests + JAX benchmark (tools/gpu_check.sh,
# default build of cuda/mutual_information_cuda.cu), then every kernel-level
# variant binary in build/kbin (benchmarks/kernel_bench.cu compiled here with
# -D switches; carried). Usage: bash benchmarks/kernel_variants.sh
OUT=${OUT:-/tmp/xla_rnnt_out}
mkdir -p "$OUT"
bash tools/gpu_check.sh > "$OUT/gpu_check.log" 2>&1
echo "gpu_check rc=$?" | tee -a "$OUT/gpu_check.log"
for b in build/kbin/kb_*; do
  timeout 120 "$b" "$(basename "$b" | sed 's/^kb_//')" > "/tmp/$(basename "$b").log" 2>&1
  echo "$(basename "$b") rc=$?" >> "/tmp/$(basename "$b").log"
done
cat /tmp/kb_*.log > "$OUT/kernel_bench.log"
grep -h "passed\|failed\|error" "$OUT/gpu_check.log" | tail -5
sed -n '/device:/,$p' "$OUT/gpu_check.log"
grep -h "worst\|FINITE\|rc=\|vs-cpu32" /tmp/kb_*.log
for f in /tmp/kb_*.log; do sed -n '/variant/,/rc=/p' "$f" | grep -v "rc=\|^variant" ; done
