"""Interrupted work loses nothing: no partial output, no temporary file, the old output intact, and
a fit interrupted with ``record.save`` still leaves a trace that renders up to its last iteration.

The SIGINT and SIGKILL tests run ``python -m emviz`` (or a small script) in a real process and signal
it part-way; the exception tests make a panel or matplotlib fail in-process after a few frames.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emviz.cli import main
from emviz.render.schedule import parse_schedule
from emviz.trace import Trace

OLD = b"GIF89a: the output of an earlier run, which must survive until a new one is complete"

# Enough frames (schedule: all over 400 iterations) that rendering takes a few seconds.
LONG_RENDER = """\
data:
  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [60, 40]}
model: {n_components: 2, max_iter: 400, tol: 0.0}
frames: {schedule: all, fps: 50, hold_last: 0.0, workers: WORKERS}
style: {dpi: 30, size: [3, 2]}
outputs:
  - path: anim.gif
    panels: [components]
"""

SHORT = """\
data:
  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [60, 40]}
model: {n_components: 2, max_iter: 8, tol: 0.0}
frames: {schedule: all, fps: 10, hold_last: 0.0}
style: {dpi: 30, size: [3, 2]}
outputs:
  - path: OUTPUT
    panels: [components]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def temporaries(folder: Path) -> list[str]:
    return [name for name in listing(folder) if ".tmp" in name or ".old" in name]


def _env() -> dict:
    return {**os.environ, "EMVIZ_DEBUG": "", "PYTHONWARNINGS": "ignore"}


