"""The custom-call table (xla_rnnt/_targets.py) against its C++ twin
(cc/targets.h) and the library's handler table, and its shape formulas against
what the handlers accept."""

import pathlib
import re

import numpy as np
import pytest

from xla_rnnt import _native, _targets

ROOT = pathlib.Path(__file__).resolve().parents[1]
HEADER = ROOT / "cc" / "targets.h"
# The handler sources of each family of targets with attributes, CPU and CUDA:
# (targets, sources, handlers per source).
ATTRIBUTE_FAMILIES = [
    (
        (_targets.LOGSOFTMAX_GATHER, _targets.LOGSOFTMAX_GATHER_GRAD),
        [
            ROOT / "cc" / "ffi_logsoftmax_gather.cc",
            ROOT / "cuda" / "ffi_logsoftmax_gather_cuda.cc",
        ],
        2,  # the forward's handler, then the gradient's
    ),
    (
        (_targets.BAND_FORWARD, _targets.BAND_FORWARD_BACKWARD, _targets.BAND_BACKWARD),
        [ROOT / "cc" / "ffi_band_recursion.cc", ROOT / "cuda" / "ffi_band_recursion_cuda.cc"],
        3,
    ),
]
CPP_TYPES = {"int64": "int64_t", "bool": "bool"}  # Attribute.dtype -> the handler's Attr<T>


def test_names_agree_with_the_cpp_twin_and_the_library():
    text = HEADER.read_text()
    header_names = set(re.findall(r'inline constexpr char k\w+(?<!Attr)\[\] = "(\w+)";', text))
    table_names = {t.name for t in _targets.TARGETS}
    assert header_names == table_names
    library_names = {name for name, platform, _ in _native.handlers() if platform == "Host"}
    assert library_names == table_names
    rows = int(re.search(r"kHandoffRowsPerBand = (\d+);", text).group(1))
    assert rows == _targets.HANDOFF_ROWS_PER_BAND
    assert int(re.search(r"kBandMaxRows = (\d+);", text).group(1)) == _targets.BAND_MAX_ROWS


def test_attributes_agree_with_the_cpp_twin_and_the_handlers():
    """Every attribute of the table is named in cc/targets.h (kXxxAttr, its
    type in the comment) and bound with that constant and type, in the
    table's order, by each handler of its targets, CPU and CUDA."""
    declared = re.findall(
        r'inline constexpr char (k\w+Attr)\[\] = "(\w+)";\s+// (\w+):', HEADER.read_text()
    )
    table = {a.name: a.dtype for t in _targets.TARGETS for a in t.attributes}
    assert {name: dtype for _, name, dtype in declared} == table
    constant = {name: k for k, name, _ in declared}
    with_attributes = [t for t in _targets.TARGETS if t.attributes]
    assert sorted(t.name for f in ATTRIBUTE_FAMILIES for t in f[0]) == sorted(
        t.name for t in with_attributes
    )
    for targets, sources, handlers in ATTRIBUTE_FAMILIES:
        attributes = targets[0].attributes
        assert all(t.attributes == attributes for t in targets)
        want = [(CPP_TYPES[a.dtype], constant[a.name]) for a in attributes]
        for path in sources:
            bound = re.findall(r"\.Attr<(\w+)>\(xla_rnnt::(k\w+Attr)\)", path.read_text())
            assert bound == want * handlers, path


def test_attribute_values_are_typed_and_complete():
    values = _targets.LOGSOFTMAX_GATHER.attribute_values({"hat": True, "blank": 3})
    assert values == {"blank": 3, "hat": True}
    assert type(values["blank"]) is np.int64 and type(values["hat"]) is np.bool_
    with pytest.raises(TypeError, match=r"takes attributes \('blank', 'hat'\), got \('blank',\)"):
        _targets.LOGSOFTMAX_GATHER.attribute_values({"blank": 3})


@pytest.mark.parametrize("S", [0, 1, 30, 31, 32, 63, 64, 1000])
def test_handoff_rows_formula(S):
    (_, _, _, _, g) = _targets.MI_FORWARD_BACKWARD.result_shapes(
        [(2, S, 7), (2, S + 1, 6), (2, 4)]
    )
    assert g == (2, -(-(S + 1) // 32), 7)  # ceil((S + 1) / 32) rows of T + 1


def test_band_result_shapes_and_dtype_operand():
    px, starts, boundary = (4, 3, 7, 5), (4, 3, 7), (4, 3, 4)
    assert _targets.BAND_FORWARD.result_shapes([px, px, starts, boundary]) == [
        (4, 3),
        px,
        (4, 3),
    ]
    assert _targets.BAND_FORWARD_BACKWARD.result_shapes([px, px, starts, boundary]) == [
        (4, 3),
        px,
        px,
        px,
        (4, 3),
    ]
    backward = _targets.BAND_BACKWARD
    assert backward.result_shapes([starts, boundary, px, (4, 3)]) == [px, px]
    # Results take split's dtype: operand 0 (starts) is int32.
    assert backward.operands[backward.dtype_operand] == "split"
    assert all(t.dtype_operand == 0 for t in _targets.TARGETS if t is not backward)


def test_band_windows_fit_the_cuda_kernel():
    """rnnt_loss_pruned takes the band recursion for the windows the CUDA kernel
    accepts: both read the one limit of cc/targets.h / _targets.py."""
    from xla_rnnt import _rnnt

    assert _rnnt._BAND_MAX_S_RANGE == _targets.BAND_MAX_ROWS
    text = (ROOT / "cuda" / "band_recursion_cuda.cu").read_text()
    assert text.count("if (sz.R > kBandMaxRows) return cudaErrorInvalidValue;") == 2


def test_result_shapes_follow_any_batch_axes():
    shapes = _targets.LOGSOFTMAX_GATHER_GRAD.result_shapes(
        [(4, 3, 5, 9), (4, 3, 5), (4, 3, 5), (4, 3, 5), (4, 3, 5)]
    )
    assert shapes == [(4, 3, 5, 9)]
    scores, p = _targets.MI_FORWARD.result_shapes([(2, 3, 4, 6), (2, 3, 5, 5), (2, 3, 4)])
    assert scores == (2, 3) and p == (2, 3, 5, 6)


def test_the_table_drives_a_real_call():
    """The JAX binding built from the table runs the handler (whose own checks
    reject results of the wrong size)."""
    pytest.importorskip("jax")
    from xla_rnnt.jax import _ffi

    rng = np.random.default_rng(0)
    px = rng.standard_normal((2, 40, 9)).astype(np.float32)
    py = rng.standard_normal((2, 41, 8)).astype(np.float32)
    boundary = np.tile(np.array([[0, 0, 40, 8]], np.int32), (2, 1))
    scores, px_grad, py_grad = _ffi.mi_forward_backward(px, py, boundary)
    assert np.all(np.isfinite(np.asarray(scores)))
    assert px_grad.shape == px.shape and py_grad.shape == py.shape
