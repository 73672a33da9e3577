"""A saved trace is a pure function of config, data and seed: the same bytes every run, from any folder."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import emviz
from emviz.trace import Trace

CONFIG = """\
data: {mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [60, 40]}, seed: 3}
model: {n_components: 2, init: kmeans++, max_iter: 6, tol: 0.0, seed: 1}
record: {resp_points: 30, save: trace.npz}
"""


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_runs_save_the_same_bytes_and_keep_the_timing_in_memory(tmp_path):
    """Also with 1 and with 2 frame workers drawing an animation after the fit."""
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG + "outputs: [{path: a.gif, panels: [components]}]\n"
                               "frames: {schedule: all, hold_last: 0}\nstyle: {dpi: 20, size: [3, 2]}\n")
    emviz.run(config, out=tmp_path / "a", progress=False, overrides=["frames.workers=1"])
    emviz.run(config, out=tmp_path / "b", progress=False, overrides=["frames.workers=2"])
    assert sha(tmp_path / "a" / "trace.npz") == sha(tmp_path / "b" / "trace.npz")
    assert sha(tmp_path / "a" / "a.gif") == sha(tmp_path / "b" / "a.gif")
    assert "seconds" not in Trace.load(tmp_path / "a" / "trace.npz").meta
    X = Trace.load(tmp_path / "a" / "trace.npz").X
    in_memory = emviz.Recorder(emviz.GaussianMixture(2, max_iter=2), progress=False).run(X)
    assert in_memory.meta["seconds"] >= 0


def test_the_same_config_from_other_folders_saves_the_same_bytes(tmp_path):
    """Relative and absolute config paths, other working folders, another process and hash seed."""
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "c.yaml").write_text(CONFIG)
    (tmp_path / "elsewhere").mkdir()
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    runs = [(tmp_path, "cfg/c.yaml", "out1"), (tmp_path / "elsewhere", str(tmp_path / "cfg" / "c.yaml"), "out2"),
            (tmp_path / "cfg", "c.yaml", "out3")]
    for cwd, config, out in runs:
        done = subprocess.run([sys.executable, "-m", "emviz", "render", config, "--out", str(tmp_path / out),
                               "--quiet"], cwd=cwd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    digests = {sha(tmp_path / out / "trace.npz") for _, _, out in runs}
    assert len(digests) == 1
