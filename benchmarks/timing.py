"""Host-side timing of JAX calls shared by the benchmark scripts."""

import time

import jax
import numpy as np


def median_ms(fn, args, warmup=3, reps=20):
    """Median wall time in ms of fn(*args), synchronised, after warm-up calls
    (which also keep compilation out of the numbers)."""
    for _ in range(warmup):
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(1e3 * (time.perf_counter() - start))
    return float(np.median(times))