def wait_for(predicate, process: subprocess.Popen, timeout: float = 90.0) -> bool:
    """Poll until ``predicate()`` holds; False if the process ended first or the time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.02)
    return False


# ---------------------------------------------------------------------------------------------- SIGINT while rendering
@pytest.mark.parametrize("workers", [1, 2])
def test_sigint_while_rendering_keeps_the_old_output_and_leaves_no_temporary(tmp_path, workers):
    config = write(tmp_path / "c.yaml", LONG_RENDER.replace("WORKERS", str(workers)))
    out = tmp_path / "out"
    out.mkdir()
    (out / "anim.gif").write_bytes(OLD)
    process = subprocess.Popen([sys.executable, "-m", "emviz", "render", str(config), "--out", str(out), "--quiet"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                               start_new_session=True)  # a signal of our own, not one from the terminal
    try:
        # The GIF writer opens ".anim.<pid>.tmp.gif" once the palette frames are drawn: the output has started.
        started = wait_for(lambda: any(n.startswith(".anim.") for n in os.listdir(out)), process)
        assert (out / "anim.gif").read_bytes() == OLD  # the old output is untouched while the new one is written
        time.sleep(0.3)
        os.killpg(process.pid, signal.SIGINT)  # like Ctrl-C: the whole process group, workers included
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert started, f"the render ended before its output started: {stderr}"
    assert process.returncode == 130, stderr
    assert stderr == "emviz: interrupted\n"  # one line; no traceback from the process or its workers
    assert listing(out) == ["anim.gif"]
    assert (out / "anim.gif").read_bytes() == OLD


# ---------------------------------------------------------------------------------------------- exceptions mid-render
@pytest.fixture
def fail_after_frames(monkeypatch):
    """Make the components panel raise ``exc`` on its ``n``-th update (frames are drawn in-process)."""
    from emviz.render.panels.components import ComponentsPanel

    def install(exc: type[BaseException], n: int = 4):
        update = ComponentsPanel.update
        calls = {"n": 0}

        def failing(self, t):
            calls["n"] += 1
            if calls["n"] >= n:
                raise exc("a panel failed part-way through the frames")
            return update(self, t)

        monkeypatch.setattr(ComponentsPanel, "update", failing)
        return calls

    return install


def _old_output(target: Path) -> None:
    if target.suffix:
        target.write_bytes(OLD)
    else:
        target.mkdir()
        (target / "frame_0000.png").write_bytes(OLD)


def _assert_old_output(target: Path) -> None:
    if target.suffix:
        assert target.read_bytes() == OLD
    else:
        assert listing(target) == ["frame_0000.png"] and (target / "frame_0000.png").read_bytes() == OLD


@pytest.mark.parametrize("name", ["anim.gif", "anim.mp4", "anim.html", "frames"])
@pytest.mark.parametrize("exc, code", [(RuntimeError, 1), (KeyboardInterrupt, 130)])
@pytest.mark.parametrize("existing", [False, True])
def test_a_failure_mid_render_leaves_no_partial_output(tmp_path, capsys, fail_after_frames, name, exc, code, existing):
    config = write(tmp_path / "c.yaml", SHORT.replace("OUTPUT", name))
    out = tmp_path / "out"
    out.mkdir()
    target = out / name
    if existing:
        _old_output(target)
    calls = fail_after_frames(exc)
    assert main(["render", str(config), "--out", str(out), "--quiet"]) == code
    err = capsys.readouterr().err
    assert calls["n"] >= 4  # the failure came part-way through, after frames were written
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("emviz: interrupted" if exc is KeyboardInterrupt else "emviz: error: RuntimeError: a panel failed")
    assert temporaries(out) == []
    if existing:
        assert listing(out) == ([name] if target.suffix else [name, f"{name}/frame_0000.png"])
        _assert_old_output(target)
    else:
        assert listing(out) == []


@pytest.mark.parametrize("name", ["still.png", "still.pdf", "still.svg"])
def test_a_failure_while_saving_a_still_leaves_no_partial_file(tmp_path, capsys, monkeypatch, name):
    from matplotlib.figure import Figure

    def half_written(self, fname, *args, **kwargs):
        Path(fname).write_bytes(b"half a still")  # what a crash part-way through savefig leaves
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", half_written)
    config = write(tmp_path / "c.yaml", SHORT.replace("OUTPUT", name))
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_bytes(OLD)
    assert main(["render", str(config), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("emviz: error: OSError: disk full") and len(err.splitlines()) == 1
    assert listing(out) == [name] and (out / name).read_bytes() == OLD


def test_a_failed_render_removes_the_folders_it_made_but_keeps_the_others(tmp_path, capsys, fail_after_frames):
    config = write(tmp_path / "c.yaml", SHORT.replace("OUTPUT", "deep/er/anim.gif"))
    out = tmp_path / "out"
    fail_after_frames(RuntimeError)
    assert main(["render", str(config), "--out", str(out), "--quiet"]) == 1
    capsys.readouterr()
    assert not out.exists()  # --out did not exist before: nothing is left, not even empty folders


# ---------------------------------------------------------------------------------------------- interrupted fits
FIT = """\
data:
  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [SIZE, SIZE]}
model: {n_components: 2, max_iter: MAX_ITER, tol: 0.0, init: random, seed: 3}
record: {resp_points: 50, show_points: 400, save: fit/trace.npz}
frames: {schedule: all, hold_last: 0.0}
style: {dpi: 30, size: [3, 2]}
outputs:
  - path: anim.gif
    panels: [components]
