"""Several runs of the same data in one scene: side by side, shared axes, overlaid curves, one title."""

import numpy as np
import pytest
from PIL import Image

import emviz
from emviz import GaussianMixture, InputError, Mixture, Recorder
from emviz.cli import main
from emviz.render.scene import Scene

RNG = np.random.RandomState(0)
X = np.concatenate([RNG.randn(60, 2), RNG.randn(60, 2) * 0.7 + [4, 1]])
INIT = Mixture([0.5, 0.5], [[-1.0, 2.0], [3.0, -1.0]], [np.eye(2)] * 2)


@pytest.fixture(scope="module")
def runs():
    em = Recorder(GaussianMixture(2, init=INIT, tol=0, max_iter=6), progress=False).run(X)
    hard = Recorder(GaussianMixture(2, init=INIT, tol=0, max_iter=4, algorithm="hard"), progress=False).run(X * 1.5)
    return {"EM": em, "hard EM": hard}


def scene(runs, **kwargs):
    return Scene(["ellipses"], runs, style={"dpi": 30, "size": [9, 3]}, overlay=["curves"], **kwargs)


def test_panels_once_per_run_then_the_overlay(runs):
    s = scene(runs)
    assert [(p.name, name) for p, _, name in s.cells] == [("ellipses", "EM"), ("ellipses", "hard EM"), ("curves", None)]
    assert [s.axes[0].get_title(), s.axes[1].get_title()] == ["EM", "hard EM"]
    assert s.cells[0][1] is runs["EM"] and s.cells[1][1] is runs["hard EM"]
    assert s.trace is runs["EM"]  # the longest run sets T


def test_runs_share_axis_limits(runs):
    s = scene(runs)
    a, b = s.axes[0], s.axes[1]
    assert a.get_xlim() == b.get_xlim() and a.get_ylim() == b.get_ylim()
    # The union: the wider run's data fit inside both.
    lo, hi = a.get_xlim()
    assert lo <= (X * 1.5)[:, 0].min() and hi >= (X * 1.5)[:, 0].max()


def test_title_names_each_run_and_a_shorter_run_rests_at_its_end(runs):
    s = scene(runs)
    with s.style.context():
        s.update(6)
    title = s.shown_title().replace("\u2007", " ")
    assert "Iteration 6/6" in title
    assert f"EM {runs['EM'].log_likelihood[6]:.2f}" in " ".join(title.split())
    assert f"hard EM {runs['hard EM'].log_likelihood[4]:.2f}" in " ".join(title.split())
    mean_marker = s.cells[1][0]._artists["means"][0]  # the hard EM run stopped at iteration 4
    np.testing.assert_allclose(mean_marker.get_xydata()[0], runs["hard EM"].means[4, 0])


def test_overlaid_curves_hold_every_run(runs):
    s = scene(runs)
    curves = s.cells[2][0]
    (nats,) = [strip for strip in curves._strips if strip.group == "nats"]
    lines = {line.get_label(): line for line in nats.ax.get_lines() if line.get_label() in runs}
    assert set(lines) == {"EM", "hard EM"}
    np.testing.assert_allclose(lines["hard EM"].get_ydata(), runs["hard EM"].log_likelihood)
    with s.style.context():
        s.update(6)
    assert [m.get_xdata()[0] for m in nats.markers] == [6, 4]


def test_a_panel_that_cannot_overlay(runs):
    with pytest.raises(InputError, match="cannot overlay"):
        Scene(["ellipses"], runs, overlay=["ellipses"])


def test_render_runs_to_a_gif(runs, tmp_path):
    path = emviz.render(runs, panels=["ellipses"], overlay=["curves"], path=tmp_path / "runs.gif",
                        schedule="all", style={"dpi": 25, "size": [9, 3]}, progress=False)
    with Image.open(path) as im:
        assert im.n_frames == 7


