"""The loss options of issue #16 against the float64 NumPy oracle
(reference_rnnt), in TF (jit_compile) and JAX (jit) alike; each framework's
part skips when it is missing:

* use_hat_loss (k2): HAT node log-probabilities, through XLA's ops (CPUs) and
  through the fused gather kernel's hat variant (GPUs; forced here on any
  machine), which must also agree with each other;
* fused_log_softmax=False (torchaudio): logits taken as log-probabilities;
* fastemit_lambda (torchaudio/NeMo): value unchanged, gradient = finite
  differences of the modified objective (emission arcs x (1 + lambda));
* clamp (torchaudio): each item's gradient clipped, then scaled by the
  reduction;

with and without boundary, pruned == full when the windows cover the lattice,
TF == JAX."""

import importlib

import numpy as np
import pytest
import reference_rnnt as ref
from inputs_rnnt import any_boundary, loss_case, pruning_inputs, sizes, symbols_and_blank

FRAMEWORKS = ("jax", "tf")
TYPES = ("regular", "modified", "constrained")
SCALES = (0.2, 0.1)


def _module(framework):
    if framework == "jax":
        jax = pytest.importorskip("jax")
        jax.config.update("jax_enable_x64", True)
        import xla_rnnt.jax as xj

        return xj
    pytest.importorskip("tensorflow")
    import xla_rnnt.tf as xt

    return xt


def _force_gather(monkeypatch, framework, gather):
    """Makes the losses of `framework` take the fused log-softmax gather
    (gather "fused", as where the default device is a GPU) or XLA's ops
    ("xla", as on CPUs) on any machine; returns the list that collects the
    hat flag of every call of the fused gather."""
    _module(framework)
    ops = importlib.import_module(f"xla_rnnt.{framework}._ops")
    original, calls = ops.logsoftmax_gather, []
    monkeypatch.setattr(ops, "default_device_is_gpu", lambda: gather == "fused")
    monkeypatch.setattr(ops, "logsoftmax_gather", lambda *a: calls.append(a[3]) or original(*a))
    return calls


def _with_blank_at(rng, case, blank_at):
    """case with the blank at class 0 ("first", k2's) or at another class
    ("other"), and symbols redrawn around it."""
    C = case["arrays"][0].shape[-1]
    blank = 0 if blank_at == "first" else int(rng.integers(1, C))
    symbols = rng.integers(0, C - 1, case["symbols"].shape)
    return dict(case, symbols=(symbols + (symbols >= blank)).astype(np.int64), blank=blank)


def run(framework, fn, arrays, mask=None, weights=None):
    """(values, gradients of sum(where(mask, values, 0) * weights)) of fn(m,
    *arrays) under jax.jit / tf.function(jit_compile=True), as NumPy."""
    m = _module(framework)
    values_shape_known = weights is not None
    if framework == "jax":
        import jax
        import jax.numpy as jnp

        def total(*xs):
            v = fn(m, *xs)
            t = jnp.sum(jnp.where(mask, v, 0.0) * weights) if values_shape_known else jnp.sum(v)
            return t, v

        grad = jax.value_and_grad(total, argnums=tuple(range(len(arrays))), has_aux=True)
        (_, values), grads = jax.jit(grad)(*[jnp.asarray(a) for a in arrays])
        return np.asarray(values), [np.asarray(g) for g in grads]
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def f(*xs):
        with tf.GradientTape() as tape:
            tape.watch(xs)
            v = fn(m, *xs)
            if values_shape_known:
                t = tf.reduce_sum(tf.where(mask, v, tf.zeros_like(v)) * weights)
            else:
                t = tf.reduce_sum(v)
        return v, tape.gradient(t, xs)

    values, grads = f(*[tf.constant(a) for a in arrays])
    return values.numpy(), [g.numpy() for g in grads]


# ---------------------------------------------------------------------------
# random cases


def _loss(variant, case, rnnt_type, reduction="none", **options):
    """fn(m, *arrays) calling the loss of `variant` with the options."""
    kw = dict(rnnt_type=rnnt_type, reduction=reduction, **options)
    sy, blank, bnd, ranges = case["symbols"], case["blank"], case["boundary"], case["ranges"]

    def fn(m, *xs):
        if variant == "simple":
            return m.rnnt_loss_simple(*xs, sy, blank, bnd, **kw)
        if variant == "smoothed":
            return m.rnnt_loss_smoothed(*xs, sy, blank, *SCALES, bnd, **kw)
        if variant == "joint":
            return m.rnnt_loss(xs[0], sy, blank, bnd, **kw)
        return m.rnnt_loss_pruned(xs[0], sy, ranges, blank, bnd, **kw)

    return fn


