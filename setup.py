"""Builds libxla_rnnt with CMake and ships it inside the xla_rnnt package.

Environment variables (all optional):
  XLA_RNNT_CUDA            auto (default: on when nvcc is found) | 1/on | 0/off
  XLA_RNNT_CUDA_ARCHS      CMAKE_CUDA_ARCHITECTURES, default "80-real;90-real;90-virtual"
                           (sm_80, sm_90 code; PTX for newer GPUs, compiled by the driver)
  XLA_RNNT_MAKE_ARGS       extra arguments for the build tool, e.g. "-j8"
  XLA_RNNT_FFI_INCLUDE_DIR directory holding xla/ffi/api/ffi.h; default: the
                           installed TensorFlow's headers, else jaxlib's

With pip's build isolation the build environment holds only what
pyproject.toml's [build-system] requires: there the headers are those of the
pinned jaxlib, whose FFI API (0.2) is TensorFlow 2.21's.
"""

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def _package_dir(name):
    # find_spec locates a package without importing it (TF's import is slow).
    spec = importlib.util.find_spec(name)
    return Path(spec.origin).parent if spec and spec.origin else None


def _load_versions():
    # xla_rnnt/_versions.py by path: importing the package would need its
    # dependencies, which a build environment need not have.
    spec = importlib.util.spec_from_file_location(
        "_xla_rnnt_versions", ROOT / "xla_rnnt" / "_versions.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_versions = _load_versions()


def _find_ffi_include_dir():
    explicit = os.environ.get("XLA_RNNT_FFI_INCLUDE_DIR")
    if explicit:
        return Path(explicit), "XLA_RNNT_FFI_INCLUDE_DIR"
    # TensorFlow first: its FFI API is the oldest of the supported runtimes,
    # and handlers built against it load into newer jaxlibs too. Under build
    # isolation only the pinned jaxlib (same API as TF 2.21) is there.
    for package in ("tensorflow", "jaxlib"):
        root = _package_dir(package)
        if root and (root / "include/xla/ffi/api/ffi.h").exists():
            return root / "include", package
    raise RuntimeError(
        "xla_rnnt: no XLA FFI headers found. `pip install .` (with build isolation) "
        "installs them from [build-system] requires; without isolation install "
        "tensorflow or jax into this environment first, or set "
        "XLA_RNNT_FFI_INCLUDE_DIR to a directory containing xla/ffi/api/ffi.h."
    )


def ffi_include_dir():
    include, source = _find_ffi_include_dir()
    version = _versions.header_ffi_api(include)
    if version is None:
        raise RuntimeError(f"xla_rnnt: {include} has no xla/ffi/api/c_api.h")
    found, oldest = "%d.%d" % version, "%d.%d" % _versions.OLDEST_FFI_API
    print(
        f"xla_rnnt: building against XLA FFI API {found} headers from {source} ({include})",
        file=sys.stderr,
    )
    if version > _versions.OLDEST_FFI_API:
        print(
            f"xla_rnnt: warning: these headers are newer than API {oldest} "
            "(TensorFlow 2.21's), so TensorFlow 2.21 will refuse the handlers",
            file=sys.stderr,
        )
    return include


DEFAULT_CUDA_ARCHS = "80-real;90-real;90-virtual"


def cuda_enabled():
    flag = os.environ.get("XLA_RNNT_CUDA", "auto").strip().lower()
    if flag in ("1", "on", "yes", "true"):
        return True
    if flag in ("0", "off", "no", "false"):
        return False
    if flag != "auto":
        raise RuntimeError(f"XLA_RNNT_CUDA must be auto, on or off, got {flag!r}")
    return shutil.which("nvcc") is not None


class CMakeBuild(build_ext):
    def get_ext_filename(self, fullname):
        # libxla_rnnt.so, not an interpreter-tagged extension name: ctypes
        # loads it under any Python 3.
        return os.path.join(*fullname.split(".")) + ".so"

    def build_extension(self, ext):
        target = Path(self.get_ext_fullpath(ext.name)).resolve()
        build_dir = Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        args = [
            f"-DXLA_FFI_INCLUDE_DIR={ffi_include_dir()}",
            "-DCMAKE_BUILD_TYPE=Release",
        ]
        if cuda_enabled():
            nvcc = shutil.which("nvcc")
            args += [
                "-DXLA_RNNT_WITH_CUDA=ON",
                "-DCMAKE_CUDA_ARCHITECTURES="
                + os.environ.get("XLA_RNNT_CUDA_ARCHS", DEFAULT_CUDA_ARCHS),
            ]
            if nvcc:
                args.append(f"-DCMAKE_CUDA_COMPILER={nvcc}")
        if shutil.which("ninja"):
            args.append("-GNinja")
        subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build_dir), *args], check=True)
        tool_args = shlex.split(os.environ.get("XLA_RNNT_MAKE_ARGS", f"-j{os.cpu_count() or 1}"))
        subprocess.run(["cmake", "--build", str(build_dir), "--", *tool_args], check=True)
        # setuptools expects the extension at its own file name; _native.py
        # globs for libxla_rnnt*.so.
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(build_dir / "libxla_rnnt.so", target)
        # A library of an older build under another name (the build folder is
        # reused) would travel in the wheel beside this one.
        for stale in target.parent.glob("libxla_rnnt*.so"):
            if stale.resolve() != target:
                stale.unlink()


class PlatformWheel(bdist_wheel):
    """Tags the wheel py3-none-<platform>: the library is loaded with ctypes,
    not as an extension module, so one wheel serves every Python 3."""

    def get_tag(self):
        _python, _abi, platform = super().get_tag()
        return "py3", "none", platform


setup(
    # A plain shared library (no Python module inside), loaded with ctypes.
    ext_modules=[Extension("xla_rnnt.libxla_rnnt", sources=[])],
    cmdclass={"build_ext": CMakeBuild, "bdist_wheel": PlatformWheel},
)
