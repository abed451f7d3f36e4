"""Both backend adapters implement the shared core's protocol
(xla_rnnt/_ops_protocol.py): every member, with the protocol's parameters, and
the core calls nothing else."""

import inspect
import pathlib
import re

import pytest

from xla_rnnt import _ops_protocol

MEMBERS = [
    name
    for name, value in vars(_ops_protocol.Ops).items()
    if inspect.isfunction(value) and not name.startswith("_")
]


def _adapter(framework):
    pytest.importorskip({"jax": "jax", "tf": "tensorflow"}[framework])
    if framework == "jax":
        from xla_rnnt.jax import _ops
    else:
        from xla_rnnt.tf import _ops
    return _ops


@pytest.mark.parametrize("framework", ["jax", "tf"])
def test_adapter_implements_the_protocol(framework):
    adapter = _adapter(framework)
    assert isinstance(adapter, _ops_protocol.Ops)
    for name in MEMBERS:
        want = list(inspect.signature(getattr(_ops_protocol.Ops, name)).parameters)[1:]
        got = list(inspect.signature(getattr(adapter, name)).parameters)
        assert got == want, (framework, name, got, want)


def test_the_core_calls_only_protocol_members():
    root = pathlib.Path(_ops_protocol.__file__).parent
    used = set()
    for module in ("_rnnt.py", "_recursion.py"):
        used |= set(re.findall(r"\bops\.([a-z_]+)\(", (root / module).read_text()))
    assert used and used <= set(MEMBERS), sorted(used - set(MEMBERS))
