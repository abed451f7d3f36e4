"""Data-parallel JAX: batch-sharded inputs keep the custom calls sharded.

The device count of the CPU backend is fixed when JAX starts, so the sharded
runs happen in one subprocess (this file run as a script, with
XLA_FLAGS=--xla_force_host_platform_device_count=4 and JAX_PLATFORMS=cpu). It
saves inputs, outputs, output shardings and the compiled HLO text of every case;
the tests below check them against the single-device run (done in the same
subprocess) and the float64 oracle. See notes/distributed.md.
"""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

N_DEVICES = 4


# ----------------------------------------------------------------- subprocess
def _cases():
    # name: (mesh axes, B, S, T, modified, dtype, specs of px, py, boundary, w,
    #        return_grad, sharding constraint applied inside the jitted function)
    D, M = "data", "model"
    return {
        "batch": ({D: 4}, 8, 4, 5, False, "float64", [(D,)] * 4, False, None),
        "batch_modified_f32": ({D: 4}, 8, 4, 5, True, "float32", [(D,)] * 4, False, None),
        "batch_return_grad": ({D: 4}, 8, 4, 5, False, "float64", [(D,)] * 4, True, None),
        "batch_two_axes": ({D: 2, M: 2}, 8, 4, 5, False, "float64", [((D, M),)] * 4, False, None),
        "boundary_replicated": (
            {D: 4},
            8,
            4,
            5,
            False,
            "float64",
            [(D,), (D,), (), ()],
            False,
            None,
        ),
        # S sharded in px, T sharded in py: gathered along S/T only, batch stays split.
        "s_t_sharded": (
            {D: 2, M: 2},
            8,
            4,
            4,
            False,
            "float64",
            [(D, M), (D, None, M), (D,), (D,)],
            False,
            None,
        ),
        # 6 items on 4 devices: a shard would need padding rows; replicated instead.
        "uneven_batch": ({D: 4}, 6, 4, 5, False, "float64", [()] * 4, False, D),
    }


def _hlo_summary(text):
    """Collectives and xla_rnnt custom calls of a compiled HLO module."""
    collectives, calls = [], []
    for line in text.splitlines():
        m = re.search(
            r"= (\S+) (all-gather|all-to-all|collective-permute|all-reduce|"
            r"reduce-scatter)(-start)?\(",
            line,
        )
        if m:
            dims = re.search(r"dimensions=\{([\d,]*)\}", line)
            collectives.append(
                {"op": m.group(2), "shape": m.group(1), "dims": dims.group(1) if dims else None}
            )
        m = re.search(r"= \((\w+)\[([\d,]*)\].*custom_call_target=\"(xla_rnnt_\w+)\"", line)
        if m:
            calls.append(
                {"target": m.group(3), "batch": [int(d) for d in m.group(2).split(",") if d]}
            )
    return {"collectives": collectives, "calls": calls}


def _spec(sharding):
    """A NamedSharding's spec as JSON: entries None, "axis" or ["axis", ...],
    trailing Nones dropped."""
    spec = [e if e is None or isinstance(e, str) else list(e) for e in sharding.spec]
    while spec and spec[-1] is None:
        spec.pop()
    return spec


