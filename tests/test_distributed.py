"""Data-parallel EM over ``torch.distributed`` (gloo, two CPU processes): the same trajectory as one
process, through ``torchrun`` and the command line and through the Python API; a failing rank fails all."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import emviz
from emviz.distributed import launched
from emviz.trace import Trace

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
data:
  mixture:
    means: [[0, 0], [4, 1], [-2, 3]]
    stds: [1.0, 0.6, 0.8]
    n_samples: 3001
  seed: 3
  standardize: true
model: {{max_iter: 12, tol: 0, device: cpu{model}}}
record: {{save: trace.npz, resp_points: 150, show_points: 700}}
outputs:
  - path: final.png
    panels: [ellipses]
"""


def _torchrun() -> list[str]:
    found = shutil.which("torchrun")
    return [found] if found else [sys.executable, "-m", "torch.distributed.run"]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "PYTHONPATH": str(ROOT), "EMVIZ_DIST_TIMEOUT": "60", "MPLBACKEND": "Agg"}


def _assert_same(one: Trace, two: Trace, rel=1e-9) -> None:
    assert one.n_iter == two.n_iter
    for name in ("weights", "means", "covariances", "log_likelihood", "resp", "X"):
        a, b = getattr(one, name), getattr(two, name)
        assert a.shape == b.shape, name
        assert np.max(np.abs(a - b)) <= rel * np.max(np.abs(a)), name
    assert np.array_equal(one.resp_index, two.resp_index)
    assert np.array_equal(one.labels, two.labels) if one.labels is not None else two.labels is None


def test_torchrun_two_processes_equal_one(tmp_path):
    """``torchrun --nproc-per-node 2 -m emviz render``: each rank draws only its rows of the generated
    data (standardised over both), one all_reduce per step; rank 0 alone writes; same trace as one process."""
    (tmp_path / "c.yaml").write_text(CONFIG.format(model=", n_components: 3, chunk_size: 400"))
    emviz.run(tmp_path / "c.yaml", out=tmp_path / "one", progress=False)
    run = subprocess.run([*_torchrun(), "--standalone", "--nproc-per-node", "2", "-m", "emviz", "render", "c.yaml",
                          "--out", "two", "--quiet"], cwd=tmp_path, capture_output=True, text=True, env=_env(),
                         timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["final.png", "trace.npz"]
    _assert_same(Trace.load(tmp_path / "one" / "trace.npz"), Trace.load(tmp_path / "two" / "trace.npz"))
    assert not torch.distributed.is_initialized()  # the one-process run above never initialised it


def _rank_main(rank: int, port: int, config: str, out: str) -> None:
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    written = emviz.run(config, out=out, progress=False)
    assert (len(written) == 1) == (rank == 0)  # rank 1 fits its shard and writes nothing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_python_api_two_processes_equal_one_on_a_mapped_file(tmp_path):
    """``emviz.run`` in two processes (as torchrun would start them) on a memory-mapped .npy: each
    rank maps only its rows."""
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal([0, 0], 1, (2000, 2)), rng.normal([5, 2], 0.7, (1601, 2))])
    np.save(tmp_path / "x.npy", X)
    cfg = CONFIG.replace("""  mixture:
    means: [[0, 0], [4, 1], [-2, 3]]
    stds: [1.0, 0.6, 0.8]
    n_samples: 3001
  seed: 3
  standardize: true""", "  file: x.npy\n  mmap: true").format(model=", n_components: 2, init: kmeans++")
    (tmp_path / "c.yaml").write_text(cfg)
    emviz.run(tmp_path / "c.yaml", out=tmp_path / "one", progress=False)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(ROOT)  # the spawned children import this checkout
    try:
        torch.multiprocessing.spawn(_rank_main, args=(_free_port(), str(tmp_path / "c.yaml"), str(tmp_path / "two")),
                                    nprocs=2, join=True)
    finally:
        os.environ.pop("PYTHONPATH") if old is None else os.environ.__setitem__("PYTHONPATH", old)
    _assert_same(Trace.load(tmp_path / "one" / "trace.npz"), Trace.load(tmp_path / "two" / "trace.npz"))


def test_a_failing_rank_fails_every_rank(tmp_path):
    """A NaN in rank 1's shard: both ranks stop with rank 1's one-line message, nothing is written."""
    X = np.random.default_rng(0).normal(size=(4000, 2))
    X[3100, 1] = np.nan  # row 3100 is in rank 1's half
    np.save(tmp_path / "bad.npy", X)
    (tmp_path / "c.yaml").write_text("data: {file: bad.npy, mmap: true}\nmodel: {n_components: 2, device: cpu}\n"
                                     "outputs: [{path: a.png, panels: [ellipses]}]\n")
    run = subprocess.run([*_torchrun(), "--standalone", "--nproc-per-node", "2", "-m", "emviz", "render", "c.yaml",
                          "--out", "o"], cwd=tmp_path, capture_output=True, text=True, env=_env(), timeout=240)
    assert run.returncode != 0
    message = "bad.npy: element [3100, 1] is nan; values must be finite"
    # Two processes share stderr: count the messages, whatever order their lines arrive in.
    assert run.stderr.count(f"emviz: error: {message}\n") == 1  # rank 1, its own error
    assert run.stderr.count(f"emviz: error: rank 1: {message}\n") == 1  # rank 0, told by rank 1
    assert 'File "' not in "\n".join(l for l in run.stderr.splitlines() if "emviz" in l and "site-packages/torch" not in l)
    assert not (tmp_path / "o").exists()


def test_outside_torchrun_nothing_is_distributed(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not launched()
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    assert not launched()  # one process under torchrun: the ordinary path
