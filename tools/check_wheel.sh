#!/usr/bin/env bash
# The wheel as a user gets it: `python -m build` (sdist, then a wheel built
# from it with pip's build isolation, headers from the pinned build
# requirement), given its manylinux tag by `auditwheel repair` (nothing to
# graft), installed into a fresh venv with TF 2.21 and the oldest
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
# -P: a build/ folder in the tree (setup.py's) would shadow the build package.
.venv/bin/python -P -m build --outdir dist . > "$work/build.log" 2>&1 || {
  tail -50 "$work/build.log"; exit 1; }
grep "xla_rnnt: building against" "$work/build.log"
wheel=$(ls dist/xla_rnnt-*-py3-none-linux_x86_64.whl)
echo "xla_rnnt: built dist/$(basename "$wheel") and its sdist in $((SECONDS - start)) s"
# The manylinux tag of this machine's glibc; clean = nothing to graft (the
# CUDA runtime is static, the rest is the system's glibc and libstdc++).
PATH="$root/.venv/bin:$PATH" .venv/bin/auditwheel repair --plat "${XLA_RNNT_MANYLINUX:-manylinux_2_34_x86_64}" \
  -w dist "$wheel" > "$work/auditwheel.log" 2>&1 || { tail -20 "$work/auditwheel.log"; exit 1; }
wheel=$(ls dist/xla_rnnt-*-py3-none-manylinux_*_x86_64.whl)
if ! .venv/bin/python -c "import sys, zipfile; sys.exit(any('.libs/' in n for n in zipfile.ZipFile(sys.argv[1]).namelist()))" "$wheel"; then
  echo "xla_rnnt: auditwheel grafted libraries into $wheel" >&2; exit 1
fi
echo "xla_rnnt: auditwheel repair: dist/$(basename "$wheel"), nothing grafted"

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
