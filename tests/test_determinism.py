"""The same config and seed give byte-identical files and identical traces, whatever the number of
frame workers and whichever process (or hash seed) renders them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from emviz.cli import main
from emviz.trace import Trace

CONFIG = """\
data:
  mixture:
    means: [[-2.0, 0.0], [2.0, 1.0], [0.0, 3.0]]
    stds: [0.6, 0.8, 0.5]
    sizes: [40, 30, 30]
  seed: 7
model: {n_components: 3, max_iter: 4, tol: 0.0, init: random, seed: 11}
record: {resp_points: 40, save: trace.npz}
frames: {schedule: all, fps: 8, hold_last: 0.2, workers: WORKERS}
style: {dpi: 25, size: [4, 2]}
outputs:
  - path: anim.gif
    panels: [ellipses, curves]
  - path: grid.png
    panels: [ellipses]
    iterations: [0, 2, 4]
    style: {size: [8, 4]}           # the whole grid (2 x 2 cells)
  - path: last.svg
    panels: [ellipses, curves]
  - path: grid.pdf
    panels: [{loglik_contour: {grid: 12}}]
    iterations: [0, 4]
    style: {size: [10, 3]}
"""
FILES = ["anim.gif", "grid.png", "last.svg", "grid.pdf"]


def render_in_process(tmp_path, name: str, workers: int):
    config = tmp_path / f"{name}.yaml"
    config.write_text(textwrap.dedent(CONFIG.replace("WORKERS", str(workers))), encoding="utf-8")
    assert main(["render", str(config), "--out", str(tmp_path / name), "--quiet"]) == 0
    return tmp_path / name


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("determinism")
    return render_in_process(tmp_path, "first", workers=1)


def assert_same(a, b):
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert Trace.load(a / "trace.npz") == Trace.load(b / "trace.npz")


def test_every_file_is_written(first):
    assert sorted(p.name for p in first.iterdir()) == sorted(FILES + ["trace.npz"])
    trace = Trace.load(first / "trace.npz")
    assert trace.n_iter == 4 and trace.meta["partial"] is False


@pytest.mark.parametrize("workers", [1, 2])
def test_same_config_same_bytes(first, tmp_path, workers):
    assert_same(first, render_in_process(tmp_path, "again", workers))


def test_same_bytes_from_another_process_with_another_hash_seed(first, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(textwrap.dedent(CONFIG.replace("WORKERS", "1")), encoding="utf-8")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "EMVIZ_DEBUG": ""}
    result = subprocess.run([sys.executable, "-m", "emviz", "render", str(config), "--out", str(tmp_path / "other"),
                             "--quiet"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert_same(first, tmp_path / "other")
