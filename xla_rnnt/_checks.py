"""Trace-time argument checks shared by the TF and JAX layers.

They work on static shapes (tuples whose entries may be None for a dimension
unknown at trace time) and dtype names, so both frameworks raise the same
errors, naming the argument and the expected shape.
"""

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
HALF_DTYPES = ("float16", "bfloat16")  # computed in float32
INT_DTYPES = ("int32", "int64")


def _fmt(shape):
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _same(a, b):
    """Two dims agree unless both are known and differ."""
    return a is None or b is None or a == b


def check_rank(name, shape, rank, expected):
    if len(shape) != rank:
        raise ValueError(
            f"{name} must have shape {expected}, got rank {len(shape)} shape {_fmt(shape)}"
        )


def check_float(name, dtype):
    if dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be a floating-point tensor ({', '.join(FLOAT_DTYPES)}), got {dtype}"
        )


def check_int(name, dtype):
    if dtype not in INT_DTYPES:
        raise TypeError(f"{name} must be an int32 or int64 tensor, got {dtype}")


def check_boundary(boundary_shape, boundary_dtype, B, batch_of=None):
    """boundary: [B, 4] integer rows (s_begin, t_begin, s_end, t_end); B is the
    batch size of the argument named batch_of."""
    check_int("boundary", boundary_dtype)
    check_rank("boundary", boundary_shape, 2, f"[B, 4] = [{B}, 4]")
    if not (_same(boundary_shape[0], B) and _same(boundary_shape[1], 4)):
        source = f" (B of {batch_of})" if batch_of and B is not None else ""
        raise ValueError(
            f"boundary must have shape [B, 4] = [{'?' if B is None else B}, 4]"
            f"{source}, got {_fmt(boundary_shape)}"
        )


def check_mutual_information(
    px_shape,
    px_dtype,
    py_shape,
    py_dtype,
    boundary_shape=None,
    boundary_dtype=None,
    names=("px", "py"),
):
    """Checks px [B,S,T+1] (or [B,S,T], modified), py [B,S+1,T], boundary [B,4].

    Returns (B, S, T, modified); S and T must be static, B may be None. `names`
    are the argument names used in the messages (the occupations px_grad and
    py_grad have the same shapes).
    """
    x, y = names
    check_float(x, px_dtype)
    check_float(y, py_dtype)
    if px_dtype != py_dtype:
        raise TypeError(f"{x} and {y} must have the same dtype, got {px_dtype} and {py_dtype}")
    check_rank(x, px_shape, 3, "[B, S, T+1] or [B, S, T]")
    check_rank(y, py_shape, 3, "[B, S+1, T]")
    B = px_shape[0] if px_shape[0] is not None else py_shape[0]
    S, T = px_shape[1], py_shape[2]
    if S is None or T is None or py_shape[1] is None or px_shape[2] is None:
        raise ValueError(
            f"the S and T axes of {x} and {y} must be known at trace time, got "
            f"{x} {_fmt(px_shape)} and {y} {_fmt(py_shape)}"
        )
    if not _same(px_shape[0], py_shape[0]) or py_shape[1] != S + 1:
        raise ValueError(
            f"{y} must have shape [B, S+1, T] = [{_b(B)}, {S + 1}, T] "
            f"for {x} {_fmt(px_shape)}, got {_fmt(py_shape)}"
        )
    if px_shape[2] not in (T, T + 1):
        raise ValueError(
            f"{x} must have shape [B, S, T+1] = [.., {S}, {T + 1}] (regular) or "
            f"[B, S, T] = [.., {S}, {T}] (modified) for {y} {_fmt(py_shape)}, "
            f"got {_fmt(px_shape)}"
        )
    if boundary_shape is not None:
        check_boundary(boundary_shape, boundary_dtype, B, x if px_shape[0] is not None else y)
    return B, S, T, px_shape[2] == T


# ---------------------------------------------------------------------------
# RNN-T loss family (xla_rnnt/_rnnt.py). Same conventions: static shapes as
# tuples (None = unknown, allowed only for the batch axis B), dtype names.

RNNT_TYPES = ("regular", "modified", "constrained")
REDUCTIONS = ("none", "mean", "sum")


def _b(B):
    return "?" if B is None else str(B)


def check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}"
        )


def check_real(name, value, nonnegative=False):
    """A static Python (or NumPy) real number, e.g. delay_penalty; returns float."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a Python float (a static value, not a tensor), "
            f"got {type(value).__name__}"
        )
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name} must be finite, got {value}")
    if nonnegative and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def check_static_int(name, value, low, high=None):
    """A static Python integer in [low, high] (high None: no upper bound)."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a Python int (a static value, not a tensor), "
            f"got {type(value).__name__}"
        )
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def check_termination_symbol(termination_symbol, V):
    return check_static_int("termination_symbol", termination_symbol, 0, V - 1)


