"""xla_rnnt.jax.mutual_information_recursion against the float64 oracle."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import reference  # noqa: E402
from conftest import random_shape, relative_error  # noqa: E402

import xla_rnnt.jax as xj  # noqa: E402


def random_inputs(rng, B, S, T, modified, dtype=np.float64, scale=1.0):
    px = scale * rng.standard_normal((B, S, T if modified else T + 1))
    py = scale * rng.standard_normal((B, S + 1, T))
    return px.astype(dtype), py.astype(dtype)


def scores_and_grads(px, py, boundary, weights):
    """Scores, and the gradient of sum(weights * scores) by autodiff."""

    def loss(a, b):
        scores = xj.mutual_information_recursion(a, b, boundary)
        return jnp.sum(weights * scores), scores

    (_, scores), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(px, py)
    return scores, grads


@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("ragged", [False, True])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_matches_reference(rng, modified, ragged, dtype, tol):
    for _ in range(3):
        B, S, T = random_shape(rng)
        px, py = random_inputs(rng, B, S, T, modified, dtype)
        boundary = reference.random_boundary(rng, B, S, T, modified) if ragged else None
        weights = rng.standard_normal(B)
        scores, (gx, gy) = scores_and_grads(px, py, boundary, weights)
        ref, ref_gx, ref_gy = reference.mutual_information(px, py, boundary)
        assert scores.dtype == dtype
        assert relative_error(scores, ref) < tol
        assert relative_error(gx, weights[:, None, None] * ref_gx) < tol
        assert relative_error(gy, weights[:, None, None] * ref_gy) < tol


@pytest.mark.parametrize("modified", [False, True])
def test_matches_brute_force(rng, modified):
    B, S, T = 3, int(rng.integers(0, 4)), int(rng.integers(1, 5))
    px, py = random_inputs(rng, B, S, T, modified)
    boundary = reference.random_boundary(rng, B, S, T, modified)
    for b in (None, boundary):
        got = xj.mutual_information_recursion(px, py, b)
        assert relative_error(got, reference.brute_force_scores(px, py, b)) < 1e-12


@pytest.mark.parametrize("modified", [False, True])
def test_gradient_matches_finite_differences(rng, modified):
    B, S, T = 2, int(rng.integers(1, 4)), int(rng.integers(2, 5))
    px, py = random_inputs(rng, B, S, T, modified)
    boundary = reference.random_boundary(rng, B, S, T, modified) if modified else None
    weights = rng.standard_normal(B)
    f = lambda a, b: float(
        np.sum(
            weights
            * np.asarray(  # noqa: E731
                xj.mutual_information_recursion(a, b, boundary)
            )
        )
    )
    _, (gx, gy) = scores_and_grads(px, py, boundary, weights)
    dx, dy = rng.standard_normal(px.shape), rng.standard_normal(py.shape)
    eps = 1e-6
    numeric = (f(px + eps * dx, py + eps * dy) - f(px - eps * dx, py - eps * dy)) / (2 * eps)
    analytic = np.sum(np.asarray(gx) * dx) + np.sum(np.asarray(gy) * dy)
    assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic))


def test_return_grad_gives_occupations_and_stays_differentiable(rng):
    B, S, T = random_shape(rng, min_t=1)
    px, py = random_inputs(rng, B, S, T, modified=False)
    boundary = reference.random_boundary(rng, B, S, T)
    scores, (px_grad, py_grad) = xj.mutual_information_recursion(
        px, py, boundary, return_grad=True
    )
    ref, ref_gx, ref_gy = reference.mutual_information(px, py, boundary)
    assert relative_error(scores, ref) < 1e-12
    assert relative_error(px_grad, ref_gx) < 1e-12
    assert relative_error(py_grad, ref_gy) < 1e-12
    g = jax.grad(
        lambda a: jnp.sum(xj.mutual_information_recursion(a, py, boundary, return_grad=True)[0])
    )(px)
    assert relative_error(g, ref_gx) < 1e-12


def test_vmap_matches_loop(rng):
    N, (B, S, T) = 3, random_shape(rng)
    px = rng.standard_normal((N, B, S, T + 1))
    py = rng.standard_normal((N, B, S + 1, T))
    boundary = np.stack([reference.random_boundary(rng, B, S, T) for _ in range(N)])
    fn = jax.vmap(xj.mutual_information_recursion)
    got = fn(px, py, boundary)
    for n in range(N):
        assert (
            relative_error(got[n], reference.mutual_information(px[n], py[n], boundary[n])[0])
            < 1e-12
        )
    # vmap of grad, and a vmapped operand next to an unbatched one.
    grads = jax.vmap(
        jax.grad(lambda a, b: jnp.sum(xj.mutual_information_recursion(a, b))), in_axes=(0, None)
    )(px, py[0])
    for n in range(N):
        assert relative_error(grads[n], reference.mutual_information(px[n], py[0])[1]) < 1e-12


def test_empty_transcripts_and_zero_frames(rng):
    # S = 0: the only path is all blanks.
    px, py = random_inputs(rng, 2, 0, 4, modified=False)
    scores, (gx, gy) = scores_and_grads(px, py, None, np.ones(2))
    np.testing.assert_allclose(scores, py[:, 0, :].sum(-1), rtol=1e-12)
    np.testing.assert_allclose(gy, np.ones_like(py))
    assert gx.shape == (2, 0, 5)
    # T = 0: regular lattices emit all symbols at frame 0; modified ones cannot.
    px, py = random_inputs(rng, 2, 3, 0, modified=False)
    np.testing.assert_allclose(xj.mutual_information_recursion(px, py), px[:, :, 0].sum(-1))
    px, py = random_inputs(rng, 2, 3, 0, modified=True)
    scores, (gx, gy) = scores_and_grads(px, py, None, np.ones(2))
    assert np.all(scores == -np.inf) and gx.shape == (2, 3, 0) and gy.shape == (2, 4, 0)
    # S = T = 0 with a boundary: score 0.
    np.testing.assert_array_equal(
        xj.mutual_information_recursion(*random_inputs(rng, 1, 0, 0, modified=False)), [0.0]
    )


def test_impossible_alignment_gives_minus_inf_and_zero_gradients(rng):
    B, S, T = 2, 4, 2  # modified: 4 symbols cannot fit in 2 frames
    px, py = random_inputs(rng, B, S, T, modified=True)
    scores, (gx, gy) = scores_and_grads(px, py, None, np.ones(B))
    assert np.all(np.isneginf(scores))
    assert np.all(np.asarray(gx) == 0) and np.all(np.asarray(gy) == 0)


def test_minus_inf_inputs_do_not_produce_nan(rng):
    B, S, T = 3, 3, 5
    px, py = random_inputs(rng, B, S, T, modified=False)
    px[:, 1, :] = -np.inf  # symbol 1 can never be emitted
    scores, (gx, gy) = scores_and_grads(px, py, None, np.ones(B))
    assert np.all(np.isneginf(scores))
    assert not np.isnan(np.asarray(gx)).any() and not np.isnan(np.asarray(gy)).any()
    px[:, 1, :] = 0.0
    py[:, 2, 1] = -np.inf  # one blocked edge: still finite, zero gradient there
    scores, (gx, gy) = scores_and_grads(px, py, None, np.ones(B))
    ref, ref_gx, ref_gy = reference.mutual_information(px, py)
    assert relative_error(scores, ref) < 1e-12
    assert relative_error(gy, ref_gy) < 1e-12 and np.all(np.asarray(gy)[:, 2, 1] == 0)


def test_half_precision_inputs_compute_in_float32(rng):
    B, S, T = 2, 3, 4
    px, py = random_inputs(rng, B, S, T, modified=False)
    for dtype in (jnp.float16, jnp.bfloat16):
        a, b = jnp.asarray(px, dtype), jnp.asarray(py, dtype)
        scores = xj.mutual_information_recursion(a, b)
        assert scores.dtype == jnp.float32
        ref = reference.mutual_information(np.asarray(a, np.float64), np.asarray(b, np.float64))[0]
        assert relative_error(scores, ref) < 1e-5
        g = jax.grad(lambda u: jnp.sum(xj.mutual_information_recursion(u, b)))(a)
        assert g.dtype == dtype


def test_invalid_boundary_values_raise_on_cpu(rng):
    px, py = random_inputs(rng, 2, 3, 4, modified=False)
    for row in ([0, 0, 4, 4], [0, 0, 3, 5], [2, 0, 1, 4], [-1, 0, 3, 4]):
        boundary = np.array([[0, 0, 3, 4], row])
        with jax.default_device(jax.devices("cpu")[0]):
            with pytest.raises(Exception, match=r"boundary\[1\] = .* must satisfy"):
                jax.block_until_ready(xj.mutual_information_recursion(px, py, boundary))


@pytest.mark.parametrize(
    "px_shape,py_shape,boundary_shape,message",
    [
        ((2, 3), (2, 4, 5), None, "px must have shape"),
        ((2, 3, 6), (2, 3, 5), None, "py must have shape"),
        ((2, 3, 7), (2, 4, 5), None, "px must have shape"),
        ((2, 3, 6), (3, 4, 5), None, "py must have shape"),
        ((2, 3, 6), (2, 4, 5), (2, 3), "boundary must have shape"),
        ((2, 3, 6), (2, 4, 5), (3, 4), "boundary must have shape"),
    ],
)
def test_shape_errors_name_the_argument(px_shape, py_shape, boundary_shape, message):
    boundary = None if boundary_shape is None else np.zeros(boundary_shape, np.int64)
    with pytest.raises(ValueError, match=message):
        xj.mutual_information_recursion(np.zeros(px_shape), np.zeros(py_shape), boundary)


def test_handler_dtype_errors_name_both_dtypes():
    """A direct call of the lattice target (no trace-time checks in front) is
    refused with the dtypes it got and the one expected."""
    B, S, T = 2, 3, 4
    boundary = np.tile(np.array([0, 0, S, T], np.int32), (B, 1))

    def call(px, py, result_dtype=np.float32):
        results = [
            jax.ShapeDtypeStruct((B,), result_dtype),
            jax.ShapeDtypeStruct((B, S + 1, T + 1), np.float32),
        ]
        return jax.block_until_ready(
            jax.ffi.ffi_call("xla_rnnt_mi_forward", results)(px, py, boundary)
        )

    px, py = np.zeros((B, S, T + 1), np.float32), np.zeros((B, S + 1, T), np.float32)
    call(px, py)  # the well-formed call runs
    with pytest.raises(Exception, match=r"py must have the dtype of px \(float32\), got float64"):
        call(px, py.astype(np.float64))
    with pytest.raises(Exception, match="px must be float32 or float64, got float16"):
        call(px.astype(np.float16), py.astype(np.float16))
    with pytest.raises(
        Exception, match=r"result scores must have the dtype of px \(float32\), got float64"
    ):
        call(px, py, result_dtype=np.float64)


def test_dtype_errors():
    with pytest.raises(TypeError, match="same dtype"):
        xj.mutual_information_recursion(np.zeros((1, 1, 2), np.float32), np.zeros((1, 2, 1)))
    with pytest.raises(TypeError, match="px must be a floating-point"):
        xj.mutual_information_recursion(
            np.zeros((1, 1, 2), np.int32), np.zeros((1, 2, 1), np.int32)
        )
    with pytest.raises(TypeError, match="boundary must be an int32 or int64"):
        xj.mutual_information_recursion(
            np.zeros((1, 1, 2)), np.zeros((1, 2, 1)), np.zeros((1, 4), np.float32)
        )
