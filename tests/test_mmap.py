"""Memory-mapped ``.npy`` data: streamed chunk by chunk, never read whole, the same fit as in memory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from emviz.data import load_data
from emviz.em import GaussianMixture
from emviz.errors import InputError
from emviz.recorder import Recorder
from emviz.rows import NpyRows

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def npy(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal([0, 0, 5], [1, 0.5, 1], (3000, 3)), rng.normal([3, 1, 5], [0.5, 1, 1], (4000, 3))])
    path = tmp_path_factory.mktemp("mm") / "x.npy"
    np.save(path, X.astype(np.float32))
    return path, X.astype(np.float32).astype(np.float64)


def test_mmap_is_rows_and_small_files_stay_arrays(npy):
    path, X = npy
    assert isinstance(load_data({"file": str(path), "mmap": True}).X, NpyRows)
    assert isinstance(load_data({"file": str(path)}).X, np.ndarray)  # 84 KB: read whole (auto)
    rows = load_data({"file": str(path), "mmap": True, "columns": [2, 0]})
    assert rows.columns == ("x2", "x0") and rows.X.shape == (7000, 2)
    assert np.array_equal(rows.X.read(10, 20), X[10:20][:, [2, 0]])
    assert np.array_equal(rows.X.take([3, 500, 6999]), X[[3, 500, 6999]][:, [2, 0]])


@pytest.mark.parametrize("kind", ["full", "diag"])
def test_fit_from_mmap_equals_fit_in_memory(npy, kind):
    path, X = npy
    rows = load_data({"file": str(path), "mmap": True, "columns": [0, 1]}).X
    kw = dict(n_components=2, covariance_type=kind, tol=0, max_iter=10, seed=0, chunk_size=1500)
    rec = dict(progress=False, resp_points=80, show_points=400, seed=1)
    a = Recorder(GaussianMixture(**kw), **rec).run(X[:, :2])
    b = Recorder(GaussianMixture(**kw), **rec).run(rows)
    for name in ("weights", "means", "covariances", "log_likelihood", "resp", "X"):
        x, y = getattr(a, name), getattr(b, name)
        assert np.max(np.abs(x - y)) <= 1e-10 * np.max(np.abs(x)), name


def test_standardized_mmap_equals_in_memory(npy):
    path, _ = npy
    a = load_data({"file": str(path), "standardize": True})
    b = load_data({"file": str(path), "standardize": True, "mmap": True})
    assert np.allclose(b.X.read(0, 7000), a.X, rtol=0, atol=1e-12)


def test_bad_value_in_a_mapped_file_is_named(tmp_path):
    X = np.zeros((5000, 2))
    X[4321, 1] = np.inf
    np.save(tmp_path / "bad.npy", X)
    with pytest.raises(InputError, match=r"bad.npy: element \[4321, 1\] is inf; values must be finite"):
        load_data({"file": str(tmp_path / "bad.npy"), "mmap": True})
    (tmp_path / "c.yaml").write_text("data: {file: bad.npy, mmap: true}\nmodel: {n_components: 2}\n"
                                     "outputs: [{path: a.png, panels: [ellipses]}]\n")
    run = subprocess.run([sys.executable, "-m", "emviz", "render", "c.yaml", "--out", "o"], cwd=tmp_path,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().endswith("element [4321, 1] is inf; values must be finite")
    assert not (tmp_path / "o").exists()


def test_mmap_true_needs_a_npy_file():
    with pytest.raises(InputError, match="mmap: true applies to a .npy file only"):
        load_data({"dataset": "iris", "mmap": True})


def test_a_mapped_file_is_never_read_whole(tmp_path):
    """In a child whose private memory is capped below the file's size (RLIMIT_DATA counts heap and
    anonymous maps, not a file's read-only pages), the fit and its recording work, and reading the
    file whole fails: so the fit did not read it whole."""
    path = tmp_path / "big.npy"
    n = 6_000_000  # 48 MB of float64
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, 1))
    rng = np.random.default_rng(2)
    for lo in range(0, n, 1_000_000):
        out[lo : lo + 1_000_000, 0] = rng.normal(size=1_000_000) + (4.0 if lo < n // 2 else 0.0)
    out.flush()
    del out
    child = textwrap.dedent(f"""
        import resource, numpy as np, torch, emviz
        from emviz.data import load_data
        from emviz.em import GaussianMixture
        from emviz.recorder import Recorder

        def vm_data():
            return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmData"))

        limit = vm_data() + (32 << 20)  # 32 MB of private memory more than after the imports
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
        data = load_data({{"file": {str(path)!r}, "mmap": True}})
        trace = Recorder(GaussianMixture(2, max_iter=2, tol=0, chunk_size=65536, init_sample=20000),
                         progress=False, resp_points=100, show_points=1000).run(data.X)
        print("fit", trace.n_iter, sorted(np.round(trace.means[-1, :, 0], 1).tolist()))
        try:
            np.load({str(path)!r})
            print("read whole")
        except MemoryError:
            print("whole read refused")
    """)
    run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=240,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[0].startswith("fit 2 ") and "[0.0, 4.0]" in lines[0], lines
    assert lines[1] == "whole read refused", lines
