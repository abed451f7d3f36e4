#!/usr/bin/env bash
# Lint and format checks, as CI runs them (tools installed by tools/setup.sh
# from requirements-dev.txt): ruff for Python, clang-format for C++/CUDA.
# Fix what they report with `.venv/bin/ruff check --fix . && .venv/bin/ruff
# format .` and `.venv/bin/clang-format -i <files>`.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
CLANG_FORMAT=.venv/bin/clang-format bash tools/check_format_cc.sh
