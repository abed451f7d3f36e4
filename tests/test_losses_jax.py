"""xla_rnnt.jax's RNN-T losses against the float64 lattice oracle (reference_rnnt)."""

import functools
import warnings

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import reference_rnnt as ref  # noqa: E402
from conftest import relative_error  # noqa: E402
from inputs_rnnt import (
    box_boundary,
    length_boundary,  # noqa: E402,F401
    simple_inputs,
    sizes,
    symbols_and_blank,
)

import xla_rnnt.jax as xj  # noqa: E402

TYPES = ("regular", "modified", "constrained")


@functools.lru_cache(maxsize=None)
def _jitted(name, static):
    return jax.jit(functools.partial(getattr(xj, name), **dict(static)))


def call(name, *arrays, **kwargs):
    """xj.<name>(*arrays, **kwargs) under jit: Python str/int/float/bool keyword
    values are static, the others (arrays, None) are traced."""
    static = {k: v for k, v in kwargs.items() if isinstance(v, (str, int, float, bool))}
    dynamic = {k: v for k, v in kwargs.items() if k not in static}
    return _jitted(name, tuple(sorted(static.items())))(*arrays, **dynamic)


# ---------------------------------------------------------------------------
# losses vs the oracle


def oracle(variant, args, symbols, blank, boundary, rnnt_type, delay_penalty, scales=None):
    if variant == "simple":
        lps = ref.lps_simple(*args)
    elif variant == "smoothed":
        lps = ref.lps_smoothed(*args, *scales)
    else:
        lps = ref.lps_joint(args[0])
    return ref.loss_from_lps(lps, symbols, blank, boundary, rnnt_type, delay_penalty)


def fast(
    variant,
    args,
    symbols,
    blank,
    boundary,
    rnnt_type,
    delay_penalty,
    reduction="none",
    scales=None,
):
    static = dict(
        termination_symbol=blank,
        rnnt_type=rnnt_type,
        delay_penalty=delay_penalty,
        reduction=reduction,
    )
    if variant == "simple":
        return call("rnnt_loss_simple", *args, symbols, boundary=boundary, **static)
    if variant == "smoothed":
        return call(
            "rnnt_loss_smoothed",
            *args,
            symbols,
            boundary=boundary,
            lm_only_scale=scales[0],
            am_only_scale=scales[1],
            **static,
        )
    return call("rnnt_loss", args[0], symbols, boundary=boundary, **static)


def random_case(rng, variant, **size_kw):
    B, S, T, C = sizes(rng, **size_kw)
    symbols, blank = symbols_and_blank(rng, B, S, C)
    if variant == "joint":
        args = (rng.standard_normal((B, T, S + 1, C)) * 2.0,)
    else:
        args = simple_inputs(rng, B, S, T, C, scale=2.0)
    scales = (float(rng.uniform(0, 0.4)), float(rng.uniform(0, 0.4)))
    if rng.integers(0, 3) == 0:
        scales = (0.0, scales[1])  # fast_rnnt's zero-scale substitution
    return B, S, T, C, symbols, blank, args, scales


@pytest.mark.parametrize("rnnt_type", TYPES)
@pytest.mark.parametrize("variant", ["simple", "smoothed", "joint"])
def test_loss_matches_oracle(rng, variant, rnnt_type):
    B, S, T, C, symbols, blank, args, scales = random_case(rng, variant)
    boundary = [length_boundary(rng, B, S, T, rnnt_type), box_boundary(rng, B, S, T)][
        int(rng.integers(0, 2))
    ]
    delay = float(rng.choice([0.0, rng.uniform(0.1, 1.0)]))
    # boundary=None: test_reductions_..., test_tf_eager_matches_oracle (every variant and type)
    got = fast(variant, args, symbols, blank, boundary, rnnt_type, delay, scales=scales)
    want = oracle(variant, args, symbols, blank, boundary, rnnt_type, delay, scales)
    assert got.shape == (B,) and got.dtype == np.float64
    assert relative_error(got, want) < 1e-10, (got, want)


