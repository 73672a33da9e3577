"""Legends in small figures (issue 13, item 4): a legend never covers data, in any frame.

A figure too small for a legend inside its Axes (a few inches at dpi 50, a single panel of 3 x 2.5
inches) shrinks the legend's font, down to a floor, or moves it out of the Axes. Checked on the
artists of the built scene at its first, middle and last frames: no legend's box holds any drawn
data vertex, any point along a drawn line, or any scatter point, of any Axes; and every legend is
readable (its font at or above the floor) and inside the figure.
"""

import numpy as np
import pytest
from matplotlib.collections import PathCollection

import emviz.render.panels  # noqa: F401  (registers the panels)
from emviz import GaussianMixture, Recorder
from emviz.render.frames import SceneSpec
from emviz.render.panels._common import LEGEND_MIN_POINTS

#: Points along each drawn segment (display space, where matplotlib draws it straight).
SAMPLES = 24


def fit(X, k=3, algorithm="em", max_iter=8):
    gm = GaussianMixture(k, init="random", seed=3, max_iter=max_iter, tol=0.0, algorithm=algorithm)
    return Recorder(gm, progress=False).run(X)


@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(m, 0.8, (40, 2)) for m in ([0.0, 0.0], [4.0, 1.0], [1.5, 4.0])])
    return {"EM": fit(X), "hard EM": fit(X, algorithm="hard")}


@pytest.fixture(scope="module")
def one_d():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-3.0, 1.0, 80), rng.normal(2.0, 0.8, 80)])[:, None]
    return fit(X, k=2)


def data_points(ax) -> np.ndarray:
    """Display coordinates of what ``ax`` draws as data, inside its box: the vertices of its lines and
    points along their segments, and its scatter points (the cursor, in axes coordinates, is no data)."""
    out = [np.empty((0, 2))]
    for line in ax.get_lines():
        if not line.get_visible() or line.get_transform() is not ax.transData:
            continue
        xy = ax.transData.transform(np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float))
        if line.get_linestyle() not in ("None", "", " ") and len(xy) > 1:
            s = np.linspace(0.0, 1.0, SAMPLES)[:, None, None]
            xy = np.concatenate([xy, (xy[:-1] + s * (xy[1:] - xy[:-1])).reshape(-1, 2)])
        out.append(xy)
    for points in ax.collections:
        if isinstance(points, PathCollection) and points.get_visible() and len(points.get_offsets()):
            out.append(points.get_offset_transform().transform(np.asarray(points.get_offsets(), dtype=float)))
    xy = np.concatenate(out)
    xy = xy[np.isfinite(xy).all(axis=1)]
    box = ax.get_window_extent()
    return xy[(xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1) & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)]


def legend_problems(figure) -> list[str]:
    renderer = figure.canvas.get_renderer()
    legends = [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None and ax.get_visible()]
    assert legends, "no legend drawn"
    data = [(ax, data_points(ax)) for ax in figure.axes if ax.get_visible()]
    found = []
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax, xy in data:
            under = np.sum((xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1))
            if under:
                found.append(f"legend {[t.get_text() for t in legend.get_texts()]} covers {under} data points "
                             f"of Axes {ax.get_title() or ax.get_ylabel()!r}")
        font = min(t.get_fontsize() for t in legend.get_texts())
        if font < LEGEND_MIN_POINTS - 1e-9:
            found.append(f"legend font {font:.2f} pt is below {LEGEND_MIN_POINTS} pt")
        fig_box = figure.bbox
        if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > fig_box.x1 + 0.5 or box.y1 > fig_box.y1 + 0.5:
            found.append(f"legend {[t.get_text() for t in legend.get_texts()]} leaves the figure: {box}")
    return found


def check(panels, trace, style, overlay=None) -> None:
    spec = SceneSpec.create(panels, trace, style=style, overlay=overlay)
    scene = spec.build()
    T = scene.trace.n_iter
    positions = None
    with spec.style.context():
        for t in (0, T // 2, T):
            scene.update(t)
            scene.figure.draw_without_rendering()
            problems = legend_problems(scene.figure)
            assert not problems, f"iteration {t}: " + "; ".join(problems)
            shown = [tuple(np.round(ax.get_legend().get_window_extent().bounds, 6))
                     for ax in scene.figure.axes if ax.get_legend() is not None]
            assert positions is None or shown == positions, "a legend moved between frames"
            positions = shown


CURVES3 = {"curves": {"show": ["loglik", "elbo", "kl"]}}


def test_curves_overlay_in_a_small_frame(runs):
    """The issue's case: runs side by side with their curves overlaid, 8 x 3.5 inches at dpi 50."""
    check(["ellipses"], runs, {"dpi": 50, "size": [8, 3.5]}, overlay=[CURVES3])


def test_runs_and_overlay_at_5_by_4(runs):
    check(["ellipses"], runs, {"dpi": 50, "size": [5, 4]}, overlay=["curves"])


@pytest.mark.parametrize("panel", [CURVES3, "ellipses"])
@pytest.mark.parametrize("size, dpi", [((3, 2.5), 80), ((4, 3), 50)])
def test_single_small_2d_panels(runs, panel, size, dpi):
    check([panel], runs["EM"], {"dpi": dpi, "size": list(size)})


@pytest.mark.parametrize("panel", [{"loglik_contour": {"grid": 12, "levels": 6}}, "components"])
@pytest.mark.parametrize("size, dpi", [((3, 2.5), 80), ((8, 3.5), 50)])
def test_single_small_1d_panels(one_d, panel, size, dpi):
    check([panel], one_d, {"dpi": dpi, "size": list(size)})


def test_contour_of_two_means_in_a_small_frame(runs):
    check([{"loglik_contour": {"params": [[0, "mean0"], [1, "mean0"]], "grid": 12, "levels": 6}}], runs["EM"],
          {"dpi": 80, "size": [3, 2.5]})


def test_a_segment_crossing_a_box_meets_it_without_a_vertex_inside():
    from emviz.render.panels._legend import segments_meet_box

    starts = np.array([[-1.0, 0.5], [-1.0, 2.0], [0.5, -1.0], [0.5, 0.5], [np.nan, 0.0], [2.0, 2.0]])
    ends = np.array([[2.0, 0.5], [2.0, 3.0], [0.5, 5.0], [0.6, 0.6], [0.5, 0.5], [3.0, -1.0]])
    np.testing.assert_array_equal(segments_meet_box(starts, ends, (0.0, 0.0, 1.0, 1.0)),
                                  [True, False, True, True, False, False])
