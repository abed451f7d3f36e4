"""Builds fast_rnnt 1.3 from its PyPI sdist without network (for side-by-side runs).

Its own CMake downloads pybind11, so instead its four sources are compiled with
torch.utils.cpp_extension as module `_fast_rnnt`, then its Python package is
imported. Nothing of fast_rnnt is committed here: the sdist comes from
`pip download --no-deps --no-binary :all: fast_rnnt==1.3` (on a GPU machine
without network, placed in .gpu_inputs/: README "GPU check").
"""

import atexit
import glob
import os
import shutil
import sys
import tarfile
import tempfile


def load_fast_rnnt(sdist, build_dir=None):
    """Returns the imported fast_rnnt package (CUDA build when torch has CUDA).

    It is compiled in build_dir; None: a temporary directory removed at exit
    (the loaded module stays mapped, its Python files are imported by then).
    """
    if build_dir is None:
        build_dir = tempfile.mkdtemp(prefix="fast_rnnt_build_")
        atexit.register(shutil.rmtree, build_dir, ignore_errors=True)
    os.makedirs(build_dir, exist_ok=True)
    if sdist.endswith(".tar.gz"):
        with tarfile.open(sdist) as tar:
            tar.extractall(build_dir)
        root = glob.glob(os.path.join(build_dir, "fast_rnnt-*"))[0]
    else:
        root = sdist
    import torch
    from torch.utils import cpp_extension

    flags = ["-O3"] + (["-DFT_WITH_CUDA"] if torch.cuda.is_available() else [])
    sources = [
        os.path.join(root, "fast_rnnt", p)
        for p in (
            "csrc/mutual_information_cpu.cu",
            "csrc/mutual_information_cuda.cu",
            "python/csrc/mutual_information.cu",
            "python/csrc/fast_rnnt.cu",
        )
    ]
    if not torch.cuda.is_available():
        sources = [s for s in sources if not s.endswith("mutual_information_cuda.cu")]
    module = cpp_extension.load(
        name="_fast_rnnt",
        sources=sources,
        extra_include_paths=[root],
        extra_cflags=flags,
        extra_cuda_cflags=flags,
        build_directory=build_dir,
        verbose=False,
    )
    sys.modules["_fast_rnnt"] = module
    sys.path.insert(0, os.path.join(root, "fast_rnnt", "python"))
    import fast_rnnt

    return fast_rnnt
