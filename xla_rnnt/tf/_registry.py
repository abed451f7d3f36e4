"""The TF door: registers libxla_rnnt's handlers into TensorFlow's XLA FFI
registry. TF has no Python API for that; the library calls
``XLA_FFI_Handler_Register`` itself on the ``XLA_FFI_Api`` TF hands out."""

import ctypes
import os
import threading

import tensorflow as tf

from .. import _native, _versions

_lock = threading.Lock()
_done = False


def ffi_api() -> int:
    """Address of TF's ``const XLA_FFI_Api*``.

    TF does not export the C symbol ``XLA_FFI_GetApi`` in every build (the
    tensorflow-cpu 2.21 wheel exports only the C++ ``xla::ffi::GetXlaFfiApi()``,
    from libtensorflow_cc.so.2), so both are looked up in the libraries TF has
    already loaded. The registry behind it serves XLA:CPU ("Host") and XLA:GPU
    ("CUDA") inside TF; JAX has its own.
    """
    tf_dir = os.path.dirname(tf.__file__)
    for lib in ("libtensorflow_framework.so.2", "libtensorflow_cc.so.2"):
        try:  # RTLD_NOLOAD: only a library TF already loaded (importing tf did).
            handle = ctypes.CDLL(os.path.join(tf_dir, lib), mode=os.RTLD_NOLOAD)
        except OSError:
            continue
        for sym in ("XLA_FFI_GetApi", "_ZN3xla3ffi12GetXlaFfiApiEv"):
            fn = getattr(handle, sym, None)
            if fn is not None:
                fn.restype, fn.argtypes = ctypes.c_void_p, []
                return fn()
    raise _native.NativeLibraryError(
        f"xla_rnnt: TensorFlow {tf.__version__} exposes no XLA FFI API "
        "(XLA_FFI_GetApi); xla_rnnt needs TensorFlow >= 2.21."
    )


def register():
    """Registers every handler for "Host" (CPU) and "CUDA"; idempotent and safe
    to call from several threads. After it, XlaCallModule ops holding our
    custom calls run, those of reloaded SavedModels too."""
    global _done
    with _lock:
        if _done:
            return
        api = ffi_api()
        # A runtime older than the library refuses every handler: say so with
        # both versions rather than TF's per-handler message.
        _versions.check_runtime(
            "TensorFlow", tf.__version__, _versions.runtime_ffi_api(api), _native.ffi_api_version()
        )
        error = _native.library().xla_rnnt_register_with(api)
        if error:
            major, minor = _native.ffi_api_version()
            raise _native.NativeLibraryError(
                f"xla_rnnt: TensorFlow {tf.__version__} refused the handlers "
                f"({error.decode()}). The library was built against XLA FFI API "
                f"{major}.{minor}; rebuild it against this TensorFlow's headers "
                "(pip install --no-build-isolation . with this TensorFlow installed)."
            )
        _done = True