def _run_cases(outdir):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding
    from jax.sharding import PartitionSpec as P

    import xla_rnnt.jax as xj
    from xla_rnnt.jax import _ffi

    assert len(jax.devices()) == N_DEVICES, jax.devices()
    rng = np.random.default_rng(0)
    meta = {"shardy": jax.config.jax_use_shardy_partitioner}

    def make_fn(return_grad, constraint=None):
        def loss(px, py, boundary, w):
            if constraint is not None:
                px, py, boundary = (
                    jax.lax.with_sharding_constraint(x, constraint) for x in (px, py, boundary)
                )
            if return_grad:
                scores, occ = xj.mutual_information_recursion(px, py, boundary, return_grad=True)
            else:
                scores, occ = xj.mutual_information_recursion(px, py, boundary), ()
            return jnp.sum(w * scores), (scores, occ)

        return jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))

    def run(name, axes, B, S, T, modified, dtype, specs, return_grad, constrain_to):
        mesh = Mesh(np.array(jax.devices()).reshape(tuple(axes.values())), tuple(axes))
        px = rng.standard_normal((B, S, T if modified else T + 1)).astype(dtype)
        py = rng.standard_normal((B, S + 1, T)).astype(dtype)
        lo = rng.integers(0, 2, (B, 2))  # ragged rows inside the lattice
        hi = np.stack([rng.integers(lo[:, 0], S + 1), rng.integers(lo[:, 1], T + 1)], 1)
        if modified:
            hi[:, 0] = np.minimum(hi[:, 0], lo[:, 0] + hi[:, 1] - lo[:, 1])
        boundary = np.concatenate([lo, hi], 1).astype(np.int32)
        w = rng.standard_normal(B).astype(dtype)
        inputs = (px, py, boundary, w)
        constraint = None if constrain_to is None else NamedSharding(mesh, P(constrain_to))
        fn = make_fn(return_grad, constraint)
        sharded = [jax.device_put(x, NamedSharding(mesh, P(*s))) for x, s in zip(inputs, specs)]
        hlo = fn.lower(*sharded).compile().as_text()
        (_, (scores, occ)), (gx, gy) = fn(*sharded)
        single = make_fn(return_grad)(*jax.device_put(inputs, jax.devices()[0]))
        (_, (s1, occ1)), (gx1, gy1) = single
        arrays = dict(
            px=px,
            py=py,
            boundary=boundary,
            w=w,
            scores=scores,
            gx=gx,
            gy=gy,
            scores1=s1,
            gx1=gx1,
            gy1=gy1,
        )
        if return_grad:
            arrays.update(ox=occ[0], oy=occ[1], ox1=occ1[0], oy1=occ1[1])
        np.savez(
            os.path.join(outdir, name + ".npz"), **{k: np.asarray(v) for k, v in arrays.items()}
        )
        meta[name] = dict(
            _hlo_summary(hlo),
            B=B,
            mesh=axes,
            out_specs={
                "scores": _spec(scores.sharding),
                "gx": _spec(gx.sharding),
                "gy": _spec(gy.sharding),
            },
        )
        with open(os.path.join(outdir, name + ".hlo.txt"), "w") as f:
            f.write(hlo)

    for name, case in _cases().items():
        run(name, *case)

    # vmap over a leading axis, batch axis (1) sharded: vmap(grad) inside jit.
    mesh = Mesh(np.array(jax.devices()), ("data",))
    px = rng.standard_normal((2, 8, 3, 5))
    py = rng.standard_normal((2, 8, 4, 4))
    sh = NamedSharding(mesh, P(None, "data"))
    fn = jax.jit(
        jax.vmap(
            jax.grad(lambda a, b: jnp.sum(xj.mutual_information_recursion(a, b)), argnums=(0, 1))
        )
    )
    args = jax.device_put((px, py), sh)
    gx, gy = fn(*args)
    np.savez(os.path.join(outdir, "vmap.npz"), px=px, py=py, gx=np.asarray(gx), gy=np.asarray(gy))
    meta["vmap"] = dict(
        _hlo_summary(fn.lower(*args).compile().as_text()), out_specs={"gx": _spec(gx.sharding)}
    )

    # Eager (no jit) call on sharded arrays: the wrapper's own jit partitions it.
    px, py = args[0][0], args[1][0]
    scores = xj.mutual_information_recursion(px, py)
    boundary = jnp.broadcast_to(jnp.array([0, 0, 3, 4], jnp.int32), (8, 4))
    np.savez(
        os.path.join(outdir, "eager.npz"),
        px=np.asarray(px),
        py=np.asarray(py),
        scores=np.asarray(scores),
    )
    meta["eager"] = dict(
        _hlo_summary(_ffi._mi_forward.lower(px, py, boundary).compile().as_text()),
        out_specs={"scores": _spec(scores.sharding)},
    )

    # The band recursion (rnnt_loss_pruned's for s_range <= 32), batch-sharded.
    from xla_rnnt.jax import _ops as jax_ops

    B, S, T, R = 8, 4, 6, 4
    px, py = rng.standard_normal((B, T, R)), rng.standard_normal((B, T, R))
    starts = np.tile(np.arange(T) > 2, (B, 1)).astype(np.int32)  # rows 0-3, then 1-4
    boundary = np.stack(
        [np.zeros(B), np.zeros(B), rng.integers(1, S + 1, B), rng.integers(4, T, B)], 1
    ).astype(np.int32)
    w = rng.standard_normal(B)

    def band_loss(px, py, starts, boundary, w):
        scores = jax_ops.band_scores(px, py, starts, boundary, S, False)
        return jnp.sum(w * scores), scores

    fn = jax.jit(jax.value_and_grad(band_loss, argnums=(0, 1), has_aux=True))
    inputs = (px, py, starts, boundary, w)
    sharded = [jax.device_put(x, NamedSharding(mesh, P("data"))) for x in inputs]
    (_, scores), (gx, gy) = fn(*sharded)
    (_, scores1), (gx1, gy1) = fn(*jax.device_put(inputs, jax.devices()[0]))
    arrays = dict(scores=scores, gx=gx, gy=gy, scores1=scores1, gx1=gx1, gy1=gy1)
    np.savez(os.path.join(outdir, "band.npz"), **{k: np.asarray(v) for k, v in arrays.items()})
    meta["band"] = dict(
        _hlo_summary(fn.lower(*sharded).compile().as_text()),
        B=B,
        out_specs={"scores": _spec(scores.sharding), "gx": _spec(gx.sharding)},
    )

    # The same partitioning rule under GSPMD (deprecated, still selectable).
    jax.config.update("jax_use_shardy_partitioner", False)
    for name in ("batch", "s_t_sharded"):
        run("gspmd_" + name, *_cases()[name])

    with open(os.path.join(outdir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    _run_cases(sys.argv[1])
    sys.exit(0)


# ---------------------------------------------------------------------- tests
pytest.importorskip("jax")

import reference  # noqa: E402
from conftest import relative_error  # noqa: E402


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("distributed_jax")
    flags = os.environ.get("XLA_FLAGS", "")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(sys.path),
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"{flags} --xla_force_host_platform_device_count={N_DEVICES}".strip(),
    )
    # cwd: not the source tree, whose xla_rnnt/ has no built library in it.
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), str(outdir)],
        env=env,
        cwd=outdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    with open(outdir / "meta.json") as f:
        meta = json.load(f)
    return outdir, meta


