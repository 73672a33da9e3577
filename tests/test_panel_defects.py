"""Defects a user found in the point and 1D panels (issue 13): y and x ranges of ``components``, hidden
component curves, feature names on ``responsibilities``, the 3D camera, the ``ellipses`` legend.

Each is checked as a user meets it: a real fit (or a saved trace) rendered by the scene, then the
artists and the decoded frames.
"""

import dataclasses

import numpy as np
import pytest
from matplotlib.colors import to_rgb

import emviz.render.panels  # noqa: F401  (registers the panels)
from emviz import GaussianMixture, Recorder
from emviz.render.frames import FrameRenderer
from emviz.render.panels.components import OUTLIER_RATIO, ComponentsPanel, robust_top
from emviz.render.scene import Scene

STYLE = {"dpi": 50, "size": (6.0, 3.5)}


def two_clusters_1d(seed=0):
    """Two 1D clusters at -3 and 2 (the issue's CSV), 600 points."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(-3.0, 1.0, 300), rng.normal(2.0, 0.8, 300)])[:, None]


@pytest.fixture(scope="module")
def spiky_trace():
    """k-means++ with diagonal covariances, seed 2: iteration 0's standard deviations are 0.001."""
    gm = GaussianMixture(2, "diag", init="kmeans++", seed=2, max_iter=8, tol=0.0)
    trace = Recorder(gm, progress=False).run(two_clusters_1d())
    assert trace.stds[0].max() < 0.01 < trace.stds[1:].min()  # the defect's premise
    return trace


def panel_axes(panel):
    return panel._lines[0].axes


# ---------------------------------------------------------------------- 1: robust y range
def test_robust_top_ignores_outlier_frames_but_keeps_the_floor():
    peaks = np.array([200.0, 0.30, 0.28, 0.27])
    assert robust_top(peaks, 0.2) == pytest.approx(1.05 * 0.30)
    assert robust_top(peaks, 0.5) == pytest.approx(1.05 * 0.5)  # the histogram, with headroom
    # A frame within OUTLIER_RATIO of the floor is shown in full.
    assert robust_top(np.array([0.9 * OUTLIER_RATIO, 0.1]), 1.0) == pytest.approx(1.05 * 0.9 * OUTLIER_RATIO)


def test_spike_at_iteration_0_does_not_flatten_the_animation(spiky_trace):
    scene = Scene(["components"], spiky_trace, STYLE)
    renderer = FrameRenderer(scene)
    panel = scene.panels[0]
    ax = panel_axes(panel)
    top = ax.get_ylim()[1]
    heights = ax.patches[0].get_data()[0]
    assert heights.max() / top > 0.6  # the histogram fills most of the height
    peaks = panel.frame_peaks(spiky_trace)
    assert peaks[0] > 50 * top  # iteration 0 goes far off the top ...
    assert np.all(peaks[1:] <= top) and np.all(peaks[1:] / top > 0.6)  # ... the others are whole and tall
    frame0 = renderer.frame(0)
    marks = panel._marks
    assert len(marks.get_offsets()) == 2  # both spikes marked at the top edge
    np.testing.assert_allclose(marks.get_offsets()[:, 1], top)
    np.testing.assert_allclose(np.sort(marks.get_offsets()[:, 0]), np.sort(spiky_trace.means[0, :, 0]))
    renderer.frame(3)
    assert len(marks.get_offsets()) == 0
    # The marks show in the decoded frame: the components' colours just above the axes' top edge.
    colors = [to_rgb(c) for c in panel._colors[:2]]
    x0, _, x1, y1 = ax.get_window_extent().extents
    height = frame0.shape[0]
    row = int(height - y1)
    band = frame0[row - 4:row + 4, int(x0):int(x1)].reshape(-1, 3) / 255.0
    for color in colors:
        assert np.sum(np.abs(band - color).max(axis=1) < 0.1) >= 5


def test_narrow_component_is_drawn_at_its_mean(spiky_trace):
    """A component narrower than the x grid's step still reaches its peak: its mean is on the grid."""
    scene = Scene(["components"], spiky_trace, STYLE)
    panel = scene.panels[0]
    panel.update(0)
    for k, line in enumerate(panel._lines):
        peak = spiky_trace.weights[0, k] / (np.sqrt(2 * np.pi) * spiky_trace.stds[0, k, 0])
        assert line.get_ydata().max() == pytest.approx(peak, rel=1e-9)


def test_ylim_option_still_overrides(spiky_trace):
    scene = Scene([{"components": {"ylim": [0, 500]}}], spiky_trace, STYLE)
    panel = scene.panels[0]
    assert panel_axes(panel).get_ylim() == (0, 500)
    panel.update(0)
    assert len(panel._marks.get_offsets()) == 0  # nothing clipped under the user's range


