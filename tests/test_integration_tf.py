"""What TF users do with the losses: SavedModel export/reload of the pruned
pipeline, and the Keras layer against direct calls."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import xla_rnnt  # noqa: E402

B_MAX, T, S, V = 5, 12, 4, 9


def _inputs(rng, B):
    t_len = rng.integers(S, T + 1, B)
    s_len = rng.integers(0, S + 1, B)
    return {
        "am": rng.standard_normal((B, T, V)).astype(np.float32),
        "lm": rng.standard_normal((B, S + 1, V)).astype(np.float32),
        "symbols": rng.integers(1, V, (B, S)).astype(np.int64),
        "boundary": np.stack([np.zeros(B), np.zeros(B), s_len, t_len], 1).astype(np.int64),
    }


class PrunedLoss(tf.Module):
    """Serving function: per-utterance pruned + simple loss, unknown batch size."""

    def __init__(self):
        super().__init__()
        self.w = tf.Variable(
            np.random.default_rng(7).standard_normal((V, V)).astype(np.float32) / 3.0
        )

    @tf.function(
        jit_compile=True,
        input_signature=[
            tf.TensorSpec([None, T, V], tf.float32),
            tf.TensorSpec([None, S + 1, V], tf.float32),
            tf.TensorSpec([None, S], tf.int64),
            tf.TensorSpec([None, 4], tf.int64),
        ],
    )
    def __call__(self, am, lm, symbols, boundary):
        simple, (px_grad, py_grad) = xla_rnnt.rnnt_loss_simple(
            lm=lm,
            am=am,
            symbols=symbols,
            termination_symbol=0,
            boundary=boundary,
            reduction="none",
            return_grad=True,
        )
        ranges = xla_rnnt.get_rnnt_prune_ranges(
            px_grad=px_grad, py_grad=py_grad, boundary=boundary, s_range=2
        )
        am_p, lm_p = xla_rnnt.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)
        logits = tf.tanh(am_p + lm_p) @ self.w
        pruned = xla_rnnt.rnnt_loss_pruned(
            logits=logits,
            symbols=symbols,
            ranges=ranges,
            termination_symbol=0,
            boundary=boundary,
            reduction="none",
        )
        return 0.5 * simple + pruned


def test_saved_model_of_the_pruned_loss_reloads_in_a_fresh_process(tmp_path, rng):
    module = PrunedLoss()
    path = str(tmp_path / "pruned")
    tf.saved_model.save(module, path)
    batches = [_inputs(rng, B) for B in (B_MAX, 1, 3)]
    expected = [module(**x).numpy() for x in batches]
    for i, x in enumerate(batches):
        np.savez(tmp_path / f"in{i}.npz", **x)
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        import xla_rnnt  # the loading side must import it: it registers the handlers
        import xla_rnnt.tf
        loaded = tf.saved_model.load({path!r})
        for i in range(3):
            x = dict(np.load({str(tmp_path)!r} + f"/in{{i}}.npz"))
            np.save({str(tmp_path)!r} + f"/out{{i}}.npy", loaded(**x).numpy())
    """)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for i, want in enumerate(expected):
        got = np.load(tmp_path / f"out{i}.npy")
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)  # same kernels, same inputs: identical


def _keras_case(backend, tmp_path):
    """Runs the Keras layer on one backend in a subprocess; returns its loss and
    the loss recomputed from the layer's weights with the direct functions."""
    script = textwrap.dedent(f"""
        import os, json
        os.environ["KERAS_BACKEND"] = {backend!r}
        import numpy as np, keras
        from xla_rnnt.keras import PrunedTransducerLoss
        rng = np.random.default_rng(3)
        B, T, S, V, E = 3, 10, 4, 7, 6
        enc = rng.standard_normal((B, T, E)).astype("float32")
        dec = rng.standard_normal((B, S + 1, E)).astype("float32")
        symbols = rng.integers(1, V, (B, S)).astype("int32")
        t_len = np.array([10, 7, 5], "int32"); s_len = np.array([4, 2, 0], "int32")
        layer = PrunedTransducerLoss(V, joiner_dim=8, s_range=2)
        loss = float(layer(enc, dec, symbols, t_len, s_len))
        w = {{v.path: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for v in layer.weights}}
        np.savez({str(tmp_path)!r} + "/w_{backend}.npz",
                 **{{k.replace("/", "__"): v for k, v in w.items()}})
        json.dump({{"loss": loss, "n_losses": len(layer.losses)}},
                  open({str(tmp_path)!r} + "/keras_{backend}.json", "w"))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    return json.load(open(tmp_path / f"keras_{backend}.json")), dict(
        np.load(tmp_path / f"w_{backend}.npz")
    )


def _direct_loss(weights):
    """The layer's computation spelled out with xla_rnnt's TF functions."""
    rng = np.random.default_rng(3)
    B, T, S, V, E = 3, 10, 4, 7, 6
    enc = rng.standard_normal((B, T, E)).astype("float32")
    dec = rng.standard_normal((B, S + 1, E)).astype("float32")
    symbols = rng.integers(1, V, (B, S)).astype("int32")
    boundary = np.array([[0, 0, 4, 10], [0, 0, 2, 7], [0, 0, 0, 5]], np.int32)

    def dense(x, name):
        kernel = next(v for k, v in weights.items() if name in k and k.endswith("kernel"))
        bias = next(v for k, v in weights.items() if name in k and k.endswith("bias"))
        return x @ kernel + bias

    simple, (gx, gy) = xla_rnnt.rnnt_loss_simple(
        lm=dense(dec, "simple_lm_proj"),
        am=dense(enc, "simple_am_proj"),
        symbols=symbols,
        termination_symbol=0,
        boundary=boundary,
        return_grad=True,
    )
    ranges = xla_rnnt.get_rnnt_prune_ranges(px_grad=gx, py_grad=gy, boundary=boundary, s_range=2)
    e, d = xla_rnnt.do_rnnt_pruning(
        am=dense(enc, "encoder_proj"), lm=dense(dec, "decoder_proj"), ranges=ranges
    )
    logits = dense(np.tanh(np.asarray(e) + np.asarray(d)), "output_proj")
    pruned = xla_rnnt.rnnt_loss_pruned(
        logits=logits, symbols=symbols, ranges=ranges, termination_symbol=0, boundary=boundary
    )
    return 0.5 * float(simple) + float(pruned)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_keras_layer_matches_direct_calls(tmp_path, backend):
    pytest.importorskip(backend)
    out, weights = _keras_case(backend, tmp_path)
    assert out["n_losses"] == 1  # add_loss was called
    assert abs(out["loss"] - _direct_loss(weights)) <= 1e-4 * max(1.0, abs(out["loss"]))