def _static(name, shape, axes, expected):
    for a in axes:
        if shape[a] is None:
            raise ValueError(
                f"{name} must have shape {expected} with every axis but B known "
                f"at trace time, got {_fmt(shape)}"
            )


def _batch(*named_shapes):
    """(B, the name of the first argument with a known B) of [(name, shape)],
    checking that the known batch sizes agree."""
    B = source = None
    for name, shape in named_shapes:
        if B is not None and shape[0] is not None and shape[0] != B:
            raise ValueError(
                f"{name} has batch size {shape[0]} but {source[0]} has "
                f"{B} (shapes {_fmt(source[1])} and {_fmt(shape)})"
            )
        if B is None and shape[0] is not None:
            B, source = shape[0], (name, shape)
    return B, None if source is None else source[0]


def check_symbols(symbols_shape, symbols_dtype, B, S):
    check_int("symbols", symbols_dtype)
    expected = f"[B, S] = [{_b(B)}, {S}]"
    check_rank("symbols", symbols_shape, 2, expected)
    if not (_same(symbols_shape[0], B) and symbols_shape[1] == S):
        raise ValueError(f"symbols must have shape {expected}, got {_fmt(symbols_shape)}")


def check_simple_inputs(
    lm_shape,
    lm_dtype,
    am_shape,
    am_dtype,
    symbols_shape,
    symbols_dtype,
    boundary_shape=None,
    boundary_dtype=None,
):
    """lm [B, S+1, C], am [B, T, C], symbols [B, S]; returns (B, S, T, C)."""
    check_float("lm", lm_dtype)
    check_float("am", am_dtype)
    if lm_dtype != am_dtype:
        raise TypeError(f"lm and am must have the same dtype, got {lm_dtype} and {am_dtype}")
    check_rank("lm", lm_shape, 3, "[B, S+1, C]")
    check_rank("am", am_shape, 3, "[B, T, C]")
    _static("lm", lm_shape, (1, 2), "[B, S+1, C]")
    _static("am", am_shape, (1, 2), "[B, T, C]")
    B, batch_of = _batch(("lm", lm_shape), ("am", am_shape), ("symbols", symbols_shape))
    S, T, C = lm_shape[1] - 1, am_shape[1], am_shape[2]
    if lm_shape[1] < 1:
        raise ValueError(f"lm must have shape [B, S+1, C] with S+1 >= 1, got {_fmt(lm_shape)}")
    if lm_shape[2] != C or C < 1:
        raise ValueError(
            f"lm [B, S+1, C] and am [B, T, C] must have the same C >= 1, got lm "
            f"{_fmt(lm_shape)} and am {_fmt(am_shape)}"
        )
    check_symbols(symbols_shape, symbols_dtype, B, S)
    if boundary_shape is not None:
        check_boundary(boundary_shape, boundary_dtype, B, batch_of)
    return B, S, T, C


def check_joint_inputs(
    logits_shape,
    logits_dtype,
    symbols_shape,
    symbols_dtype,
    boundary_shape=None,
    boundary_dtype=None,
):
    """logits [B, T, S+1, C], symbols [B, S]; returns (B, S, T, C)."""
    check_float("logits", logits_dtype)
    check_rank("logits", logits_shape, 4, "[B, T, S+1, C]")
    _static("logits", logits_shape, (1, 2, 3), "[B, T, S+1, C]")
    if logits_shape[2] < 1 or logits_shape[3] < 1:
        raise ValueError(
            f"logits must have shape [B, T, S+1, C] with S+1 >= 1 and C >= 1, "
            f"got {_fmt(logits_shape)}"
        )
    B, batch_of = _batch(("logits", logits_shape), ("symbols", symbols_shape))
    _, T, S1, C = logits_shape
    check_symbols(symbols_shape, symbols_dtype, B, S1 - 1)
    if boundary_shape is not None:
        check_boundary(boundary_shape, boundary_dtype, B, batch_of)
    return B, S1 - 1, T, C


def check_ranges(ranges_shape, ranges_dtype, B, T, S, s_range=None):
    """ranges [B, T, s_range] integer with 1 <= s_range <= S+1; returns s_range."""
    check_int("ranges", ranges_dtype)
    expected = f"[B, T, s_range] = [{_b(B)}, {T}, {'s_range' if s_range is None else s_range}]"
    check_rank("ranges", ranges_shape, 3, expected)
    _static("ranges", ranges_shape, (1, 2), expected)
    if not (
        _same(ranges_shape[0], B)
        and ranges_shape[1] == T
        and (s_range is None or ranges_shape[2] == s_range)
    ):
        raise ValueError(f"ranges must have shape {expected}, got {_fmt(ranges_shape)}")
    R = ranges_shape[2]
    if not 1 <= R <= S + 1:
        raise ValueError(
            f"ranges must have shape [B, T, s_range] with 1 <= s_range <= S+1 = "
            f"{S + 1}, got {_fmt(ranges_shape)}"
        )
    return R


