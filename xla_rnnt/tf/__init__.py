"""xla_rnnt for TensorFlow: the custom calls through XlaCallModule.

Importing this module registers the library's handlers into TensorFlow.
"""

from .losses import (
    do_rnnt_pruning,
    get_rnnt_logprobs,
    get_rnnt_logprobs_joint,
    get_rnnt_logprobs_pruned,
    get_rnnt_logprobs_smoothed,
    get_rnnt_prune_ranges,
    mutual_information_recursion,
    rnnt_loss,
    rnnt_loss_pruned,
    rnnt_loss_simple,
    rnnt_loss_smoothed,
)

__all__ = [
    "mutual_information_recursion",
    "get_rnnt_logprobs",
    "rnnt_loss_simple",
    "get_rnnt_logprobs_smoothed",
    "rnnt_loss_smoothed",
    "get_rnnt_logprobs_joint",
    "rnnt_loss",
    "get_rnnt_prune_ranges",
    "do_rnnt_pruning",
    "get_rnnt_logprobs_pruned",
    "rnnt_loss_pruned",
]