@pytest.mark.parametrize("rnnt_type", TYPES)
def test_oracle_matches_brute_force(rng, rnnt_type):
    """The oracle's lattice DP and the fast path against alignment enumeration."""
    B, S, T, C = 3, int(rng.integers(0, 4)), int(rng.integers(3, 5)), 4
    symbols, blank = symbols_and_blank(rng, B, S, C)
    logits = rng.standard_normal((B, T, S + 1, C))
    boundary = box_boundary(rng, B, S, T)
    delay = float(rng.uniform(0.1, 1.0))
    lps = ref.lps_joint(logits)
    for bnd in (None, boundary):
        brute = ref.loss_from_lps(lps, symbols, blank, bnd, rnnt_type, delay, brute=True)
        dp = ref.loss_from_lps(lps, symbols, blank, bnd, rnnt_type, delay)
        assert relative_error(dp, brute) < 1e-12
        got = fast("joint", (logits,), symbols, blank, bnd, rnnt_type, delay)
        assert relative_error(got, brute) < 1e-10


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_reductions_and_delay_penalty_without_boundary(rng, reduction):
    rnnt_type = str(rng.choice(TYPES))
    variant = str(rng.choice(["simple", "smoothed", "joint"]))
    B, S, T, C, symbols, blank, args, scales = random_case(rng, variant)
    args = tuple(a.astype(np.float32) for a in args)  # float32 here, float64 elsewhere
    delay = float(rng.uniform(0.1, 1.0))
    got = fast(variant, args, symbols, blank, None, rnnt_type, delay, reduction, scales)
    want = ref.reduce(
        oracle(variant, args, symbols, blank, None, rnnt_type, delay, scales), reduction
    )
    assert np.shape(got) == np.shape(want) and got.dtype == np.float32
    assert relative_error(got, want) < 1e-5
    if reduction == "sum":  # delay_penalty <= 0 does nothing, as in fast_rnnt
        plain = fast(variant, args, symbols, blank, None, rnnt_type, 0.0, reduction, scales)
        negative = fast(variant, args, symbols, blank, None, rnnt_type, -0.5, reduction, scales)
        np.testing.assert_array_equal(plain, negative)
        # The penalty changes the loss unless every alignment's penalties sum
        # to 0: T = 1 ((T-1)/2 - 0 = 0), or S = T for modified/constrained,
        # whose one alignment emits on every frame (sum of (T-1)/2 - t is 0).
        single = rnnt_type != "regular" and S == T
        assert S == 0 or T == 1 or single or plain != got


def test_joint_logprobs_of_additive_logits_equal_simple_logprobs(rng):
    B, S, T, C = sizes(rng)
    symbols, blank = symbols_and_blank(rng, B, S, C)
    lm, am = simple_inputs(rng, B, S, T, C)
    boundary = length_boundary(rng, B, S, T, "modified")

    @jax.jit
    def all_types(lm, am, boundary):
        return [
            (
                xj.get_rnnt_logprobs(lm, am, symbols, blank, rnnt_type, boundary),
                xj.get_rnnt_logprobs_joint(
                    lm[:, None] + am[:, :, None], symbols, blank, boundary, rnnt_type
                ),
            )
            for rnnt_type in TYPES
        ]

    for rnnt_type, (a, b) in zip(TYPES, all_types(lm, am, boundary)):
        for x, y in zip(a, b):
            assert x.shape == y.shape
            assert relative_error(x, y) < 1e-12
        if rnnt_type == "regular":  # no emission on frame t_end
            px = np.asarray(a[0])
            assert px.shape == (B, S, T + 1)
            for row, p in zip(boundary, px):
                assert np.all(p[:, row[3]] == -np.inf) and np.all(p[:, -1] == -np.inf)
        else:
            assert a[0].shape == (B, S, T)


# ---------------------------------------------------------------------------
# gradients


