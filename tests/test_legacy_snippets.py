"""The two usage snippets of the old tf_fast_rnnt README, run unchanged with
`tf_fast_rnnt` replaced by `xla_rnnt`; the names they leave undefined (sizes,
rnnt_type, termination_symbol, model.joiner) are defined here, and their
results are checked against the float64 oracle."""

import types

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import reference_rnnt as ref  # noqa: E402
from conftest import relative_error  # noqa: E402

import xla_rnnt  # noqa: E402

SIMPLE_SNIPPET = """
am = np.random.randn(B, T, C).astype('f')
lm = np.random.randn(B, S + 1, C).astype('f')
symbols = np.random.randint(0, C - 1, (B, S)).astype(np.int64)
terminal_symbol = C - 1

boundary = np.zeros((B, 4))
boundary[:, 2] = seq_length
boundary[:, 3] = frames
boundary = tf.convert_to_tensor(boundary, dtype=tf.int64)

simple_loss, (px_grad, py_grad) = xla_rnnt.rnnt_loss_simple(
    lm=lm,
    am=am,
    symbols=symbols,
    termination_symbol=terminal_symbol,
    boundary=boundary,
    rnnt_type=rnnt_type,
    return_grad=True,
    reduction="none",
    delay_penalty=0.2,
)
"""

PRUNED_SNIPPET = (
    SIMPLE_SNIPPET
    + """s_range = 5  # can be other values
ranges = xla_rnnt.get_rnnt_prune_ranges(
    px_grad=px_grad,
    py_grad=py_grad,
    boundary=boundary,
    s_range=s_range,
)

am_pruned, lm_pruned = xla_rnnt.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)

logits = model.joiner(am_pruned, lm_pruned)
pruned_loss = xla_rnnt.rnnt_loss_pruned(
    logits=logits,
    symbols=symbols,
    ranges=ranges,
    termination_symbol=termination_symbol,
    boundary=boundary,
    reduction="sum",
)
"""
)


def _namespace(rng, rnnt_type):
    B = int(rng.integers(1, 4))
    T = int(rng.integers(4, 9))
    S = int(rng.integers(1, 4 if rnnt_type == "regular" else T // 2 + 1))
    C = int(rng.integers(4, 8))
    np.random.seed(int(rng.integers(2**31)))  # the snippets draw from np.random
    return dict(
        np=np,
        tf=tf,
        xla_rnnt=xla_rnnt,
        B=B,
        T=T,
        S=S,
        C=C,
        seq_length=rng.integers(0, S + 1, B),
        frames=rng.integers(max(S, 1), T + 1, B),
        rnnt_type=rnnt_type,
        termination_symbol=C - 1,
        model=types.SimpleNamespace(joiner=lambda am, lm: am + lm),
    )


def _check_simple(ns):
    boundary = ns["boundary"].numpy()
    lps = ref.lps_simple(ns["lm"].astype(np.float64), ns["am"].astype(np.float64))
    want = ref.loss_from_lps(lps, ns["symbols"], ns["C"] - 1, boundary, ns["rnnt_type"], 0.2)
    assert relative_error(ns["simple_loss"], want) < 1e-5
    want_gx, want_gy = ref.occupations_from_lps(
        lps, ns["symbols"], ns["C"] - 1, boundary, ns["rnnt_type"], 0.2
    )
    assert relative_error(ns["px_grad"], want_gx) < 1e-4
    assert relative_error(ns["py_grad"], want_gy) < 1e-4


@pytest.mark.parametrize("rnnt_type", ["regular", "modified", "constrained"])
def test_simple_loss_snippet(rng, rnnt_type):
    ns = _namespace(rng, rnnt_type)
    exec(SIMPLE_SNIPPET, ns)
    _check_simple(ns)


@pytest.mark.parametrize("rnnt_type", ["regular", "modified", "constrained"])
def test_pruned_loss_snippet(rng, rnnt_type):
    ns = _namespace(rng, rnnt_type)
    exec(PRUNED_SNIPPET, ns)
    _check_simple(ns)
    # The pruned loss is the oracle's loss on the pruned lattice of the joiner
    # logits am + lm (the snippet passes no delay_penalty and rnnt_type to it).
    logits = np.asarray(ns["logits"], np.float64)
    ranges = np.asarray(ns["ranges"])
    lps = ref.lps_pruned(logits, ranges, ns["S"])
    want = ref.loss_from_lps(lps, ns["symbols"], ns["C"] - 1, ns["boundary"].numpy(), "regular")
    assert relative_error(ns["pruned_loss"], np.sum(want)) < 1e-5
