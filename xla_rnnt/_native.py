"""Finds and loads libxla_rnnt and lists its FFI handlers.

The library is a plain shared object (no Python extension) that exports a
table of (target name, platform, handler). Registering the handlers is each
framework wing's job (``xla_rnnt.jax._registry``, ``xla_rnnt.tf._registry``):
TF and JAX keep separate registries.
"""

import ctypes
import glob
import os
import threading

LIBRARY_ENV = "XLA_RNNT_LIBRARY"
_lock = threading.Lock()
_lib = None


class NativeLibraryError(ImportError):
    """libxla_rnnt is missing, unloadable or refused by a runtime."""


def _candidates():
    explicit = os.environ.get(LIBRARY_ENV)
    if explicit:
        return [explicit]
    here = os.path.dirname(os.path.abspath(__file__))
    return sorted(glob.glob(os.path.join(here, "libxla_rnnt*.so")))


def _declare(lib):
    lib.xla_rnnt_num_handlers.restype = ctypes.c_int
    for fn in ("xla_rnnt_handler_name", "xla_rnnt_handler_platform"):
        getattr(lib, fn).restype = ctypes.c_char_p
        getattr(lib, fn).argtypes = [ctypes.c_int]
    lib.xla_rnnt_handler.restype = ctypes.c_void_p
    lib.xla_rnnt_handler.argtypes = [ctypes.c_int]
    lib.xla_rnnt_register_with.restype = ctypes.c_char_p
    lib.xla_rnnt_register_with.argtypes = [ctypes.c_void_p]
    lib.xla_rnnt_ffi_api_version.restype = ctypes.c_int


def library():
    """The loaded libxla_rnnt (ctypes.CDLL), loading it on first use."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        paths = _candidates()
        if not paths:
            raise NativeLibraryError(
                "xla_rnnt: the native library libxla_rnnt*.so is not next to "
                f"{os.path.dirname(os.path.abspath(__file__))}. Build and install the "
                "package with `pip install .` from the source tree (see README), or "
                f"point {LIBRARY_ENV} at a built libxla_rnnt.so."
            )
        try:
            lib = ctypes.CDLL(paths[0])
            _declare(lib)
        except (OSError, AttributeError) as e:
            raise NativeLibraryError(f"xla_rnnt: cannot load {paths[0]}: {e}") from e
        lib.path = paths[0]
        _lib = lib
        return lib


def handlers():
    """[(target name, platform, handler address)] as exported by the library;
    platform is the FFI's name, "Host" (CPU) or "CUDA"."""
    lib = library()
    return [
        (
            lib.xla_rnnt_handler_name(i).decode(),
            lib.xla_rnnt_handler_platform(i).decode(),
            lib.xla_rnnt_handler(i),
        )
        for i in range(lib.xla_rnnt_num_handlers())
    ]


def ffi_api_version():
    """The XLA FFI API version (major, minor) the library was compiled against."""
    v = library().xla_rnnt_ffi_api_version()
    return v // 1000, v % 1000


def has_cuda():
    """True when the library was built with its CUDA handlers."""
    return any(platform == "CUDA" for _, platform, _ in handlers())
