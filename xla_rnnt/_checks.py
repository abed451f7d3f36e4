"""Trace-time argument checks shared by the TF and JAX layers.

They work on static shapes (tuples whose entries may be None for a dimension
unknown at trace time) and dtype names, so both frameworks raise the same
errors, naming the argument and the expected shape.
"""

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")
INT_DTYPES = ("int32", "int64")


def _fmt(shape):
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _same(a, b):
    """Two dims agree unless both are known and differ."""
    return a is None or b is None or a == b


def check_rank(name, shape, rank, expected):
    if len(shape) != rank:
        raise ValueError(f"{name} must have shape {expected}, got rank {len(shape)} "
                         f"shape {_fmt(shape)}")


def check_float(name, dtype):
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be a floating-point tensor "
                        f"({', '.join(FLOAT_DTYPES)}), got {dtype}")


def check_int(name, dtype):
    if dtype not in INT_DTYPES:
        raise TypeError(f"{name} must be an int32 or int64 tensor, got {dtype}")


def check_boundary(boundary_shape, boundary_dtype, B):
    """boundary: [B, 4] integer rows (s_begin, t_begin, s_end, t_end)."""
    check_int("boundary", boundary_dtype)
    check_rank("boundary", boundary_shape, 2, f"[B, 4] = [{B}, 4]")
    if not (_same(boundary_shape[0], B) and _same(boundary_shape[1], 4)):
        raise ValueError(f"boundary must have shape [B, 4] = [{'?' if B is None else B}, 4], "
                         f"got {_fmt(boundary_shape)}")


def check_mutual_information(px_shape, px_dtype, py_shape, py_dtype, boundary_shape=None,
                             boundary_dtype=None):
    """Checks px [B,S,T+1] (or [B,S,T], modified), py [B,S+1,T], boundary [B,4].

    Returns (B, S, T, modified); S and T must be static, B may be None.
    """
    check_float("px", px_dtype)
    check_float("py", py_dtype)
    if px_dtype != py_dtype:
        raise TypeError(f"px and py must have the same dtype, got {px_dtype} and {py_dtype}")
    check_rank("px", px_shape, 3, "[B, S, T+1] or [B, S, T]")
    check_rank("py", py_shape, 3, "[B, S+1, T]")
    B = px_shape[0] if px_shape[0] is not None else py_shape[0]
    S, T = px_shape[1], py_shape[2]
    if S is None or T is None or py_shape[1] is None or px_shape[2] is None:
        raise ValueError("the S and T axes of px and py must be known at trace time, got px "
                         f"{_fmt(px_shape)} and py {_fmt(py_shape)}")
    if not _same(px_shape[0], py_shape[0]) or py_shape[1] != S + 1:
        raise ValueError(f"py must have shape [B, S+1, T] = [{'?' if B is None else B}, {S + 1}, T] "
                         f"for px {_fmt(px_shape)}, got {_fmt(py_shape)}")
    if px_shape[2] not in (T, T + 1):
        raise ValueError(f"px must have shape [B, S, T+1] = [.., {S}, {T + 1}] (regular) or "
                         f"[B, S, T] = [.., {S}, {T}] (modified) for py {_fmt(py_shape)}, "
                         f"got {_fmt(px_shape)}")
    if boundary_shape is not None:
        check_boundary(boundary_shape, boundary_dtype, B)
    return B, S, T, px_shape[2] == T
