"""PrunedTransducerLoss passes the loss options on (TF backend): fastemit_lambda
to both losses, use_hat_loss and clamp to the pruned loss; the layer's total
equals the direct calls with the same weights and options, the options change
what they must (HAT the value, FastEmit the gradient only) and survive
get_config / from_config."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "tensorflow":
    pytest.skip(
        "the TF backend's path (the JAX one: test_integration_tf.py)", allow_module_level=True
    )

import xla_rnnt  # noqa: E402
from xla_rnnt.keras import PrunedTransducerLoss  # noqa: E402

B, T, S, V, E = 3, 10, 4, 7, 6
OPTIONS = dict(fastemit_lambda=0.5, use_hat_loss=True, clamp=0.05)


def _inputs():
    rng = np.random.default_rng(5)
    enc = tf.constant(rng.standard_normal((B, T, E)).astype("float32"))
    dec = tf.constant(rng.standard_normal((B, S + 1, E)).astype("float32"))
    symbols = tf.constant(rng.integers(1, V, (B, S)).astype("int32"))
    t_len = tf.constant([10, 7, 5], tf.int32)
    s_len = tf.constant([4, 2, 0], tf.int32)
    return enc, dec, symbols, t_len, s_len


def _direct(layer, enc, dec, symbols, t_len, s_len, fastemit_lambda, use_hat_loss, clamp):
    zeros = tf.zeros_like(t_len)
    boundary = tf.stack([zeros, zeros, s_len, t_len], axis=1)
    simple, (gx, gy) = xla_rnnt.rnnt_loss_simple(
        lm=layer.simple_lm_proj(dec),
        am=layer.simple_am_proj(enc),
        symbols=symbols,
        termination_symbol=0,
        boundary=boundary,
        return_grad=True,
        fastemit_lambda=fastemit_lambda,
    )
    ranges = xla_rnnt.get_rnnt_prune_ranges(px_grad=gx, py_grad=gy, boundary=boundary, s_range=2)
    e, d = xla_rnnt.do_rnnt_pruning(
        am=layer.encoder_proj(enc), lm=layer.decoder_proj(dec), ranges=ranges
    )
    pruned = xla_rnnt.rnnt_loss_pruned(
        logits=layer.joiner(e, d),
        symbols=symbols,
        ranges=ranges,
        termination_symbol=0,
        boundary=boundary,
        fastemit_lambda=fastemit_lambda,
        use_hat_loss=use_hat_loss,
        clamp=clamp,
    )
    return 0.5 * simple + pruned


def _total_and_grad(layer, enc, *rest):
    with tf.GradientTape() as tape:
        tape.watch(enc)
        total = layer(enc, *rest)
    return float(total), tape.gradient(total, enc).numpy()


def test_layer_passes_the_options_on():
    x = _inputs()
    layer = PrunedTransducerLoss(V, joiner_dim=8, s_range=2, **OPTIONS)
    total, grad = _total_and_grad(layer, *x)
    want = float(_direct(layer, *x, **OPTIONS))
    assert abs(total - want) <= 1e-5 * max(1.0, abs(want)), (total, want)

    # Same weights, options one at a time back to their defaults.
    def twin(**changes):
        other = PrunedTransducerLoss.from_config({**layer.get_config(), **changes})
        other(*x)
        other.set_weights(layer.get_weights())
        return _total_and_grad(other, *x)

    no_hat, _ = twin(use_hat_loss=False)
    assert abs(no_hat - total) > 1e-3  # HAT changes the value
    no_fastemit, grad_no_fastemit = twin(fastemit_lambda=0.0)
    assert abs(no_fastemit - total) <= 1e-5 * abs(total)  # FastEmit keeps the value...
    assert np.abs(grad_no_fastemit - grad).max() > 1e-4  # ...and changes the gradient


def test_options_survive_the_config():
    layer = PrunedTransducerLoss(V, joiner_dim=8, **OPTIONS)
    config = PrunedTransducerLoss.from_config(layer.get_config()).get_config()
    assert {k: config[k] for k in OPTIONS} == OPTIONS
