"""A Keras 3 layer for the pruned transducer loss, on the TF and JAX backends.

The layer holds the joiner of a pruned transducer (as in icefall's
pruned_transducer recipes) and computes

    loss = simple_loss_scale * simple_loss + pruned_loss

from encoder and decoder outputs: the simple loss (joiner = addition of two
vocabulary projections) gives the pruning ranges, the full joiner
tanh(enc_proj + dec_proj) @ W is evaluated only inside them. It adds the loss
with `add_loss` and also returns it, so a model can be trained with
`model.compile(optimizer, jit_compile=True)` and `fit` without a `loss=`.
The same object runs the xla_rnnt custom calls through `xla_rnnt.tf` on the
TensorFlow backend and through `xla_rnnt.jax` on the JAX backend.
"""

import keras
from keras import ops


def _backend_module():
    backend = keras.backend.backend()
    if backend == "jax":
        import xla_rnnt.jax as impl
    elif backend == "tensorflow":
        import xla_rnnt.tf as impl
    else:
        raise NotImplementedError(
            f"PrunedTransducerLoss supports the 'tensorflow' and 'jax' Keras backends, "
            f"not {backend!r}"
        )
    return impl


@keras.saving.register_keras_serializable(package="xla_rnnt")
class PrunedTransducerLoss(keras.layers.Layer):
    """Joiner + pruned RNN-T loss.

    Args:
      vocab_size: V, including the termination (blank) symbol.
      joiner_dim: width of the joiner's hidden layer.
      termination_symbol: the blank's id in [0, V).
      s_range: symbols kept per frame (widened automatically when too small to
        reach S symbols in T frames; see xla_rnnt.jax.get_rnnt_prune_ranges).
      simple_loss_scale: weight of the simple loss in the returned total.
      rnnt_type, delay_penalty, reduction: as in rnnt_loss_pruned.
      fastemit_lambda: FastEmit on both losses (README "Loss options").
      use_hat_loss, clamp: on the pruned loss (the full joiner's logits), as in
        rnnt_loss_pruned.

    Call with encoder_out [B, T, E], decoder_out [B, S+1, D], symbols [B, S]
    (int), frame_lengths [B] and symbol_lengths [B] (int). Returns the scalar
    total loss (float32).
    """

    def __init__(
        self,
        vocab_size,
        joiner_dim,
        termination_symbol=0,
        s_range=5,
        simple_loss_scale=0.5,
        rnnt_type="regular",
        delay_penalty=0.0,
        reduction="mean",
        fastemit_lambda=0.0,
        use_hat_loss=False,
        clamp=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.joiner_dim = joiner_dim
        self.termination_symbol = termination_symbol
        self.s_range = s_range
        self.simple_loss_scale = simple_loss_scale
        self.rnnt_type = rnnt_type
        self.delay_penalty = delay_penalty
        self.reduction = reduction
        self.fastemit_lambda = fastemit_lambda
        self.use_hat_loss = use_hat_loss
        self.clamp = clamp
        self.simple_am_proj = keras.layers.Dense(vocab_size, name="simple_am_proj")
        self.simple_lm_proj = keras.layers.Dense(vocab_size, name="simple_lm_proj")
        self.encoder_proj = keras.layers.Dense(joiner_dim, name="encoder_proj")
        self.decoder_proj = keras.layers.Dense(joiner_dim, name="decoder_proj")
        self.output_proj = keras.layers.Dense(vocab_size, name="output_proj")

    def build(
        self,
        encoder_out_shape,
        decoder_out_shape,
        symbols_shape=None,
        frame_lengths_shape=None,
        symbol_lengths_shape=None,
    ):
        self.simple_am_proj.build(encoder_out_shape)
        self.encoder_proj.build(encoder_out_shape)
        self.simple_lm_proj.build(decoder_out_shape)
        self.decoder_proj.build(decoder_out_shape)
        self.output_proj.build((None, None, None, self.joiner_dim))

    def joiner(self, encoder_proj, decoder_proj):
        """Logits of the full joiner from already projected inputs."""
        return self.output_proj(ops.tanh(encoder_proj + decoder_proj))

    def call(self, encoder_out, decoder_out, symbols, frame_lengths, symbol_lengths):
        impl = _backend_module()
        symbols = ops.cast(symbols, "int32")
        zeros = ops.zeros_like(ops.cast(frame_lengths, "int32"))
        boundary = ops.stack(
            [zeros, zeros, ops.cast(symbol_lengths, "int32"), ops.cast(frame_lengths, "int32")],
            axis=1,
        )
        common = dict(
            symbols=symbols,
            termination_symbol=self.termination_symbol,
            boundary=boundary,
            rnnt_type=self.rnnt_type,
            delay_penalty=self.delay_penalty,
            reduction=self.reduction,
            fastemit_lambda=self.fastemit_lambda,
        )
        simple_loss, (px_grad, py_grad) = impl.rnnt_loss_simple(
            lm=self.simple_lm_proj(decoder_out),
            am=self.simple_am_proj(encoder_out),
            return_grad=True,
            **common,
        )
        ranges = impl.get_rnnt_prune_ranges(
            px_grad=px_grad, py_grad=py_grad, boundary=boundary, s_range=self.s_range
        )
        enc_pruned, dec_pruned = impl.do_rnnt_pruning(
            am=self.encoder_proj(encoder_out), lm=self.decoder_proj(decoder_out), ranges=ranges
        )
        pruned_loss = impl.rnnt_loss_pruned(
            logits=self.joiner(enc_pruned, dec_pruned),
            ranges=ranges,
            use_hat_loss=self.use_hat_loss,
            clamp=self.clamp,
            **common,
        )
        total = self.simple_loss_scale * simple_loss + pruned_loss
        self.add_loss(total)
        return total

    def get_config(self):
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            joiner_dim=self.joiner_dim,
            termination_symbol=self.termination_symbol,
            s_range=self.s_range,
            simple_loss_scale=self.simple_loss_scale,
            rnnt_type=self.rnnt_type,
            delay_penalty=self.delay_penalty,
            reduction=self.reduction,
            fastemit_lambda=self.fastemit_lambda,
            use_hat_loss=self.use_hat_loss,
            clamp=self.clamp,
        )
        return config
