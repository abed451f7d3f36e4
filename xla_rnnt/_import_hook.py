"""Runs a callback right after a given top-level module has been imported.

``import xla_rnnt`` must not import TensorFlow, yet a process that imports
xla_rnnt first and TensorFlow later (and then loads a SavedModel holding our
custom calls) needs the handlers in TF's registry. A finder placed first on
``sys.meta_path`` wraps the loader of the watched module so that the callback
runs once the module has executed; it then removes itself.
"""

import functools
import importlib.abc
import sys
import threading

_lock = threading.Lock()


class _Loader(importlib.abc.Loader):
    """Delegates to the real loader; calls back after exec_module."""

    def __init__(self, loader, callback):
        self._loader, self._callback = loader, callback

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        module.__loader__ = module.__spec__.loader = self._loader
        self._callback(module)

    def __getattr__(self, name):  # get_resource_reader, is_package, ...
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self):
        self.callbacks = {}  # module name -> [callback]

    def find_spec(self, fullname, path=None, target=None):
        with _lock:
            if fullname not in self.callbacks:
                return None
        for finder in sys.meta_path:  # the finders that would have found it
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find and finder is not self else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        # The callbacks are taken when the module executes, not here: a mere
        # importlib.util.find_spec (a probe whether the module exists, which
        # TF and Keras make of each other) executes nothing.
        spec.loader = _Loader(spec.loader, functools.partial(self._run, fullname))
        return spec

    def _run(self, fullname, module):
        with _lock:
            callbacks = self.callbacks.pop(fullname, [])
            if not self.callbacks and self in sys.meta_path:
                sys.meta_path.remove(self)
        for callback in callbacks:
            callback(module)


_finder = _Finder()


def when_imported(name, callback):
    """callback(module) now if top-level module `name` is imported, else right
    after its import finishes (once)."""
    with _lock:
        module = sys.modules.get(name)
        if module is None:
            _finder.callbacks.setdefault(name, []).append(callback)
            if _finder not in sys.meta_path:
                sys.meta_path.insert(0, _finder)
            return
    callback(module)
