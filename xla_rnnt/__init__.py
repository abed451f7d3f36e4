"""xla_rnnt: the pruned RNN-T loss of k2/fast_rnnt as XLA custom calls.

TensorFlow users call the functions at this top level (``xla_rnnt.rnnt_loss_simple``
and friends, as in the old ``tf_fast_rnnt`` module); JAX users ``import xla_rnnt.jax``.
Importing this package imports neither framework: the top-level names load
``xla_rnnt.tf`` on first use.
"""

__version__ = "0.1.0"

# Names served from xla_rnnt.tf on first access (PEP 562).
_TF_EXPORTS = ("mutual_information_recursion", "get_rnnt_logprobs", "rnnt_loss_simple",
               "get_rnnt_logprobs_smoothed", "rnnt_loss_smoothed", "get_rnnt_logprobs_joint",
               "rnnt_loss", "get_rnnt_prune_ranges", "do_rnnt_pruning",
               "get_rnnt_logprobs_pruned", "rnnt_loss_pruned")

__all__ = ["__version__", *_TF_EXPORTS]


def __getattr__(name):
    if name in _TF_EXPORTS:
        from . import tf as _tf

        return getattr(_tf, name)
    raise AttributeError(f"module 'xla_rnnt' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_TF_EXPORTS))