def _load(results, name):
    outdir, meta = results
    return dict(np.load(outdir / f"{name}.npz")), meta[name]


def _check_values(a, tol):
    ref, ref_gx, ref_gy = reference.mutual_information(a["px"], a["py"], a["boundary"])
    w = a["w"].astype(np.float64)[:, None, None]
    for got, single, expected in (
        (a["scores"], a["scores1"], ref),
        (a["gx"], a["gx1"], w * ref_gx),
        (a["gy"], a["gy1"], w * ref_gy),
    ):
        np.testing.assert_allclose(got, single, rtol=tol, atol=0)  # == one device
        assert relative_error(got, expected) < tol  # == float64 oracle
    if "ox" in a:
        np.testing.assert_array_equal(a["ox"], a["ox1"])
        assert relative_error(a["ox"], ref_gx) < tol and relative_error(a["oy"], ref_gy) < tol


def _local_batch(info, n_shards):
    """Every xla_rnnt custom call runs on B / n_shards items."""
    assert info["calls"], "no xla_rnnt custom call in the compiled HLO"
    for call in info["calls"]:
        assert call["batch"] == [info["B"] // n_shards], call


def _no_gather(info):
    """No collective but the all-reduce of the scalar loss."""
    others = [
        c for c in info["collectives"] if not (c["op"] == "all-reduce" and "[]" in c["shape"])
    ]
    assert not others, others


TOL = {"float64": 1e-12, "float32": 1e-5}


@pytest.mark.parametrize(
    "name",
    [
        "batch",
        "batch_modified_f32",
        "batch_return_grad",
        "batch_two_axes",
        "boundary_replicated",
        "gspmd_batch",
    ],
)
def test_batch_sharded_calls_stay_sharded(results, name):
    a, info = _load(results, name)
    _check_values(a, TOL[str(a["px"].dtype)])
    _no_gather(info)
    _local_batch(info, N_DEVICES)
    for key in ("scores", "gx", "gy"):  # results come back batch-sharded
        assert info["out_specs"][key] in (["data"], [["data", "model"]]), info["out_specs"]


@pytest.mark.parametrize("name", ["s_t_sharded", "gspmd_s_t_sharded"])
def test_s_and_t_sharding_is_gathered_along_s_and_t_only(results, name):
    a, info = _load(results, name)
    _check_values(a, 1e-12)
    _local_batch(info, 2)  # the batch stays split over "data"
    gathers = [c for c in info["collectives"] if c["op"] == "all-gather"]
    assert gathers and all(c["dims"] in ("1", "2") for c in gathers), info["collectives"]


def test_uneven_batch_falls_back_to_replication(results):
    a, info = _load(results, "uneven_batch")
    _check_values(a, 1e-12)
    for call in info["calls"]:
        assert call["batch"] == [6], call  # whole batch on each device, no padded rows


def test_vmap_of_grad_under_sharding(results):
    a, info = _load(results, "vmap")
    for n in range(a["px"].shape[0]):
        _, ref_gx, ref_gy = reference.mutual_information(a["px"][n], a["py"][n])
        assert relative_error(a["gx"][n], ref_gx) < 1e-12
        assert relative_error(a["gy"][n], ref_gy) < 1e-12
    assert info["calls"] and all(c["batch"] == [2, 2] for c in info["calls"]), info["calls"]
    assert not info["collectives"], info["collectives"]
    assert info["out_specs"]["gx"] == [None, "data"]


def test_band_recursion_stays_batch_sharded(results):
    """The band targets' sharding rule: batch-sharded operands give batch-
    sharded results, each device running the handler on its own items (the
    same numbers as one device), no gather."""
    a, info = _load(results, "band")
    for name in ("scores", "gx", "gy"):
        np.testing.assert_array_equal(a[name], a[name + "1"])
    assert np.all(np.isfinite(a["scores"]))
    assert {c["target"] for c in info["calls"]} == {"xla_rnnt_band_forward_backward"}
    _local_batch(info, N_DEVICES)
    _no_gather(info)
    assert info["out_specs"] == {"scores": ["data"], "gx": ["data"]}


def test_eager_call_on_sharded_arrays(results):
    a, info = _load(results, "eager")
    assert relative_error(a["scores"], reference.mutual_information(a["px"], a["py"])[0]) < 1e-12
    assert info["out_specs"]["scores"] == ["data"]
    assert all(c["batch"] == [2] for c in info["calls"]) and not info["collectives"], info
