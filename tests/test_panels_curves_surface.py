"""The curves and loglik_surface panels: the numbers their artists show, the cursor, the path on the surface.

Traces come from the real fitter on small data like the lecture notes' (two 1D Gaussians at -10 and 10,
standard deviation 5), started with both means near the saddle between the two optima.
"""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.special import logsumexp
from scipy.stats import norm

import emviz.render.panels  # noqa: F401  (registers the panels)
from emviz import GaussianMixture, InputError, Mixture, Recorder, Trace
from emviz.metrics import elbo_kl, parameter_errors
from emviz.render.panel import PANELS, make_panel
from emviz.render.panels.curves import series_colors
from emviz.render.scene import Scene

COLORS = [(0.0, 0.447, 0.698), (0.835, 0.369, 0.0)]
TRUTH = Mixture.from_stds([0.5, 0.5], [[-10.0], [10.0]], [5.0, 5.0])
INIT = Mixture.from_stds([0.5, 0.5], [[2.0], [-2.0]], [8.0, 8.0])


@pytest.fixture(scope="module")
def trace():
    X, _ = TRUTH.sample([60, 60], seed=2)
    gm = GaussianMixture(2, init=INIT, tol=0, max_iter=8)
    return Recorder(gm, resp_points=10_000, progress=False).run(X, truth=TRUTH)


@pytest.fixture(scope="module")
def trace_2d():
    truth = Mixture([0.5, 0.5], [[-3.0, 0.0], [3.0, 1.0]], [np.eye(2), np.eye(2)])
    X, _ = truth.sample([30, 30], seed=1)
    init = Mixture([0.5, 0.5], [[0.5, 0.0], [-0.5, 0.0]], [4 * np.eye(2), 4 * np.eye(2)])
    return Recorder(GaussianMixture(2, init=init, tol=0, max_iter=4), progress=False).run(X, truth=truth)


def without_truth(tr):
    return Trace(weights=tr.weights, means=tr.means, covariances=tr.covariances, log_likelihood=tr.log_likelihood,
                 resp_index=tr.resp_index, resp=tr.resp, X=tr.X, meta=tr.meta)


def setup(spec, tr, projection=None):
    fig = Figure(figsize=(5, 4), dpi=40, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111, projection=projection)
    panel = make_panel(spec)
    panel.check(tr)
    artists = panel.setup(ax, tr, COLORS)
    return fig, ax, panel, artists


def by_gid(fig, gid):
    lines = [line for ax in fig.axes for line in ax.lines if line.get_gid() == gid]
    assert len(lines) == 1, gid
    return lines[0]


def test_registered():
    assert {"curves", "loglik_surface"} <= set(PANELS.names())
    assert PANELS.get("loglik_surface").projection == "3d"
    assert not PANELS.get("loglik_surface").blittable
    assert PANELS.get("curves").blittable
    for name in ("curves", "loglik_surface"):
        assert PANELS.get(name).summary


# ---------------------------------------------------------------------- curves
def test_loglik_line_is_the_trace_and_the_cursor_follows_t(trace):
    fig, ax, panel, artists = setup("curves", trace)
    line = by_gid(fig, "loglik")
    np.testing.assert_array_equal(line.get_xdata(), np.arange(trace.n_iter + 1))
    np.testing.assert_array_equal(line.get_ydata(), trace.log_likelihood)
    cursor, marker = artists
    assert all(a.get_animated() for a in artists)
    assert list(cursor.get_xdata()) == [0, 0]
    for t in (3, trace.n_iter):
        changed = panel.update(t)
        assert changed == artists
        assert list(cursor.get_xdata()) == [t, t]
        assert marker.get_xdata()[0] == t and marker.get_ydata()[0] == trace.log_likelihood[t]
    panel.update(-1)
    assert cursor.get_xdata()[0] == trace.n_iter
    assert ax.get_ylabel() == "log-likelihood" and ax.get_xlabel() == "iteration"
    lo, hi = ax.get_ylim()
    assert lo < trace.log_likelihood.min() and hi > trace.log_likelihood.max()