def check_pruned_inputs(
    logits_shape,
    logits_dtype,
    symbols_shape,
    symbols_dtype,
    ranges_shape,
    ranges_dtype,
    boundary_shape=None,
    boundary_dtype=None,
):
    """logits [B, T, s_range, C], symbols [B, S], ranges [B, T, s_range];
    returns (B, S, T, s_range, C)."""
    check_float("logits", logits_dtype)
    check_rank("logits", logits_shape, 4, "[B, T, s_range, C]")
    _static("logits", logits_shape, (1, 2, 3), "[B, T, s_range, C]")
    check_int("symbols", symbols_dtype)
    check_rank("symbols", symbols_shape, 2, "[B, S]")
    _static("symbols", symbols_shape, (1,), "[B, S]")
    B, batch_of = _batch(
        ("logits", logits_shape), ("symbols", symbols_shape), ("ranges", ranges_shape)
    )
    _, T, R, C = logits_shape
    S = symbols_shape[1]
    if C < 1:
        raise ValueError(
            f"logits must have shape [B, T, s_range, C] with C >= 1, got {_fmt(logits_shape)}"
        )
    check_ranges(ranges_shape, ranges_dtype, B, T, S, R)
    if boundary_shape is not None:
        check_boundary(boundary_shape, boundary_dtype, B, batch_of)
    return B, S, T, R, C


def check_occupations(
    px_grad_shape,
    px_grad_dtype,
    py_grad_shape,
    py_grad_dtype,
    boundary_shape=None,
    boundary_dtype=None,
):
    """px_grad [B, S, T+1] (regular) or [B, S, T], py_grad [B, S+1, T];
    returns (B, S, T, regular)."""
    B, S, T, modified = check_mutual_information(
        px_grad_shape,
        px_grad_dtype,
        py_grad_shape,
        py_grad_dtype,
        boundary_shape,
        boundary_dtype,
        names=("px_grad", "py_grad"),
    )
    return B, S, T, not modified


def check_pruning_inputs(am_shape, am_dtype, lm_shape, lm_dtype, ranges_shape, ranges_dtype):
    """am [B, T, C], lm [B, S+1, C], ranges [B, T, s_range]; returns (B, S, T, s_range, C)."""
    check_float("am", am_dtype)
    check_float("lm", lm_dtype)
    check_rank("am", am_shape, 3, "[B, T, C]")
    check_rank("lm", lm_shape, 3, "[B, S+1, C]")
    _static("am", am_shape, (1, 2), "[B, T, C]")
    _static("lm", lm_shape, (1, 2), "[B, S+1, C]")
    B, _ = _batch(("am", am_shape), ("lm", lm_shape), ("ranges", ranges_shape))
    T, C, S = am_shape[1], am_shape[2], lm_shape[1] - 1
    if lm_shape[2] != C or S < 0:
        raise ValueError(
            f"lm must have shape [B, S+1, C] = [{_b(B)}, S+1, {C}] for am "
            f"{_fmt(am_shape)}, got {_fmt(lm_shape)}"
        )
    R = check_ranges(ranges_shape, ranges_dtype, B, T, S)
    return B, S, T, R, C


def check_pruned_s_range(s_range, S, rnnt_type):
    """A window of one position cannot hold an emission of a regular or
    constrained lattice (both need s and s+1 in the window of one frame)."""
    if s_range < 2 and S >= 1 and rnnt_type in ("regular", "constrained"):
        raise ValueError(
            f"rnnt_type={rnnt_type!r} needs s_range >= 2 (logits and ranges of "
            f"shape [B, T, s_range, C] and [B, T, s_range]) when S >= 1: with "
            f"s_range = 1 no symbol can be emitted; got s_range={s_range}, S={S}"
        )


def check_bool(name, value):
    """A static Python bool (e.g. return_grad); returns it."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a Python bool, got {type(value).__name__}")
    return value


def caller_stacklevel():
    """warnings.warn's stacklevel for the caller's first frame outside
    xla_rnnt and the frameworks' own wrappers (jit tracing, AutoGraph's
    do_not_convert), so that a warning points at the user's line."""
    import sys

    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in (
        "xla_rnnt",
        "tensorflow",
        "jax",
    ):
        frame, level = frame.f_back, level + 1
    return level