CONFIG = """
data: {{mixture: {{means: [[0.0, 0.0], [4.0, 1.0]], stds: [1.0, 0.7], sizes: [60, 60]}}, seed: 0}}
model: {{n_components: 2, max_iter: 5, tol: 0.0}}
runs:
  - name: EM
  - {{name: hard EM, model: {{algorithm: hard}}}}
record: {{save: fit.npz}}
style: {{dpi: 25, size: [9, 3]}}
outputs:
  - path: {path}
    panels: [ellipses]
    overlay: [curves]
{extra}
"""


def test_cli_renders_runs_and_saves_each_trace(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(path="runs.gif", extra=""))
    assert main(["render", str(cfg), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fit_em.npz", "fit_hard_em.npz", "runs.gif"]
    hard = emviz.Trace.load(tmp_path / "out" / "fit_hard_em.npz")
    assert hard.meta["run"] == "hard EM" and hard.meta["config"]["runs"][1]["model"]["algorithm"] == "hard"


@pytest.mark.parametrize("path, extra, message", [
    ("grid.png", "    iterations: [0, 5]", "outputs[0].iterations: a small-multiples grid shows one run"),
    ("grid.pdf", "    frames: {schedule: [0, 2, 5]}", "outputs[0].frames.schedule: a small-multiples grid shows one run"),
    # One run is allowed in a grid, but the overlay is not: said before the fit, not after it.
    ("grid.png", "    iterations: [0, 5]\n    runs: [EM]",
     "outputs[0].overlay: a small-multiples grid (2 iterations) draws no overlay; drop overlay, or give one iteration"),
    ("runs.gif", "    runs: [EM, hard]", "outputs[0].runs[1]: no run named 'hard' (did you mean 'hard EM'?)"),
])
def test_run_mistakes_exit_2_before_fitting(tmp_path, capsys, monkeypatch, path, extra, message):
    def no_fit(*args, **kwargs):
        raise AssertionError("the mistake must be found before the fit")

    monkeypatch.setattr(emviz.Recorder, "run", no_fit)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(path=path, extra=extra))
    assert main(["render", str(cfg), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_a_grid_of_one_named_run(tmp_path, monkeypatch):
    # The check allows runs: [one name] for a grid; the render must then draw that run's trace (it
    # used to get a mapping of one run and fail after the fit), headed by the run's name.
    import emviz.render.api as api

    drawn = []
    original = api.grid_figure

    def spy(panels, trace, iterations, style=None, title=None):
        drawn.append((trace, list(iterations), title))
        return original(panels, trace, iterations, style=style, title=title)

    monkeypatch.setattr(api, "grid_figure", spy)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CONFIG.format(path="grid.png", extra="    iterations: [0, 2, 5]\n    runs: [hard EM]")
                   .replace("    overlay: [curves]\n", ""))
    assert main(["render", str(cfg), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    (trace, iterations, title), = drawn
    hard = emviz.Trace.load(tmp_path / "out" / "fit_hard_em.npz")
    np.testing.assert_array_equal(trace.means, hard.means)
    assert iterations == [0, 2, 5] and title == "hard EM"
    assert (tmp_path / "out" / "grid.png").is_file()


def test_runs_overlaid_on_one_contour(runs):
    s = Scene(["curves"], runs, style={"dpi": 30, "size": [9, 3]},
              overlay=[{"loglik_contour": {"grid": 8, "components": [0]}}])
    contour = s.cells[-1][0]
    best = max(runs, key=lambda name: runs[name].log_likelihood[-1])
    other = next(name for name in runs if name != best)
    assert contour._trace is runs[best]  # the landscape of the best fit
    (view,) = contour._views
    (path, n_iter, line, current), = view.run_paths
    with s.style.context():
        s.update(6)
    tt = min(6, runs[other].n_iter)
    np.testing.assert_allclose(line.get_xdata(), runs[other].means[: tt + 1, 0, 0])
    np.testing.assert_allclose(line.get_ydata(), runs[other].means[: tt + 1, 0, 1])
    np.testing.assert_allclose(view.path_line.get_xdata(), runs[best].means[: min(6, runs[best].n_iter) + 1, 0, 0])
    labels = [t.get_text() for t in view.sub.get_legend().get_texts()]
    assert labels[:2] == [best, other]
