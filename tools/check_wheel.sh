#!/usr/bin/env bash
# The wheel as a user gets it: `python -m build` (sdist, then a wheel built
# from it with pip's build isolation, headers from the pinned build
# requirement), installed into a fresh venv with TF 2.21 and the oldest
# supported JAX (0.11.2), then the quickstart and the JAX, jax.export and
# version tests, run from a folder outside the source tree with no compiler,
# nvcc or CMake on PATH. Needs tools/setup.sh's .venv (for `build`).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$SECONDS
rm -rf dist
.venv/bin/python -m build --outdir dist . > "$work/build.log" 2>&1 || {
  tail -50 "$work/build.log"; exit 1; }
grep "xla_rnnt: building against" "$work/build.log"
wheel=$(ls dist/xla_rnnt-*-py3-none-linux_x86_64.whl)
echo "xla_rnnt: built dist/$(basename "$wheel") and its sdist in $((SECONDS - start)) s"

"$(.venv/bin/python -c 'import sys; print(sys._base_executable)')" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "xla_rnnt[test] @ file://$root/$wheel" \
  tensorflow-cpu==2.21.0 "jax[cpu]==0.11.2"
cp -r tests examples "$work/"
cd "$work"
bare=(env -i HOME="$HOME" PATH="$work/venv/bin" TF_CPP_MIN_LOG_LEVEL=2)
for tool in c++ gcc nvcc cmake; do
  if PATH="$work/venv/bin" command -v "$tool" >/dev/null; then
    echo "xla_rnnt: $tool is on the bare PATH" >&2; exit 1
  fi
done
"${bare[@]}" venv/bin/python examples/quickstart.py | tee quickstart.txt
grep -q "TF and JAX agree: True" quickstart.txt
"${bare[@]}" venv/bin/python -m pytest -q -p no:cacheprovider tests/test_versions.py \
  tests/test_export_jax.py tests/test_mutual_information_jax.py tests/test_losses_jax.py