def test_every_series_draws_the_metrics(trace):
    spec = {"curves": {"show": ["error", "kl", "loglik", "delta", "elbo"], "errors": ["mean", "std", "weight"]}}
    fig, ax, panel, artists = setup(spec, trace)
    elbo, kl = elbo_kl(trace)
    errors = parameter_errors(trace)
    np.testing.assert_array_equal(by_gid(fig, "elbo").get_ydata(), elbo)
    kl_line = by_gid(fig, "kl").get_ydata()
    assert np.isnan(kl_line[0])  # KL_0 = 0: not drawn on the log axis
    np.testing.assert_array_equal(kl_line[1:], kl[1:])
    delta = by_gid(fig, "delta").get_ydata()
    assert np.isnan(delta[0])
    np.testing.assert_allclose(delta[1:], np.abs(np.diff(trace.log_likelihood)))
    for name in ("mean", "std", "weight"):
        np.testing.assert_array_equal(by_gid(fig, f"error:{name}").get_ydata(), errors[name])
    # Three strips sharing the iteration axis; the parent Axes is hidden.
    strips = [a for a in fig.axes if a.axison]
    assert len(strips) == 3 and not ax.axison
    assert strips[1].get_yscale() == "log"
    assert all(s.get_xlim() == strips[0].get_xlim() for s in strips)
    # One cursor per strip, one marker per series; at t every marker sits on its series' value.
    assert len(artists) == 3 + 7
    panel.update(5)
    markers = [a for a in artists if a.get_marker() == "o"]
    shown = sorted(float(m.get_ydata()[0]) for m in markers)
    expected = [trace.log_likelihood[5], elbo[5], kl[5], abs(trace.log_likelihood[5] - trace.log_likelihood[4]),
                errors["mean"][5], errors["std"][5], errors["weight"][5]]
    np.testing.assert_allclose(shown, sorted(expected))
    # Legends where a strip has several series.
    assert sum(s.get_legend() is not None for s in strips) == 3


def test_gap_values_at_rounding_level_are_not_drawn(trace):
    tiny = Trace(weights=trace.weights, means=trace.means, covariances=trace.covariances,
                 log_likelihood=np.r_[trace.log_likelihood[:-1], trace.log_likelihood[-2] + 1e-14],
                 resp_index=trace.resp_index, resp=trace.resp, X=trace.X, truth=trace.truth, meta=trace.meta)
    fig, *_ = setup({"curves": {"show": ["delta"]}}, tiny)
    delta = by_gid(fig, "delta").get_ydata()
    assert np.isnan(delta[-1]) and np.all(np.isfinite(delta[1:-1]))


def test_x_log_and_legend_positions(trace):
    fig, ax, panel, _ = setup({"curves": {"show": ["loglik", "elbo"], "x_log": True, "legend": "upper left"}}, trace)
    assert ax.get_xscale() == "symlog"
    assert ax.get_legend()._loc == 2  # upper left
    fig, ax, *_ = setup({"curves": {"show": ["loglik", "elbo"]}}, trace)
    # The log-likelihood rises then levels off: the lower right corner is free.
    assert ax.get_legend()._loc == 4
    fig, ax, *_ = setup({"curves": {"show": ["loglik", "elbo"], "legend": False}}, trace)
    assert ax.get_legend() is None


def test_series_colors_avoid_components_and_faint_colours():
    colors = series_colors(2, 6, "white")
    assert len(colors) == 6 and not set(colors) & set(map(tuple, np.round(COLORS, 3)))
    assert (240 / 255, 228 / 255, 66 / 255) not in colors  # Okabe-Ito yellow: too faint on white
    assert (240 / 255, 228 / 255, 66 / 255) in series_colors(2, 6, "#15181d")


@pytest.mark.parametrize("options, match", [
    ({"show": ["loglik", "elbow"]}, "did you mean 'elbo'"),
    ({"show": []}, "option 'show'"),
    ({"show": ["kl", "kl"]}, "twice"),
    ({"errors": ["means"]}, "option 'errors'"),
    ({"x_log": "yes"}, "option 'x_log'"),
    ({"legend": "top"}, "option 'legend'"),
    ({"colour": "red"}, "unknown option 'colour'"),
])
def test_curves_bad_options(options, match):
    with pytest.raises(InputError, match=match):
        make_panel({"curves": options})


