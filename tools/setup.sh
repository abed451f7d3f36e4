#!/usr/bin/env bash
# Fresh-machine set-up: a Python 3.12 venv in .venv with TensorFlow and JAX
# (CPU), then the library built and installed into it (CUDA handlers too when
# nvcc is found), then the quickstart example. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python312() {
  for candidate in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
    if "$candidate" --version >/dev/null 2>&1; then echo "$candidate"; return; fi
  done
  echo "xla_rnnt: Python 3.12 not found (jax >= 0.11 needs it); install it or put python3.12 on PATH" >&2
  exit 1
}

if [ ! -x .venv/bin/python ]; then
  "$(find_python312)" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements-dev.txt
# A wheel, installed like any user's: the tests run against the installed
# package. No build isolation: the build reads the FFI headers of the
# TensorFlow above (`pip install .` alone takes them from a pinned jaxlib).
rm -rf .whl
.venv/bin/python -m pip wheel -q --no-build-isolation --no-deps -w .whl .
.venv/bin/python -m pip install -q --force-reinstall --no-deps .whl/xla_rnnt-*.whl
.venv/bin/python examples/quickstart.py
