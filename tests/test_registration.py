"""Loading the library and registering its handlers: `import xla_rnnt` stays
framework-free yet makes reloaded SavedModels (and .keras models) run, in
either import order; register_handlers() is idempotent; a missing library is
reported clearly. Every reload runs in a fresh process started outside the
source tree."""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

import xla_rnnt  # noqa: E402
from xla_rnnt import _native  # noqa: E402

T, S, V, E = 9, 3, 7, 5


def _python(code, cwd, env=None):
    """Runs code in a fresh interpreter in cwd; returns (returncode, stdout, stderr)."""
    env = dict(
        os.environ if env is None else env,
        PYTHONPATH=os.pathsep.join(sys.path),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result.returncode, result.stdout, result.stderr


def _inputs(rng, B):
    return dict(
        am=rng.standard_normal((B, T, V)).astype(np.float32),
        lm=rng.standard_normal((B, S + 1, V)).astype(np.float32),
        symbols=rng.integers(1, V, (B, S)).astype(np.int32),
        boundary=np.stack(
            [np.zeros(B), np.zeros(B), rng.integers(0, S + 1, B), rng.integers(S, T + 1, B)], 1
        ).astype(np.int32),
    )


_SIGNATURE = [
    tf.TensorSpec([None, T, V], tf.float32),
    tf.TensorSpec([None, S + 1, V], tf.float32),
    tf.TensorSpec([None, S], tf.int32),
    tf.TensorSpec([None, 4], tf.int32),
]


class _WithOccupations(tf.Module):
    """return_grad=True: the forward+backward custom call in the saved graph."""

    @tf.function(jit_compile=True, input_signature=_SIGNATURE)
    def __call__(self, am, lm, symbols, boundary):
        loss, (px_grad, py_grad) = xla_rnnt.rnnt_loss_simple(
            lm=lm,
            am=am,
            symbols=symbols,
            termination_symbol=0,
            boundary=boundary,
            reduction="none",
            return_grad=True,
        )
        return loss + tf.reduce_sum(px_grad, axis=(1, 2)) + tf.reduce_sum(py_grad, axis=(1, 2))


class _WithTape(tf.Module):
    """A GradientTape inside the saved function: forward and backward custom
    calls of the whole pruned pipeline, in a plain (not jit-compiled) tf.function."""

    @tf.function(input_signature=_SIGNATURE)
    def __call__(self, am, lm, symbols, boundary):
        with tf.GradientTape() as tape:
            tape.watch([am, lm])
            simple, (px_grad, py_grad) = xla_rnnt.rnnt_loss_simple(
                lm=lm,
                am=am,
                symbols=symbols,
                termination_symbol=0,
                boundary=boundary,
                reduction="sum",
                return_grad=True,
            )
            ranges = xla_rnnt.get_rnnt_prune_ranges(
                px_grad=px_grad, py_grad=py_grad, boundary=boundary, s_range=2
            )
            am_p, lm_p = xla_rnnt.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)
            pruned = xla_rnnt.rnnt_loss_pruned(
                logits=tf.tanh(am_p + lm_p),
                symbols=symbols,
                ranges=ranges,
                termination_symbol=0,
                boundary=boundary,
                reduction="sum",
            )
            loss = 0.5 * simple + pruned
        d_am, d_lm = tape.gradient(loss, [am, lm])
        return loss, d_am, d_lm


def _keras_model():
    from xla_rnnt.keras import PrunedTransducerLoss

    enc = keras.Input((T, E), name="enc")
    dec = keras.Input((S + 1, E), name="dec")
    symbols = keras.Input((S,), dtype="int32", name="symbols")
    t_len = keras.Input((), dtype="int32", name="t_len")
    s_len = keras.Input((), dtype="int32", name="s_len")
    loss = PrunedTransducerLoss(V, joiner_dim=6, s_range=2)(enc, dec, symbols, t_len, s_len)
    return keras.Model([enc, dec, symbols, t_len, s_len], loss)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Three saved artifacts, their inputs and the outputs of the saving process."""
    root = tmp_path_factory.mktemp("saved")
    rng = np.random.default_rng(11)
    x = _inputs(rng, 4)
    np.savez(root / "inputs.npz", **x)
    expected = {}
    for name, module in (("occupations", _WithOccupations()), ("tape", _WithTape())):
        tf.saved_model.save(module, str(root / name))
        expected[name] = [np.asarray(v) for v in tf.nest.flatten(module(**x))]
    model = _keras_model()
    k = dict(
        enc=rng.standard_normal((4, T, E)).astype(np.float32),
        dec=rng.standard_normal((4, S + 1, E)).astype(np.float32),
        symbols=x["symbols"],
        t_len=x["boundary"][:, 3],
        s_len=x["boundary"][:, 2],
    )
    np.savez(root / "keras_inputs.npz", **k)
    model.save(str(root / "model.keras"))
    expected["keras"] = [
        np.asarray(model([k[n] for n in ("enc", "dec", "symbols", "t_len", "s_len")]))
    ]
    return root, expected


_RELOAD = """
    import numpy as np
    {imports}
    root = {root!r}
    x = dict(np.load(root + "/inputs.npz"))
    for name in ("occupations", "tape"):
        out = tf.nest.flatten(tf.saved_model.load(root + "/" + name)(**x))
        np.savez(root + "/got_" + name + "_{tag}.npz", *[np.asarray(v) for v in out])
    k = dict(np.load(root + "/keras_inputs.npz"))
    model = keras.saving.load_model(root + "/model.keras")
    out = model([k[n] for n in ("enc", "dec", "symbols", "t_len", "s_len")])
    np.savez(root + "/got_keras_{tag}.npz", np.asarray(out))
