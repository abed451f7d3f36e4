"""Keras `fit` with PrunedTransducerLoss under tf.distribute.MirroredStrategy
over two logical devices equals one device: the same losses per epoch and the
same weights after training.

Logical devices must be configured before TF initialises, so the run is a
subprocess. Where TF sees a GPU, it is split into two logical GPUs (our CUDA
kernels run), else two logical CPUs. Either way fit runs without jit_compile:
a jit-compiled function cannot read a mirrored variable on a logical device
other than the first (keras-team/keras#19005; on an H200 split in two:
"Trying to access resource .../replica_1 located in device GPU:1 from device
GPU:0", TF's known XLA issue tfvariable_on_a_different_device).
"""

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
    import numpy as np, tensorflow as tf

    kind = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    config = (tf.config.LogicalDeviceConfiguration(memory_limit=4096) if kind == "GPU"
              else tf.config.LogicalDeviceConfiguration())
    tf.config.set_logical_device_configuration(tf.config.list_physical_devices(kind)[0],
                                               [config, config])
    import keras
    from xla_rnnt.keras import PrunedTransducerLoss

    B, T, S, V, E = 8, 12, 4, 9, 8
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((B, T, E)).astype("float32"),
         rng.standard_normal((B, S + 1, E)).astype("float32"),
         rng.integers(1, V, (B, S)).astype("int32"),
         rng.integers(S, T + 1, B).astype("int32"),
         rng.integers(0, S + 1, B).astype("int32")]

    def build():
        keras.utils.set_random_seed(0)
        enc, dec = keras.Input((T, E)), keras.Input((S + 1, E))
        symbols = keras.Input((S,), dtype="int32")
        t_len, s_len = keras.Input((), dtype="int32"), keras.Input((), dtype="int32")
        # reduction "mean": Keras averages the replicas' losses, so per-replica
        # means give the global mean (per-replica sums would halve it).
        loss = PrunedTransducerLoss(V, joiner_dim=8, s_range=2, reduction="mean")(
            enc, dec, symbols, t_len, s_len)
        model = keras.Model([enc, dec, symbols, t_len, s_len], loss)
        model.compile(keras.optimizers.SGD(0.05), jit_compile=False)
        return model

    devices = [d.name for d in tf.config.list_logical_devices(kind)]
    with tf.device(devices[0]):
        one = build()
        one_losses = one.fit(x, batch_size=B, epochs=3, shuffle=False, verbose=0).history["loss"]
    with tf.distribute.MirroredStrategy(devices).scope():
        two = build()
    two_losses = two.fit(x, batch_size=B, epochs=3, shuffle=False, verbose=0).history["loss"]
    print(json.dumps(dict(kind=kind, devices=devices, one=one_losses, two=two_losses,
                          weight_diff=max(float(np.abs(a - b).max())
                                          for a, b in zip(one.get_weights(), two.get_weights())),
                          moved=max(float(np.abs(a - b).max())
                                    for a, b in zip(one.get_weights(), build().get_weights())))))
""")


def test_mirrored_fit_equals_one_device(tmp_path):
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
    assert len(out["devices"]) == 2, out["devices"]
    for one, two in zip(out["one"], out["two"]):
        assert abs(one - two) <= 1e-5 * max(1.0, abs(one)), out
    assert out["one"][-1] < out["one"][0]  # it trained
    assert out["moved"] > 1e-3  # the weights changed, so equal weights mean something
    assert out["weight_diff"] <= 1e-5, out["weight_diff"]
