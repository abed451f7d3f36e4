"""FFI API versions: the installed library is built against the oldest
supported API (TF 2.21's 0.2), the readers agree with the runtimes, and a
runtime older than the library gets an error naming both versions."""

import os

import pytest

from xla_rnnt import _native, _versions


def test_installed_library_is_built_against_the_oldest_api():
    # Newer headers would make TF 2.21 refuse every handler.
    assert _native.ffi_api_version() == _versions.OLDEST_FFI_API == (0, 2)


def test_header_reader_reads_tensorflow_2_21_as_api_0_2():
    tf = pytest.importorskip("tensorflow")
    assert tf.__version__.startswith("2.21."), tf.__version__
    include = os.path.join(os.path.dirname(tf.__file__), "include")
    assert _versions.header_ffi_api(include) == (0, 2)


# The jaxlib releases README "Supported versions" claims, with their FFI API.
JAXLIB_FFI_API = {"0.11": (0, 4), "0.12": (0, 5)}


def test_installed_jaxlib_is_supported_and_loads_the_library():
    jaxlib = pytest.importorskip("jaxlib")
    release = ".".join(jaxlib.__version__.split(".")[:2])
    assert release in JAXLIB_FFI_API, f"jaxlib {jaxlib.__version__} is not in the table"
    runtime_api = _versions.bundled_ffi_api(jaxlib.__file__)
    assert runtime_api == JAXLIB_FFI_API[release]
    assert (
        _versions.check_runtime(
            "jaxlib", jaxlib.__version__, runtime_api, _native.ffi_api_version()
        )
        is None
    )


def test_header_reader_returns_none_without_headers(tmp_path):
    assert _versions.header_ffi_api(tmp_path) is None


def test_live_tensorflow_api_is_what_its_headers_say():
    tf = pytest.importorskip("tensorflow")
    from xla_rnnt.tf import _registry

    include = os.path.join(os.path.dirname(tf.__file__), "include")
    assert _versions.runtime_ffi_api(_registry.ffi_api()) == _versions.header_ffi_api(include)


def test_runtime_reader_rejects_a_null_address():
    with pytest.raises(ValueError, match="api_address"):
        _versions.runtime_ffi_api(0)


def test_older_runtime_gets_both_versions_named():
    with pytest.raises(_native.NativeLibraryError) as info:
        _versions.check_runtime("TensorFlow", "2.21.0", (0, 2), (0, 3))
    message = str(info.value)
    assert "TensorFlow 2.21.0 has XLA FFI API 0.2" in message
    assert "older than the API 0.3 this xla_rnnt library was built against" in message
    assert isinstance(info.value, ImportError)


@pytest.mark.parametrize("runtime_api", [(0, 2), (0, 5), None])
def test_same_newer_or_unknown_runtime_passes(runtime_api):
    assert _versions.check_runtime("jaxlib", "0.12.0.1", runtime_api, (0, 2)) is None
    assert _versions.too_old_message("jaxlib", "0.12.0.1", runtime_api, (0, 2)) is None


def _installed_metadata():
    """The installed distribution's metadata; a skip where xla_rnnt runs from a
    source tree (PYTHONPATH, as the GPU check does), which has none."""
    from importlib import metadata

    try:
        return metadata.metadata("xla_rnnt")
    except metadata.PackageNotFoundError:
        pytest.skip("xla_rnnt is imported from a source tree, not an installed distribution")


def test_distribution_version_is_the_package_version():
    # pyproject.toml reads the version from xla_rnnt.__version__: one place.
    import xla_rnnt

    assert _installed_metadata()["Version"] == xla_rnnt.__version__


def test_distribution_declares_the_extras():
    extras = set(_installed_metadata().get_all("Provides-Extra"))
    assert {"tf", "jax", "keras", "test"} <= extras, extras


_SOURCES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cc")


@pytest.mark.parametrize("package", ["tensorflow", "jaxlib"])
def test_sources_compile_against_each_installed_frameworks_headers(package):
    # A build without isolation takes whichever headers it finds (setup.py):
    # TF 2.21's API 0.2, or jaxlib's 0.4 / 0.5, where the FFI's error call
    # has another name (cc/registration.cc picks whichever is declared).
    import importlib.util
    import shutil
    import subprocess

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{package} is not installed")
    include = os.path.join(list(spec.submodule_search_locations)[0], "include")
    if _versions.header_ffi_api(include) is None:
        pytest.skip(f"{package} ships no XLA FFI headers")
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None or not os.path.isdir(_SOURCES):
        pytest.skip("needs a C++ compiler and the source tree's cc/")
    root = os.path.dirname(_SOURCES)
    for name in sorted(os.listdir(_SOURCES)):
        if not name.endswith(".cc"):
            continue
        result = subprocess.run(
            [
                compiler,
                "-std=c++17",
                "-fsyntax-only",
                "-w",
                "-I",
                include,
                "-I",
                root,
                os.path.join(_SOURCES, name),
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, (
            f"cc/{name} does not compile against {package}'s FFI API "
            f"{_versions.header_ffi_api(include)} headers:\n{result.stderr[-3000:]}"
        )