def _lps(variant, case, arrays, kind="softmax"):
    S = case["symbols"].shape[1]
    if variant == "simple":
        return ref.lps_simple(*arrays)
    if variant == "smoothed":
        return ref.lps_smoothed(*arrays, *SCALES)
    if variant == "joint":
        return ref.lps_joint(arrays[0], kind, case["blank"])
    return ref.lps_pruned(arrays[0], case["ranges"], S, kind, case["blank"])


def _oracle(variant, case, arrays, rnnt_type, delay, kind="softmax", emit=None):
    lps = _lps(variant, case, arrays, kind)
    emit_lps = None
    if emit is not None:  # (base arrays, lambda): FastEmit's objective
        base, lam = emit
        emit_lps = ref.fastemit_emission_lps(lps, _lps(variant, case, base, kind), lam)
    return ref.loss_from_lps(
        lps, case["symbols"], case["blank"], case["boundary"], rnnt_type, delay, emit_lps=emit_lps
    )


def _check_against_oracle(rng, framework, variant, case, rnnt_type, delay, kind, lam, **options):
    arrays = case["arrays"]
    want = _oracle(variant, case, arrays, rnnt_type, delay, kind)
    mask = np.isfinite(want)
    weights = np.where(mask, rng.standard_normal(want.shape), 0.0)
    fn = _loss(variant, case, rnnt_type, delay_penalty=delay, fastemit_lambda=lam, **options)
    got, grads = run(framework, fn, arrays, mask, weights)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(np.isfinite(got), mask)
    np.testing.assert_allclose(got[mask], want[mask], rtol=1e-10, atol=1e-10)
    emit = (arrays, lam) if lam > 0 else None
    i = int(rng.integers(0, len(arrays)))
    flat = arrays[i].reshape(-1)
    for k in rng.choice(flat.size, size=min(6, flat.size), replace=False):
        step, moved = 1e-6, [a.copy() for a in arrays]
        moved[i].reshape(-1)[k] += step
        up = _oracle(variant, case, moved, rnnt_type, delay, kind, emit)
        moved[i].reshape(-1)[k] -= 2 * step
        down = _oracle(variant, case, moved, rnnt_type, delay, kind, emit)
        with np.errstate(invalid="ignore"):  # inf - inf of the items without alignment
            fd = np.sum(np.where(mask, (up - down) / (2 * step), 0.0) * weights)
        assert abs(grads[i].reshape(-1)[k] - fd) <= 1e-5 * max(1.0, abs(fd)), (k, fd)
    return got, grads


# ---------------------------------------------------------------------------
# HAT and log-probability inputs


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("rnnt_type", TYPES)
@pytest.mark.parametrize("variant", ["joint", "pruned"])
@pytest.mark.parametrize("kind", ["hat", "given"])
def test_hat_and_logprob_inputs_match_the_oracle(rng, framework, variant, rnnt_type, kind):
    case = loss_case(rng, variant, rnnt_type)
    delay = float(rng.choice([0.0, 0.5]))
    options = {"hat": dict(use_hat_loss=True), "given": dict(fused_log_softmax=False)}[kind]
    _check_against_oracle(rng, framework, variant, case, rnnt_type, delay, kind, 0.0, **options)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("variant", ["joint", "pruned"])
