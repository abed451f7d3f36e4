"""Smoke tests: every example runs from the command line, in seconds, and
trains (its loss goes down) or draws what it promises."""

import json
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def run_example(tmp_path, script, *args, env=None):
    # cwd outside the source tree: the installed package must be the one used.
    result = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, script), *args],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), **(env or {})),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def test_quickstart(tmp_path):
    out = run_example(tmp_path, "quickstart.py").stdout
    assert "TF and JAX agree: True" in out, out


def test_train_jax(tmp_path):
    pytest.importorskip("jax")
    run_example(tmp_path, "train_jax.py", "--steps", "80", f"--json={tmp_path}/out.json")
    losses = json.load(open(tmp_path / "out.json"))
    assert losses["last"] < 0.7 * losses["first"], losses


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_train_keras(tmp_path, backend):
    pytest.importorskip("tensorflow")
    pytest.importorskip(backend)
    run_example(
        tmp_path,
        "train_keras.py",
        "--steps",
        "60",
        "--memory_every=20",
        f"--json={tmp_path}/out.json",
        env={"KERAS_BACKEND": backend},
    )
    losses = json.load(open(tmp_path / "out.json"))
    assert losses["backend"] == backend
    assert losses["last"] < 0.8 * losses["first"], losses
    # Device memory every 20 steps where the backend trains on a GPU, none on a CPU.
    samples = losses["device_memory"]
    if _backend_sees_gpu(backend):
        assert [step for step, _ in samples] == [20, 40, 60] and all(b > 0 for _, b in samples)
    else:
        assert samples == []


def _backend_sees_gpu(backend):
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    import jax

    return jax.default_backend() == "gpu"


def test_plot_pruning(tmp_path):
    pytest.importorskip("matplotlib")
    run_example(
        tmp_path, "plot_pruning.py", f"--out={tmp_path}/p.png", f"--json={tmp_path}/r.json"
    )
    assert (tmp_path / "p.png").stat().st_size > 10_000
    info = json.load(open(tmp_path / "r.json"))
    starts = [r[0] for r in info["ranges"]]
    assert starts == sorted(starts) and starts[0] == 0
    assert info["inside"] > 0.9  # the bounds capture the alignment