"""


@pytest.mark.parametrize(
    "tag,imports",
    [
        ("xla_rnnt_first", "import xla_rnnt\nimport tensorflow as tf, keras"),
        ("tf_first", "import tensorflow as tf, keras\nimport xla_rnnt"),
    ],
)
def test_reloaded_models_run_after_import_xla_rnnt(saved, tmp_path, tag, imports):
    root, expected = saved
    rc, _, err = _python(
        _RELOAD.format(imports=textwrap.indent(imports, "    ").strip(), root=str(root), tag=tag),
        cwd=tmp_path,
    )
    assert rc == 0, err[-3000:]
    for name, want in expected.items():
        got = np.load(root / f"got_{name}_{tag}.npz")
        got = [got[f"arr_{i}"] for i in range(len(got.files))]
        assert len(got) == len(want), name
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6, err_msg=name)


def test_reloaded_saved_model_without_xla_rnnt_finds_no_handler(saved, tmp_path):
    """The control: it is `import xla_rnnt` that makes the reloads above run."""
    root, _ = saved
    rc, _, err = _python(
        f"""
        import numpy as np, tensorflow as tf
        x = dict(np.load({str(root)!r} + "/inputs.npz"))
        tf.saved_model.load({str(root)!r} + "/occupations")(**x)
    """,
        cwd=tmp_path,
    )
    assert rc != 0
    assert "No FFI handler registered for xla_rnnt_mi_forward_backward" in err, err[-3000:]


def test_import_xla_rnnt_imports_no_framework(tmp_path):
    rc, out, err = _python(
        """
        import sys, xla_rnnt
        print(sorted(m for m in ("tensorflow", "jax", "keras") if m in sys.modules))
    """,
        cwd=tmp_path,
    )
    assert rc == 0, err[-3000:]
    assert out.strip() == "[]"


def test_register_handlers_is_idempotent_and_thread_safe():
    import jax  # noqa: F401

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(xla_rnnt.register_handlers()))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [("tensorflow", "jax")] * 8
    assert xla_rnnt.register_handlers() == ("tensorflow", "jax")
    # Still working after the repeats.
    x = _inputs(np.random.default_rng(0), 2)
    assert np.isfinite(
        xla_rnnt.rnnt_loss_simple(
            lm=x["lm"], am=x["am"], symbols=x["symbols"], termination_symbol=0
        ).numpy()
    )


def test_explicit_library_path_is_used(tmp_path):
    copy = tmp_path / "libxla_rnnt_copy.so"
    copy.write_bytes(open(_native.library().path, "rb").read())
    rc, out, err = _python(
        """
        import numpy as np, xla_rnnt, xla_rnnt.tf
        from xla_rnnt import _native
        print(_native.library().path)
        print(float(xla_rnnt.rnnt_loss_simple(lm=[[[0.0, 1.0]]], am=[[[1.0, 0.0]]],
                                              symbols=np.zeros((1, 0), np.int32),
                                              termination_symbol=0)))
    """,
        cwd=tmp_path,
        env=dict(os.environ, XLA_RNNT_LIBRARY=str(copy)),
    )
    assert rc == 0, err[-3000:]
    path, loss = out.split()
    assert path == str(copy)
    # One frame, no symbol: -log softmax([1, 1])[0] = log 2.
    assert abs(float(loss) - np.log(2.0)) < 1e-6


def test_missing_library_is_reported_with_its_path(tmp_path):
    missing = str(tmp_path / "nowhere" / "libxla_rnnt.so")
    rc, out, err = _python(
        """
        import warnings
        import xla_rnnt  # no framework yet: nothing to load
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import tensorflow  # the hook tries to register, warns, never breaks TF's import
        print(any("could not register" in str(w.message) for w in caught))
        try:
            import xla_rnnt.tf
        except ImportError as e:
            print(type(e).__name__, e)
    """,
        cwd=tmp_path,
        env=dict(os.environ, XLA_RNNT_LIBRARY=missing),
    )
    assert rc == 0, err[-3000:]
    warned, error = out.strip().split("\n")
    assert warned == "True"
    assert error.startswith("NativeLibraryError") and missing in error


def test_public_functions_belong_to_their_wing_and_pickle():
    import pickle

    import xla_rnnt.tf as xt

    for name in xt.__all__:
        fn = getattr(xt, name)
        assert fn.__module__ == "xla_rnnt.tf.losses" and fn.__qualname__ == name
        assert pickle.loads(pickle.dumps(fn)) is fn


def test_registration_on_import_can_be_turned_off(tmp_path):
    rc, out, err = _python(
        """
        import xla_rnnt, tensorflow, sys
        print("xla_rnnt.tf" in sys.modules)
        print(xla_rnnt.register_handlers())
        """,
        cwd=tmp_path,
        env=dict(os.environ, XLA_RNNT_REGISTER_ON_IMPORT="0"),
    )
    assert rc == 0, err[-3000:]
    assert out.split("\n")[0] == "False"  # nothing registered at TF's import
    assert "tensorflow" in out.split("\n")[1]
