"""The TF adapter's gathers (take_along_last, gather_batched) carry their own
gradient: equal to TF's gradient of the same tf.gather, eagerly, in
tf.function and under jit_compile, with a batch size unknown at trace time
too, from a graph of a few dozen ops (TF's own gradient of a batched gather
is 120-175, most of the pruned pipeline's gradient trace)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from xla_rnnt.tf import _ops  # noqa: E402

# (function, x shape, index shape, axis); indices repeat within a row.
CASES = [
    ("take_along_last", (2, 3, 4, 7), (2, 3, 4, 1), None),  # the pruned loss's
    ("take_along_last", (2, 5, 7), (2, 5, 6), None),
    ("gather_batched", (2, 4, 7), (2, 5, 3), 1),  # lm [B, S+1, C] by ranges [B, T, R]
    ("gather_batched", (2, 6, 7), (2, 9), 2),  # am [B, T, C] by symbols [B, S]
    ("gather_batched", (2, 3, 6, 7, 2), (2, 4, 5), 3),
]
MODES = ["eager", "function", "jit", "unknown batch", "unknown batch, jit"]


def _tf_gather(name, x, idx, axis):
    rank = len(x.shape)
    if name == "take_along_last":
        return tf.gather(x, idx, axis=rank - 1, batch_dims=rank - 1)
    return tf.gather(x, idx, axis=axis, batch_dims=1)


def _ours(name, x, idx, axis):
    fn = getattr(_ops, name)
    return fn(x, idx) if axis is None else fn(x, idx, axis)


def _value_and_grad(gather, name, axis):
    def run(x, idx):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = gather(name, x, idx, axis)
            # A cotangent that differs per element.
            weights = tf.reshape(tf.sin(tf.range(tf.size(y), dtype=y.dtype)), tf.shape(y))
            total = tf.reduce_sum(y * weights)
        return y, tape.gradient(total, x)

    return run


def _in_mode(run, mode, x_shape, idx_shape):
    if mode == "eager":
        return run
    signature = None
    if mode.startswith("unknown batch"):
        signature = [
            tf.TensorSpec([None, *x_shape[1:]], tf.float32),
            tf.TensorSpec([None, *idx_shape[1:]], tf.int32),
        ]
    return tf.function(run, jit_compile=mode.endswith("jit"), input_signature=signature)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name, x_shape, idx_shape, axis", CASES)
def test_gradient_equals_tfs_own(rng, name, x_shape, idx_shape, axis, mode):
    n = x_shape[-1 if axis is None else axis]
    x = tf.constant(rng.standard_normal(x_shape).astype(np.float32))
    idx = tf.constant(rng.integers(0, n, idx_shape).astype(np.int32))
    ours = _in_mode(_value_and_grad(_ours, name, axis), mode, x_shape, idx_shape)(x, idx)
    theirs = _in_mode(_value_and_grad(_tf_gather, name, axis), mode, x_shape, idx_shape)(x, idx)
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
    # Equal up to the order in which repeated indices are summed.
    np.testing.assert_allclose(ours[1].numpy(), theirs[1].numpy(), rtol=1e-6, atol=1e-6)


def _graph_ops(gather, name, x_shape, idx_shape, axis, batch):
    def run(x, idx):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = gather(name, x, idx, axis)
        return tape.gradient(y, x)

    specs = [
        tf.TensorSpec([batch, *x_shape[1:]], tf.float32),
        tf.TensorSpec([batch, *idx_shape[1:]], tf.int32),
    ]
    return len(tf.function(run).get_concrete_function(*specs).graph.get_operations())


@pytest.mark.parametrize("batch", [2, None])
@pytest.mark.parametrize("name, x_shape, idx_shape, axis", CASES[:4])
def test_gradient_graph_is_small(name, x_shape, idx_shape, axis, batch):
    """Graph ops of one gather and its gradient (trace time grows with them):
    a bound well under what TF's own gradient takes here (119-175)."""
    ours = _graph_ops(_ours, name, x_shape, idx_shape, axis, batch)
    theirs = _graph_ops(_tf_gather, name, x_shape, idx_shape, axis, batch)
    assert ours <= 64 < theirs, (ours, theirs)
