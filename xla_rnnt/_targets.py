"""Every custom call of the library, declared once: name, operands, results as
formulas of the operand shapes, attributes (name and type), batch-sharding
rule. The TF binding (``tf/_ffi.py``) and the JAX binding (``jax/_ffi.py``) are
derived from this table; its C++ twin is ``cc/targets.h`` (names, attribute
names and types, the same formulas), and the handlers check the same shapes
(``cc/ffi_checks.h``) and bind the attributes by those names.

Shapes: operand 0 has ``lead`` batch axes followed by ``trailing`` axes; every
operand and result starts with the same batch axes (TF: one, B; JAX: any
number, which the handlers flatten into B, e.g. under vmap). A result's
trailing dims are :class:`Size` formulas of the operands' trailing dims; its
dtype is that of operand ``dtype_operand`` (0 unless a target says otherwise).
"""

from typing import NamedTuple

import numpy as np

# Rows per band of the CUDA backward; its workspace g keeps one row per band
# (cc/targets.h: kHandoffRowsPerBand).
HANDOFF_ROWS_PER_BAND = 32

# Widest window (s_range) the band targets take on a GPU: one warp per item,
# a lane per window row (cc/targets.h: kBandMaxRows). Wider ones take the
# lattice recursion.
BAND_MAX_ROWS = 32


class Size(NamedTuple):
    """(operands[operand].shape[axis] + offset) // divisor; axis counts from
    the end (-1 is the last axis), so it holds for any number of batch axes."""

    operand: int
    axis: int
    offset: int = 0
    divisor: int = 1

    def of(self, shapes):
        """The size for operand shapes (tuples of ints)."""
        return (shapes[self.operand][self.axis] + self.offset) // self.divisor


class Result(NamedTuple):
    name: str
    trailing: tuple  # Size per axis after the batch axes


class Attribute(NamedTuple):
    """A static FFI attribute: its name and NumPy scalar type, "int64"
    (``Attr<int64_t>``, MLIR ``i64``) or "bool" (``Attr<bool>``, ``i1``); the
    handlers bind it by its name in cc/targets.h."""

    name: str
    dtype: str

    def value(self, x):
        """x as the scalar the bindings hand to the FFI (its MLIR type follows)."""
        return np.dtype(self.dtype).type(x)


class Target(NamedTuple):
    name: str
    operands: tuple  # operand names, in the handler's binding order
    trailing: int  # operand 0's non-batch rank
    results: tuple  # Result, in the handler's binding order; dtype of operand dtype_operand
    attributes: tuple  # Attribute, the handler's static attributes
    # Shardy rule: "..." are the batch axes of every operand and result; all
    # other factors must be replicated (listed in `replicated`).
    sharding_rule: str
    replicated: tuple
    dtype_operand: int = 0  # the operand whose dtype every result has

    def result_shapes(self, shapes):
        """[result shape] for operand shapes (tuples of ints), batch axes included."""
        lead = tuple(shapes[0][: len(shapes[0]) - self.trailing])
        return [lead + tuple(s.of(shapes) for s in r.trailing) for r in self.results]

    def attribute_values(self, values):
        """{name: FFI scalar} for a call's attributes {name: value}, which must
        name every attribute of the target and nothing else."""
        names = tuple(a.name for a in self.attributes)
        if sorted(values) != sorted(names):
            raise TypeError(f"{self.name} takes attributes {names}, got {tuple(values)}")
        return {a.name: a.value(values[a.name]) for a in self.attributes}


# px [.., S, T+1] (regular) or [.., S, T] (modified), py [.., S+1, T],
# boundary [.., 4] int32; cc/mutual_information.h.
_S1 = Size(1, -2)  # S + 1, from py
_T1 = Size(1, -1, 1)  # T + 1, from py
_HANDOFF = Size(1, -2, HANDOFF_ROWS_PER_BAND - 1, HANDOFF_ROWS_PER_BAND)  # ceil((S+1) / 32)
_PX = (Size(0, -2), Size(0, -1))
_PY = (Size(1, -2), Size(1, -1))
# Shardy factors: s = S, x = px's last axis, r = S+1, t = T, f = boundary's 4,
# u = the lattice's T+1, h = the handoff rows of g, c = the classes.
_LATTICE_FACTORS = ("s", "x", "r", "t", "f", "u")

MI_FORWARD = Target(
    name="xla_rnnt_mi_forward",
    operands=("px", "py", "boundary"),
    trailing=2,
    results=(Result("scores", ()), Result("p", (_S1, _T1))),
    attributes=(),
    sharding_rule="... s x, ... r t, ... f -> ..., ... r u",
    replicated=_LATTICE_FACTORS,
)

MI_FORWARD_BACKWARD = Target(
    name="xla_rnnt_mi_forward_backward",
    operands=("px", "py", "boundary"),
    trailing=2,
    results=(
        Result("scores", ()),
        Result("px_grad", _PX),
        Result("py_grad", _PY),
        Result("p", (_S1, _T1)),
        Result("g", (_HANDOFF, _T1)),
    ),
    attributes=(),
    sharding_rule="... s x, ... r t, ... f -> ..., ... s x, ... r t, ... r u, ... h u",
    replicated=_LATTICE_FACTORS + ("h",),
)

MI_BACKWARD = Target(  # TF's backward, from p of MI_FORWARD
    name="xla_rnnt_mi_backward",
    operands=("px", "py", "boundary", "p"),
    trailing=2,
    results=(Result("px_grad", _PX), Result("py_grad", _PY), Result("g", (_HANDOFF, _T1))),
    attributes=(),
    sharding_rule="... s x, ... r t, ... f, ... r u -> ... s x, ... r t, ... h u",
    replicated=_LATTICE_FACTORS + ("h",),
)

