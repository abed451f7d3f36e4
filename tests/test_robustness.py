"""Robustness of the RNN-T losses (TF and JAX): bad values, edge cases, dtypes,
and property-based tests against the float64 oracle (reference_rnnt).

What is defined (see the docstrings in xla_rnnt/_rnnt.py):
- a symbol outside [0, C) inside an item's box (s_begin <= s < s_end) has
  probability 0: the item's loss is +inf with zero gradients; symbols outside
  the box (padding, e.g. -1) are never read;
- boundary rows outside the lattice (too long, negative, s_begin > s_end)
  raise InvalidArgument from the CPU handler, in TF and JAX;
- rows of logits/lm/am that are all -inf (e.g. padding filled with -inf) have
  log-probabilities -inf and zero gradients, never NaN;
- half-precision inputs give float32 losses and gradients in the input dtype.

The hypothesis budgets are fixed (settings(max_examples=...)); each property
test prints how many cases it ran (pytest -s) and asserts a minimum.
"""

import functools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
tf = pytest.importorskip("tensorflow")
import jax.numpy as jnp  # noqa: E402
import non_finite  # noqa: E402
import reference_rnnt as ref  # noqa: E402
from conftest import relative_error  # noqa: E402

import xla_rnnt.jax as xj  # noqa: E402
from xla_rnnt.tf import losses as xt  # noqa: E402

# The float64 oracle warns on the -inf inputs of these tests (log(0), inf - inf).
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

TYPES = ("regular", "modified", "constrained")
VARIANTS = ("simple", "smoothed", "joint", "pruned")
SCALES = (0.1, 0.2)


# ---------------------------------------------------------------------------
# one interface over both frameworks: (losses, gradients w.r.t. the float inputs)


def _call(
    m, variant, arrays, symbols, blank, boundary, ranges, rnnt_type, delay, reduction, scales
):
    kw = dict(rnnt_type=rnnt_type, delay_penalty=delay, reduction=reduction)
    if variant == "simple":
        return m.rnnt_loss_simple(arrays[0], arrays[1], symbols, blank, boundary, **kw)
    if variant == "smoothed":
        return m.rnnt_loss_smoothed(arrays[0], arrays[1], symbols, blank, *scales, boundary, **kw)
    if variant == "joint":
        return m.rnnt_loss(arrays[0], symbols, blank, boundary, **kw)
    return m.rnnt_loss_pruned(arrays[0], symbols, ranges, blank, boundary, **kw)


@functools.lru_cache(maxsize=None)
def _jax_fn(variant, blank, rnnt_type, delay, reduction, scales, has_boundary, has_ranges):
    def fn(arrays, symbols, boundary, ranges, cot):
        f = lambda *a: _call(
            xj,
            variant,
            a,
            symbols,
            blank,
            boundary,
            ranges,  # noqa: E731
            rnnt_type,
            delay,
            reduction,
            scales,
        )
        loss, vjp = jax.vjp(f, *arrays)
        return loss, vjp(jnp.ones_like(loss)), vjp(cot.astype(loss.dtype))

    return jax.jit(fn)


def run_jax(
    variant,
    arrays,
    symbols,
    blank,
    boundary=None,
    ranges=None,
    rnnt_type="regular",
    delay=0.0,
    reduction="none",
    scales=SCALES,
    cot=None,
):
    """(loss, grads of sum(loss), grads of sum(cot * loss)) under jax.jit."""
    B = np.shape(symbols)[0]
    cot = np.zeros(B if reduction == "none" else ()) if cot is None else cot
    fn = _jax_fn(
        variant,
        blank,
        rnnt_type,
        float(delay),
        reduction,
        scales,
        boundary is not None,
        ranges is not None,
    )
    loss, g, g_cot = fn(tuple(arrays), symbols, boundary, ranges, np.asarray(cot))
    return np.asarray(loss), [np.asarray(x) for x in g], [np.asarray(x) for x in g_cot]


