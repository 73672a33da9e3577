"""A landscape is computed once per render, in the parent process: frame workers and still-grid cells only
draw it, the frames are the same bytes whatever the number of workers, and a process that only draws
(a saved trace rendered) never imports torch.

Evaluations are counted at :func:`emviz.surface._evaluation_path`, which every grid and every height
evaluation calls once: in this process by monkeypatching it, in the spawned workers by an initialiser
that wraps it there and writes what it saw to a file (tests/landscape_probe.py).
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import emviz
import emviz.surface
import landscape_probe
from emviz import Mixture, Trace
from emviz.render import frames
from emviz.render.frames import FrameRenderer, SceneSpec, iter_frames
from emviz.render.scene import Scene

PANELS = [{"loglik_contour": {"grid": 10, "levels": 6}}, {"loglik_surface": {"grid": 8, "levels": 6}}]
STYLE = {"dpi": 30, "size": [6, 2.5]}
#: Evaluations one set-up of PANELS makes: a grid per contour subplot (K = 2), and the surface's grid
#: and the heights of EM's path and of the true point on it.
EVALUATIONS = 2 + 3
TRUTH = Mixture.from_stds([0.5, 0.5], [[-2.0], [2.0]], [1.0, 1.5])


def make_trace(n_iter=6, seed=0, device="cpu"):
    """A hand-made trace whose means and stds move from a start towards the truth."""
    X, _ = TRUTH.sample([60, 60], seed=seed)
    step = np.linspace(1.0, 0.0, n_iter + 1)[:, None, None]
    means = TRUTH.means + step * np.array([[[1.5], [-1.0 - seed]]])
    stds = TRUTH.stds + step * 1.5
    weights = np.full((n_iter + 1, 2), 0.5)
    covs = stds[..., None] ** 2
    loglik = np.array([Mixture(w, m, c).log_pdf(X).sum() for w, m, c in zip(weights, means, covs)])
    resp_index = np.arange(0, len(X), 4)
    resp = np.full((n_iter + 1, len(resp_index), 2), 0.5)
    return Trace(weights=weights, means=means, covariances=covs, log_likelihood=loglik, resp_index=resp_index,
                 resp=resp, X=X, truth=TRUTH, meta={"device": device})


@pytest.fixture
def parent_count(monkeypatch):
    """The landscape evaluations made in this process (a list, one entry per evaluation)."""
    calls = []
    evaluate = emviz.surface._evaluation_path

    def counted(*args, **kwargs):
        calls.append(1)
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(emviz.surface, "_evaluation_path", counted)
    return calls


@pytest.fixture
def worker_records(monkeypatch, tmp_path):
    """Spawned workers start through the probe; returns a function giving pid -> their records so far."""
    folder = tmp_path / "probe"
    folder.mkdir()
    monkeypatch.setenv(landscape_probe.FOLDER, str(folder))
    monkeypatch.setattr(frames, "_worker_init", landscape_probe.counting_worker_init)
    return lambda: landscape_probe.records(folder)


def assert_workers_only_drew(records: dict, n_workers: int) -> None:
    assert len(records) == n_workers
    for lines in records.values():
        assert lines[0] == "started"
        assert "evaluation" not in lines, "a worker evaluated a landscape"
        chunks = [line for line in lines if line.startswith("chunk")]
        assert chunks and all(line == "chunk torch=False" for line in chunks)


def test_a_landscape_is_computed_once_and_workers_only_draw(tmp_path, parent_count, worker_records):
    trace = make_trace()
    one = emviz.render(trace, PANELS, tmp_path / "one.gif", style=STYLE, schedule="all", workers=1, progress=False)
    assert len(parent_count) == EVALUATIONS and not worker_records()
    two = emviz.render(trace, PANELS, tmp_path / "two.gif", style=STYLE, schedule="all", workers=2, progress=False)
    assert len(parent_count) == 2 * EVALUATIONS  # in prepare, in this process
    assert_workers_only_drew(worker_records(), 2)
    assert one.read_bytes() == two.read_bytes()


def test_prepared_panels_draw_what_unprepared_ones_compute(parent_count):
    trace = make_trace()
    its = list(range(trace.n_iter + 1))
    spec = SceneSpec.create(PANELS, trace, style=STYLE)
    assert len(parent_count) == EVALUATIONS
    prepared = list(iter_frames(spec, its, workers=1))
    assert len(parent_count) == EVALUATIONS  # drawing computed nothing more
    # A scene of panels nobody prepared computes its landscapes in set-up, and draws the same frames.
    unprepared = FrameRenderer(Scene(PANELS, trace, STYLE))
    assert len(parent_count) == 2 * EVALUATIONS
    for t, frame in zip(its, unprepared.frames(its)):
        np.testing.assert_array_equal(frame, prepared[t], err_msg=f"iteration {t}")


def test_still_grid_cells_only_draw(tmp_path, parent_count):
    trace = make_trace()
    path = emviz.render(trace, PANELS, tmp_path / "grid.png", style={**STYLE, "size": [6, 7.5]}, iterations=[0, 3, 6],
                        progress=False)
    assert path.stat().st_size > 0
    assert len(parent_count) == EVALUATIONS  # not once per cell


def test_runs_are_prepared_once_each_and_the_overlay_once(tmp_path, parent_count, worker_records):
    runs = {"a": make_trace(seed=0), "b": make_trace(n_iter=4, seed=1)}
    per_run = [{"loglik_contour": {"grid": 8, "levels": 5, "components": [0]}}]
    overlay = [{"loglik_contour": {"grid": 8, "levels": 5, "components": [1]}}]
    kwargs = dict(style={"dpi": 30, "size": [8, 2.5]}, schedule="all", overlay=overlay, progress=False)
    one = emviz.render(runs, per_run, tmp_path / "one.gif", workers=1, **kwargs)
    # One grid per run for the per-run panel, one for the overlay (the best run's landscape).
    assert len(parent_count) == 2 + 1
    two = emviz.render(runs, per_run, tmp_path / "two.gif", workers=2, **kwargs)
    assert len(parent_count) == 2 * 3
    assert_workers_only_drew(worker_records(), 2)
    assert one.read_bytes() == two.read_bytes()


def test_rendering_a_saved_trace_never_imports_torch(tmp_path):
    # Fitted on a GPU: a process without torch still evaluates on the CPU, with numpy.
    make_trace(device="cuda:0").save(tmp_path / "trace.npz")
    script = textwrap.dedent(f"""
        import json, sys
        import emviz
        from emviz.surface import trace_device
        trace = emviz.Trace.load({str(tmp_path / "trace.npz")!r})
        panels = [{{"loglik_contour": {{"grid": 8, "levels": 5}}}}, {{"loglik_surface": {{"grid": 6, "levels": 5}}}},
                  {{"loglik_contour": {{"grid": 6, "levels": 5, "hold": "current", "components": [1]}}}}]
        style = {{"dpi": 25, "size": [8, 2.5]}}
        emviz.render(trace, panels, {str(tmp_path / "a.gif")!r}, style=style, schedule=[0, 3, 6], progress=False)
        emviz.render(trace, panels, {str(tmp_path / "b.png")!r}, style=style, iterations=[0, 6], progress=False)
        print(json.dumps({{"torch": sorted(m for m in sys.modules if m.split(".")[0] == "torch"),
                          "device": trace_device(trace)}}))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"torch": [], "device": "cpu"}
    assert (tmp_path / "a.gif").stat().st_size > 0 and (tmp_path / "b.png").stat().st_size > 0
