"""XLA FFI API versions: of the library, of headers, of a live runtime, and
the error for a runtime whose API is older than the library's.

A handler built against FFI API (major, minor) is refused by a runtime whose
API is older; so the library is built against the oldest supported one,
TensorFlow 2.21's 0.2. This module imports nothing of the package at load time,
so setup.py can load it by path.
"""

import ctypes
import re
from pathlib import Path

# TensorFlow 2.21's API: the oldest among the supported runtimes.
OLDEST_FFI_API = (0, 2)


def header_ffi_api(include_dir):
    """(major, minor) defined by include_dir/xla/ffi/api/c_api.h, or None
    where that header is missing."""
    path = Path(include_dir) / "xla" / "ffi" / "api" / "c_api.h"
    if not path.is_file():
        return None
    text = path.read_text(errors="replace")
    found = [
        re.search(rf"#define\s+XLA_FFI_API_{part}\s+(\d+)", text) for part in ("MAJOR", "MINOR")
    ]
    if not all(found):
        raise ValueError(f"xla_rnnt: {path} defines no XLA_FFI_API_MAJOR/MINOR")
    return tuple(int(m.group(1)) for m in found)


def bundled_ffi_api(package_file):
    """(major, minor) of the FFI headers a runtime package ships beside its
    ``__file__`` (jaxlib and tensorflow ship include/xla/ffi/api): the API of
    that runtime, where no live XLA_FFI_Api* is at hand (JAX exposes none)."""
    return header_ffi_api(Path(package_file).parent / "include")


class _ApiVersion(ctypes.Structure):  # XLA_FFI_Api_Version (c_api.h)
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("extension_start", ctypes.c_void_p),
        ("major_version", ctypes.c_int),
        ("minor_version", ctypes.c_int),
    ]


class _ApiHead(ctypes.Structure):  # the first fields of XLA_FFI_Api, fixed in API 0.x
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("extension_start", ctypes.c_void_p),
        ("api_version", _ApiVersion),
    ]


def runtime_ffi_api(api_address):
    """(major, minor) of a runtime's live ``const XLA_FFI_Api*`` (an address)."""
    if not api_address:
        raise ValueError(
            f"xla_rnnt: api_address must be a non-null XLA_FFI_Api*, got {api_address!r}"
        )
    version = _ApiHead.from_address(api_address).api_version
    return version.major_version, version.minor_version


def _dotted(version):
    return f"{version[0]}.{version[1]}"


def too_old_message(runtime, runtime_version, runtime_api, library_api, detail=None):
    """The error text for a runtime (e.g. "TensorFlow", "2.21.0") whose FFI API
    is older than the one the library was built against; None when it is not."""
    if runtime_api is None or tuple(runtime_api) >= tuple(library_api):
        return None
    because = f" ({detail})" if detail else ""
    return (
        f"xla_rnnt: {runtime} {runtime_version} has XLA FFI API {_dotted(runtime_api)}, "
        f"older than the API {_dotted(library_api)} this xla_rnnt library was built "
        f"against, so it refuses the handlers{because}. Upgrade {runtime}, or rebuild "
        f"xla_rnnt against the oldest API it must load into ({_dotted(OLDEST_FFI_API)}, "
        "TensorFlow 2.21's): `pip install .` does, from a source tree."
    )


def check_runtime(runtime, runtime_version, runtime_api, library_api, detail=None):
    """Raises NativeLibraryError (an ImportError) with too_old_message's text
    when runtime_api is older than library_api; else returns None."""
    message = too_old_message(runtime, runtime_version, runtime_api, library_api, detail)
    if message:
        from ._native import NativeLibraryError  # deferred: setup.py loads this file alone

        raise NativeLibraryError(message)