@functools.lru_cache(maxsize=None)
def _tf_fn(variant, blank, rnnt_type, delay, reduction, scales, jit_compile):
    def fn(arrays, symbols, boundary, ranges, cot):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(arrays)
            loss = _call(
                xt,
                variant,
                arrays,
                symbols,
                blank,
                boundary,
                ranges,
                rnnt_type,
                delay,
                reduction,
                scales,
            )
        g = tape.gradient(loss, arrays)
        g_cot = tape.gradient(loss, arrays, output_gradients=tf.cast(cot, loss.dtype))
        return loss, g, g_cot

    return fn if jit_compile is None else tf.function(fn, jit_compile=jit_compile)


def run_tf(
    variant,
    arrays,
    symbols,
    blank,
    boundary=None,
    ranges=None,
    rnnt_type="regular",
    delay=0.0,
    reduction="none",
    scales=SCALES,
    cot=None,
    jit_compile=None,
):
    """The same in TF: eagerly (jit_compile None) or in a tf.function."""
    B = np.shape(symbols)[0]
    cot = np.zeros(B if reduction == "none" else ()) if cot is None else cot
    cot = np.asarray(cot, np.float64)  # one dtype: one trace
    fn = _tf_fn(variant, blank, rnnt_type, float(delay), reduction, scales, jit_compile)
    arrays = [tf.constant(a) for a in arrays]
    loss, g, g_cot = fn(arrays, symbols, boundary, ranges, tf.constant(cot))
    return loss.numpy(), [x.numpy() for x in g], [x.numpy() for x in g_cot]


RUNNERS = {"jax": run_jax, "tf": run_tf}


@tf.function(jit_compile=True)
def tf_xla_joint(logits, symbols, boundary):
    """rnnt_loss (reduction "none") and its gradient under XLA, compiled once."""
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = xt.rnnt_loss(logits, symbols, 0, boundary, reduction="none")
    return loss, tape.gradient(loss, logits)


def oracle(
    variant,
    arrays,
    symbols,
    blank,
    boundary=None,
    ranges=None,
    rnnt_type="regular",
    delay=0.0,
    reduction="none",
    scales=SCALES,
):
    arrays = [np.asarray(a, np.float64) for a in arrays]
    S = np.shape(symbols)[1]
    if variant == "simple":
        lps = ref.lps_simple(*arrays)
    elif variant == "smoothed":
        lm, am = arrays
        # am_only is invariant to a shift of each am row: shift by the row
        # maximum, as the reference's plain exp(am) underflows for am ~ -1e4.
        am_max = np.max(am, axis=-1, keepdims=True)
        am = am - np.where(np.isfinite(am_max), am_max, 0.0)
        # The unigram LM averages softmax(lm) over rows; an all -inf row (no
        # probability mass) adds nothing to it (xla_rnnt's definition).
        with np.errstate(invalid="ignore"):
            probs = np.nan_to_num(np.exp(ref.log_softmax(lm, axis=-1)))
        uni = probs.reshape(-1, probs.shape[-1]).mean(axis=0) + np.finfo(np.float64).tiny
        with np.errstate(invalid="ignore"):
            lps = [ref.node_logprobs_smoothed(l, a, uni, *scales) for l, a in zip(lm, am)]
    elif variant == "joint":
        with np.errstate(invalid="ignore"):
            lps = ref.lps_joint(arrays[0])
    else:
        with np.errstate(invalid="ignore"):
            lps = ref.lps_pruned(arrays[0], ranges, S)
    # Rows that are all -inf have log-probabilities -inf (NaN in log_softmax).
    lps = [np.where(np.isnan(lp), -np.inf, lp) for lp in lps]
    return ref.reduce(
        ref.loss_from_lps(lps, symbols, blank, boundary, rnnt_type, delay), reduction
    )


def make_inputs(rng, variant, B, S, T, C, scale=1.0, R=None):
    """Float inputs of `variant` and, for "pruned", valid consecutive ranges."""
    if variant in ("simple", "smoothed"):
        return [
            scale * rng.standard_normal((B, S + 1, C)),
            scale * rng.standard_normal((B, T, C)),
        ], None
    if variant == "joint":
        return [scale * rng.standard_normal((B, T, S + 1, C))], None
    R = S + 1 if R is None else R
    begin = rng.integers(0, S + 2 - R, (B, T))
    begin[:, 0] = 0
    begin = np.sort(begin, axis=1)
    ranges = (begin[:, :, None] + np.arange(R)).astype(np.int32)
    return [scale * rng.standard_normal((B, T, R, C))], ranges