# ---------------------------------------------------------------------- 2: components above the mixture
@pytest.mark.parametrize("kind", ["full", "diag", "spherical", "tied"])
def test_every_component_colour_shows_when_well_separated(kind):
    gm = GaussianMixture(2, kind, init="kmeans", seed=0, max_iter=5, tol=0.0)
    trace = Recorder(gm, progress=False).run(two_clusters_1d())
    scene = Scene(["components"], trace, STYLE)
    frame = FrameRenderer(scene).frame(trace.n_iter)
    panel = scene.panels[0]
    *lines, mixture, _ = panel.update(trace.n_iter)
    assert all(line.get_zorder() > mixture.get_zorder() for line in lines)
    pixels = frame.reshape(-1, 3) / 255.0
    for line in lines:
        near = np.abs(pixels - to_rgb(line.get_color())).max(axis=1) < 0.1
        assert near.sum() > 150, line.get_color()  # a whole curve's worth, not a legend swatch


# ---------------------------------------------------------------------- 3: feature names on responsibilities
@pytest.fixture(scope="module")
def iris_trace(tmp_path_factory):
    from emviz.pipeline import fit, prepare

    config = {"data": {"dataset": "iris"}, "model": {"n_components": 3, "max_iter": 4, "tol": 0.0, "seed": 0},
              "outputs": [{"path": "x.png", "panels": ["ellipses"]}]}
    folder = tmp_path_factory.mktemp("iris")
    (trace,) = fit(prepare(config, out=folder), progress=False).values()
    return trace


def test_responsibilities_axes_are_named_like_ellipses(iris_trace, tmp_path):
    from emviz import Trace

    iris_trace.save(tmp_path / "iris.npz")
    columns = iris_trace.meta["data"]["columns"]
    assert columns[0] == "sepal_length"
    for trace in (iris_trace, Trace.load(tmp_path / "iris.npz")):  # also as render-trace sees it
        scene = Scene([{"responsibilities": {"features": [2, 3]}}, {"ellipses": {"features": [2, 3]}}], trace, STYLE)
        axes = [ax for ax in scene.figure.axes if ax.get_visible() and ax.get_xlabel()]
        assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in axes] == [(columns[2], columns[3])] * 2


def test_one_dimensional_panels_name_the_csv_column(tmp_path):
    from emviz import Trace

    gm = GaussianMixture(2, init="kmeans", seed=0, max_iter=2, tol=0.0)
    trace = Recorder(gm, progress=False).run(two_clusters_1d(), meta={"data": {"columns": ["height"]}})
    trace.save(tmp_path / "t.npz")
    scene = Scene(["components", "responsibilities"], Trace.load(tmp_path / "t.npz"), STYLE)
    assert [ax.get_xlabel() for ax in scene.figure.axes] == ["height", "height"]


# ---------------------------------------------------------------------- 10: x range of components
def test_x_range_covers_the_components_tails_but_stays_bounded():
    X = two_clusters_1d()
    gm = GaussianMixture(2, init="kmeans", seed=0, max_iter=5, tol=0.0)
    trace = Recorder(gm, progress=False).run(X)
    scene = Scene(["components"], trace, STYLE)
    lo, hi = panel_axes(scene.panels[0]).get_xlim()
    means, stds = trace.means[-1, :, 0], trace.stds[-1, :, 0]
    assert hi >= (means + 3 * stds).max() > X.max()  # the right component's tail is not cut at the data
    assert lo <= (means - 3 * stds).min()
    # At iteration T the right component's curve has come down to ~1 % of its peak at the edge.
    right = np.argmax(means)
    line = scene.panels[0]._lines[right]
    assert line.get_ydata()[-1] < 0.02 * line.get_ydata().max()
    # A very broad component does not stretch the axis without bound: half the data's span at most
    # beyond the data (plus the 2 % padding of the widened range).
    scale = np.array([1.0, 400.0])[None, :, None, None]
    wide = dataclasses.replace(trace, covariances=trace.covariances * scale)
    blo, bhi = ComponentsPanel()._x_range(wide)
    span = X.max() - X.min()
    assert bhi == pytest.approx(X.max() + 0.5 * span + 0.02 * 2 * span)
    assert blo == pytest.approx(X.min() - 0.5 * span - 0.02 * 2 * span)


