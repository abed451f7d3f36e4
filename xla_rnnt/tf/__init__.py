"""xla_rnnt for TensorFlow: the custom calls through XlaCallModule.

Importing this module registers the library's handlers into TensorFlow.
"""
from .mutual_information import mutual_information_recursion

__all__ = ["mutual_information_recursion"]
