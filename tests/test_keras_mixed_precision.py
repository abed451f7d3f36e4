"""The Keras layer under mixed precision: model.fit(jit_compile=True) with
PrunedTransducerLoss under the mixed_float16 and mixed_bfloat16 policies trains
like float32 (same seeds: the loss before training equal to half-precision
accuracy, then falling, everything finite). Runs on the default device: the CPU here, a
GPU on a GPU machine."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("keras")

_SCRIPT = textwrap.dedent("""
    import json, os
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import numpy as np, keras
    from xla_rnnt.keras import PrunedTransducerLoss

    B, T, S, V, E = 4, 12, 4, 9, 8
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((16, T, E)).astype("float32"),
         rng.standard_normal((16, S + 1, E)).astype("float32"),
         rng.integers(1, V, (16, S)).astype("int32"),
         rng.integers(S, T + 1, 16).astype("int32"),
         rng.integers(0, S + 1, 16).astype("int32")]
    out = {}
    for policy in ("float32", "mixed_float16", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(0)
        enc, dec = keras.Input((T, E)), keras.Input((S + 1, E))
        symbols = keras.Input((S,), dtype="int32")
        t_len, s_len = keras.Input((), dtype="int32"), keras.Input((), dtype="int32")
        layer = PrunedTransducerLoss(V, joiner_dim=8, s_range=2)
        loss = layer(keras.layers.Dense(E)(enc), keras.layers.Dense(E)(dec), symbols, t_len,
                     s_len)
        model = keras.Model([enc, dec, symbols, t_len, s_len], loss)
        initial = float(model(x))  # same weights in every policy: same seeds
        model.compile(keras.optimizers.Adam(1e-2), jit_compile=True)
        history = model.fit(x, epochs=6, batch_size=B, shuffle=False, verbose=0)
        out[policy] = dict(initial=initial, losses=history.history["loss"],
                           compute=layer.compute_dtype)
    print(json.dumps(out))
""")


def test_fit_under_mixed_precision_policies(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    for policy, tol in (("mixed_float16", 2e-2), ("mixed_bfloat16", 5e-2)):
        run = out[policy]
        assert run["compute"] == policy.split("_")[1], run
        losses = run["losses"]
        assert all(l == l and abs(l) != float("inf") for l in losses), (policy, losses)
        initial = out["float32"]["initial"]
        assert abs(run["initial"] - initial) <= tol * abs(initial), (policy, run, initial)
        assert losses[-1] < 0.9 * losses[0], (policy, losses)