def test_error_series_needs_a_truth(trace):
    panel = make_panel({"curves": {"show": ["loglik", "error"]}})
    panel.check(1)  # the data's dimension alone says nothing against it
    with pytest.raises(InputError, match="panel 'curves'.*'show'.*no true mixture"):
        panel.check(without_truth(trace))


def test_curves_in_a_scene(trace):
    scene = Scene([{"curves": {"show": ["loglik", "kl"]}}], trace, style={"dpi": 40, "size": (5.0, 3.0)})
    assert scene.blittable
    with scene.style.context():
        scene.update(4)
        scene.canvas.draw()
    cursors = [a for a in scene.animated if hasattr(a, "get_xdata") and a.get_marker() in ("None", None, "")]
    assert cursors and all(list(c.get_xdata()) == [4, 4] for c in cursors)


def test_a_trace_of_the_initialisation_only(trace):
    start = trace.truncated(0)
    fig, ax, panel, artists = setup({"curves": {"show": ["loglik", "kl", "delta"]}}, start)
    assert panel.update(0) == artists
    fig.canvas.draw()
    fig, ax, panel, _ = setup({"loglik_surface": {"grid": 4}}, start, projection="3d")
    panel.update(0)
    assert panel.azimuth(0) == panel.azim
    fig.canvas.draw()


# ---------------------------------------------------------------------- loglik_surface
def direct_loglik(X, weights, means, stds):
    """Total log-likelihood of 1D data under a mixture, with scipy."""
    comps = np.log(weights) + norm.logpdf(X[:, :1], means, stds)
    return float(logsumexp(comps, axis=1).sum())


def final_with(trace, m0, m1):
    means = trace.means[-1, :, 0].copy()
    means[:] = m0, m1
    return direct_loglik(trace.X, trace.weights[-1], means, trace.stds[-1, :, 0])


@pytest.fixture(scope="module")
def surface(trace):
    return setup({"loglik_surface": {"grid": 9}}, trace, projection="3d")


def test_surface_grid_is_the_log_likelihood(surface, trace):
    fig, ax, panel, artists = surface
    view = panel._view
    a, b = view["values"]
    Z = view["Z"]
    assert Z.shape == (9, 9)
    for i, j in [(0, 0), (4, 2), (8, 8), (3, 7)]:
        assert Z[i, j] == pytest.approx(final_with(trace, a[j], b[i]), rel=1e-10)
    # The grid spans the data and the path.
    assert a[0] <= trace.X.min() and a[-1] >= trace.X.max()
    assert ax.get_xlabel() == "mean (component 1)" and ax.get_zlabel() == "log-likelihood"


def test_path_lies_on_the_surface(surface, trace):
    fig, ax, panel, artists = surface
    view = panel._view
    t = trace.n_iter
    panel.update(t)
    path = panel._art["path"]
    xs, ys, zs = path.get_data_3d()
    np.testing.assert_array_equal(xs, trace.means[:, 0, 0])
    np.testing.assert_array_equal(ys, trace.means[:, 1, 0])
    expected = [max(final_with(trace, x, y), view["plateau"]) for x, y in zip(xs, ys)]
    np.testing.assert_allclose(zs, expected, rtol=1e-10)
    # With the others held at the final values, the last point is the final fit: its recorded log-likelihood.
    assert zs[-1] == pytest.approx(trace.log_likelihood[-1], rel=1e-9)
    cur = panel._art["current"].get_data_3d()
    assert (cur[0][0], cur[1][0], cur[2][0]) == (xs[-1], ys[-1], zs[-1])
    panel.update(2)
    assert len(path.get_data_3d()[0]) == 3
    # The truth, paired with the fitted components (component 1 ends near +10), on the surface too.
    truth_pt = panel._art["truth"].get_data_3d()
    assert (truth_pt[0][0], truth_pt[1][0]) == (10.0, -10.0)
    assert truth_pt[2][0] == pytest.approx(max(final_with(trace, 10.0, -10.0), view["plateau"]), rel=1e-10)
    lo, hi = ax.get_zlim()
    assert lo < view["plateau"] and hi >= np.nanmax(view["Z"])