@pytest.mark.parametrize("variant", ["simple", "smoothed", "joint", "pruned"])
def test_gradients_match_finite_differences(rng, variant):
    rnnt_type = str(rng.choice(TYPES))
    B, S, T, C, symbols, blank, args, scales = random_case(
        rng, "simple" if variant == "pruned" else variant
    )
    boundary = length_boundary(rng, B, S, T, rnnt_type)
    delay = float(rng.choice([0.0, 0.3]))
    weights = rng.standard_normal(B)
    static = dict(
        termination_symbol=blank,
        boundary=boundary,
        rnnt_type=rnnt_type,
        delay_penalty=delay,
        reduction="none",
    )
    if variant == "simple":
        f = lambda lm, am: xj.rnnt_loss_simple(lm, am, symbols, **static)  # noqa: E731
    elif variant == "smoothed":
        f = lambda lm, am: xj.rnnt_loss_smoothed(  # noqa: E731
            lm, am, symbols, lm_only_scale=scales[0], am_only_scale=scales[1], **static
        )
    elif variant == "joint":
        f = lambda logits: xj.rnnt_loss(logits, symbols, **static)  # noqa: E731
    else:
        _, (gx, gy) = xj.rnnt_loss_simple(*args, symbols, return_grad=True, **static)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ranges = xj.get_rnnt_prune_ranges(gx, gy, boundary, int(rng.integers(2, S + 3)))

        def f(lm, am):  # a nonlinear "joiner" on the pruned inputs
            a, l = xj.do_rnnt_pruning(am, lm, ranges)
            return xj.rnnt_loss_pruned(jnp.tanh(a + l) * 3.0, symbols, ranges, **static)

    objective = jax.jit(lambda *xs: jnp.sum(weights * f(*xs)))
    grads = jax.jit(jax.grad(objective, argnums=tuple(range(len(args)))))(*args)
    dirs = [rng.standard_normal(np.shape(a)) for a in args]
    eps = 1e-6
    plus = objective(*[a + eps * d for a, d in zip(args, dirs)])
    minus = objective(*[a - eps * d for a, d in zip(args, dirs)])
    numeric = (plus - minus) / (2 * eps)
    analytic = sum(np.sum(np.asarray(g) * d) for g, d in zip(grads, dirs))
    assert np.isfinite(analytic)
    assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic)), (numeric, analytic)


