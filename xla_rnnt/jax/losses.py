"""The RNN-T loss family for JAX (fast_rnnt 1.3's API); math in xla_rnnt._rnnt.

All functions are jit-compatible: array arguments may be traced; the
configuration arguments (termination_symbol, rnnt_type, reduction,
delay_penalty, lm_only_scale, am_only_scale, s_range, return_grad,
fastemit_lambda, use_hat_loss, fused_log_softmax, clamp) are static Python
values. Gradients w.r.t. lm, am and logits flow through the custom_vjp
of mutual_information_recursion. Each function's docstring gives shapes and
dtypes.
"""

from .. import _rnnt
from . import _ops

__all__ = list(_rnnt.PUBLIC)


def _public(name):
    return _rnnt.bind(_ops, name, "jax.Array", __name__)


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
