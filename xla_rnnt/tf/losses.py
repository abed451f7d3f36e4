"""The RNN-T loss family for TensorFlow (fast_rnnt 1.3's API); math in xla_rnnt._rnnt.

All functions work eagerly, in tf.function and under jit_compile; the batch
axis B may be unknown at trace time (one trace serves every batch size), S, T
and C must be static. The configuration arguments (termination_symbol,
rnnt_type, reduction, delay_penalty, lm_only_scale, am_only_scale, s_range,
return_grad, fastemit_lambda, use_hat_loss, fused_log_softmax, clamp) are
static Python values. Gradients w.r.t. lm, am and logits flow
through the tf.custom_gradient of mutual_information_recursion. Each
function's docstring gives shapes and dtypes.
"""

import tensorflow as tf

from .. import _rnnt
from . import _ops

__all__ = list(_rnnt.PUBLIC)


def _public(name):
    # No Python control flow depends on tensors in the core: AutoGraph has
    # nothing to convert, and converting ~80 functions per trace costs seconds.
    return tf.autograph.experimental.do_not_convert(_rnnt.bind(_ops, name, "tf.Tensor", __name__))


mutual_information_recursion = _public("mutual_information_recursion")
get_rnnt_logprobs = _public("get_rnnt_logprobs")
rnnt_loss_simple = _public("rnnt_loss_simple")
get_rnnt_logprobs_smoothed = _public("get_rnnt_logprobs_smoothed")
rnnt_loss_smoothed = _public("rnnt_loss_smoothed")
get_rnnt_logprobs_joint = _public("get_rnnt_logprobs_joint")
rnnt_loss = _public("rnnt_loss")
get_rnnt_prune_ranges = _public("get_rnnt_prune_ranges")
do_rnnt_pruning = _public("do_rnnt_pruning")
get_rnnt_logprobs_pruned = _public("get_rnnt_logprobs_pruned")
rnnt_loss_pruned = _public("rnnt_loss_pruned")
