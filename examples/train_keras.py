"""Trains a small transducer with Keras 3 and the pruned RNN-T loss layer.

The same script runs on the TensorFlow backend (default, jit_compile=True) and
on the JAX backend:

  python examples/train_keras.py --steps 300
  KERAS_BACKEND=jax python examples/train_keras.py --steps 300
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import synthetic_data as data  # noqa: E402
from absl import app, flags  # noqa: E402

from xla_rnnt.keras import PrunedTransducerLoss  # noqa: E402

FLAGS = flags.DEFINE_integer("steps", 300, "training steps")
BATCH = flags.DEFINE_integer("batch_size", 16, "utterances per step")
JSON = flags.DEFINE_string("json", None, "write the first and last losses here")
MEMORY_EVERY = flags.DEFINE_integer("memory_every", 100, "on a GPU, log device memory this often")


def build_model():
    features = keras.Input((data.MAX_FRAMES, data.FEATURES), name="features")
    symbols = keras.Input((data.MAX_SYMBOLS,), dtype="int32", name="symbols")
    decoder_in = keras.Input((data.MAX_SYMBOLS + 1,), dtype="int32", name="decoder_in")
    frame_lengths = keras.Input((), dtype="int32", name="frame_lengths")
    symbol_lengths = keras.Input((), dtype="int32", name="symbol_lengths")
    # Encoder: per-frame MLP with a little context.
    x = keras.layers.Conv1D(64, 3, padding="same", activation="relu")(features)
    encoder_out = keras.layers.Dense(64, activation="relu")(x)
    # Stateless predictor: embedding of the previous two symbols.
    y = keras.layers.Embedding(data.VOCAB, 32)(decoder_in)
    y = keras.layers.ZeroPadding1D((1, 0))(y)
    decoder_out = keras.layers.Conv1D(32, 2, activation="relu")(y)
    loss = PrunedTransducerLoss(data.VOCAB, joiner_dim=64, termination_symbol=0, s_range=3)(
        encoder_out, decoder_out, symbols, frame_lengths, symbol_lengths
    )
    return keras.Model(
        inputs={
            "features": features,
            "symbols": symbols,
            "decoder_in": decoder_in,
            "frame_lengths": frame_lengths,
            "symbol_lengths": symbol_lengths,
        },
        outputs=loss,
    )


def batches(rng):
    while True:
        batch = data.make_batch(rng, BATCH.value)
        batch["decoder_in"] = data.decoder_inputs(batch["symbols"])
        yield (batch,)


def device_bytes_in_use():
    """Bytes the backend holds on its first GPU now; None without a GPU."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if tf.config.list_logical_devices("GPU"):
            return tf.config.experimental.get_memory_info("GPU:0")["current"]
        return None
    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        stats = device.memory_stats() if device.platform == "gpu" else None
        return stats.get("bytes_in_use") if stats else None
    return None


class LossLog(keras.callbacks.Callback):
    """The losses of every step, and on a GPU the device memory in use every
    `every` steps (flat after warm-up when nothing leaks)."""

    def __init__(self, every=100):
        super().__init__()
        self.losses, self.memory, self.every = [], [], every

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))
        if len(self.losses) % self.every == 0:
            in_use = device_bytes_in_use()
            if in_use is not None:
                self.memory.append((len(self.losses), int(in_use)))


def main(_):
    keras.utils.set_random_seed(0)
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
    log = LossLog(MEMORY_EVERY.value)
    # Keras' progress bar shows the running loss going down.
    model.fit(
        batches(np.random.default_rng(0)),
        steps_per_epoch=FLAGS.value,
        epochs=1,
        callbacks=[log],
        verbose=1,
    )
    first, last = np.mean(log.losses[:10]), np.mean(log.losses[-10:])
    print(f"backend {keras.backend.backend()}: loss {first:.3f} -> {last:.3f}")
    if log.memory:
        mib = [round(b / 2**20, 1) for _, b in log.memory]
        print(f"device memory in use every {log.every} steps (MiB): {mib}")
    if JSON.value:
        with open(JSON.value, "w") as f:
            result = {"backend": keras.backend.backend(), "first": first, "last": last}
            json.dump({**result, "device_memory": log.memory}, f)


if __name__ == "__main__":
    app.run(main)