def clean_symbols(rng, B, S, C, blank):
    symbols = rng.integers(0, C - 1, (B, S))
    return (symbols + (symbols >= blank)).astype(np.int64)


def assert_no_nan(grads):
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g, np.float64))), g


def assert_zero(grads):
    for g in grads:
        assert not np.any(np.asarray(g, np.float64)), g


# ---------------------------------------------------------------------------
# value problems. The deterministic tests share one shape (B, S, T, C) = (3, 3,
# 4, 5), blank 0 and a given boundary, so JAX compiles each (variant, type) once.

B0, S0, T0, C0 = 3, 3, 4, 5
FULL = np.array([[0, 0, S0, T0]] * B0, np.int64)
# JAX compiles each configuration (~0.7 s): there, the deterministic tests use
# one rnnt_type per variant (every type appears; TF runs all of them, and the
# property test draws them at random in both frameworks).
JAX_TYPE = {
    "simple": "regular",
    "smoothed": "modified",
    "joint": "constrained",
    "pruned": "modified",
}


def types_for(fw, variant, candidates=TYPES):
    return [t for t in candidates if fw != "jax" or t == JAX_TYPE[variant]]


def pick_type(rng, fw, variant):
    return JAX_TYPE[variant] if fw == "jax" else str(rng.choice(TYPES))


def standard_inputs(rng, variant, scale=1.0, dtype=np.float64):
    arrays, ranges = make_inputs(rng, variant, B0, S0, T0, C0, scale)
    return [a.astype(dtype) for a in arrays], ranges, clean_symbols(rng, B0, S0, C0, 0)


