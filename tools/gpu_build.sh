# Sourced by the GPU scripts (tools/gpu_check.sh, tools/gpu_multi_check.sh):
# builds libxla_rnnt with CUDA for sm_90 into build/gpu against the FFI headers
# carried in .devcarry/ffi_include (log: $OUT/build.log) and points Python at
# it (XLA_RNNT_LIBRARY, PYTHONPATH). Needs OUT set.
cmake -S . -B build/gpu -GNinja -DCMAKE_BUILD_TYPE=Release \
  -DXLA_FFI_INCLUDE_DIR="$PWD/.devcarry/ffi_include" \
  -DXLA_RNNT_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 > "$OUT/build.log" 2>&1
cmake --build build/gpu >> "$OUT/build.log" 2>&1
export XLA_RNNT_LIBRARY="$PWD/build/gpu/libxla_rnnt.so"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
