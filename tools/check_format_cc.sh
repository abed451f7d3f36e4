#!/usr/bin/env bash
# Fails when a C++/CUDA source of cc/, cuda/ or tests/cuda/ differs from what
# clang-format makes of it (style: .clang-format). Uses $CLANG_FORMAT, else
# clang-format on PATH; CI pins its version (the PyPI wheel clang-format==23.1.3),
# since other versions may format differently. Fix with: clang-format -i <files>
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT="${CLANG_FORMAT:-clang-format}"
if ! command -v "$CLANG_FORMAT" >/dev/null 2>&1; then
  echo "check_format_cc: '$CLANG_FORMAT' not found (set CLANG_FORMAT or pip install clang-format==23.1.3)" >&2
  exit 2
fi
# Tracked and new (not ignored) files that exist.
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
  'cc/*.h' 'cc/*.cc' 'cuda/*.h' 'cuda/*.cc' 'cuda/*.cu' 'tests/cuda/*.h' 'tests/cuda/*.cc' \
  'tests/cuda/*.cu' | sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done)
if [ "${#files[@]}" -eq 0 ]; then
  echo "check_format_cc: no files found" >&2
  exit 2
fi
echo "check_format_cc: $("$CLANG_FORMAT" --version), ${#files[@]} files"
"$CLANG_FORMAT" --style=file --dry-run --Werror "${files[@]}"
echo "check_format_cc: formatted"
