# Sourced by the GPU scripts (tools/gpu_check.sh, tools/gpu_multi_check.sh).
# Builds libxla_rnnt with its CUDA handlers through setup.py, so with the same
# CMake options as `pip install .` (README "Building"), and points Python at
# it (XLA_RNNT_LIBRARY, PYTHONPATH). Needs OUT set; log: $OUT/build.log.
#   XLA_RNNT_CUDA_ARCHS       CUDA architectures; default 90 (one, for a fast build)
#   XLA_RNNT_FFI_INCLUDE_DIR  FFI headers; default .gpu_inputs/ffi_include when it
#                             exists (README "GPU check"), else setup.py's search
# The CMake build directory, XLA_RNNT_CMAKE_DIR (build/gpu/cmake), keeps that
# configuration for the scripts' other CMake targets (the kernel check).
export XLA_RNNT_CUDA=on
export XLA_RNNT_CUDA_ARCHS="${XLA_RNNT_CUDA_ARCHS:-90}"
if [ -z "${XLA_RNNT_FFI_INCLUDE_DIR:-}" ] && [ -d .gpu_inputs/ffi_include ]; then
  export XLA_RNNT_FFI_INCLUDE_DIR="$PWD/.gpu_inputs/ffi_include"
fi
# --build-temp: setup.py configures CMake in <build-temp>/cmake.
XLA_RNNT_CMAKE_DIR="$PWD/build/gpu/cmake"
python3 setup.py build_ext --build-lib build/gpu/lib --build-temp build/gpu \
  > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; return 1; }
# libxla_rnnt*.so: the name _native.py looks for, suffix as setup.py sets it.
XLA_RNNT_LIBRARY=$(ls "$PWD"/build/gpu/lib/xla_rnnt/libxla_rnnt*.so | head -1)
export XLA_RNNT_LIBRARY
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