@pytest.mark.parametrize("fw", ["jax", "tf"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_symbols_outside_vocabulary(rng, fw, variant):
    """Before: JAX wrapped negative symbols (a wrong finite loss) and filled
    too large ones, TF eager raised from GatherV2, TF under XLA clamped (a wrong
    finite loss). Now: an item that must emit a symbol outside [0, C) has loss
    +inf and zero gradients; symbols outside the box (padding) are never read."""
    rnnt_type = pick_type(rng, fw, variant)
    arrays, ranges, symbols = standard_inputs(rng, variant)
    boundary = np.array([[1, 0, 2, 4], [0, 0, 3, 4], [0, 0, 1, 3]], np.int64)
    bad = symbols.copy()
    bad[0, 0], bad[0, 2] = -7, -1  # before s_begin = 1 and from s_end = 2 on: not read
    bad[1, 1] = C0  # inside the box: +inf
    bad[2, 1:] = 2**32 + 1  # from s_end = 1 on; would wrap to 1 in int32
    loss, grads, grads_inf = RUNNERS[fw](
        variant, arrays, bad, 0, boundary, ranges, rnnt_type, cot=[0.0, 1.0, 0.0]
    )
    want = oracle(variant, arrays, symbols, 0, boundary, ranges, rnnt_type)
    want[1] = np.inf
    assert relative_error(loss, want) < 1e-10, (loss, want)
    assert_no_nan(grads)
    assert_zero(grads_inf)
    bad[0, 1] = 2**32 + 1  # inside item 0's box: int64 values are checked before the cast
    loss, _, _ = RUNNERS[fw](variant, arrays, bad, 0, boundary, ranges, rnnt_type)
    assert loss[0] == np.inf


def test_bad_values_under_tf_xla(rng):
    """XLA's gather clamps: the symbol mask must act there as well; all -inf
    padding rows give no NaN there either."""
    arrays, ranges, symbols = standard_inputs(rng, "joint")
    symbols[1, 0], symbols[2, 2] = -1, C0 + 3
    arrays[0][2, 3:] = -np.inf  # frames from item 2's t_end on
    boundary = np.array([[0, 0, 3, 4], [0, 0, 3, 4], [0, 0, 2, 3]], np.int64)
    loss, grad = (x.numpy() for x in tf_xla_joint(arrays[0], symbols, boundary))
    want = oracle("joint", arrays, np.where(symbols < 0, 1, symbols), 0, boundary)
    assert loss[1] == np.inf and relative_error(loss[[0, 2]], want[[0, 2]]) < 1e-10
    assert_no_nan([grad])
    assert not np.any(grad[1]) and np.any(grad[0])  # items are independent in rnnt_loss
    assert not np.any(grad[2, 3:])


def test_symbols_outside_vocabulary_logprobs():
    """get_rnnt_logprobs*: the emission rows of bad symbols are -inf."""
    B, S, T, C = 2, 3, 4, 5
    rng = np.random.default_rng(0)
    lm, am = rng.standard_normal((B, S + 1, C)), rng.standard_normal((B, T, C))
    symbols = np.array([[1, 2, 3], [1, -1, 9]])
    joint = jax.jit(lambda x, s: xj.get_rnnt_logprobs_joint(x, s, 0))
    for px, py in (
        xt.get_rnnt_logprobs(lm, am, symbols, 0),
        xt.get_rnnt_logprobs_joint(lm[:, None] + am[:, :, None], symbols, 0),
        xt.get_rnnt_logprobs_smoothed(lm, am, symbols, 0),
        joint(lm[:, None] + am[:, :, None], symbols),
    ):
        px, py = np.asarray(px), np.asarray(py)
        assert np.all(px[1, 1:] == -np.inf) and np.all(np.isfinite(px[:, 0, :T]))
        assert np.all(np.isfinite(px[0, :, :T])) and np.all(np.isfinite(py))


BAD_ROWS = [
    (0, 0, 4, 4),
    (0, 0, 3, 5),
    (0, 0, -1, 4),
    (0, 0, 2, -1),
    (-1, 0, 2, 4),
    (2, 0, 1, 4),
    (0, 3, 2, 2),
]


@pytest.mark.parametrize("row", BAD_ROWS)
def test_bad_boundary_raises_on_cpu(row):
    """Rows outside the lattice reach the recursion's CPU handler, which raises
    InvalidArgument naming the row, in TF (eager, graph, XLA) and JAX (jit and
    its gradient); nothing before it fails or hides the row."""
    rng = np.random.default_rng(1)
    arrays, _, symbols = standard_inputs(rng, "joint")
    boundary = np.array([[0, 0, 3, 4], row, [0, 0, 1, 1]], np.int64)
    msg = r"boundary\[1\] = \(" + ", ".join(str(v) for v in row) + r"\) must satisfy"
    # jaxlib raises the handler's InvalidArgument as JaxRuntimeError or, when
    # the program holds several custom calls (XLA:CPU's thunk executor), as
    # ValueError; either way with the handler's message.
    # The CPU's behaviour: pinned there also where a GPU is the default
    # device (the GPU's, NaN and zero gradients, is tested in test_gpu_*.py).
    with jax.default_device(jax.devices("cpu")[0]):
        with pytest.raises((jax.errors.JaxRuntimeError, ValueError), match=msg):
            run_jax("joint", arrays, symbols, 0, boundary, rnnt_type=JAX_TYPE["joint"])
    with tf.device("/CPU:0"):
        for jit_compile in (None, False):
            with pytest.raises(tf.errors.InvalidArgumentError, match=msg):
                run_tf("joint", arrays, symbols, 0, boundary, jit_compile=jit_compile)
        with pytest.raises(tf.errors.InvalidArgumentError, match=msg):
            tf_xla_joint(arrays[0], symbols, boundary)
        # The pruning pipeline (shared code; TF eagerly): ranges stay within
        # [0, S] and the pruned loss reports the row.
        occupations = (np.full((B0, S0, T0 + 1), 0.1), np.full((B0, S0 + 1, T0), 0.1))
        ranges = xt.get_rnnt_prune_ranges(*occupations, boundary, 2).numpy()
        assert ranges.min() >= 0 and ranges.max() <= S0
        pruned = xt.do_rnnt_pruning(arrays[0][:, :, 0], arrays[0][:, 0], ranges)[1]
        with pytest.raises(tf.errors.InvalidArgumentError, match=msg):
            xt.rnnt_loss_pruned(pruned, symbols, ranges, 0, boundary)


@pytest.mark.parametrize("fw", ["jax", "tf"])
@pytest.mark.parametrize("rnnt_type", ["modified", "constrained"])
def test_more_symbols_than_frames(rng, fw, rnnt_type):
    """s_end > t_end for one-symbol-per-frame types: +inf, zero gradients, the
    other items unaffected."""
    boundary = np.array([[0, 0, 3, 4], [0, 0, 3, 2], [0, 0, 2, 1]])
    for variant in VARIANTS:
        if not types_for(fw, variant, [rnnt_type]):
            continue
        arrays, ranges, symbols = standard_inputs(rng, variant)
        loss, grads, grads_inf = RUNNERS[fw](
            variant, arrays, symbols, 0, boundary, ranges, rnnt_type, cot=[0, 1.0, 1.0]
        )
        want = oracle(variant, arrays, symbols, 0, boundary, ranges, rnnt_type)
        assert np.isfinite(loss[0]) and loss[1] == loss[2] == np.inf
        assert relative_error(loss, want) < 1e-10
        assert_no_nan(grads)
        assert_zero(grads_inf)


@pytest.mark.parametrize("fw", ["jax", "tf"])
def test_termination_symbol_in_transcript(rng, fw):
    """Allowed (as in fast_rnnt): the same class serves as blank and symbol."""
    for variant in VARIANTS:
        rnnt_type = pick_type(rng, fw, variant)
        arrays, ranges, _ = standard_inputs(rng, variant)
        symbols = np.array([[0, 0, 1], [2, 0, 0], [0, 0, 0]])
        loss, grads, _ = RUNNERS[fw](variant, arrays, symbols, 0, FULL, ranges, rnnt_type)
        want = oracle(variant, arrays, symbols, 0, FULL, ranges, rnnt_type)
        assert relative_error(loss, want) < 1e-10
        assert_no_nan(grads)


# ---------------------------------------------------------------------------
# edge cases


@pytest.mark.parametrize("shape", [(1, 0, 1), (1, 3, 3), (3, 2, 1)])
def test_small_sizes_match_oracle(rng, shape):
    """B = 1, S = 0, T = 1 (regular only when S > T). TF eagerly (JAX compiles
    per shape; the property test covers these sizes in JAX)."""
    B, S, T = shape
    C = 3
    for variant in VARIANTS:
        for rnnt_type in TYPES if S <= T else ("regular",):
            arrays, ranges = make_inputs(rng, variant, B, S, T, C, scale=2.0)
            symbols = clean_symbols(rng, B, S, C, 1)
            loss, grads, _ = run_tf(
                variant, arrays, symbols, 1, None, ranges, rnnt_type, delay=0.2
            )
            want = oracle(variant, arrays, symbols, 1, None, ranges, rnnt_type, 0.2)
            assert loss.shape == (B,) and relative_error(loss, want) < 1e-10
            assert_no_nan(grads)


def closed_form(S, T, C, rnnt_type):
    """-log of (number of alignments) * C^-(edges per alignment) for uniform
    node distributions. regular: T blanks and S symbols, the last move a blank;
    modified: T moves, S of them symbols; constrained: as modified, a symbol
    edge also pays a blank (two factors 1/C)."""
    from math import comb, log

    if rnnt_type == "regular":
        return (S + T) * log(C) - log(comb(S + T - 1, S))
    edges = T if rnnt_type == "modified" else T + S
    return edges * log(C) - log(comb(T, S))


@pytest.mark.parametrize("fw", ["jax", "tf"])
def test_all_equal_logits_closed_form(fw):
    symbols = np.array([[1, 2, 3], [3, 3, 1], [4, 1, 2]])
    for variant in VARIANTS:
        arrays, ranges, _ = standard_inputs(np.random.default_rng(0), variant)
        arrays = [np.full(np.shape(a), 0.7) for a in arrays]
        for rnnt_type in types_for(fw, variant):
            loss, grads, _ = RUNNERS[fw](variant, arrays, symbols, 0, FULL, ranges, rnnt_type)
            np.testing.assert_allclose(loss, closed_form(S0, T0, C0, rnnt_type), rtol=1e-12)
            assert_no_nan(grads)


@pytest.mark.parametrize("fw", ["jax", "tf"])
def test_extreme_logits(rng, fw):
    """|inputs| ~ 1e4 and a -1e4 offset: no overflow, finite gradients, float32
    (JAX) and float64 (TF). Joint and pruned: the oracle's value. Simple and
    smoothed at scale 1e4: their normalizer (a matmul of exp(lm - max lm) and
    exp(am - max am), as in fast_rnnt) underflows where lm and am peak at
    different classes, and is clamped: finite, but not the oracle's value."""
    dtype = np.float32 if fw == "jax" else np.float64
    boundary = np.array([[0, 0, 3, 4], [0, 0, 1, 2], [0, 0, 2, 4]])
    for variant in ("smoothed", "joint") if fw == "jax" else VARIANTS:
        rnnt_type = pick_type(rng, fw, variant)
        arrays, ranges, symbols = standard_inputs(rng, variant)
        for name, arr in (
            ("scale", [1e4 * a for a in arrays]),
            ("offset", [a - 1e4 for a in arrays]),
        ):
            arr = [a.astype(dtype) for a in arr]
            loss, grads, _ = RUNNERS[fw](variant, arr, symbols, 0, boundary, ranges, rnnt_type)
            assert np.all(np.isfinite(loss))
            assert_no_nan(grads)
            if name == "offset" or variant in ("joint", "pruned"):
                want = oracle(variant, arr, symbols, 0, boundary, ranges, rnnt_type)
                # float32 inputs of magnitude 1e4 carry absolute errors ~1e-3.
                tol = 1e-10 if dtype == np.float64 else (1e-5 if name == "scale" else 1e-3)
                assert relative_error(loss, want) < tol, (variant, name, loss, want)


@pytest.mark.parametrize("fw", ["jax", "tf"])
def test_negative_infinity_inputs(rng, fw):
    """-inf entries (masked classes) and rows that are all -inf (padding outside
    the box, or a dead node inside it): the loss of the oracle, gradients never
    NaN (before: NaN gradients for all -inf rows, NaN smoothed loss for an all
    -inf lm row)."""
    boundary = np.array([[0, 0, 3, 4], [0, 0, 2, 3], [0, 0, 1, 4]])
    symbols = np.array([[1, 2, 3], [2, 1, 4], [3, 4, 4]])
    for variant in VARIANTS:
        rnnt_type = pick_type(rng, fw, variant)
        arrays, ranges, _ = standard_inputs(rng, variant)
        for a in arrays:
            a[..., 4] = -np.inf  # class 4 is masked: items 1 and 2 never need it
        if variant in ("simple", "smoothed"):
            arrays[0][1, 3:] = -np.inf  # lm rows past s_end = 2
            arrays[1][1, 3:] = -np.inf  # am frames from t_end = 3 on
            arrays[1][2, 1] = -np.inf  # a dead frame inside item 2's box: no alignment
        else:
            arrays[0][1, 3:] = -np.inf  # frames from t_end on
            arrays[0][2, 1, :1] = -np.inf  # node(s) of frame 1 of item 2: a detour
        loss, grads, _ = RUNNERS[fw](variant, arrays, symbols, 0, boundary, ranges, rnnt_type)
        want = oracle(variant, arrays, symbols, 0, boundary, ranges, rnnt_type)
        assert relative_error(loss, want) < 1e-10, (variant, loss, want)
        assert_no_nan(grads)
        assert not np.any(grads[0][1, 3:])  # the padding gets zero gradient
        if variant in ("simple", "smoothed"):
            assert loss[2] == np.inf and not np.any(grads[1][1, 3:])


@pytest.mark.parametrize("fw", ["jax", "tf"])
def test_zero_lengths(rng, fw):
    """t_end = 0: loss 0 with s_end = 0, +inf otherwise; zero gradients both ways."""
    boundary = np.array([[0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 2, 3]])
    for variant in VARIANTS:
        for rnnt_type in types_for(fw, variant):
            arrays, ranges, symbols = standard_inputs(rng, variant)
            loss, grads, g01 = RUNNERS[fw](
                variant, arrays, symbols, 0, boundary, ranges, rnnt_type, cot=[1.0, 1.0, 0.0]
            )
            assert loss[0] == 0 and loss[1] == np.inf and np.isfinite(loss[2])
            want = oracle(variant, arrays, symbols, 0, boundary, ranges, rnnt_type)
            assert relative_error(loss, want) < 1e-10
            assert_no_nan(grads)
            assert_zero(g01)


# ---------------------------------------------------------------------------
# dtypes


@pytest.mark.parametrize("fw", ["jax", "tf"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_dtypes(rng, fw, dtype):
    """Losses float32 for half precision (else the input dtype), gradients in
    the input dtype, values as the oracle on the rounded inputs. (JAX: simple
    and joint in half precision are in test_losses_jax.)"""
    half = dtype != "float64"
    if fw == "jax" and half:  # one variant each: the compiles are slow
        variants = ("smoothed",) if dtype == "float16" else ("pruned",)
    else:
        variants = VARIANTS
    for variant in variants:
        arrays, ranges, symbols = standard_inputs(rng, variant)
        rounded = [np.asarray(jnp.asarray(a, dtype).astype(jnp.float64)) for a in arrays]
        if fw == "jax":
            typed = [jnp.asarray(a, dtype) for a in arrays]
            fn = _jax_fn(
                variant, 0, JAX_TYPE[variant], 0.0, "none", SCALES, True, ranges is not None
            )
            loss, grads, _ = fn(tuple(typed), symbols, FULL, ranges, np.zeros(B0))
        else:
            typed = [tf.constant(a, getattr(tf, dtype)) for a in arrays]
            with tf.GradientTape() as tape:
                tape.watch(typed)
                loss = _call(
                    xt,
                    variant,
                    typed,
                    symbols,
                    0,
                    FULL,
                    ranges,
                    JAX_TYPE[variant],
                    0.0,
                    "none",
                    SCALES,
                )
            grads = tape.gradient(loss, typed)
        assert loss.dtype.name == ("float32" if half else "float64")
        assert [g.dtype.name for g in grads] == [dtype] * len(arrays)
        want = oracle(variant, rounded, symbols, 0, FULL, ranges, JAX_TYPE[variant])
        assert relative_error(np.asarray(loss), want) < (1e-5 if half else 1e-12)
        assert_no_nan(
            [
                np.asarray(jnp.asarray(np.asarray(g)).astype(jnp.float32))
                if fw == "jax"
                else tf.cast(g, tf.float32).numpy()
                for g in grads
            ]
        )


# ---------------------------------------------------------------------------
# property-based: random shapes, boundaries, types, reductions and losses


@st.composite
def cases(draw):
    variant = draw(st.sampled_from(VARIANTS))
    rnnt_type = draw(st.sampled_from(TYPES))
    reduction = draw(st.sampled_from(["none", "mean", "sum"]))
    B = draw(st.integers(1, 3))
    S = draw(st.integers(0, 3))
    T = draw(st.integers(1, 4))
    C = draw(st.integers(2, 4))
    if rnnt_type != "regular" and T < S:
        T = S  # without a boundary T >= S is a trace-time requirement
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    low = 2 if rnnt_type != "modified" and S else 1  # s_range 1 cannot emit
    R = draw(st.integers(low, S + 1)) if variant == "pruned" else None
    scale = draw(st.sampled_from([0.5, 3.0, 30.0]))
    arrays, ranges = make_inputs(rng, variant, B, S, T, C, scale, R)
    blank = draw(st.integers(0, C - 1))
    symbols = rng.integers(0, C, (B, S)).astype(np.int64)  # may equal the blank
    boundary = None
    kind = draw(st.sampled_from(["none", "lengths", "box"]))
    if kind != "none":
        rows = []
        for _ in range(B):
            t0 = 0 if kind == "lengths" else int(rng.integers(0, T + 1))
            s0 = 0 if kind == "lengths" else int(rng.integers(0, S + 1))
            t1 = int(rng.integers(t0, T + 1))
            s1 = int(rng.integers(s0, S + 1))  # may exceed t1 - t0: +inf for some types
            rows.append((s0, t0, s1, t1))
        boundary = np.array(rows, np.int64)
        if draw(st.booleans()):  # pad outside the boxes: bad symbols, -inf scores
            for b, (s0, t0, s1, t1) in enumerate(rows):
                symbols[b, :s0] = -1
                symbols[b, s1:] = C + 2
                if variant in ("simple", "smoothed"):
                    arrays[1][b, t1:] = -np.inf
                    arrays[1][b, :t0] = -np.inf
                else:
                    arrays[0][b, t1:] = -np.inf
                    arrays[0][b, :t0] = -np.inf
    delay = draw(st.sampled_from([0.0, 0.0, 0.5]))
    scales = draw(st.sampled_from([SCALES, (0.0, 0.3), (0.25, 0.0)]))
    return dict(
        variant=variant,
        arrays=arrays,
        symbols=symbols,
        blank=blank,
        boundary=boundary,
        ranges=ranges,
        rnnt_type=rnnt_type,
        delay=delay,
        reduction=reduction,
        scales=scales,
    )


def _check_case(runner, case):
    c = dict(case)
    arrays = c.pop("arrays")
    variant = c.pop("variant")
    want = oracle(variant, arrays, **c)
    B = len(c["symbols"])
    per_item = oracle(variant, arrays, **dict(c, reduction="none"))
    cot = np.isinf(per_item).astype(np.float64) if c["reduction"] == "none" else None
    loss, grads, grads_inf = runner(variant, arrays, cot=cot, **c)
    assert np.shape(loss) == np.shape(want)
    # relative_error checks that the same entries are finite; near-zero losses
    # (a dominant path of probability ~1) need an absolute tolerance.
    relative_error(loss, want)
    finite = np.isfinite(want)
    np.testing.assert_allclose(
        np.asarray(loss)[finite], np.asarray(want)[finite], rtol=1e-9, atol=1e-9
    )
    assert_no_nan(grads)
    if cot is not None:  # the items without alignment contribute zero gradients
        assert_zero(grads_inf)
    assert B >= 1


# JAX compiles every new shape and configuration (~0.6 s), TF eager does not.
EXAMPLES = {"jax": 6, "tf": 20}


@pytest.mark.parametrize("fw", ["jax", "tf"])
def test_losses_match_oracle_property(fw):
    count = [0]

    @settings(
        max_examples=EXAMPLES[fw],
        deadline=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(cases())
    def check(case):
        count[0] += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _check_case(RUNNERS[fw], case)

    check()
    print(f"hypothesis: {count[0]} {fw} cases")
    assert count[0] >= EXAMPLES[fw] // 2


@pytest.mark.parametrize("fw", ["jax", "tf"])
@pytest.mark.parametrize("modified", [False, True])
def test_non_finite_recursion_inputs_on_cpu(rng, fw, modified):
    """+inf/NaN px or py inside a box: non-finite score, zero gradients, the
    other items untouched (tests/non_finite.py; the GPU's in test_gpu_*.py)."""
    B, S, T = int(rng.integers(3, 7)), int(rng.integers(0, 6)), int(rng.integers(6, 12))
    px, py, boundary, bad = non_finite.inputs(rng, B, S, T, modified, np.float32)
    if fw == "jax":

        def total(a, b):
            scores = xj.mutual_information_recursion(a, b, boundary)
            return jnp.sum(scores), scores

        with jax.default_device(jax.devices("cpu")[0]):
            (_, scores), grads = jax.jit(jax.value_and_grad(total, (0, 1), has_aux=True))(px, py)
    else:
        with tf.device("/CPU:0"):
            a, b = tf.constant(px), tf.constant(py)
            with tf.GradientTape() as tape:
                tape.watch([a, b])
                scores = xt.mutual_information_recursion(a, b, boundary)
                total = tf.reduce_sum(scores)
            grads = tape.gradient(total, [a, b])
    non_finite.check(scores, *grads, bad, px, py, boundary)
