"""xla_rnnt.tf.mutual_information_recursion: the oracle, JAX, and TF's modes."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import reference  # noqa: E402
from conftest import random_shape, relative_error  # noqa: E402

import xla_rnnt  # noqa: E402
import xla_rnnt.tf as xt  # noqa: E402

MODES = {
    "eager": lambda fn: fn,
    "function": tf.function,
    "jit_compile": lambda fn: tf.function(fn, jit_compile=True),
}


def scores_and_grads(px, py, boundary, weights):
    with tf.GradientTape() as tape:
        tape.watch([px, py])
        scores = xt.mutual_information_recursion(px, py, boundary)
        loss = tf.reduce_sum(weights * scores)
    return (scores, *tape.gradient(loss, [px, py]))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_matches_reference(rng, mode, modified, dtype, tol):
    fn = MODES[mode](scores_and_grads)
    for ragged in (False, True):
        B, S, T = random_shape(rng)
        px = rng.standard_normal((B, S, T if modified else T + 1)).astype(dtype)
        py = rng.standard_normal((B, S + 1, T)).astype(dtype)
        boundary = reference.random_boundary(rng, B, S, T, modified) if ragged else None
        weights = rng.standard_normal(B).astype(dtype)
        scores, gx, gy = fn(tf.constant(px), tf.constant(py), boundary, tf.constant(weights))
        ref, ref_gx, ref_gy = reference.mutual_information(px, py, boundary)
        w = weights.astype(np.float64)[:, None, None]
        assert scores.dtype == dtype
        assert relative_error(scores, ref) < tol
        assert relative_error(gx, w * ref_gx) < tol
        assert relative_error(gy, w * ref_gy) < tol


def test_agrees_with_jax(rng):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import xla_rnnt.jax as xj

    B, S, T = random_shape(rng)
    px, py = rng.standard_normal((B, S, T + 1)), rng.standard_normal((B, S + 1, T))
    boundary = reference.random_boundary(rng, B, S, T)
    tf_scores, (tf_gx, tf_gy) = xt.mutual_information_recursion(px, py, boundary, return_grad=True)
    jax_scores, (jax_gx, jax_gy) = xj.mutual_information_recursion(
        px, py, boundary, return_grad=True
    )
    np.testing.assert_array_equal(tf_scores, jax_scores)
    np.testing.assert_array_equal(tf_gx, jax_gx)
    np.testing.assert_array_equal(tf_gy, jax_gy)


def test_unknown_batch_traces_once(rng):
    S, T = 3, 5
    traces = []

    @tf.function(
        jit_compile=True,
        input_signature=[
            tf.TensorSpec([None, S, T + 1], tf.float32),
            tf.TensorSpec([None, S + 1, T], tf.float32),
            tf.TensorSpec([None, 4], tf.int64),
        ],
    )
    def fn(px, py, boundary):
        traces.append(1)
        return scores_and_grads(px, py, boundary, tf.ones_like(px[:, 0, 0]))

    for B in (1, 4, 7):
        px = rng.standard_normal((B, S, T + 1)).astype(np.float32)
        py = rng.standard_normal((B, S + 1, T)).astype(np.float32)
        boundary = reference.random_boundary(rng, B, S, T)
        scores, gx, _ = fn(px, py, boundary)
        ref, ref_gx, _ = reference.mutual_information(px, py, boundary)
        assert relative_error(scores, ref) < 1e-5 and relative_error(gx, ref_gx) < 1e-5
    assert len(traces) == 1


def test_return_grad_matches_reference(rng):
    B, S, T = random_shape(rng)
    px, py = rng.standard_normal((B, S, T)), rng.standard_normal((B, S + 1, T))
    scores, (gx, gy) = tf.function(jit_compile=True)(
        lambda a, b: xt.mutual_information_recursion(a, b, return_grad=True)
    )(px, py)
    ref, ref_gx, ref_gy = reference.mutual_information(px, py)
    assert relative_error(scores, ref) < 1e-12
    assert relative_error(gx, ref_gx) < 1e-12 and relative_error(gy, ref_gy) < 1e-12


def test_top_level_names_are_the_tf_functions():
    assert xla_rnnt.mutual_information_recursion is xt.mutual_information_recursion


def test_invalid_boundary_raises(rng):
    px, py = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 4, 4))
    with tf.device("/CPU:0"):  # the CPU's behaviour (GPU: tests/test_gpu_tf.py)
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=r"boundary\[1\] = .* must satisfy"
        ):
            xt.mutual_information_recursion(px, py, [[0, 0, 3, 4], [0, 0, 3, 5]])


def test_int64_boundary_beyond_int32_is_an_error_not_a_wrap(rng):
    px, py = rng.standard_normal((1, 3, 5)), rng.standard_normal((1, 4, 4))
    for xt_or_xj in ("tf", "jax"):
        boundary = np.array([[0, 0, 3, 2**32 + 4]], np.int64)  # wraps to 4 in int32
        if xt_or_xj == "tf":
            with (
                tf.device("/CPU:0"),
                pytest.raises(tf.errors.InvalidArgumentError, match="boundary"),
            ):
                xt.mutual_information_recursion(px, py, boundary)
        else:
            jax = pytest.importorskip("jax")
            jax.config.update("jax_enable_x64", True)
            import xla_rnnt.jax as xj

            with jax.default_device(jax.devices("cpu")[0]):
                with pytest.raises(Exception, match="boundary"):
                    jax.block_until_ready(xj.mutual_information_recursion(px, py, boundary))


def test_shape_errors_at_trace_time():
    with pytest.raises(ValueError, match="py must have shape"):
        xt.mutual_information_recursion(np.zeros((2, 3, 6)), np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="boundary must have shape"):
        xt.mutual_information_recursion(
            np.zeros((2, 3, 6)), np.zeros((2, 4, 5)), np.zeros((2, 3), np.int64)
        )
    with pytest.raises(TypeError, match="same dtype"):
        xt.mutual_information_recursion(np.zeros((2, 3, 6), np.float32), np.zeros((2, 4, 5)))


def test_saved_model_reloads_in_a_fresh_process(tmp_path, rng):
    """Export with an unknown batch size; reload elsewhere after `import xla_rnnt`."""
    S, T = 2, 4

    class Scorer(tf.Module):
        @tf.function(
            jit_compile=True,
            input_signature=[
                tf.TensorSpec([None, S, T + 1], tf.float32),
                tf.TensorSpec([None, S + 1, T], tf.float32),
            ],
        )
        def __call__(self, px, py):
            return xt.mutual_information_recursion(px, py)

    path = str(tmp_path / "scorer")
    tf.saved_model.save(Scorer(), path)
    px = rng.standard_normal((3, S, T + 1)).astype(np.float32)
    py = rng.standard_normal((3, S + 1, T)).astype(np.float32)
    np.save(tmp_path / "px.npy", px)
    np.save(tmp_path / "py.npy", py)
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({path!r})
        px, py = np.load({str(tmp_path / "px.npy")!r}), np.load({str(tmp_path / "py.npy")!r})
        try:
            loaded(px, py)
            print("NO-ERROR-BEFORE-IMPORT")
        except tf.errors.NotFoundError as e:
            assert "No FFI handler registered for xla_rnnt_mi_forward" in str(e), e
        import xla_rnnt.tf  # registers the handlers
        np.save({str(tmp_path / "out.npy")!r}, loaded(px, py).numpy())
        np.save({str(tmp_path / "out1.npy")!r}, loaded(px[:1], py[:1]).numpy())
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    # cwd: not the source tree, whose xla_rnnt/ has no built library in it.
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        cwd=tmp_path,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "NO-ERROR-BEFORE-IMPORT" not in result.stdout
    ref = reference.mutual_information(px, py)[0]
    assert relative_error(np.load(tmp_path / "out.npy"), ref) < 1e-5
    assert relative_error(np.load(tmp_path / "out1.npy"), ref[:1]) < 1e-5
