"""The ellipses and cloud3d panels: the numbers their artists show.

Traces are built by hand (no fitter): T = 3 iterations of K = 2 components whose covariances are known
matrices (axis-aligned, rotated by 45 degrees, ...), 50 points and a truth.
"""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from scipy.stats import multivariate_normal

import emviz.render.panels  # noqa: F401  (registers the panels)
from emviz import InputError, Mixture, Trace
from emviz.render.frames import FrameRenderer
from emviz.render.panel import PANELS, make_panel
from emviz.render.panels.cloud3d import ellipsoid_segments, sphere_mesh
from emviz.render.panels._geometry import ellipse_geometry, subsample, view_limits
from emviz.render.scene import Scene

COLORS = [(0.8, 0.1, 0.1), (0.1, 0.3, 0.9)]
T = 3


def rotation(degrees):
    a = np.radians(degrees)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def rotated(degrees, major=4.0, minor=1.0):
    """The covariance with variances ``major`` along ``degrees`` and ``minor`` across it."""
    r = rotation(degrees)
    return r @ np.diag([major, minor]) @ r.T


#: Component 0's covariance at t = 0..3 and the ellipse (width, height, angle) at level 1.
COV0 = [np.diag([4.0, 1.0]), rotated(45), rotated(-30, 9.0, 1.0), np.diag([1.0, 4.0])]
GEOM0 = [(4.0, 2.0, 0.0), (4.0, 2.0, 45.0), (6.0, 2.0, -30.0), (4.0, 2.0, 90.0)]


def make_trace(d=2, truth=True, seed=0):
    """T = 3, K = 2, 50 points; the first two features carry the known covariances above."""
    rng = np.random.default_rng(seed)
    true_means = np.zeros((2, d))
    true_means[:, 0] = [-3.0, 3.0]
    true_cov = np.stack([np.eye(d) * 0.5, np.eye(d)])
    true = Mixture([0.4, 0.6], true_means, true_cov)
    X, labels = true.sample([20, 30], seed=seed)
    means = true_means[None] + np.linspace(1.0, 0.0, T + 1)[:, None, None] * rng.normal(0, 1.5, (1, 2, d))
    covs = np.tile(np.eye(d), (T + 1, 2, 1, 1)) * 0.8
    for t in range(T + 1):
        covs[t, 0, :2, :2] = COV0[t]
        covs[t, 1, :2, :2] = np.diag([1.0, 0.25]) * (1 + t)
    weights = np.tile([0.5, 0.5], (T + 1, 1))
    resp_index = np.arange(0, 50, 2)
    resp = rng.dirichlet([1.0, 1.0], size=(T + 1, len(resp_index)))
    loglik = np.array([Mixture(w, m, c).log_pdf(X).sum() for w, m, c in zip(weights, means, covs)])
    return Trace(weights=weights, means=means, covariances=covs, log_likelihood=loglik, resp_index=resp_index,
                 resp=resp, X=X, labels=labels, truth=true if truth else None)


@pytest.fixture(scope="module")
def trace2():
    return make_trace(2)


@pytest.fixture(scope="module")
def trace3():
    return make_trace(3)


def setup_panel(spec, trace, projection=None):
    fig = Figure(figsize=(4, 3), dpi=40)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111, projection=projection)
    panel = make_panel(spec)
    panel.check(trace)
    artists = panel.setup(ax, trace, COLORS)
    return fig, ax, panel, artists


def expected_rgb(trace, t):
    return trace.resp[t] @ np.array(COLORS)


def test_registered():
    assert {"ellipses", "cloud3d"} <= set(PANELS.names())
    assert PANELS.get("cloud3d").projection == "3d" and not PANELS.get("cloud3d").blittable
    for name in ("ellipses", "cloud3d"):
        assert PANELS.get(name).summary


# ---------------------------------------------------------------------- geometry
@pytest.mark.parametrize("t", range(T + 1))
def test_ellipse_geometry_of_known_covariances(t):
    width, height, angle = ellipse_geometry(COV0[t], (1.0, 2.0))
    w, h, a = GEOM0[t]
    np.testing.assert_allclose(width, [w, 2 * w])
    np.testing.assert_allclose(height, [h, 2 * h])
    assert float(angle) == pytest.approx(a, abs=1e-9)