@pytest.mark.parametrize("rnnt_type", TYPES)
def test_return_grad_gives_the_lattice_occupations(rng, rnnt_type):
    B, S, T, C = sizes(rng)
    symbols, blank = symbols_and_blank(rng, B, S, C)
    lm, am = simple_inputs(rng, B, S, T, C)
    boundary = [None, length_boundary(rng, B, S, T, rnnt_type)][int(rng.integers(0, 2))]
    delay = float(rng.choice([0.0, 0.5]))

    @jax.jit
    def run(lm, am, boundary):
        loss, grads = xj.rnnt_loss_simple(
            lm, am, symbols, blank, boundary, rnnt_type, delay, "sum", return_grad=True
        )
        # The recursion on get_rnnt_logprobs' px, py (plus the delay penalty).
        px, py = xj.get_rnnt_logprobs(lm, am, symbols, blank, rnnt_type, boundary)
        if delay > 0:
            t_end = T if boundary is None else boundary[:, 3:4, None]
            px = px + delay * ((t_end - 1) / 2.0 - jnp.arange(px.shape[2]))
        return loss, grads, xj.mutual_information_recursion(px, py, boundary, return_grad=True)

    loss, (gx, gy), (scores, (mx, my)) = run(lm, am, boundary)
    want_x, want_y = ref.occupations_from_lps(
        ref.lps_simple(lm, am), symbols, blank, boundary, rnnt_type, delay
    )
    assert gx.shape == want_x.shape and gy.shape == want_y.shape
    assert relative_error(gx, want_x) < 1e-10 and relative_error(gy, want_y) < 1e-10
    np.testing.assert_allclose(-jnp.sum(scores), loss, rtol=1e-12)
    np.testing.assert_allclose(gx, mx, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gy, my, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------
# pruning


def ranges_are_valid(ranges, S, T, s_range, regular):
    ranges = np.asarray(ranges)
    assert ranges.shape[1:] == (T, s_range) and ranges.dtype == np.int32
    begin = ranges[:, :, 0]
    np.testing.assert_array_equal(ranges, begin[:, :, None] + np.arange(s_range))
    assert np.all(begin >= 0) and np.all(ranges <= S)
    if T:
        assert np.all(begin[:, 0] == 0)
        steps = np.diff(begin, axis=1)
        assert np.all(steps >= 0) and np.all(steps <= (s_range - 1 if regular else 1))


@pytest.mark.parametrize("regular", [True, False])
def test_prune_ranges_match_oracle_and_are_valid(rng, regular):
    for _ in range(2):
        B, S, T, C = sizes(rng, max_b=4, max_s=6, max_t=6)
        px_grad = rng.uniform(0, 1, (B, S, T + 1 if regular else T))
        py_grad = rng.uniform(0, 1, (B, S + 1, T))
        boundary = [None, length_boundary(rng, B, S, T, "modified")][int(rng.integers(0, 2))]
        if boundary is not None:  # zero occupations outside the box: ties
            for b, (_, _, s_end, t_end) in enumerate(boundary):
                px_grad[b, s_end:], py_grad[b, s_end + 1 :] = 0, 0
                px_grad[b, :, t_end:], py_grad[b, :, t_end:] = 0, 0
        s_range = int(rng.integers(1, S + 3))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = call("get_rnnt_prune_ranges", px_grad, py_grad, boundary, s_range=s_range)
        want = ref.prune_ranges(px_grad, py_grad, boundary, s_range)
        np.testing.assert_array_equal(got, want)
        ranges_are_valid(got, S, T, want.shape[2], regular)


def _pipeline(lm, am, logits, symbols, boundary, *, blank, rnnt_type, s_range, delay):
    """simple loss -> ranges -> pruned logits -> pruned loss (one jit)."""
    _, (gx, gy) = xj.rnnt_loss_simple(
        lm, am, symbols, blank, boundary, rnnt_type, return_grad=True
    )
    ranges = xj.get_rnnt_prune_ranges(gx, gy, boundary, s_range)
    pruned = jnp.take_along_axis(logits, ranges[..., None], axis=2)
    loss = xj.rnnt_loss_pruned(pruned, symbols, ranges, blank, boundary, rnnt_type, delay, "none")
    logprobs = xj.get_rnnt_logprobs_pruned(pruned, symbols, ranges, blank, boundary, rnnt_type)
    full = xj.rnnt_loss(logits, symbols, blank, boundary, rnnt_type, delay, "none")
    full_logprobs = xj.get_rnnt_logprobs_joint(logits, symbols, blank, boundary, rnnt_type)
    return ranges, pruned, loss, (logprobs, full, full_logprobs)


def pruned_pipeline(rng, rnnt_type, B, S, T, C, boundary, s_range, delay=0.0, quiet=True):
    symbols, blank = symbols_and_blank(rng, B, S, C)
    lm, am = simple_inputs(rng, B, S, T, C)
    logits = rng.standard_normal((B, T, S + 1, C))  # an arbitrary full joiner output
    fn = jax.jit(
        functools.partial(
            _pipeline, blank=blank, rnnt_type=rnnt_type, s_range=s_range, delay=delay
        )
    )
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        ranges, pruned, loss, logprobs = fn(lm, am, logits, symbols, boundary)
    return symbols, blank, logits, np.asarray(ranges), pruned, loss, logprobs


@pytest.mark.parametrize("rnnt_type", TYPES)
def test_pruned_loss(rng, rnnt_type):
    B, S, T, C = sizes(rng, max_s=5)
    boundary = [None, length_boundary(rng, B, S, T, rnnt_type)][int(rng.integers(0, 2))]
    delay = float(rng.choice([0.0, 0.4]))
    # A window of S + 1 symbols prunes nothing: the pruned loss is the full loss.
    symbols, blank, logits, ranges, _, loss, (_, full, _) = pruned_pipeline(
        rng, rnnt_type, B, S, T, C, boundary, S + 1 + int(rng.integers(0, 2)), delay
    )
    assert ranges.shape == (B, T, S + 1) and np.all(ranges[:, :, 0] == 0)
    assert relative_error(loss, full) < 1e-10
    # Narrower windows: the oracle on the pruned lattice, never below the full loss.
    low = 2 if rnnt_type == "constrained" else 1  # constrained: s_range >= 2
    s_range = int(rng.integers(low, max(S, low) + 1)) if S else 1
    symbols, blank, logits, ranges, pruned, loss, ((px_p, py_p), full, (px_f, py_f)) = (
        pruned_pipeline(rng, rnnt_type, B, S, T, C, boundary, s_range, delay)
    )
    want = ref.loss_from_lps(
        ref.lps_pruned(pruned, ranges, S), symbols, blank, boundary, rnnt_type, delay
    )
    assert relative_error(loss, want) < 1e-10
    assert np.all(np.isfinite(loss))  # s_end <= t_end and s_range widened: all covered
    assert np.all(np.asarray(loss) >= np.asarray(full) - 1e-9)
    # The pruned logprobs match the full ones inside the windows, -inf outside.
    inside = np.zeros((B, S + 1, T), bool)
    for b in range(B):
        for t in range(T):
            inside[b, ranges[b, t], t] = True
    np.testing.assert_allclose(np.where(inside, py_p, 0), np.where(inside, py_f, 0), rtol=1e-12)
    assert np.all(np.asarray(py_p)[~inside] == -np.inf)
    px_inside = inside[:, :S] & inside[:, 1:] if rnnt_type == "constrained" else inside[:, :S]
    px_f, px_p = np.asarray(px_f)[:, :, :T], np.asarray(px_p)[:, :, :T]
    np.testing.assert_allclose(
        np.where(px_inside, px_p, 0), np.where(px_inside, px_f, 0), rtol=1e-12
    )
    assert np.all(px_p[~inside[:, :S]] == -np.inf)


def test_do_rnnt_pruning_gathers(rng):
    B, S, T, C = sizes(rng)
    lm, am = simple_inputs(rng, B, S, T, C)
    R = int(rng.integers(1, S + 2))
    begin = np.stack([np.sort(rng.integers(0, S + 2 - R, T)) for _ in range(B)])
    ranges = begin[:, :, None] + np.arange(R)
    a, l = call("do_rnnt_pruning", am, lm, ranges)
    assert a.shape == l.shape == (B, T, R, C)
    np.testing.assert_array_equal(a, np.broadcast_to(am[:, :, None], (B, T, R, C)))
    np.testing.assert_array_equal(l, lm[np.arange(B)[:, None, None], ranges])


def test_empty_transcripts(rng):
    """S = 0 for the whole batch, and items with s_end = 0 in a ragged batch."""
    B, T, C = 3, int(rng.integers(1, 6)), 4
    symbols, blank = symbols_and_blank(rng, B, 0, C)
    lm, am = simple_inputs(rng, B, 0, T, C)
    logits = rng.standard_normal((B, T, 1, C))

    @jax.jit
    def all_types(lm, am, logits):
        out = []
        for rnnt_type in TYPES:
            simple, (gx, gy) = xj.rnnt_loss_simple(
                lm, am, symbols, blank, None, rnnt_type, reduction="none", return_grad=True
            )
            ranges = xj.get_rnnt_prune_ranges(gx, gy, None, 2)
            pruned = xj.rnnt_loss_pruned(
                logits, symbols, ranges, blank, None, rnnt_type, reduction="none"
            )
            out.append(
                (simple, ranges, pruned, xj.rnnt_loss(logits, symbols, blank, rnnt_type=rnnt_type))
            )
        return out

    blank_simple = ref.log_softmax(lm + am, axis=-1)[:, :, blank].sum(1)  # lm has one row
    blank_joint = ref.log_softmax(logits[:, :, 0], axis=-1)[:, :, blank].sum(1)
    for simple, ranges, pruned, mean in all_types(lm, am, logits):
        assert ranges.shape == (B, T, 1) and not np.any(ranges)
        np.testing.assert_allclose(simple, -blank_simple, rtol=1e-12)
        np.testing.assert_allclose(pruned, -blank_joint, rtol=1e-12)
        np.testing.assert_allclose(mean, -blank_joint.mean(), rtol=1e-12)
    # Ragged: items with s_end = 0 next to others.
    rnnt_type = str(rng.choice(TYPES))
    B, S, T = 4, 3, 5
    boundary = np.array([[0, 0, 0, 5], [0, 0, 3, 5], [0, 0, 0, 2], [0, 0, 0, 0]])
    symbols, blank, logits, ranges, pruned, loss, _ = pruned_pipeline(
        rng, rnnt_type, B, S, T, C, boundary, 2
    )
    lp = ref.log_softmax(logits[:, :, 0], axis=-1)[:, :, blank]
    for b in (0, 2, 3):
        np.testing.assert_allclose(loss[b], -lp[b, : boundary[b, 3]].sum(), rtol=1e-12)
    want = ref.loss_from_lps(
        ref.lps_pruned(pruned, ranges, S), symbols, blank, boundary, rnnt_type
    )
    assert relative_error(loss, want) < 1e-10


def test_s_range_too_small(rng):
    """Static widening from S, T; items that still cannot be covered give +inf
    and zero gradients (never NaN); the other items are unaffected."""
    B, S, T, C = 3, 6, 6, 5
    # Static widening: S = 6 symbols in T = 2 frames need s_range >= 4.
    with pytest.warns(UserWarning, match="using s_range=4"):
        symbols, blank, logits, ranges, _, loss, _ = pruned_pipeline(
            rng, "regular", 2, S, 2, C, None, int(rng.integers(1, 4)), quiet=False
        )
    assert ranges.shape == (2, 2, 4) and np.all(np.isfinite(loss))
    # Item 1 has 6 symbols in 2 frames but the static sizes only ask for s_range 2.
    boundary = np.array([[0, 0, 6, 6], [0, 0, 6, 2], [0, 0, 3, 4]])
    symbols, blank = symbols_and_blank(rng, B, S, C)
    lm, am = simple_inputs(rng, B, S, T, C)

    @jax.jit
    def run(lm, am):
        _, (gx, gy) = xj.rnnt_loss_simple(lm, am, symbols, blank, boundary, return_grad=True)
        ranges = xj.get_rnnt_prune_ranges(gx, gy, boundary, 2)

        def loss_fn(lm, am):
            a, l = xj.do_rnnt_pruning(am, lm, ranges)
            return xj.rnnt_loss_pruned(a + l, symbols, ranges, blank, boundary, reduction="none")

        loss, vjp = jax.vjp(loss_fn, lm, am)
        return ranges, loss, vjp(jnp.array([0.0, 1.0, 0.0])), vjp(jnp.ones(B))

    ranges, loss, grads_1, grads_all = run(lm, am)
    ranges, loss = np.asarray(ranges), np.asarray(loss)
    assert ranges.shape == (B, T, 2)
    ranges_are_valid(ranges, S, T, 2, True)
    assert ranges[1, 1, -1] < 6  # item 1's last frame cannot reach its last symbol
    assert loss[1] == np.inf and np.all(np.isfinite(loss[[0, 2]]))
    pruned = (
        np.take_along_axis(lm[:, None], ranges[..., None].astype(np.int64), axis=2)
        + am[:, :, None]
    )
    want = ref.loss_from_lps(ref.lps_pruned(pruned, ranges, S), symbols, blank, boundary)
    assert relative_error(loss, want) < 1e-10
    assert all(np.all(np.asarray(g) == 0) for g in grads_1)
    for g in grads_all:  # a batch with an +inf item: finite gradients for the others
        assert np.all(np.isfinite(np.asarray(g))) and np.any(np.asarray(g) != 0)


def test_pipeline_under_one_jit_has_finite_gradients(rng):
    B, S, T, C = 2, 4, 6, 5
    symbols, blank = symbols_and_blank(rng, B, S, C)
    lm, am = simple_inputs(rng, B, S, T, C)
    boundary = np.array([[0, 0, 4, 6], [0, 0, 2, 3]])

    @jax.jit
    def train_loss(lm, am):
        simple, (gx, gy) = xj.rnnt_loss_simple(lm, am, symbols, blank, boundary, return_grad=True)
        ranges = xj.get_rnnt_prune_ranges(gx, gy, boundary, 3)
        a, l = xj.do_rnnt_pruning(am, lm, ranges)
        pruned = xj.rnnt_loss_pruned(jnp.tanh(a + l), symbols, ranges, blank, boundary)
        return 0.5 * simple + pruned

    value, grads = jax.value_and_grad(train_loss, argnums=(0, 1))(lm, am)
    assert np.isfinite(value) and all(np.all(np.isfinite(g)) for g in grads)
    assert all(np.any(np.asarray(g) != 0) for g in grads)


# ---------------------------------------------------------------------------
# dtypes and argument checks


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_low_precision_inputs(rng, dtype):
    B, S, T, C = 2, 3, 5, 6
    symbols, blank = symbols_and_blank(rng, B, S, C)
    lm, am = (jnp.asarray(x, dtype) for x in simple_inputs(rng, B, S, T, C))
    logits = jnp.asarray(rng.standard_normal((B, T, S + 1, C)), dtype)

    # A window of all S+1 positions: the pruned loss equals the full one.
    ranges = np.broadcast_to(np.arange(S + 1, dtype=np.int32), (B, T, S + 1))

    def losses(lm, am, logits):
        return (
            xj.rnnt_loss_simple(lm, am, symbols, blank, reduction="none"),
            xj.rnnt_loss(logits, symbols, blank, reduction="none"),
            xj.rnnt_loss_pruned(logits, symbols, ranges, blank, reduction="none"),
        )

    run = jax.jit(
        lambda *xs: (
            losses(*xs),
            jax.grad(lambda *ys: sum(jnp.sum(x) for x in losses(*ys)), argnums=(0, 1, 2))(*xs),
        )
    )
    got, grads = run(lm, am, logits)
    up = lambda x: np.asarray(x.astype(jnp.float32), np.float64)  # noqa: E731
    lm64, am64, logits64 = up(lm), up(am), up(logits)  # the same values, in float64
    joint = oracle("joint", (logits64,), symbols, blank, None, "regular", 0.0)
    want = (oracle("simple", (lm64, am64), symbols, blank, None, "regular", 0.0), joint, joint)
    for g, w in zip(got, want):
        assert g.dtype == jnp.float32
        assert relative_error(g, w) < 1e-5
    assert all(g.dtype == jnp.dtype(dtype) for g in grads)
    assert all(np.all(np.isfinite(np.asarray(g, np.float32))) for g in grads)


def test_argument_errors():
    lm, am = np.zeros((2, 4, 5)), np.zeros((2, 6, 5))
    sym = np.ones((2, 3), np.int32)
    logits = np.zeros((2, 6, 4, 5))
    occ = (np.zeros((2, 3, 7)), np.zeros((2, 4, 6)))
    cases = [
        (lambda: xj.rnnt_loss_simple(lm, am[:, :, :4], sym, 0), ValueError, r"lm .*same C"),
        (
            lambda: xj.rnnt_loss_simple(lm, am[0], sym, 0),
            ValueError,
            r"am must have shape \[B, T, C\]",
        ),
        (
            lambda: xj.rnnt_loss_simple(lm, am, sym[:, :2], 0),
            ValueError,
            r"symbols must have shape \[B, S\] = \[2, 3\]",
        ),
        (
            lambda: xj.rnnt_loss_simple(lm, am, sym.astype(np.float32), 0),
            TypeError,
            "symbols must be an int32 or int64",
        ),
        (
            lambda: xj.rnnt_loss_simple(lm.astype(np.float32), am, sym, 0),
            TypeError,
            "lm and am must have the same dtype",
        ),
        (
            lambda: xj.rnnt_loss_simple(lm, am, sym, 5),
            ValueError,
            r"termination_symbol must be in \[0, 4\]",
        ),
        (
            lambda: xj.rnnt_loss_simple(lm, am, sym, 0, reduction="avg"),
            ValueError,
            "reduction must be one of",
        ),
        (
            lambda: xj.rnnt_loss_simple(lm, am, sym, 0, rnnt_type="ctc"),
            ValueError,
            "rnnt_type must be one of",
        ),
        (
            lambda: xj.rnnt_loss_simple(lm, am, sym, 0, delay_penalty=jnp.array(0.1)),
            TypeError,
            "delay_penalty must be a Python float",
        ),
        (
            lambda: xj.rnnt_loss_simple(lm, am, sym, 0, boundary=np.zeros((2, 3), np.int32)),
            ValueError,
            r"boundary must have shape \[B, 4\]",
        ),
        (
            lambda: xj.rnnt_loss_simple(lm, am[:, :2], sym, 0, rnnt_type="modified"),
            ValueError,
            "needs T >= S",
        ),
        (
            lambda: xj.rnnt_loss_smoothed(lm, am, sym, 0, lm_only_scale="x"),
            TypeError,
            "lm_only_scale",
        ),
        (
            lambda: xj.rnnt_loss(logits[:, :, :3], sym, 0),
            ValueError,
            r"symbols must have shape \[B, S\] = \[2, 2\]",
        ),
        (
            lambda: xj.rnnt_loss(logits[0], sym, 0),
            ValueError,
            r"logits must have shape \[B, T, S\+1, C\]",
        ),
        (
            lambda: xj.rnnt_loss(logits.astype(np.int32), sym, 0),
            TypeError,
            "logits must be a floating-point",
        ),
        (
            lambda: xj.get_rnnt_prune_ranges(occ[0][:, :, :5], occ[1], None, 2),
            ValueError,
            r"px_grad must have shape",
        ),
        (lambda: xj.get_rnnt_prune_ranges(*occ, None, 0), ValueError, r"s_range must be >= 1"),
        (
            lambda: xj.get_rnnt_prune_ranges(*occ, None, 2.0),
            TypeError,
            r"s_range must be a Python int",
        ),
        (
            lambda: xj.do_rnnt_pruning(am, lm, np.zeros((2, 6, 5), np.int32)),
            ValueError,
            r"1 <= s_range <= S\+1 = 4",
        ),
        (
            lambda: xj.do_rnnt_pruning(am, lm, np.zeros((2, 5, 2), np.int32)),
            ValueError,
            r"ranges must have shape \[B, T, s_range\] = \[2, 6, s_range\]",
        ),
        (
            lambda: xj.rnnt_loss_pruned(logits[:, :, :2], sym, np.zeros((2, 6, 3), np.int32), 0),
            ValueError,
            r"ranges must have shape \[B, T, s_range\] = \[2, 6, 2\]",
        ),
        (
            lambda: xj.rnnt_loss_pruned(logits[:, :, :2], sym, np.zeros((2, 6, 2)), 0),
            TypeError,
            "ranges must be an int32 or int64",
        ),
        (
            lambda: xj.rnnt_loss_pruned(logits, sym[:, :2], np.zeros((2, 6, 4), np.int32), 0),
            ValueError,
            r"1 <= s_range <= S\+1 = 3",
        ),
        (
            lambda: xj.rnnt_loss_pruned(
                logits[:, :, :1], sym, np.zeros((2, 6, 1), np.int32), 0, rnnt_type="constrained"
            ),
            ValueError,
            r"'constrained' needs s_range >= 2",
        ),
    ]
    for fn, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            fn()