"""


def render_partial(trace_path: Path, tmp_path: Path, capsys) -> None:
    """render-trace works on a (partial) trace, and the GIF has one frame per scheduled iteration."""
    trace = Trace.load(trace_path)
    gif = tmp_path / "again" / "partial.gif"
    code = main(["render-trace", str(trace_path), "--panels", "components", "--out", str(gif), "--quiet",
                 "--schedule", "all", "--hold-last", "0"])
    assert code == 0, capsys.readouterr().err
    with Image.open(gif) as image:
        assert image.n_frames == len(parse_schedule("all").iterations(trace.n_iter))


def test_an_interrupted_fit_saves_the_iterations_it_completed(tmp_path, capsys, monkeypatch):
    from emviz.em import GaussianMixture

    text = FIT.replace("SIZE", "100").replace("MAX_ITER", "30")
    config = write(tmp_path / "c.yaml", text)
    assert main(["render", str(config), "--out", str(tmp_path / "full"), "--quiet"]) == 0
    full = Trace.load(tmp_path / "full" / "fit" / "trace.npz")
    assert full.meta["partial"] is False and full.n_iter == 30

    step, calls = GaussianMixture.step, {"n": 0}

    def interrupted_step(self):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return step(self)

    monkeypatch.setattr(GaussianMixture, "step", interrupted_step)
    out = tmp_path / "out"
    assert main(["render", str(config), "--out", str(out), "--quiet"]) == 130
    assert capsys.readouterr().err == "emviz: interrupted\n"
    assert listing(out) == ["fit", "fit/trace.npz"]  # the trace, and no output file
    partial = Trace.load(out / "fit" / "trace.npz")
    assert partial.meta["partial"] is True and partial.meta["converged"] is False
    assert partial.n_iter == 4  # five steps completed: iterations 0..4
    assert partial == full.truncated(4)  # the same iterates as the complete fit, up to the interrupt
    monkeypatch.undo()
    render_partial(out / "fit" / "trace.npz", tmp_path, capsys)


class _Stderr(threading.Thread):
    """Collect a process's stderr as it comes (the progress bar says when the fit has started)."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.text = stream, ""

    def run(self):
        for chunk in iter(lambda: self.stream.read(1), ""):
            self.text += chunk


def test_sigint_during_a_long_fit_leaves_a_trace_that_renders(tmp_path, capsys):
    # 200k points and tol 0: thousands of iterations, far longer than the test waits.
    config = write(tmp_path / "c.yaml", FIT.replace("SIZE", "100000").replace("MAX_ITER", "20000"))
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "emviz", "render", str(config), "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                               start_new_session=True)
    reader = _Stderr(process.stderr)
    reader.start()
    try:
        started = wait_for(lambda: "EM:" in reader.text and "it/s" in reader.text, process)
        time.sleep(1.0)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    reader.join(timeout=10)
    assert started, reader.text
    assert process.returncode == 130, reader.text
    assert "Traceback" not in reader.text and reader.text.rstrip().endswith("emviz: interrupted")
    assert listing(out) == ["fit", "fit/trace.npz"]
    trace = Trace.load(out / "fit" / "trace.npz")
    assert trace.meta["partial"] is True and 1 <= trace.n_iter < 20000
    assert np.all(np.diff(trace.log_likelihood) >= -1e-6 * np.abs(trace.log_likelihood[1:]))
    render_partial(out / "fit" / "trace.npz", tmp_path, capsys)


CHECKPOINTING = """\
import numpy as np, sys
from emviz.em import GaussianMixture
from emviz.recorder import Recorder
rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(-2, 1, 100000), rng.normal(2, 0.5, 100000)])[:, None]
fitter = GaussianMixture(n_components=2, max_iter=20000, tol=0.0, init="random", seed=1)
Recorder(fitter, resp_points=50, show_points=400, progress=False, checkpoint_seconds=0.2).run(X, save_path=sys.argv[1])
"""


def test_a_killed_fit_still_has_its_last_checkpoint(tmp_path, capsys):
    """SIGKILL cannot be caught: what survives is the checkpoint written every checkpoint_seconds."""
    trace_path = tmp_path / "trace.npz"
    process = subprocess.Popen([sys.executable, "-c", CHECKPOINTING, str(trace_path)], env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        started = wait_for(trace_path.exists, process)
        time.sleep(0.5)
    finally:
        process.kill()
        _, stderr = process.communicate()
    assert started, stderr
    trace = Trace.load(trace_path)  # complete: checkpoints are written under a temporary name and renamed
    assert trace.meta["partial"] is True and trace.n_iter >= 1
    render_partial(trace_path, tmp_path, capsys)