def test_ellipse_boundary_has_mahalanobis_level():
    cov = rotated(30, 5.0, 0.5)
    (width,), (height,), angle = ellipse_geometry(cov, [2.0])
    r = rotation(float(angle))
    for phi in np.linspace(0, 2 * np.pi, 7):
        p = r @ [width / 2 * np.cos(phi), height / 2 * np.sin(phi)]
        assert p @ np.linalg.solve(cov, p) == pytest.approx(4.0)


def test_view_limits_cap_huge_ellipses():
    pts = np.array([[0.0, 0.0], [10.0, 1.0]])
    (x0, x1), (y0, y1) = view_limits(pts, np.array([[-100.0, -0.5]]), np.array([[100.0, 1.4]]), frac=0.0)
    assert (x0, x1) == (-5.0, 15.0)  # half the data's span beyond it, no more
    assert (y0, y1) == (-0.5, 1.4)  # smaller overhangs are included in full


def test_subsample_is_deterministic_and_bounded():
    idx = subsample(100_000, 5000)
    assert len(idx) == 5000 and idx[0] == 0 and idx[-1] == 99_999
    np.testing.assert_array_equal(idx, subsample(100_000, 5000))
    np.testing.assert_array_equal(subsample(30, 5000), np.arange(30))


# ---------------------------------------------------------------------- ellipses
def check_ellipses(panel, trace, t):
    art = panel._artists
    for k in range(2):
        width, height, angle = ellipse_geometry(trace.covariances[t, k, :2, :2], panel.levels)
        for i, patch in enumerate(art["ellipses"][k]):
            assert patch.center == pytest.approx(tuple(trace.means[t, k, :2]))
            assert patch.width == pytest.approx(width[i])
            assert patch.height == pytest.approx(height[i])
            assert patch.angle == pytest.approx(float(angle))
    w, h, a = GEOM0[t]
    e1, e2 = art["ellipses"][0]
    assert (e1.width, e1.height, e2.width, e2.height) == pytest.approx((w, h, 2 * w, 2 * h))
    assert e1.angle == pytest.approx(a, abs=1e-9)


def test_ellipses_follow_the_trace(trace2):
    fig, ax, panel, artists = setup_panel("ellipses", trace2)
    assert panel.blittable
    assert all(a.get_animated() for a in artists)
    check_ellipses(panel, trace2, 0)
    for t in (2, 1, 3):
        changed = panel.update(t)
        assert set(map(id, changed)) <= set(map(id, artists))
        check_ellipses(panel, trace2, t)
        for k, (path, mean) in enumerate(zip(panel._artists["paths"], panel._artists["means"])):
            np.testing.assert_allclose(np.column_stack(path.get_data()), trace2.means[: t + 1, k])
            np.testing.assert_allclose(np.column_stack(mean.get_data()), trace2.means[t, k : k + 1])
        scatter = panel._artists["points"]
        np.testing.assert_allclose(scatter.get_offsets(), trace2.resp_X)
        np.testing.assert_allclose(scatter.get_facecolors()[:, :3], expected_rgb(trace2, t))


def test_ellipses_levels_and_no_path(trace2):
    fig, ax, panel, _ = setup_panel({"ellipses": {"levels": [1.5], "show_path": False}}, trace2)
    (patch,) = panel._artists["ellipses"][0]
    assert (patch.width, patch.height) == pytest.approx((6.0, 3.0))
    assert panel._artists["paths"] == []


def truth_patches(ax):
    return [p for p in ax.patches if p.get_gid() == "truth"]


def test_true_ellipses_dashed_only_with_truth(trace2):
    fig, ax, panel, _ = setup_panel("ellipses", trace2)
    dashed = truth_patches(ax)
    assert len(dashed) == 2 * 2  # K components x 2 levels
    assert all(p.get_linestyle() == "--" for p in dashed)
    truth = trace2.truth
    np.testing.assert_allclose(sorted(p.center[0] for p in dashed), np.repeat(sorted(truth.means[:, 0]), 2))
    true_means = [ln for ln in ax.lines if ln.get_gid() == "truth"]
    assert len(true_means) == 1 and true_means[0].get_marker() == "x"
    np.testing.assert_allclose(np.sort(true_means[0].get_xdata()), np.sort(truth.means[:, 0]))
    # Solid fitted ellipses, dashed truth only.
    assert all(p.get_linestyle() in ("-", "solid") for row in panel._artists["ellipses"] for p in row)
    for spec, trace in (({"ellipses": {"show_truth": False}}, trace2), ("ellipses", make_trace(2, truth=False))):
        fig, ax, _, _ = setup_panel(spec, trace)
        assert truth_patches(ax) == [] and not [ln for ln in ax.lines if ln.get_gid() == "truth"]


