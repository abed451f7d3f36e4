"""Trains a small transducer in pure JAX with the pruned RNN-T loss.

Encoder: per-frame MLP with a little context; predictor: embedding of the
previous symbol; joiner: tanh(enc + dec) @ W evaluated only inside the pruning
ranges. Uses optax when it is installed, else a few lines of Adam.

  python examples/train_jax.py --steps 300
"""

import json
import logging
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import synthetic_data as data
from absl import app, flags

import xla_rnnt.jax as xj

STEPS = flags.DEFINE_integer("steps", 300, "training steps")
BATCH = flags.DEFINE_integer("batch_size", 16, "utterances per step")
LR = flags.DEFINE_float("learning_rate", 3e-3, "Adam step size")
JSON = flags.DEFINE_string("json", None, "write the first and last losses here")

HIDDEN, JOINER, S_RANGE = 64, 64, 3


def init_params(key):
    shapes = {
        "enc1": (3 * data.FEATURES, HIDDEN),
        "enc2": (HIDDEN, HIDDEN),
        "embed": (data.VOCAB, HIDDEN),
        "simple_am": (HIDDEN, data.VOCAB),
        "simple_lm": (HIDDEN, data.VOCAB),
        "enc_proj": (HIDDEN, JOINER),
        "dec_proj": (HIDDEN, JOINER),
        "out": (JOINER, data.VOCAB),
    }
    keys = jax.random.split(key, len(shapes))
    return {
        name: jax.random.normal(k, shape) / np.sqrt(shape[0])
        for k, (name, shape) in zip(keys, shapes.items())
    }


def encoder(params, features):
    # Context of one frame each side, by concatenating shifted copies.
    padded = jnp.pad(features, ((0, 0), (1, 1), (0, 0)))
    x = jnp.concatenate([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]], axis=-1)
    return jax.nn.relu(jax.nn.relu(x @ params["enc1"]) @ params["enc2"])


def loss_fn(params, batch):
    enc = encoder(params, batch["features"])  # [B, T, H]
    dec = jnp.tanh(params["embed"][batch["decoder_in"]])  # [B, S+1, H]
    zeros = jnp.zeros_like(batch["frame_lengths"])
    boundary = jnp.stack([zeros, zeros, batch["symbol_lengths"], batch["frame_lengths"]], 1)
    common = dict(symbols=batch["symbols"], termination_symbol=0, boundary=boundary)
    simple_loss, (px_grad, py_grad) = xj.rnnt_loss_simple(
        lm=dec @ params["simple_lm"], am=enc @ params["simple_am"], return_grad=True, **common
    )
    ranges = xj.get_rnnt_prune_ranges(
        px_grad=px_grad, py_grad=py_grad, boundary=boundary, s_range=S_RANGE
    )
    enc_pruned, dec_pruned = xj.do_rnnt_pruning(
        am=enc @ params["enc_proj"], lm=dec @ params["dec_proj"], ranges=ranges
    )
    logits = jnp.tanh(enc_pruned + dec_pruned) @ params["out"]  # [B, T, s_range, V]
    pruned_loss = xj.rnnt_loss_pruned(logits=logits, ranges=ranges, **common)
    return 0.5 * simple_loss + pruned_loss


def make_optimizer(learning_rate):
    try:
        import optax

        opt = optax.adam(learning_rate)
        return opt.init, lambda g, s, p: (lambda u, s2: (optax.apply_updates(p, u), s2))(
            *opt.update(g, s, p)
        )
    except ImportError:  # a plain Adam, enough for this example

        def init(params):
            zeros = jax.tree.map(jnp.zeros_like, params)
            return (zeros, zeros, 0)

        def update(grads, state, params):
            m, v, t = state
            t += 1
            m = jax.tree.map(lambda a, g: 0.9 * a + 0.1 * g, m, grads)
            v = jax.tree.map(lambda a, g: 0.999 * a + 0.001 * g * g, v, grads)
            step = learning_rate * jnp.sqrt(1 - 0.999**t) / (1 - 0.9**t)
            params = jax.tree.map(
                lambda p, a, b: p - step * a / (jnp.sqrt(b) + 1e-8), params, m, v
            )
            return params, (m, v, t)

        return init, update


def progress(step, total, loss, start, width=30):
    done = int(width * step / total)
    sys.stdout.write(
        f"\r[{'#' * done}{'.' * (width - done)}] {step}/{total} "
        f"loss {loss:7.3f}  {time.time() - start:5.1f}s"
    )
    sys.stdout.flush()


def main(_):
    logging.getLogger("jax").setLevel(logging.WARNING)  # absl would show JAX's INFO lines
    rng = np.random.default_rng(0)
    params = init_params(jax.random.PRNGKey(0))
    opt_init, opt_update = make_optimizer(LR.value)
    opt_state = opt_init(params)

    @jax.jit
    def train_step(params, opt_state, batch):
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        params, opt_state = opt_update(grads, opt_state, params)
        return params, opt_state, loss

    losses, start = [], time.time()
    for step in range(1, STEPS.value + 1):
        batch = data.make_batch(rng, BATCH.value)
        batch["decoder_in"] = data.decoder_inputs(batch["symbols"])
        params, opt_state, loss = train_step(params, opt_state, batch)
        losses.append(float(loss))
        if step % 10 == 0 or step == STEPS.value:
            progress(step, STEPS.value, np.mean(losses[-10:]), start)
    first, last = float(np.mean(losses[:10])), float(np.mean(losses[-10:]))
    print(f"\njax: loss {first:.3f} -> {last:.3f}")
    if JSON.value:
        with open(JSON.value, "w") as f:
            json.dump({"first": first, "last": last}, f)


if __name__ == "__main__":
    app.run(main)