# ---------------------------------------------------------------------- 10: the 3D camera and labels
def test_turn_never_ends_side_on():
    from emviz.render.panels.cloud3d import SIDE_ON_MARGIN, clear_turn

    assert clear_turn(-60.0, 60.0) == pytest.approx(40.0)  # the iris turn: stops at -20, not 0
    assert clear_turn(-60.0, 120.0) == 120.0  # ends at 60: clear already
    assert clear_turn(30.0, -40.0) == pytest.approx(-10.0)  # turning the other way, 10 -> 20
    for azim in np.arange(-180.0, 180.0, 7.0):
        for rotate in np.arange(-360.0, 361.0, 13.0):
            end = azim + clear_turn(azim, rotate)
            off = abs(end - 90.0 * np.round(end / 90.0))
            assert off >= SIDE_ON_MARGIN - 1e-9 or abs(clear_turn(azim, rotate) - rotate) < 1e-12
    assert clear_turn(0.0, 0.0) == 0.0  # a still camera stays where the user put it


def label_gap(axis, renderer, limits) -> float:
    """Pixels between an axis label's box and the nearest of its visible tick labels (< 0: overlap)."""
    label = axis.label.get_window_extent(renderer)
    boxes = [tick.label1.get_window_extent(renderer) for tick in axis.get_major_ticks()
             if tick.label1.get_visible() and tick.label1.get_text() and limits[0] <= tick.get_loc() <= limits[1]]
    return min(max(b.x0 - label.x1, label.x0 - b.x1, b.y0 - label.y1, label.y0 - b.y1) for b in boxes)


def test_cloud3d_on_iris_last_frame_is_not_side_on_and_z_label_clears_its_ticks(iris_trace):
    scene = Scene([{"cloud3d": {"rotate_degrees": 60}}], iris_trace, {"dpi": 80, "size": (6.4, 3.7)})
    renderer = FrameRenderer(scene)
    panel = scene.panels[0]
    ax = panel._artists["points"].axes
    ticks = None
    for t in range(iris_trace.n_iter + 1):
        renderer.frame(t)
        assert label_gap(ax.zaxis, scene.figure.canvas.get_renderer(), ax.get_zlim()) > 2.0
        shown = [tuple(a.get_majorticklocs()) for a in (ax.xaxis, ax.yaxis, ax.zaxis)]
        assert ticks is None or shown == ticks  # fixed ticks: nothing flickers as the camera turns
        ticks = shown
    assert ax.azim == pytest.approx(-20.0)  # 20 degrees short of looking down the x axis
    assert [ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()] == iris_trace.meta["data"]["columns"][:3]


# ---------------------------------------------------------------------- 10: the ellipses legend
def points_under_legends(scene) -> int:
    """Data points (of any Axes, inside that Axes) that some legend's box covers, in the drawn figure."""
    from matplotlib.collections import PathCollection

    figure = scene.figure
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legends = [ax.get_legend().get_window_extent(renderer) for ax in figure.axes if ax.get_legend()]
    covered = 0
    for ax in figure.axes:
        box = ax.get_window_extent(renderer)
        for points in (c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets())):
            xy = ax.transData.transform(points.get_offsets())
            xy = xy[(xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1)]
            for legend in legends:
                covered += int(np.sum((xy[:, 0] > legend.x0) & (xy[:, 0] < legend.x1)
                                      & (xy[:, 1] > legend.y0) & (xy[:, 1] < legend.y1)))
    return covered


@pytest.mark.parametrize("panels, size", [
    (["ellipses"], None), (["ellipses"], (4.0, 3.0)), (["ellipses", "curves"], None),
    (["ellipses", "curves"], (8.0, 3.5)), ([{"ellipses": {"background": "density"}}, "responsibilities"], None),
])
def test_default_ellipses_legend_covers_no_points(iris_trace, panels, size):
    style = {"theme": "dark", "dpi": 60, **({"size": size} if size else {})}
    scene = Scene(panels, iris_trace, style)
    for t in (0, iris_trace.n_iter):
        scene.update(t)
        assert points_under_legends(scene) == 0


def test_default_ellipses_legend_covers_no_points_of_other_runs(iris_trace):
    scene = Scene(["ellipses"], {"EM": iris_trace, "again": iris_trace}, {"theme": "dark", "dpi": 60},
                  overlay=["curves"])
    assert points_under_legends(scene) == 0


def test_standardised_data_are_marked_on_the_axes(tmp_path):
    """Issue 13, item 11: z-scores say so on every axis that shows the data."""
    from emviz import Trace
    from emviz.pipeline import fit, prepare

    config = {"data": {"dataset": "old_faithful", "standardize": True},
              "model": {"n_components": 2, "max_iter": 2, "tol": 0.0}, "record": {"save": "t.npz"}}
    (trace,) = fit(prepare(config, out=tmp_path), progress=False).values()
    for shown in (trace, Trace.load(tmp_path / "t.npz")):
        scene = Scene(["ellipses", "responsibilities"], shown, STYLE)
        labels = [(ax.get_xlabel(), ax.get_ylabel()) for ax in scene.figure.axes if ax.get_xlabel()]
        assert labels == [("eruptions (z-score)", "waiting (z-score)")] * 2