def test_limits_hold_data_means_and_truth(trace2):
    fig, ax, panel, _ = setup_panel("ellipses", trace2)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    pts = np.concatenate([trace2.X, trace2.means.reshape(-1, 2), trace2.truth.means])
    assert x0 < pts[:, 0].min() and x1 > pts[:, 0].max()
    assert y0 < pts[:, 1].min() and y1 > pts[:, 1].max()
    panel.update(T)
    assert (ax.get_xlim(), ax.get_ylim()) == ((x0, x1), (y0, y1))


def test_ellipses_on_two_features_of_3d_data(trace3):
    fig, ax, panel, _ = setup_panel({"ellipses": {"features": [0, 2]}}, trace3)
    panel.update(1)
    cov = trace3.covariances[1, 0][np.ix_([0, 2], [0, 2])]  # diag(2, 0.8) from rotated(45)
    width, height, angle = ellipse_geometry(cov, (1.0, 2.0))
    patch = panel._artists["ellipses"][0][0]
    assert (patch.width, patch.height, patch.angle) == pytest.approx((width[0], height[0], float(angle)))
    assert patch.center == pytest.approx(tuple(trace3.means[1, 0, [0, 2]]))
    assert ax.get_xlabel() == "x0" and ax.get_ylabel() == "x2"


def mixture_density(trace, t, x, y):
    return sum(trace.weights[t, k] * multivariate_normal(trace.means[t, k, :2], trace.covariances[t, k, :2, :2]).pdf(
        np.column_stack([x, y])) for k in range(2))


def test_density_background_is_the_mixture_density(trace2):
    fig, ax, panel, artists = setup_panel({"ellipses": {"background": "density", "grid": 20}}, trace2)
    assert not panel.blittable
    image = panel._artists["image"]
    norm = (image.norm.vmin, image.norm.vmax)
    land = panel._land
    x0, x1, y0, y1 = image.get_extent()
    assert (x0, x1, y0, y1) == pytest.approx((*ax.get_xlim(), *ax.get_ylim()))
    rows, cols = np.array([0, 7, 13, 19]), np.array([19, 3, 11, 0])
    for t in (0, 2):
        panel.update(t)
        Z = np.asarray(image.get_array())
        assert Z.shape == (20, 20)
        np.testing.assert_allclose(Z[rows, cols], mixture_density(trace2, t, land["xs"][cols], land["ys"][rows]))
        assert (image.norm.vmin, image.norm.vmax) == norm  # one colour scale for all frames
    # Pixel centres: column j at x0 + (j + 1/2) * width / grid.
    assert land["xs"][0] == pytest.approx(x0 + (x1 - x0) / 40)
    xx, yy = np.meshgrid(land["xs"], land["ys"])
    peak = max(mixture_density(trace2, t, xx.ravel(), yy.ravel()).max() for t in range(T + 1))
    assert norm == pytest.approx((0.0, peak))


def test_static_landscapes(trace2):
    fig, ax, panel, _ = setup_panel({"ellipses": {"background": "density", "landscape": "truth", "grid": 12}}, trace2)
    assert panel.blittable
    image = panel._artists["image"]
    land = panel._land
    xx, yy = np.meshgrid(land["xs"], land["ys"])
    truth = trace2.truth
    expected = sum(w * multivariate_normal(m, c).pdf(np.dstack([xx, yy]))
                   for w, m, c in zip(truth.weights, truth.means, truth.covariances))
    np.testing.assert_allclose(np.asarray(image.get_array()), expected)
    assert image not in panel.update(2) and not image.get_animated()
    fig, ax, panel, _ = setup_panel({"ellipses": {"background": "contour", "landscape": "final", "grid": 12}}, trace2)
    assert panel.blittable and panel._artists["contour"] is not None


