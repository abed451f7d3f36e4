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

from .. import _recursion, _rnnt
from . import _ops

__all__ = list(_rnnt.PUBLIC)


def _doc(fn):
    # No Python control flow depends on tensors here: AutoGraph has nothing
    # to convert, and converting ~80 functions per trace costs seconds.
    return tf.autograph.experimental.do_not_convert(_rnnt.document(fn, "tf.Tensor"))


@_doc
def mutual_information_recursion(px, py, boundary=None, return_grad=False):
    return _recursion.mutual_information_recursion(_ops, px, py, boundary, return_grad)


@_doc
def get_rnnt_logprobs(lm, am, symbols, termination_symbol, rnnt_type="regular", boundary=None):
    return _rnnt.get_rnnt_logprobs(_ops, lm, am, symbols, termination_symbol, rnnt_type, boundary)


@_doc
def rnnt_loss_simple(
    lm,
    am,
    symbols,
    termination_symbol,
    boundary=None,
    rnnt_type="regular",
    delay_penalty=0.0,
    reduction="mean",
    return_grad=False,
    fastemit_lambda=0.0,
):
    return _rnnt.rnnt_loss_simple(
        _ops,
        lm,
        am,
        symbols,
        termination_symbol,
        boundary,
        rnnt_type,
        delay_penalty,
        reduction,
        return_grad,
        fastemit_lambda,
    )


@_doc
def get_rnnt_logprobs_smoothed(
    lm,
    am,
    symbols,
    termination_symbol,
    lm_only_scale=0.1,
    am_only_scale=0.1,
    boundary=None,
    rnnt_type="regular",
):
    return _rnnt.get_rnnt_logprobs_smoothed(
        _ops,
        lm,
        am,
        symbols,
        termination_symbol,
        lm_only_scale,
        am_only_scale,
        boundary,
        rnnt_type,
    )


@_doc
def rnnt_loss_smoothed(
    lm,
    am,
    symbols,
    termination_symbol,
    lm_only_scale=0.1,
    am_only_scale=0.1,
    boundary=None,
    rnnt_type="regular",
    delay_penalty=0.0,
    reduction="mean",
    return_grad=False,
    fastemit_lambda=0.0,
):
    return _rnnt.rnnt_loss_smoothed(
        _ops,
        lm,
        am,
        symbols,
        termination_symbol,
        lm_only_scale,
        am_only_scale,
        boundary,
        rnnt_type,
        delay_penalty,
        reduction,
        return_grad,
        fastemit_lambda,
    )


@_doc
def get_rnnt_logprobs_joint(
    logits,
    symbols,
    termination_symbol,
    boundary=None,
    rnnt_type="regular",
    use_hat_loss=False,
    fused_log_softmax=True,
):
    return _rnnt.get_rnnt_logprobs_joint(
        _ops,
        logits,
        symbols,
        termination_symbol,
        boundary,
        rnnt_type,
        use_hat_loss,
        fused_log_softmax,
    )


@_doc
def rnnt_loss(
    logits,
    symbols,
    termination_symbol,
    boundary=None,
    rnnt_type="regular",
    delay_penalty=0.0,
    reduction="mean",
    return_grad=False,
    fastemit_lambda=0.0,
    use_hat_loss=False,
    fused_log_softmax=True,
    clamp=0.0,
):
    return _rnnt.rnnt_loss(
        _ops,
        logits,
        symbols,
        termination_symbol,
        boundary,
        rnnt_type,
        delay_penalty,
        reduction,
        return_grad,
        fastemit_lambda,
        use_hat_loss,
        fused_log_softmax,
        clamp,
    )


@_doc
def get_rnnt_prune_ranges(px_grad, py_grad, boundary, s_range):
    return _rnnt.get_rnnt_prune_ranges(_ops, px_grad, py_grad, boundary, s_range)


@_doc
def do_rnnt_pruning(am, lm, ranges):
    return _rnnt.do_rnnt_pruning(_ops, am, lm, ranges)


@_doc
def get_rnnt_logprobs_pruned(
    logits,
    symbols,
    ranges,
    termination_symbol,
    boundary=None,
    rnnt_type="regular",
    use_hat_loss=False,
    fused_log_softmax=True,
):
    return _rnnt.get_rnnt_logprobs_pruned(
        _ops,
        logits,
        symbols,
        ranges,
        termination_symbol,
        boundary,
        rnnt_type,
        use_hat_loss,
        fused_log_softmax,
    )


@_doc
def rnnt_loss_pruned(
    logits,
    symbols,
    ranges,
    termination_symbol,
    boundary=None,
    rnnt_type="regular",
    delay_penalty=0.0,
    reduction="mean",
    return_grad=False,
    fastemit_lambda=0.0,
    use_hat_loss=False,
    fused_log_softmax=True,
    clamp=0.0,
):
    return _rnnt.rnnt_loss_pruned(
        _ops,
        logits,
        symbols,
        ranges,
        termination_symbol,
        boundary,
        rnnt_type,
        delay_penalty,
        reduction,
        return_grad,
        fastemit_lambda,
        use_hat_loss,
        fused_log_softmax,
        clamp,
    )
