"""What TF users meet in their graphs: batch sizes unknown at trace time are
checked at run time with errors naming both arguments (known ones at trace
time); AutoGraph leaves our code alone; the simple loss's dots carry their own
precision (so TF's global TensorFloat-32 setting cannot lower it)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tensorflow.compiler.xla import xla_data_pb2  # noqa: E402
from tensorflow.python.autograph.core import ag_ctx  # noqa: E402

import xla_rnnt  # noqa: E402
from xla_rnnt import _rnnt  # noqa: E402
from xla_rnnt.tf import losses as xt  # noqa: E402

T, S, V, R = 5, 3, 6, 2


def _spec(shape, dtype=tf.float32):
    return tf.TensorSpec([None, *shape], dtype)


# name -> (function of the arrays, [(argument name, per-item shape, dtype)])
CASES = {
    "rnnt_loss_simple": (
        lambda lm, am, symbols, boundary: xt.rnnt_loss_simple(lm, am, symbols, 0, boundary),
        [
            ("lm", (S + 1, V), tf.float32),
            ("am", (T, V), tf.float32),
            ("symbols", (S,), tf.int32),
            ("boundary", (4,), tf.int32),
        ],
    ),
    "rnnt_loss_smoothed": (
        lambda lm, am, symbols: xt.rnnt_loss_smoothed(lm, am, symbols, 0),
        [("lm", (S + 1, V), tf.float32), ("am", (T, V), tf.float32), ("symbols", (S,), tf.int32)],
    ),
    "rnnt_loss": (
        lambda logits, symbols, boundary: xt.rnnt_loss(logits, symbols, 0, boundary),
        [
            ("logits", (T, S + 1, V), tf.float32),
            ("symbols", (S,), tf.int32),
            ("boundary", (4,), tf.int32),
        ],
    ),
    "get_rnnt_prune_ranges": (
        lambda px_grad, py_grad, boundary: xt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, R),
        [
            ("px_grad", (S, T + 1), tf.float32),
            ("py_grad", (S + 1, T), tf.float32),
            ("boundary", (4,), tf.int32),
        ],
    ),
    "do_rnnt_pruning": (
        lambda am, lm, ranges: xt.do_rnnt_pruning(am, lm, ranges),
        [("am", (T, V), tf.float32), ("lm", (S + 1, V), tf.float32), ("ranges", (T, R), tf.int32)],
    ),
    "rnnt_loss_pruned": (
        lambda logits, symbols, ranges, boundary: xt.rnnt_loss_pruned(
            logits, symbols, ranges, 0, boundary
        ),
        [
            ("logits", (T, R, V), tf.float32),
            ("symbols", (S,), tf.int32),
            ("ranges", (T, R), tf.int32),
            ("boundary", (4,), tf.int32),
        ],
    ),
}


def _value(rng, name, shape, dtype, B):
    if name == "boundary":
        return np.tile(np.array([[0, 0, S, T]], np.int32), (B, 1))
    if name == "ranges":
        return np.tile(np.arange(R, dtype=np.int32), (B, T, 1))
    if dtype == tf.int32:
        return rng.integers(1, V, (B, *shape)).astype(np.int32)
    return rng.standard_normal((B, *shape)).astype(np.float32)


@pytest.mark.parametrize("jit_compile", [True, False])
@pytest.mark.parametrize("case", sorted(CASES))
def test_unknown_batch_sizes_that_differ_fail_naming_both_arguments(rng, case, jit_compile):
    fn, args = CASES[case]
    traced = tf.function(
        fn,
        jit_compile=jit_compile,
        input_signature=[_spec(shape, dtype) for _, shape, dtype in args],
    )
    values = [_value(rng, name, shape, dtype, 2) for name, shape, dtype in args]
    traced(*values)  # equal batch sizes run
    first = args[0][0]
    for i, (name, shape, dtype) in enumerate(args[1:], 1):
        bad = list(values)
        bad[i] = _value(rng, name, shape, dtype, 3)
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=f"{name} has batch size 3 but {first} has batch size 2",
        ):
            traced(*bad)


@pytest.mark.parametrize("case", sorted(CASES))
def test_known_batch_sizes_that_differ_fail_at_trace_time(rng, case):
    fn, args = CASES[case]
    values = [_value(rng, name, shape, dtype, 2) for name, shape, dtype in args]
    values[-1] = _value(rng, args[-1][0], args[-1][1], args[-1][2], 3)
    with pytest.raises(ValueError) as error:
        fn(*values)
    last, first = args[-1][0], args[0][0]
    assert f"{last} has batch size 3 but {first} has 2" in str(
        error.value
    ) or f"{last} must have shape [B, 4] = [2, 4] (B of {first}), got [3, 4]" in str(
        error.value
    ), str(error.value)


def test_autograph_does_not_convert_our_code(rng, monkeypatch):
    """Inside a tf.function, AutoGraph is disabled from our entry points on (it
    would convert ~80 functions with nothing to convert, costing seconds per
    trace); the user's own code around them is still converted."""
    statuses = []
    original = _rnnt._simple_parts

    def spy(*args, **kwargs):
        statuses.append(ag_ctx.control_status_ctx().status)
        return original(*args, **kwargs)

    monkeypatch.setattr(_rnnt, "_simple_parts", spy)
    lm, am = rng.standard_normal((2, S + 1, V)), rng.standard_normal((2, T, V))
    symbols = rng.integers(1, V, (2, S))

    @tf.function
    def user_code(lm, am):
        total = tf.constant(0.0, tf.float64)
        for _ in tf.range(2):  # converted by AutoGraph: a tf.while_loop
            total += xla_rnnt.rnnt_loss_simple(lm=lm, am=am, symbols=symbols, termination_symbol=0)
        return total

    user_code(lm, am)
    assert statuses and all(s == ag_ctx.Status.DISABLED for s in statuses), statuses