def test_current_contours_are_redrawn(trace2):
    fig, ax, panel, artists = setup_panel({"ellipses": {"background": "contour", "grid": 15, "n_levels": 4}},
                                          trace2)
    assert not panel.blittable
    first = panel._artists["contour"]
    levels = np.array(first.levels)
    assert len(levels) == 4 and first in artists
    changed = panel.update(3)
    second = panel._artists["contour"]
    assert second is not first and second in changed and first not in ax.collections
    np.testing.assert_allclose(second.levels, levels)  # fixed levels for all frames


def test_landscape_truth_needs_a_truth():
    trace = make_trace(2, truth=False)
    panel = make_panel({"ellipses": {"background": "density", "landscape": "truth"}})
    with pytest.raises(InputError, match="landscape"):
        panel.check(trace)


def test_blitted_frames_equal_full_redraws(trace2):
    style = {"size": [3.2, 2.4], "dpi": 40}
    scene = Scene(["ellipses"], trace2, style=style)
    blitted = FrameRenderer(scene)
    assert blitted.blit
    full = FrameRenderer(Scene(["ellipses"], trace2, style=style), blit=False)
    for t in (0, 3, 1):
        np.testing.assert_array_equal(blitted.frame(t), full.frame(t))


# ---------------------------------------------------------------------- cloud3d
def test_sphere_mesh_lies_on_the_unit_sphere():
    mesh = sphere_mesh(16, 10)
    assert len(mesh) == 16 + 8
    for line in mesh:
        np.testing.assert_allclose(np.linalg.norm(line, axis=1), 1.0)


def test_cloud3d_points_ellipsoids_and_camera(trace3):
    fig, ax, panel, artists = setup_panel({"cloud3d": {"azim": -50, "elev": 20, "rotate_degrees": 120}},
                                          trace3, projection="3d")
    scatter = panel._artists["points"]
    np.testing.assert_allclose(np.column_stack(scatter._offsets3d), trace3.resp_X)
    assert (ax.azim, ax.elev) == pytest.approx((-50.0, 20.0))
    for t in (0, 2, T):
        panel.update(t)
        # PathCollection's getter: the unsorted colours (the 3D getter returns them in depth order).
        np.testing.assert_allclose(PathCollection.get_facecolor(scatter)[:, :3], expected_rgb(trace3, t))
        for k, wire in enumerate(panel._artists["wireframes"]):
            segments = wire._segments3d
            assert len(segments) == 16 + 8
            pts = np.concatenate(segments) - trace3.means[t, k]
            maha = np.einsum("nd,nd->n", pts, np.linalg.solve(trace3.covariances[t, k], pts.T).T)
            np.testing.assert_allclose(maha, 1.0, rtol=1e-9)
        for k, mean in enumerate(panel._artists["means"]):
            np.testing.assert_allclose(np.ravel(mean.get_data_3d()), trace3.means[t, k])
        for k, path in enumerate(panel._artists["paths"]):
            np.testing.assert_allclose(np.column_stack(path.get_data_3d()), trace3.means[: t + 1, k])
        assert ax.azim == pytest.approx(-50.0 + 120.0 * t / T)
    fig.canvas.draw()  # draws with the 3D projection (depth sorting and all)
    assert ax.azim == pytest.approx(-50.0 + 120.0)


def test_ellipsoid_level_and_features():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + 0.1 * np.eye(3)
    mean = np.array([1.0, -2.0, 0.5])
    pts = np.concatenate(ellipsoid_segments(mean, cov, 2.0, sphere_mesh(8, 5))) - mean
    np.testing.assert_allclose(np.einsum("nd,nd->n", pts, np.linalg.solve(cov, pts.T).T), 4.0)


def test_cloud3d_on_three_features_of_4d_data():
    trace = make_trace(4)
    fig, ax, panel, _ = setup_panel({"cloud3d": {"features": [3, 0, 1], "show_truth": False}}, trace, "3d")
    panel.update(1)
    pts = np.concatenate(panel._artists["wireframes"][0]._segments3d) - trace.means[1, 0, [3, 0, 1]]
    cov = trace.covariances[1, 0][np.ix_([3, 0, 1], [3, 0, 1])]
    np.testing.assert_allclose(np.einsum("nd,nd->n", pts, np.linalg.solve(cov, pts.T).T), 1.0)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("x3", "x0", "x1")
    assert not [ln for ln in ax.lines if ln.get_gid() == "truth"]


