"""xla_rnnt: the pruned RNN-T loss of k2/fast_rnnt as XLA custom calls.

TensorFlow users call the functions at this top level (``xla_rnnt.rnnt_loss_simple``
and friends, as in the old ``tf_fast_rnnt`` module); JAX users ``import xla_rnnt.jax``.
Importing this package imports neither framework: the top-level names load
``xla_rnnt.tf`` on first use. It does register the custom-call handlers into
TensorFlow, at once when TF is already imported, else right after TF's own
import, so that SavedModels holding our custom calls run once ``import
xla_rnnt`` was done (in either order); ``register_handlers()`` does it by hand.
Likewise, once Keras is imported, the Keras layer (``xla_rnnt.keras``) is
registered for ``keras.saving.load_model``.
"""

import os
import sys
import warnings

from . import _import_hook

__version__ = "0.1.0"

# Names served from xla_rnnt.tf on first access (PEP 562).
_TF_EXPORTS = (
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
)

__all__ = ["__version__", "register_handlers", *_TF_EXPORTS]


def register_handlers():
    """Registers the custom-call handlers into each framework this process has
    imported (TensorFlow, JAX), e.g. before calling a reloaded SavedModel or a
    deserialized ``jax.export`` program. Idempotent and thread-safe; returns
    the names of the frameworks now holding them. Importing ``xla_rnnt.tf`` or
    ``xla_rnnt.jax`` registers into that framework as well.

    Raises ``xla_rnnt._native.NativeLibraryError`` (an ImportError) when the
    library is missing or a framework refuses it."""
    registered = []
    if "tensorflow" in sys.modules:
        from .tf import _registry as tf_registry

        tf_registry.register()
        registered.append("tensorflow")
    if "jax" in sys.modules:
        from .jax import _registry as jax_registry

        jax_registry.register()
        registered.append("jax")
    return tuple(registered)


def _register_into_tf(_module):
    try:
        from .tf import _registry as tf_registry

        tf_registry.register()
    except Exception as e:  # never break the user's `import tensorflow`
        warnings.warn(
            f"xla_rnnt: could not register its handlers into TensorFlow: {e}",
            RuntimeWarning,
            stacklevel=2,
        )


def _register_keras_layer(_module):
    # Makes PrunedTransducerLoss known to keras.saving.load_model.
    try:
        from . import keras  # noqa: F401
    except Exception as e:
        warnings.warn(
            f"xla_rnnt: could not register its Keras layer: {e}", RuntimeWarning, stacklevel=2
        )


# XLA_RNNT_REGISTER_ON_IMPORT=0 opts out (e.g. a JAX program that imports TF
# for tf.data only); register_handlers() or importing xla_rnnt.tf still does it.
if os.environ.get("XLA_RNNT_REGISTER_ON_IMPORT", "1") != "0":
    _import_hook.when_imported("tensorflow", _register_into_tf)
    _import_hook.when_imported("keras", _register_keras_layer)


def __getattr__(name):
    if name in _TF_EXPORTS:
        from . import tf as _tf

        return getattr(_tf, name)
    raise AttributeError(f"module 'xla_rnnt' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_TF_EXPORTS))
