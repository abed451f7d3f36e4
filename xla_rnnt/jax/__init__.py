"""xla_rnnt for JAX: the same custom calls as the TF layer, through jax.ffi."""
from .mutual_information import mutual_information_recursion

__all__ = ["mutual_information_recursion"]
