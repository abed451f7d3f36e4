"""Registers libxla_rnnt's handlers with jax.ffi (JAX's own registry)."""

import ctypes
import threading

import jax
import jaxlib

from .. import _native, _versions

_lock = threading.Lock()
_done = False


def register():
    """Registers every handler for its platform ("cpu" or "CUDA"); idempotent
    and safe to call from several threads."""
    global _done
    with _lock:
        if _done:
            return
        # JAX exposes no live XLA_FFI_Api*: jaxlib's bundled headers tell its API.
        _versions.check_runtime(
            "jaxlib",
            jaxlib.__version__,
            _versions.bundled_ffi_api(jaxlib.__file__),
            _native.ffi_api_version(),
        )
        for name, platform, address in _native.handlers():
            fn = ctypes.cast(address, ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p))
            jax.ffi.register_ffi_target(
                name, jax.ffi.pycapsule(fn), platform="cpu" if platform == "Host" else platform
            )
        _done = True