def test_simple_loss_dots_carry_highest_precision(rng):
    lm, am = rng.standard_normal((2, S + 1, V)), rng.standard_normal((2, T, V))
    symbols = rng.integers(1, V, (2, S)).astype(np.int32)

    @tf.function
    def loss_and_grads(lm, am):
        with tf.GradientTape() as tape:
            tape.watch([lm, am])
            loss = xt.rnnt_loss_simple(lm, am, symbols, 0)
        return loss, tape.gradient(loss, [lm, am])

    graph = loss_and_grads.get_concrete_function(tf.constant(lm), tf.constant(am)).graph
    nodes = [
        n
        for f in [graph.as_graph_def(), *graph.as_graph_def().library.function]
        for n in (f.node if hasattr(f, "node") else f.node_def)
    ]
    ops = [n.op for n in nodes]
    assert "BatchMatMulV2" not in ops and "MatMul" not in ops, sorted(set(ops))
    dots = [n for n in nodes if n.op == "XlaDotV2"]
    # forward and one per input backward (am's symbol gather's backward is the
    # custom call cc/gather_symbols_grad.h, no product)
    assert len(dots) == 3, sorted(set(ops))
    for node in dots:
        config = xla_data_pb2.PrecisionConfig.FromString(node.attr["precision_config"].s)
        assert list(config.operand_precision) == [xla_data_pb2.PrecisionConfig.HIGHEST] * 2
    # The user's setting is left as it was.
    assert tf.config.experimental.tensor_float_32_execution_enabled()


def test_s_range_warning_points_at_the_callers_line(rng):
    """The widened-s_range warning names the user's file, not a frame of
    xla_rnnt or of TF's do_not_convert wrapper."""
    px_grad, py_grad = rng.random((2, 6, 3)), rng.random((2, 7, 2))  # S=6, T=2
    with pytest.warns(UserWarning, match="using s_range=4") as caught:
        xt.get_rnnt_prune_ranges(px_grad, py_grad, None, 2)
    assert caught[0].filename == __file__, caught[0].filename
