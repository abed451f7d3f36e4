"""The StableHLO that the TF binding hands to XlaCallModule, for every target,
with a static and with an unknown batch size, against golden files in
tests/golden/ (XLA_RNNT_UPDATE_GOLDEN=1 rewrites them; review the diff). Each
module must also serialise to the portable form the bridge ships."""

import os
import pathlib

import pytest

tf = pytest.importorskip("tensorflow")

from xla_rnnt import _targets  # noqa: E402
from xla_rnnt.tf import _ffi, _xla_module  # noqa: E402

GOLDEN = pathlib.Path(__file__).parent / "golden"
S, T, C, R = 3, 5, 7, 2


def _lattice(B, dtype=tf.float32):
    return [
        tf.TensorSpec([B, S, T + 1], dtype),
        tf.TensorSpec([B, S + 1, T], dtype),
        tf.TensorSpec([B, 4], tf.int32),
    ]


def _band(B, dtype=tf.float32):
    return [
        tf.TensorSpec([B, T, R], dtype),
        tf.TensorSpec([B, T, R], dtype),
        tf.TensorSpec([B, T], tf.int32),
        tf.TensorSpec([B, 4], tf.int32),
    ]


def _gather(B, extra=()):
    return [tf.TensorSpec([B, T, R, C], tf.float32), tf.TensorSpec([B, T, R], tf.int32)] + [
        tf.TensorSpec([B, T, R], tf.float32)
    ] * len(extra)


# target name -> (binding call, operand specs for a batch size B); the bool
# attributes (the gather targets' hat, the band targets' modified) are false in
# one and true in another, so both of their spellings are pinned; the band
# backward's results take operand 2's dtype (float64 here), not operand 0's.
CALLS = {
    "xla_rnnt_mi_forward": (_ffi.mi_forward, _lattice),
    "xla_rnnt_mi_forward_backward": (_ffi.mi_forward_backward, _lattice),
    "xla_rnnt_mi_backward": (
        _ffi.mi_backward,
        lambda B: _lattice(B) + [tf.TensorSpec([B, S + 1, T + 1])],
    ),
    "xla_rnnt_band_forward": (
        lambda px, py, starts, boundary: _ffi.band_forward(px, py, starts, boundary, S, False),
        _band,
    ),
    "xla_rnnt_band_forward_backward": (
        lambda px, py, starts, boundary: _ffi.band_forward_backward(
            px, py, starts, boundary, S, True
        ),
        _band,
    ),
    "xla_rnnt_band_backward": (
        lambda starts, boundary, split, final_split: _ffi.band_backward(
            starts, boundary, split, final_split, S, False
        ),
        lambda B: [
            tf.TensorSpec([B, T], tf.int32),
            tf.TensorSpec([B, 4], tf.int32),
            tf.TensorSpec([B, T, R], tf.float64),
            tf.TensorSpec([B], tf.float64),
        ],
    ),
    "xla_rnnt_logsoftmax_gather": (
        lambda logits, symbols: _ffi.logsoftmax_gather(logits, symbols, 2, False),
        _gather,
    ),
    "xla_rnnt_logsoftmax_gather_grad": (
        lambda logits, symbols, norm, gx, gy: _ffi.logsoftmax_gather_grad(
            logits, symbols, norm, gx, gy, 2, True
        ),
        lambda B: _gather(B, extra=(0, 1, 2)),
    ),
    "xla_rnnt_gather_rows_grad": (
        _ffi.gather_rows_grad,
        lambda B: [
            tf.TensorSpec([B, S + 1, C], tf.float32),
            tf.TensorSpec([B, T, R], tf.int32),
            tf.TensorSpec([B, T, R, C], tf.float32),
        ],
    ),
    "xla_rnnt_gather_symbols_grad": (
        _ffi.gather_symbols_grad,
        lambda B: [
            tf.TensorSpec([B, T, C], tf.float32),
            tf.TensorSpec([B, S], tf.int32),
            tf.TensorSpec([B, S, T], tf.float32),
        ],
    ),
}


def _emitted(call, specs, monkeypatch):
    """The module texts of the XlaCallModule ops a trace of call(*specs) holds."""
    monkeypatch.setattr(_xla_module, "_serialize", lambda text: text)
    _xla_module._serialized.cache_clear()
    graph = tf.function(call, input_signature=specs).get_concrete_function().graph
    _xla_module._serialized.cache_clear()
    return [
        op.get_attr("module").decode()
        for op in graph.get_operations()
        if op.type == "XlaCallModule"
    ]


def test_every_target_is_covered():
    assert sorted(CALLS) == sorted(t.name for t in _targets.TARGETS)


@pytest.mark.parametrize("batch", [3, None], ids=["static", "unknown"])
@pytest.mark.parametrize("target", sorted(CALLS))
def test_emitted_module_matches_golden(target, batch, monkeypatch):
    call, specs = CALLS[target]
    (text,) = _emitted(call, specs(batch), monkeypatch)
    assert f"stablehlo.custom_call @{target}(" in text
    path = GOLDEN / f"{target}_{'static' if batch else 'unknown'}_batch.mlir"
    if os.environ.get("XLA_RNNT_UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{path.name} differs; rerun with XLA_RNNT_UPDATE_GOLDEN=1"
    if _xla_module._stablehlo is not None:  # what the bridge ships must build
        assert _xla_module._serialize(text)


def test_batch_check_module_matches_golden():
    text = _xla_module.batch_check_text(
        ("lm", "am"), (((None, S + 1, C), tf.float32), ((None, T, C), tf.float32))
    )
    path = GOLDEN / "batch_check.mlir"
    if os.environ.get("XLA_RNNT_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()
    if _xla_module._stablehlo is not None:
        assert _xla_module._serialize(text)