def test_hold_current_recomputes_and_passes_through_the_recorded_point(trace):
    fig, ax, panel, _ = setup({"loglik_surface": {"grid": 6, "hold": "current", "rotate_degrees": 90}},
                              trace, projection="3d")
    first = panel._view["Z"].copy()
    changed = panel.update(3)
    assert panel._art["surface"] in changed
    assert not np.allclose(first, panel._view["Z"])
    # Held at iteration 3's parameters, the point (mu1_3, mu2_3) is iteration 3's mixture itself.
    z_now = panel._art["current"].get_data_3d()[2][0]
    assert z_now == pytest.approx(trace.log_likelihood[3], rel=1e-9)
    assert ax.azim == pytest.approx(panel.azim + 90 * 3 / trace.n_iter)


def test_default_params_in_2d_and_an_explicit_pair(trace_2d, trace):
    fig, ax, panel, _ = setup({"loglik_surface": {"grid": 5}}, trace_2d, projection="3d")
    assert panel._axes == [(0, "mean0"), (1, "mean0")]
    assert ax.get_ylabel() == "mean of x0 (component 2)"
    spec = {"loglik_surface": {"grid": 5, "params": [[1, "mean"], [1, "std"]], "ranges": [[-20, 20], [1, 12]],
                               "hold": "truth"}}
    fig, ax, panel, _ = setup(spec, trace, projection="3d")
    assert ax.get_xlim() == pytest.approx((-20, 20)) and ax.get_ylim() == pytest.approx((1, 12))
    # One component's parameters: the path takes its colour.
    assert panel._art["path"].get_color() == COLORS[1]


@pytest.mark.parametrize("options, match", [
    ({"params": [[0, "mean"]]}, "option 'params'"),
    ({"params": [[0, "mean"], [0, "mean"]]}, "two different"),
    ({"params": [["a", "mean"], [1, "mean"]]}, "option 'params'"),
    ({"hold": "start"}, "option 'hold'"),
    ({"grid": 2}, "option 'grid'"),
    ({"clip": 1.0}, "option 'clip'"),
    ({"cmap": "nope"}, "option 'cmap'"),
    ({"elev": "high"}, "option 'elev'"),
    ({"ranges": [[1, 0], [0, 1]]}, "option 'ranges'"),
    ({"legend": "middle"}, "option 'legend'"),
    ({"kind": "contour"}, "unknown option 'kind'"),
])
def test_surface_bad_options(options, match):
    with pytest.raises(InputError, match=match):
        make_panel({"loglik_surface": options})


def test_surface_options_checked_against_the_trace(trace):
    with pytest.raises(InputError, match="option 'params'.*component 2"):
        make_panel({"loglik_surface": {"params": [[0, "mean"], [2, "mean"]]}}).check(trace)
    with pytest.raises(InputError, match="option 'params'.*unknown parameter 'mean1'"):
        make_panel({"loglik_surface": {"params": [[0, "mean1"], [1, "mean"]]}}).check(trace)
    with pytest.raises(InputError, match="option 'hold' is 'truth'"):
        make_panel({"loglik_surface": {"hold": "truth"}}).check(without_truth(trace))
    one = Trace(weights=np.ones((2, 1)), means=np.zeros((2, 1, 1)), covariances=np.ones((2, 1, 1, 1)),
                log_likelihood=np.zeros(2), resp_index=np.arange(2), resp=np.ones((2, 2, 1)), X=np.zeros((4, 1)))
    with pytest.raises(InputError, match="set option 'params'"):
        make_panel("loglik_surface").check(one)


def test_errors_without_the_error_series_is_refused():
    from emviz.render.panel import make_panel

    with pytest.raises(InputError, match=r"option 'errors' chooses the errors of the 'error' series, which show "
                                         r"\['loglik'\] leaves out; add it: show: \[loglik, error\]"):
        make_panel({"curves": {"show": ["loglik"], "errors": ["mean", "weight"]}})
    assert make_panel({"curves": {"show": ["loglik", "error"], "errors": ["weight"]}}).errors == ("weight",)
    assert make_panel("curves").errors == ("mean",)


def test_a_mistyped_landscape_parameter_says_what_was_meant():
    from emviz.render.panel import make_panel

    with pytest.raises(InputError, match=r"unknown parameter 'sdt' \(did you mean 'std'\?\)"):
        make_panel({"loglik_contour": {"params": ["mean", "sdt"]}}).check(1)