def test_cloud3d_renders_in_a_scene(trace3):
    scene = Scene(["cloud3d"], trace3, style={"size": [3.2, 2.4], "dpi": 40})
    renderer = FrameRenderer(scene)
    assert not renderer.blit
    first, last = renderer.frame(0), renderer.frame(T)
    assert first.shape == last.shape and not np.array_equal(first, last)


@pytest.mark.parametrize("options", [{}, {"azim": 100.0, "rotate_degrees": -250.0, "elev": 50.0, "legend": False}])
def test_cloud3d_z_label_stays_right_of_the_box_and_in_the_figure(trace3, options):
    # The default turn (-60 to 30 degrees) swung the z axis to the box's left edge from azimuth 0 on,
    # and its label left the figure (the layout is fixed at the first frame): x0 < 0 in 11 of 31 frames on iris.
    scene = Scene([{"cloud3d": options}], trace3, style={"size": [4, 3], "dpi": 40})
    renderer = FrameRenderer(scene)
    ax = scene.axes[0]
    for t in range(T + 1):
        renderer.frame(t)
        label = ax.zaxis.label.get_window_extent(scene.figure.canvas.get_renderer())
        assert scene.figure.bbox.x0 <= label.x0 and label.x1 <= scene.figure.bbox.x1, (t, ax.azim, label)
        assert label.x0 > (ax.bbox.x0 + ax.bbox.x1) / 2, (t, ax.azim, label)


# ---------------------------------------------------------------------- checks and options
def test_wrong_dimension():
    with pytest.raises(InputError, match="ellipses.*D=1"):
        make_panel("ellipses").check(1)
    with pytest.raises(InputError, match="cloud3d.*D=2"):
        make_panel("cloud3d").check(make_trace(2))
    with pytest.raises(InputError, match="features"):
        make_panel({"ellipses": {"features": [0, 2]}}).check(2)
    with pytest.raises(InputError, match="features"):
        make_panel({"cloud3d": {"features": [0, 1, 3]}}).check(3)
    make_panel("ellipses").check(5)
    make_panel("cloud3d").check(3)


@pytest.mark.parametrize("name, options, option", [
    ("ellipses", {"background": "heatmap"}, "background"),
    ("ellipses", {"landscape": "start"}, "landscape"),
    ("ellipses", {"levels": []}, "levels"),
    ("ellipses", {"levels": [1, -2]}, "levels"),
    ("ellipses", {"aspect": "square"}, "aspect"),
    ("ellipses", {"alpha": 0}, "alpha"),
    ("ellipses", {"point_size": -1}, "point_size"),
    ("ellipses", {"max_points": 0}, "max_points"),
    ("ellipses", {"grid": 3}, "grid"),
    ("ellipses", {"cmap": "no_such_map"}, "cmap"),
    ("ellipses", {"features": [1, 1]}, "features"),
    ("ellipses", {"show_truth": "yes"}, "show_truth"),
    ("ellipses", {"xlim": [2, 1]}, "xlim"),
    ("ellipses", {"legend": "middle"}, "legend"),
    ("ellipses", {"level": 1}, "level"),  # unknown option
    ("cloud3d", {"mesh": [2, 10]}, "mesh"),
    ("cloud3d", {"rotate_degrees": "fast"}, "rotate_degrees"),
    ("cloud3d", {"level": 0}, "level"),
    ("cloud3d", {"features": [0, 1]}, "features"),
    ("cloud3d", {"aspect": "cube"}, "aspect"),
    ("cloud3d", {"levels": [1, 2]}, "levels"),  # unknown option
])
def test_bad_options(name, options, option):
    with pytest.raises(InputError, match=f"panel '{name}'.*'{option}'"):
        make_panel({name: options})


def test_a_feature_the_data_lacks_is_named():
    panel = make_panel({"cloud3d": {"features": [0, 2, 5]}})
    with pytest.raises(InputError, match=r"option 'features' \[0, 2, 5\]: feature 5 does not exist; the data has "
                                         r"D=4 \(features 0..3\)"):
        panel.check(4)
    with pytest.raises(InputError, match=r"features \[4, 5\] do not exist"):
        make_panel({"ellipses": {"features": [4, 5]}}).check(3)
