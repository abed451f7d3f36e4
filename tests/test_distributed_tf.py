"""Data-parallel TF: the recursion in a jit-compiled train step under
tf.distribute.MirroredStrategy over 4 logical CPU devices equals one device.

Logical devices must be configured before TF initializes, so the distributed
run happens in a subprocess (this file run as a script). It saves inputs and
results; the tests compare them with the float64 oracle and with the same step
on one device (run in the same subprocess). See notes/distributed.md.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

N_REPLICAS = 4
B, S, T = 8, 3, 5
LR = 0.1


# ----------------------------------------------------------------- subprocess
def _run(outdir):
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * N_REPLICAS
    )
    import xla_rnnt.tf as xt

    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    assert len(devices) == N_REPLICAS, devices
    strategy = tf.distribute.MirroredStrategy(devices)
    rng = np.random.default_rng(0)
    per = B // N_REPLICAS
    meta = {}

    # The variable is read outside the compiled function and its value passed
    # in: TF cannot run an XLA cluster that touches a resource variable of a
    # logical CPU device other than CPU:0 ("Trying to access resource ...
    # located in device CPU:1 from device CPU:0", keras-team/keras#19005).
    @tf.function(jit_compile=True)
    def loss_and_grad(x, py, boundary, w, value):
        """px = x * value; loss and its gradient w.r.t. value, all compiled."""
        with tf.GradientTape() as tape:
            tape.watch(value)
            scores = xt.mutual_information_recursion(x * value, py, boundary)
            loss = tf.reduce_sum(w * scores)
        return loss, scores, tape.gradient(loss, value)

    @tf.function(jit_compile=True)
    def compiled_loss(x, py, boundary, w, value):
        scores = xt.mutual_information_recursion(x * value, py, boundary)
        return tf.reduce_sum(w * scores), scores

    for modified in (False, True):
        name = "modified" if modified else "regular"
        x = rng.standard_normal((B, S, T if modified else T + 1))
        py = rng.standard_normal((B, S + 1, T))
        lo = rng.integers(0, 2, (B, 2))
        hi = np.stack([rng.integers(lo[:, 0], S + 1), rng.integers(lo[:, 1], T + 1)], 1)
        if modified:
            hi[:, 0] = np.minimum(hi[:, 0], lo[:, 0] + hi[:, 1] - lo[:, 1])
        boundary = np.concatenate([lo, hi], 1).astype(np.int32)
        w = rng.standard_normal(B)
        v0 = rng.standard_normal(x.shape[1:])
        with strategy.scope():
            v = tf.Variable(v0, aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

        @tf.function
        def train_step(*args):
            def replica_fn(x, py, boundary, w):
                loss, scores, g = loss_and_grad(x, py, boundary, w, v.read_value())
                # The same step with the tape outside the compiled function:
                # gradient w.r.t. the tf.Variable itself (TF compiles the
                # backward function too).
                with tf.GradientTape() as tape:
                    loss2, _ = compiled_loss(x, py, boundary, w, v.read_value())
                g2 = tape.gradient(loss2, v)
                ctx = tf.distribute.get_replica_context()
                g_sum = ctx.all_reduce(tf.distribute.ReduceOp.SUM, g)
                v.assign_sub(LR * g_sum)
                return loss, scores, g, g2

            return strategy.run(replica_fn, args=args)

        def shard(a):
            return strategy.experimental_distribute_values_from_function(
                lambda ctx: tf.constant(
                    a[
                        ctx.replica_id_in_sync_group * per : (ctx.replica_id_in_sync_group + 1)
                        * per
                    ]
                )
            )

        dist_args = [shard(a) for a in (x, py, boundary, w)]
        loss, scores, g, g2 = train_step(*dist_args)
        local = strategy.experimental_local_results
        out = dict(
            x=x,
            py=py,
            boundary=boundary,
            w=w,
            v0=v0,
            loss=strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None).numpy(),
            scores=np.concatenate([s.numpy() for s in local(scores)]),
            replica_batch=np.array([s.shape[0] for s in local(scores)]),
            grad=strategy.reduce(tf.distribute.ReduceOp.SUM, g, axis=None).numpy(),
            grad_variable=strategy.reduce(tf.distribute.ReduceOp.SUM, g2, axis=None).numpy(),
            v_after=np.stack([t.numpy() for t in local(v)]),
        )
        with tf.device(devices[0]):  # the whole batch on one device
            loss1, scores1, grad1 = loss_and_grad(x, py, boundary, w, tf.constant(v0))
        out.update(loss1=loss1.numpy(), scores1=scores1.numpy(), grad1=grad1.numpy())
        np.savez(os.path.join(outdir, name + ".npz"), **out)

        # Where the graph puts each replica's compiled call.
        graph = train_step.get_concrete_function(*dist_args).graph.as_graph_def()
        compiled = {
            f.signature.name for f in graph.library.function if f.attr["_XlaMustCompile"].b
        }
        meta[name] = sorted(
            {
                node.device
                for node in graph.node
                if node.op.endswith("PartitionedCall") and node.attr["f"].func.name in compiled
            }
        )

    with open(os.path.join(outdir, "meta.json"), "w") as f:
        json.dump(meta, f)


if __name__ == "__main__":
    _run(sys.argv[1])
    sys.exit(0)


# ---------------------------------------------------------------------- tests
pytest.importorskip("tensorflow")

import reference  # noqa: E402
from conftest import relative_error  # noqa: E402


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("distributed_tf")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
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
        return outdir, json.load(f)


@pytest.mark.parametrize("name", ["regular", "modified"])
def test_mirrored_jit_train_step_matches_one_device(results, name):
    outdir, meta = results
    a = dict(np.load(outdir / f"{name}.npz"))
    assert list(a["replica_batch"]) == [B // N_REPLICAS] * N_REPLICAS
    # Each replica's compiled call is placed on its own device.
    assert len(meta[name]) == N_REPLICAS and all(
        d.endswith(f"CPU:{i}") for i, d in enumerate(meta[name])
    ), meta[name]

    x, w = a["x"], a["w"]
    ref, ref_gx, _ = reference.mutual_information(x * a["v0"], a["py"], a["boundary"])
    ref_grad = np.sum(w[:, None, None] * ref_gx * x, axis=0)  # d loss / d v
    tol = 1e-12
    np.testing.assert_allclose(a["scores"], a["scores1"], rtol=tol)
    np.testing.assert_allclose(a["loss"], a["loss1"], rtol=tol)
    np.testing.assert_allclose(a["grad"], a["grad1"], rtol=tol, atol=1e-14)
    np.testing.assert_allclose(a["grad_variable"], a["grad1"], rtol=tol, atol=1e-14)
    assert relative_error(a["scores"], ref) < tol
    assert relative_error(a["grad"], ref_grad) < tol
    # The all-reduced update reached every replica's copy of the variable.
    for v in a["v_after"]:
        np.testing.assert_allclose(v, a["v0"] - LR * a["grad1"], rtol=tol, atol=1e-14)
