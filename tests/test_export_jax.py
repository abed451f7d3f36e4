"""jax.export of programs holding our custom calls: EXPORT_TARGETS is the
handler table, export with a symbolic batch, serialise, deserialise, call and
differentiate (vjp_order=1) against the un-exported functions."""

import re

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from jax import export  # noqa: E402

import xla_rnnt.jax as xj  # noqa: E402
from xla_rnnt import _native  # noqa: E402
from xla_rnnt.jax import _ops as jax_ops  # noqa: E402

T, S, V, S_RANGE = 7, 4, 6, 3


def targets_in(exported):
    """The custom-call targets of an exported module, less JAX's own."""
    names = set(re.findall(r"custom_call @(\w+)", exported.mlir_module()))
    return names - {"shape_assertion"}


def pipeline(am, lm, symbols, boundary):
    """README's JAX pipeline with a small joiner."""
    simple, (px_grad, py_grad) = xj.rnnt_loss_simple(
        lm=lm,
        am=am,
        symbols=symbols,
        termination_symbol=0,
        boundary=boundary,
        reduction="sum",
        return_grad=True,
    )
    ranges = xj.get_rnnt_prune_ranges(
        px_grad=px_grad, py_grad=py_grad, boundary=boundary, s_range=S_RANGE
    )
    am_pruned, lm_pruned = xj.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)
    pruned = xj.rnnt_loss_pruned(
        logits=jnp.tanh(am_pruned + lm_pruned),
        symbols=symbols,
        ranges=ranges,
        termination_symbol=0,
        boundary=boundary,
        reduction="sum",
    )
    return 0.5 * simple + pruned


def pipeline_specs():
    (b,) = export.symbolic_shape("b")
    return (
        jax.ShapeDtypeStruct((b, T, V), jnp.float32),
        jax.ShapeDtypeStruct((b, S + 1, V), jnp.float32),
        jax.ShapeDtypeStruct((b, S), jnp.int32),
        jax.ShapeDtypeStruct((b, 4), jnp.int32),
    )


def pipeline_inputs(rng, B):
    am = rng.standard_normal((B, T, V)).astype(np.float32)
    lm = rng.standard_normal((B, S + 1, V)).astype(np.float32)
    symbols = rng.integers(1, V, (B, S)).astype(np.int32)
    boundary = np.stack(
        [np.zeros(B), np.zeros(B), rng.integers(1, S + 1, B), rng.integers(S, T + 1, B)], 1
    ).astype(np.int32)
    return am, lm, symbols, boundary


def round_trip(fn, specs, vjp_order=0):
    exported = export.export(jax.jit(fn), disabled_checks=xj.export_disabled_checks())(*specs)
    return exported, export.deserialize(exported.serialize(vjp_order=vjp_order))


def test_export_targets_are_the_handler_table():
    table = {name for name, _platform, _address in _native.handlers()}
    assert len(xj.EXPORT_TARGETS) == len(set(xj.EXPORT_TARGETS))
    assert set(xj.EXPORT_TARGETS) == table
    checks = xj.export_disabled_checks()
    assert [str(c) for c in checks] == [f"custom_call:{t}" for t in xj.EXPORT_TARGETS]


@pytest.fixture(params=["xla_logsoftmax", "fused_gather"])
def loss_path(request, monkeypatch):
    """The losses trace XLA's log-softmax where the default device is a CPU and
    the fused gather kernel on a GPU: export both programs on any machine."""
    monkeypatch.setattr(jax_ops, "default_device_is_gpu", lambda: request.param == "fused_gather")
    return request.param


def test_pipeline_exports_with_a_symbolic_batch(rng, loss_path):
    exported, restored = round_trip(pipeline, pipeline_specs())
    held = targets_in(exported)
    assert "xla_rnnt_mi_forward_backward" in held
    assert ("xla_rnnt_logsoftmax_gather" in held) == (loss_path == "fused_gather")
    assert held <= set(xj.EXPORT_TARGETS), held - set(xj.EXPORT_TARGETS)
    direct = jax.jit(pipeline)
    for B in (2, 5):
        inputs = pipeline_inputs(rng, B)
        expected = float(direct(*inputs))
        assert np.isfinite(expected)
        np.testing.assert_allclose(float(restored.call(*inputs)), expected, rtol=1e-6)


def test_grad_of_the_deserialised_pipeline(rng, loss_path):
    exported, restored = round_trip(pipeline, pipeline_specs(), vjp_order=1)
    if loss_path == "fused_gather":
        assert "xla_rnnt_logsoftmax_gather_grad" in targets_in(exported.vjp())
    am, lm, symbols, boundary = pipeline_inputs(rng, 3)
    restored_grads = jax.grad(lambda a, l: restored.call(a, l, symbols, boundary), argnums=(0, 1))(
        am, lm
    )
    direct_grads = jax.jit(jax.grad(pipeline, argnums=(0, 1)))(am, lm, symbols, boundary)
    for got, want in zip(restored_grads, direct_grads):
        assert np.abs(np.asarray(want)).max() > 0
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_grad_needs_vjp_order_1(rng):
    _, restored = round_trip(pipeline, pipeline_specs(), vjp_order=0)
    am, lm, symbols, boundary = pipeline_inputs(rng, 2)
    with pytest.raises(ValueError, match="No VJP is available"):
        jax.grad(lambda a: restored.call(a, lm, symbols, boundary))(am)


def test_export_without_the_disabled_checks_names_our_target():
    with pytest.raises(ValueError, match=r"no compatibility guarantees[\s\S]*xla_rnnt_mi_"):
        export.export(jax.jit(pipeline))(*pipeline_specs())


def test_recursion_alone_exports_and_differentiates(rng):
    (b,) = export.symbolic_shape("b")
    specs = (
        jax.ShapeDtypeStruct((b, S, T + 1), jnp.float32),
        jax.ShapeDtypeStruct((b, S + 1, T), jnp.float32),
        jax.ShapeDtypeStruct((b, 4), jnp.int32),
    )

    def total(px, py, boundary):
        return jnp.sum(xj.mutual_information_recursion(px, py, boundary))

    exported, restored = round_trip(total, specs, vjp_order=1)
    assert targets_in(exported) <= set(xj.EXPORT_TARGETS)
    for B in (1, 4):
        px = rng.standard_normal((B, S, T + 1)).astype(np.float32)
        py = rng.standard_normal((B, S + 1, T)).astype(np.float32)
        # s_end >= 1: px takes part, so its gradient is not all zeros.
        boundary = np.stack(
            [np.zeros(B), np.zeros(B), rng.integers(1, S + 1, B), rng.integers(1, T + 1, B)], 1
        ).astype(np.int32)
        np.testing.assert_allclose(
            float(restored.call(px, py, boundary)),
            float(jax.jit(total)(px, py, boundary)),
            rtol=1e-6,
        )
        got = jax.grad(restored.call, argnums=(0, 1))(px, py, boundary)
        want = jax.grad(total, argnums=(0, 1))(px, py, boundary)
        for g, w in zip(got, want):
            assert np.abs(np.asarray(w)).max() > 0
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-6)