@pytest.mark.parametrize("rnnt_type", TYPES)
@pytest.mark.parametrize("blank_at", ["first", "other"])
def test_hat_through_the_fused_kernel(rng, monkeypatch, framework, variant, rnnt_type, blank_at):
    """use_hat_loss where the fused gather is used (GPUs): values and
    gradients equal to the XLA-op path's, and to the oracle's (gradient by
    finite differences)."""
    case = _with_blank_at(rng, loss_case(rng, variant, rnnt_type), blank_at)
    delay = float(rng.choice([0.0, 0.5]))
    fn = _loss(variant, case, rnnt_type, delay_penalty=delay, use_hat_loss=True)
    calls = _force_gather(monkeypatch, framework, "xla")
    values, _ = run(framework, fn, case["arrays"])
    mask = np.isfinite(values)
    weights = np.where(mask, rng.standard_normal(values.shape), 0.0)
    xla_values, xla_grads = run(framework, fn, case["arrays"], mask, weights)
    assert calls == []
    calls = _force_gather(monkeypatch, framework, "fused")
    fused_values, fused_grads = run(framework, fn, case["arrays"], mask, weights)
    assert calls == [True], calls
    np.testing.assert_allclose(fused_values, xla_values, rtol=1e-12)
    np.testing.assert_allclose(fused_grads[0], xla_grads[0], rtol=1e-10, atol=1e-13)
    _check_against_oracle(
        rng, framework, variant, case, rnnt_type, delay, "hat", 0.0, use_hat_loss=True
    )


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("kind", ["hat", "given"])
@pytest.mark.parametrize("gather", ["xla", "fused"])
def test_logprobs_functions_match_the_oracle(rng, monkeypatch, framework, kind, gather):
    """get_rnnt_logprobs_joint/_pruned: px[b, s, t] = lp[t, s, symbols[b, s]],
    py[b, s, t] = lp[t, s, blank]; a symbol equal to the blank under HAT gets
    the blank's log-probability. gather "fused": where the fused gather is
    used (GPUs), which log-probabilities given as such never reach."""
    m = _module(framework)
    calls = _force_gather(monkeypatch, framework, gather)
    B, S, T, C = 2, 3, 4, 5
    logits = rng.standard_normal((B, T, S + 1, C))
    symbols, blank = symbols_and_blank(rng, B, S, C)
    symbols[0, 1] = blank
    options = {"hat": dict(use_hat_loss=True), "given": dict(fused_log_softmax=False)}[kind]
    ranges = np.broadcast_to(np.arange(S + 1, dtype=np.int32), (B, T, S + 1)).copy()
    for px, py in (
        m.get_rnnt_logprobs_joint(logits, symbols, blank, rnnt_type="modified", **options),
        m.get_rnnt_logprobs_pruned(logits, symbols, ranges, blank, None, "modified", **options),
    ):
        lps = ref.lps_joint(logits, kind, blank)
        for b in range(B):
            want_px = np.stack([lps[b][:, s, symbols[b, s]] for s in range(S)])
            np.testing.assert_allclose(np.asarray(px)[b], want_px, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(
                np.asarray(py)[b], lps[b][:, :, blank].T, rtol=1e-12, atol=1e-12
            )
    assert calls == ([True, True] if gather == "fused" and kind == "hat" else [])


# ---------------------------------------------------------------------------
# FastEmit


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("rnnt_type", TYPES)
@pytest.mark.parametrize("variant", ["simple", "smoothed", "joint", "pruned"])
def test_fastemit_value_and_gradient(rng, framework, variant, rnnt_type):
    case = loss_case(rng, variant, rnnt_type)
    delay = float(rng.choice([0.0, 0.5]))
    lam = float(rng.choice([0.01, 0.5, 2.0]))
    kind, options = "softmax", {}
    if variant in ("joint", "pruned") and rng.integers(0, 2):
        kind, options = "hat", dict(use_hat_loss=True)
    got, grads = _check_against_oracle(
        rng, framework, variant, case, rnnt_type, delay, kind, lam, **options
    )
    # The value is that of lambda = 0: px + lambda * (px - stop_gradient(px))
    # is px exactly, but the two programs are compiled apart, and XLA may fuse
    # the rest of the graph differently (seen: 1 ulp of a float64 loss).
    plain = _loss(variant, case, rnnt_type, delay_penalty=delay, **options)
    base, base_grads = run(framework, plain, case["arrays"])
    np.testing.assert_allclose(got, base, rtol=1e-14, atol=0)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_fastemit_scales_the_emission_gradient_only(rng, framework):
    """The gradient of the FastEmit loss minus the plain one is lambda times
    the emission part alone, -lambda * sum_(s,t) occ_px[s, t] * d lp[t, s,
    y_s] / d logits (occupations from the oracle); the blank part cancels."""
    B, S, T, C = 2, 3, 4, 5
    logits = rng.standard_normal((B, T, S + 1, C))
    symbols, blank = symbols_and_blank(rng, B, S, C)
    lam = 0.7
    occ_px, _ = ref.occupations_from_lps(ref.lps_joint(logits), symbols, blank)
    g = run(framework, _loss("joint", _simple_case(symbols, blank), "regular"), (logits,))[1][0]
    g_fe = run(
        framework,
        _loss("joint", _simple_case(symbols, blank), "regular", fastemit_lambda=lam),
        (logits,),
    )[1][0]
    lps = ref.lps_joint(logits)
    emission_part = np.zeros_like(logits)
    for b in range(B):
        probs = np.exp(lps[b])  # [T, S+1, C]
        for s in range(S):
            for t in range(T):
                d = -probs[t, s].copy()
                d[symbols[b, s]] += 1.0  # d log p(y_s) / d logits
                emission_part[b, t, s] -= occ_px[b, s, t] * d
    np.testing.assert_allclose(g_fe - g, lam * emission_part, rtol=1e-9, atol=1e-12)


def _simple_case(symbols, blank):
    return dict(symbols=symbols, blank=blank, boundary=None, ranges=None)


# ---------------------------------------------------------------------------
# clamp


def _item_gradient(variant, case, rnnt_type, kind):
    """d loss_b / d logits[b] of the oracle, every entry by central differences."""
    logits = case["arrays"][0]
    out = np.zeros_like(logits)
    flat, step = out.reshape(-1), 1e-6
    for k in range(logits.size):
        up, down = logits.copy(), logits.copy()
        up.reshape(-1)[k] += step
        down.reshape(-1)[k] -= step
        b = np.unravel_index(k, logits.shape)[0]
        d = _oracle(variant, case, (up,), rnnt_type, 0.0, kind)[b]
        d -= _oracle(variant, case, (down,), rnnt_type, 0.0, kind)[b]
        flat[k] = d / (2 * step)
    return out


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("variant", ["joint", "pruned"])
def test_clamp_clips_each_items_gradient(rng, framework, variant, reduction):
    B, S, T, C = 2, 2, 3, 4
    symbols, blank = symbols_and_blank(rng, B, S, C)
    boundary = [None, np.array([[0, 0, 2, 3], [0, 0, 1, 2]], np.int64)][int(rng.integers(0, 2))]
    if variant == "joint":
        logits, ranges = 2.0 * rng.standard_normal((B, T, S + 1, C)), None
    else:  # windows of 2 that reach every item's end (finite losses)
        logits = 2.0 * rng.standard_normal((B, T, 2, C))
        ranges = (np.array([0, 1, 1])[None, :, None] + np.arange(2)).astype(np.int32)
        ranges = np.broadcast_to(ranges, (B, T, 2)).copy()
    case = dict(symbols=symbols, blank=blank, boundary=boundary, ranges=ranges, arrays=(logits,))
    kind, options = ("hat", dict(use_hat_loss=True)) if rng.integers(0, 2) else ("softmax", {})
    J = _item_gradient(variant, case, "regular", kind)
    clamp = float(np.median(np.abs(J[J != 0])))
    weight = 1.0 / B if reduction == "mean" else 1.0
    want = ref.clamped_gradient(J, clamp, weight)
    assert np.any(np.abs(J) > clamp)  # the clip does act
    fn = _loss(variant, case, "regular", reduction=reduction, clamp=clamp, **options)
    value, (grad,) = run(framework, fn, (logits,))
    np.testing.assert_allclose(grad, want, rtol=1e-6, atol=1e-8)
    plain, _ = run(
        framework, _loss(variant, case, "regular", reduction=reduction, **options), (logits,)
    )
    np.testing.assert_array_equal(value, plain)  # the value is unchanged


def test_clamp_with_a_batch_unknown_at_trace_time(rng):
    """TF: reduction "mean" divides the bound by a run-time batch size."""
    tf = pytest.importorskip("tensorflow")
    import xla_rnnt.tf as xt

    B, S, T, C = 3, 2, 3, 4
    logits = 2.0 * rng.standard_normal((B, T, S + 1, C))
    symbols, blank = symbols_and_blank(rng, B, S, C)

    def grad(x, sy):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = xt.rnnt_loss(x, sy, blank, clamp=0.05)
        return tape.gradient(loss, x)

    spec = (
        tf.TensorSpec([None, T, S + 1, C], tf.float64),
        tf.TensorSpec([None, S], tf.int64),
    )
    dynamic = tf.function(grad, input_signature=spec, jit_compile=True)
    static = tf.function(grad, jit_compile=True)
    got = dynamic(tf.constant(logits), tf.constant(symbols)).numpy()
    want = static(tf.constant(logits), tf.constant(symbols)).numpy()
    np.testing.assert_array_equal(got, want)
    assert np.abs(got).max() <= 0.05 / B + 1e-12


# ---------------------------------------------------------------------------
# pruned == full, TF == JAX, -inf rows, argument checks

OPTION_SETS = [
    dict(use_hat_loss=True),
    dict(fused_log_softmax=False),
    dict(fastemit_lambda=0.5),
    dict(clamp=0.02),
    dict(use_hat_loss=True, fastemit_lambda=0.3, clamp=0.05),
]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("rnnt_type", TYPES)
@pytest.mark.parametrize("options", OPTION_SETS, ids=str)
def test_pruned_equals_full_when_the_windows_cover_the_lattice(rng, framework, rnnt_type, options):
    B, S, T, C = sizes(rng)
    S = max(S, 1)
    T = max(T, S)
    symbols, blank = symbols_and_blank(rng, B, S, C)
    logits = 2.0 * rng.standard_normal((B, T, S + 1, C))
    ranges = np.broadcast_to(np.arange(S + 1, dtype=np.int32), (B, T, S + 1)).copy()
    boundary = any_boundary(rng, B, S, T, rnnt_type)
    case = dict(symbols=symbols, blank=blank, boundary=boundary, ranges=ranges, arrays=(logits,))
    full = run(framework, _loss("joint", case, rnnt_type, reduction="sum", **options), (logits,))
    pruned = run(
        framework, _loss("pruned", case, rnnt_type, reduction="sum", **options), (logits,)
    )
    np.testing.assert_allclose(pruned[0], full[0], rtol=1e-12)
    np.testing.assert_allclose(pruned[1][0], full[1][0], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("variant", ["simple", "smoothed", "joint", "pruned"])
@pytest.mark.parametrize("options", OPTION_SETS, ids=str)
def test_tf_equals_jax(rng, variant, options):
    if variant in ("simple", "smoothed"):
        options = {k: v for k, v in options.items() if k == "fastemit_lambda"}
    rnnt_type = str(rng.choice(TYPES))
    case = loss_case(rng, variant, rnnt_type)
    fn = _loss(variant, case, rnnt_type, reduction="mean", **options)
    values_j, grads_j = run("jax", fn, case["arrays"])
    values_t, grads_t = run("tf", fn, case["arrays"])
    np.testing.assert_allclose(values_t, values_j, rtol=1e-12)
    for gt, gj in zip(grads_t, grads_j):
        np.testing.assert_allclose(gt, gj, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("variant", ["joint", "pruned"])
@pytest.mark.parametrize("gather", ["xla", "fused"])
def test_all_minus_inf_rows_give_zero_gradients(rng, monkeypatch, framework, variant, gather):
    _force_gather(monkeypatch, framework, gather)
    B, S, T, C = 2, 2, 4, 5
    symbols, blank = symbols_and_blank(rng, B, S, C)
    boundary = np.array([[0, 0, 2, 4], [0, 0, 1, 2]], np.int64)
    if variant == "joint":
        logits, ranges = rng.standard_normal((B, T, S + 1, C)), None
    else:
        logits, ranges = pruning_inputs(rng, B, S, T, C)
        # Windows that admit a path to every item's end (random ones may not,
        # and an impossible alignment is +inf whatever the option): begins rise
        # evenly from 0 to S + 1 - R, by at most one per frame here.
        R = ranges.shape[-1]
        begin = (np.arange(T) * (S + 1 - R)) // (T - 1)
        ranges = np.broadcast_to(begin[:, None] + np.arange(R), (B, T, R)).astype(np.int32)
    logits[1, 2:] = -np.inf  # padding frames of item 1
    case = dict(symbols=symbols, blank=blank, boundary=boundary, ranges=ranges, arrays=(logits,))
    for options in OPTION_SETS:
        values, (grad,) = run(framework, _loss(variant, case, "regular", **options), (logits,))
        assert np.all(np.isfinite(values)) and np.all(np.isfinite(grad)), options
        assert np.all(grad[1, 2:] == 0.0), options


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_option_arguments_are_checked(framework):
    m = _module(framework)
    logits = np.zeros((1, 2, 2, 3))
    symbols = np.array([[1]])
    with pytest.raises(ValueError, match="fastemit_lambda"):
        m.rnnt_loss(logits, symbols, 0, fastemit_lambda=-0.1)
    with pytest.raises(TypeError, match="fastemit_lambda"):
        m.rnnt_loss_simple(logits[:, 0], logits[:, :, 0], symbols, 0, fastemit_lambda="1")
    with pytest.raises(ValueError, match="clamp"):
        m.rnnt_loss(logits, symbols, 0, clamp=-1.0)
    with pytest.raises(TypeError, match="use_hat_loss"):
        m.rnnt_loss(logits, symbols, 0, use_hat_loss=1)
    with pytest.raises(TypeError, match="fused_log_softmax"):
        m.get_rnnt_logprobs_joint(logits, symbols, 0, fused_log_softmax=0)
    with pytest.raises(ValueError, match="use_hat_loss"):
        m.rnnt_loss(logits, symbols, 0, use_hat_loss=True, fused_log_softmax=False)
    with pytest.raises(ValueError, match="C >= 2"):
        m.rnnt_loss(np.zeros((1, 2, 2, 1)), np.array([[0]]), 0, use_hat_loss=True)
