"""Finds libxla_rnnt and registers its FFI handlers into TF and/or JAX.

The library is a plain shared object (no Python extension) that exports a
table of (target name, platform, handler). JAX registers each handler via
``jax.ffi``; TensorFlow has no Python API for that, so the library registers
them itself into the registry whose ``XLA_FFI_Api*`` TF's libraries hand out
(see ``xla_rnnt.tf._xla_module.tf_ffi_api``). TF and JAX keep separate
registries, so each runtime in use gets its own registration.
"""
import ctypes
import glob
import os
import threading

_LIB_ENV = "XLA_RNNT_LIBRARY"
_lock = threading.Lock()
_lib = None
_registered = set()  # runtimes already holding our handlers: "jax", "tf"


class NativeLibraryError(ImportError):
    """libxla_rnnt is missing, unloadable or refused by a runtime."""


def _candidates():
    explicit = os.environ.get(_LIB_ENV)
    if explicit:
        return [explicit]
    here = os.path.dirname(os.path.abspath(__file__))
    return sorted(glob.glob(os.path.join(here, "libxla_rnnt*.so")))


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
                "package with `pip install --no-build-isolation .` from the source "
                f"tree (see README), or point {_LIB_ENV} at a built libxla_rnnt.so.")
        try:
            lib = ctypes.CDLL(paths[0])
        except OSError as e:
            raise NativeLibraryError(f"xla_rnnt: cannot load {paths[0]}: {e}") from e
        lib.xla_rnnt_num_handlers.restype = ctypes.c_int
        for fn in ("xla_rnnt_handler_name", "xla_rnnt_handler_platform"):
            getattr(lib, fn).restype = ctypes.c_char_p
            getattr(lib, fn).argtypes = [ctypes.c_int]
        lib.xla_rnnt_handler.restype = ctypes.c_void_p
        lib.xla_rnnt_handler.argtypes = [ctypes.c_int]
        lib.xla_rnnt_register_with.restype = ctypes.c_char_p
        lib.xla_rnnt_register_with.argtypes = [ctypes.c_void_p]
        lib.xla_rnnt_ffi_api_version.restype = ctypes.c_int
        lib.path = paths[0]
        _lib = lib
        return lib


def handlers():
    """[(target name, platform, handler address)] as exported by the library."""
    lib = library()
    return [(lib.xla_rnnt_handler_name(i).decode(), lib.xla_rnnt_handler_platform(i).decode(),
             lib.xla_rnnt_handler(i)) for i in range(lib.xla_rnnt_num_handlers())]


def ffi_api_version():
    """The XLA FFI API version (major, minor) the library was compiled against."""
    v = library().xla_rnnt_ffi_api_version()
    return v // 1000, v % 1000


def has_cuda():
    """True when the library was built with its CUDA handlers."""
    return any(platform == "CUDA" for _, platform, _ in handlers())


def register_jax():
    """Registers every handler with jax.ffi (idempotent)."""
    with _lock:
        if "jax" in _registered:
            return
    import jax  # noqa: deferred so that `import xla_rnnt` stays framework-free

    entries = handlers()
    for name, platform, address in entries:
        fn = ctypes.cast(address, ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p))
        jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(fn),
                                    platform="cpu" if platform == "Host" else platform)
    with _lock:
        _registered.add("jax")


def register_tf():
    """Registers every handler into TensorFlow's XLA FFI registry (idempotent)."""
    with _lock:
        if "tf" in _registered:
            return
    import tensorflow as tf

    from .tf import _xla_module

    try:
        api = _xla_module.tf_ffi_api()
    except RuntimeError as e:
        raise NativeLibraryError(
            f"xla_rnnt: TensorFlow {tf.__version__} exposes no XLA FFI API; "
            "xla_rnnt needs TensorFlow >= 2.21.") from e
    error = library().xla_rnnt_register_with(api)
    if error:
        major, minor = ffi_api_version()
        raise NativeLibraryError(
            f"xla_rnnt: TensorFlow {tf.__version__} refused the handlers ({error.decode()}). "
            f"The library was built against XLA FFI API {major}.{minor}; rebuild it "
            "against this TensorFlow's headers (pip install --no-build-isolation . "
            "with this TensorFlow installed).")
    with _lock:
        _registered.add("tf")