# logits [.., C] float, symbols [..] int32; cc/logsoftmax_gather.h. blank: the
# blank class; hat: the HAT factorisation instead of the log-softmax.
_GATHER_ATTRIBUTES = (Attribute("blank", "int64"), Attribute("hat", "bool"))
LOGSOFTMAX_GATHER = Target(
    name="xla_rnnt_logsoftmax_gather",
    operands=("logits", "symbols"),
    trailing=1,
    results=(Result("px", ()), Result("py", ()), Result("normalizers", ())),
    attributes=_GATHER_ATTRIBUTES,
    sharding_rule="... c, ... -> ..., ..., ...",
    replicated=("c",),
)

LOGSOFTMAX_GATHER_GRAD = Target(
    name="xla_rnnt_logsoftmax_gather_grad",
    operands=("logits", "symbols", "normalizers", "px_grad", "py_grad"),
    trailing=1,
    results=(Result("logits_grad", (Size(0, -1),)),),
    attributes=_GATHER_ATTRIBUTES,
    sharding_rule="... c, ..., ..., ..., ... -> ... c",
    replicated=("c",),
)

# x [.., N, Q] (its shape only), idx [.., T, R] int32, g [.., T, R, Q]: the
# gradient of x[b, idx[b, t, r], :] summed in a fixed order (deterministic);
# cc/gather_rows_grad.h. sorted [.., R]: workspace.
GATHER_ROWS_GRAD = Target(
    name="xla_rnnt_gather_rows_grad",
    operands=("x", "idx", "g"),
    trailing=2,
    results=(Result("x_grad", (Size(0, -2), Size(0, -1))), Result("sorted", (Size(1, -1),))),
    attributes=(),
    sharding_rule="... n q, ... t r, ... t r q -> ... n q, ... r",
    replicated=("n", "q", "t", "r"),
)

# x [.., T, V] (its shape only), idx [.., S] int32, g [.., S, T]: the gradient
# of x[b, t, idx[b, s]] as [.., S, T] (am at the symbols) summed in a fixed
# order; cc/gather_symbols_grad.h. links [.., S]: workspace.
GATHER_SYMBOLS_GRAD = Target(
    name="xla_rnnt_gather_symbols_grad",
    operands=("x", "idx", "g"),
    trailing=2,
    results=(Result("x_grad", (Size(0, -2), Size(0, -1))), Result("links", (Size(1, -1),))),
    attributes=(),
    sharding_rule="... t v, ... s, ... s t -> ... t v, ... s",
    replicated=("t", "v", "s"),
)

# The recursion on the band of the pruned loss's windows (cc/band_recursion.h):
# px, py [.., T, R], starts [.., T] int32 (the window of frame t is s in
# [starts, starts + R)), boundary [.., 4] int32; S: the lattice's S, modified:
# an emission also moves to the next frame. split [.., T, R] and final_split
# [..] are the forward's workspace for the backward (float, px's dtype).
_BAND_ATTRIBUTES = (Attribute("S", "int64"), Attribute("modified", "bool"))
_BAND = (Size(0, -2), Size(0, -1))
# Shardy factors: t = T, k = R, f = boundary's 4.
_BAND_FACTORS = ("t", "k", "f")

BAND_FORWARD = Target(
    name="xla_rnnt_band_forward",
    operands=("px", "py", "starts", "boundary"),
    trailing=2,
    results=(Result("scores", ()), Result("split", _BAND), Result("final_split", ())),
    attributes=_BAND_ATTRIBUTES,
    sharding_rule="... t k, ... t k, ... t, ... f -> ..., ... t k, ...",
    replicated=_BAND_FACTORS,
)

BAND_FORWARD_BACKWARD = Target(
    name="xla_rnnt_band_forward_backward",
    operands=("px", "py", "starts", "boundary"),
    trailing=2,
    results=(
        Result("scores", ()),
        Result("px_grad", _BAND),
        Result("py_grad", _BAND),
        Result("split", _BAND),
        Result("final_split", ()),
    ),
    attributes=_BAND_ATTRIBUTES,
    sharding_rule="... t k, ... t k, ... t, ... f -> ..., ... t k, ... t k, ... t k, ...",
    replicated=_BAND_FACTORS,
)

_SPLIT = (Size(2, -2), Size(2, -1))
BAND_BACKWARD = Target(  # TF's backward, from the workspace of BAND_FORWARD
    name="xla_rnnt_band_backward",
    operands=("starts", "boundary", "split", "final_split"),
    trailing=1,
    results=(Result("px_grad", _SPLIT), Result("py_grad", _SPLIT)),
    attributes=_BAND_ATTRIBUTES,
    sharding_rule="... t, ... f, ... t k, ... -> ... t k, ... t k",
    replicated=_BAND_FACTORS,
    dtype_operand=2,  # split's: operand 0 (starts) is int32
)

TARGETS = (
    MI_FORWARD,
    MI_FORWARD_BACKWARD,
    MI_BACKWARD,
    BAND_FORWARD,
    BAND_FORWARD_BACKWARD,
    BAND_BACKWARD,
    LOGSOFTMAX_GATHER,
    LOGSOFTMAX_GATHER_GRAD,
    GATHER_ROWS_GRAD,
    GATHER_SYMBOLS_GRAD,
)
