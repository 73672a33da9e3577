"""The components, responsibilities and loglik_contour panels: the numbers their artists show.

Traces are built by hand (no fitter): a truth, data sampled from it, and a made-up path of T+1
parameter sets converging towards the truth. Responsibilities and loglik_contour are also checked on
2D data.
"""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

import emviz.render.panels  # noqa: F401  (registers the panels)
from emviz import InputError, Mixture, Trace
from emviz.render.panel import PANELS, make_panel
from emviz.render.panels._common import matched_truth
from emviz.render.panels.loglik_contour import contour_levels

COLORS = [(0.8, 0.1, 0.1), (0.1, 0.3, 0.9), (0.1, 0.7, 0.2)]
T = 4


def make_trace(d=1, k=3, truth=True, n_samples=None, truth_order=None, seed=0):
    """A hand-made trace of T=4 iterations on 200 points, optionally with its truth."""
    rng = np.random.default_rng(seed)
    means = np.array([[-2.0, 0.0], [2.0, 3.0], [6.0, -1.0]])[:k, :d]
    true = Mixture.from_stds(np.full(k, 1.0 / k), means, np.array([2.0, 1.0, 3.0])[:k])
    X, labels = true.sample(np.full(k, 200 // k), seed=seed)
    steps = np.linspace(1.0, 0.0, T + 1)[:, None, None]
    path_means = means + steps * rng.normal(0.0, 2.0, size=(1, k, d))
    path_stds = true.stds + steps * rng.uniform(0.5, 1.5, size=(1, k, d))
    covs = np.einsum("tkd,de->tkde", path_stds**2, np.eye(d))
    if d > 1:
        covs[..., 0, 1] = covs[..., 1, 0] = 0.3 * path_stds[..., 0] * path_stds[..., 1]
    weights = np.full((T + 1, k), 1.0 / k) + steps[:, :, 0] * np.linspace(-0.1, 0.1, k)
    resp_index = np.arange(0, len(X), 3)
    resp = rng.dirichlet(np.ones(k), size=(T + 1, len(resp_index)))
    loglik = np.array([Mixture(w, m, c).log_pdf(X).sum() for w, m, c in zip(weights, path_means, covs)])
    if truth_order is not None:
        true = Mixture(true.weights[truth_order], true.means[truth_order], true.covariances[truth_order])
    return Trace(weights=weights, means=path_means, covariances=covs, log_likelihood=loglik,
                 resp_index=resp_index, resp=resp, X=X, labels=labels, truth=true if truth else None,
                 meta={"n_samples": n_samples or len(X)})


def new_axes(size=(6, 4)):
    fig = Figure(figsize=size, dpi=50, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(111)


def setup(spec, trace):
    fig, ax = new_axes()
    panel = make_panel(spec)
    panel.check(trace)
    artists = panel.setup(ax, trace, COLORS[: trace.n_components])
    return fig, ax, panel, artists


def weighted_pdf(x, trace, t, k):
    return trace.weights[t, k] * norm.pdf(x, trace.means[t, k, 0], trace.stds[t, k, 0])


def test_registered():
    assert {"components", "responsibilities", "loglik_contour"} <= set(PANELS.names())
    for name in ("components", "responsibilities", "loglik_contour"):
        assert PANELS.get(name).summary


# ---------------------------------------------------------------------- components
@pytest.fixture(scope="module")
def trace_1d():
    return make_trace()


def test_component_lines_are_weighted_pdfs_and_their_sum(trace_1d):
    fig, ax, panel, artists = setup("components", trace_1d)
    *lines, mixture, marks = artists
    assert len(lines) == 3 and all(a.get_animated() for a in artists)
    assert len(marks.get_offsets()) == 0  # nothing goes off the top
    for t in (0, 2, T):
        if t:
            assert panel.update(t) == artists
        x = lines[0].get_xdata()
        expected = [weighted_pdf(x, trace_1d, t, k) for k in range(3)]
        for line, y in zip(lines, expected):
            np.testing.assert_allclose(line.get_ydata(), y, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(mixture.get_ydata(), np.sum(expected, axis=0), rtol=1e-12)
    assert panel.n_points <= len(x) <= panel.n_points + 3  # the grid, plus the means inside it
    for line, color in zip(lines, COLORS):
        np.testing.assert_allclose(to_rgb(line.get_color()), color)


def test_histogram_is_numpys_density_histogram(trace_1d):
    fig, ax, panel, _ = setup({"components": {"bins": 17}}, trace_1d)
    heights, edges, _ = ax.patches[0].get_data()
    ref_heights, ref_edges = np.histogram(trace_1d.X[:, 0], bins=17, density=True)
    np.testing.assert_allclose(heights, ref_heights)
    np.testing.assert_allclose(edges, ref_edges)


def test_auto_bins_are_capped():
    from emviz.render.panels.components import MAX_AUTO_BINS, ComponentsPanel

    x = np.random.default_rng(0).normal(size=200_000)  # 'auto' asks for about 200 bins
    assert len(ComponentsPanel().bin_edges(x)) == MAX_AUTO_BINS + 1


def test_truth_lines_dashed_when_known(trace_1d):
    _, ax, _, _ = setup("components", trace_1d)
    truth_lines = [line for line in ax.lines if line.get_gid() == "truth"]
    assert len(truth_lines) == 4 and all(line.get_linestyle() == "--" for line in truth_lines)
    x = truth_lines[0].get_xdata()
    tr = trace_1d.truth
    expected = [tr.weights[k] * norm.pdf(x, tr.means[k, 0], tr.stds[k, 0]) for k in range(3)]
    for line, y in zip(truth_lines, expected + [np.sum(expected, axis=0)]):
        np.testing.assert_allclose(line.get_ydata(), y, rtol=1e-12, atol=1e-300)
    for spec, trace in (("components", make_trace(truth=False)),
                        ({"components": {"show_truth": False}}, trace_1d)):
        _, ax, _, _ = setup(spec, trace)
        assert not [line for line in ax.lines if line.get_gid() == "truth"]


def test_truth_is_paired_with_the_fitted_components(trace_1d):
    swapped = make_trace(truth_order=[2, 0, 1])
    paired = matched_truth(swapped)
    assert paired == trace_1d.truth  # the original order is the one matching the path
    _, ax, _, _ = setup("components", swapped)
    truth_lines = [line for line in ax.lines if line.get_gid() == "truth"]
    np.testing.assert_allclose(truth_lines[0].get_color(), COLORS[0])
    peak_x = truth_lines[0].get_xdata()[np.argmax(truth_lines[0].get_ydata())]
    assert abs(peak_x - paired.means[0, 0]) < 0.2


def test_limits_cover_every_frame_and_stay_put(trace_1d):
    _, ax, panel, artists = setup("components", trace_1d)
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    for t in range(T + 1):
        panel.update(t)
        assert max(a.get_ydata().max() for a in artists[:-1]) <= ylim[1]
        assert ax.get_xlim() == xlim and ax.get_ylim() == ylim
    heights = ax.patches[0].get_data()[0]
    assert heights.max() <= ylim[1]
    assert xlim[0] <= trace_1d.X.min() and xlim[1] >= trace_1d.X.max()


def test_without_mixture_line(trace_1d):
    _, _, panel, artists = setup({"components": {"show_mixture": False, "ylim": [0, 1]}}, trace_1d)
    assert len(artists) == 4 and panel.update(1) == artists


@pytest.mark.parametrize("options, option", [
    ({"bins": 0}, "bins"), ({"n_points": 1}, "n_points"), ({"legend": "middle"}, "legend"),
    ({"ylim": [1, 0]}, "ylim"),
])
def test_bad_components_options(options, option):
    with pytest.raises(InputError, match=f"components.*{option}"):
        make_panel({"components": options})


def test_one_dimensional_panels_refuse_2d_data():
    trace = make_trace(d=2)
    with pytest.raises(InputError, match="components"):
        make_panel("components").check(trace)


# ---------------------------------------------------------------------- responsibilities
def test_responsibility_scatter_1d(trace_1d):
    _, ax, panel, artists = setup("responsibilities", trace_1d)
    assert len(artists) == 3 and ax.get_ylim() == (-0.05, 1.05)
    x = trace_1d.resp_X[:, 0]
    for t in (0, 3):
        panel.update(t)
        for k, scatter in enumerate(artists):
            np.testing.assert_array_equal(scatter.get_offsets(), np.column_stack([x, trace_1d.resp[t, :, k]]))
            np.testing.assert_allclose(scatter.get_facecolor()[0, :3], COLORS[k])


@pytest.mark.parametrize("features", [(0, 1), (1, 0)])
def test_responsibility_colours_blend_2d(features):
    trace = make_trace(d=2)
    _, ax, panel, artists = setup({"responsibilities": {"features": list(features), "alpha": 0.5}}, trace)
    (scatter,) = artists
    np.testing.assert_array_equal(scatter.get_offsets(), trace.resp_X[:, list(features)])
    for t in (0, T):
        panel.update(t)
        face = scatter.get_facecolors()
        # resp @ colors, each (float32) row renormalised to sum to 1, as ellipses and cloud3d blend.
        rows = trace.resp[t].astype(np.float64)
        np.testing.assert_allclose(face[:, :3], (rows / rows.sum(1, keepdims=True)) @ np.array(COLORS), rtol=1e-12)
        np.testing.assert_allclose(face[:, 3], 0.5)


def test_responsibility_options():
    with pytest.raises(InputError, match="features"):
        make_panel({"responsibilities": {"features": [0, 0]}})
    with pytest.raises(InputError, match="alpha"):
        make_panel({"responsibilities": {"alpha": 2}})
    with pytest.raises(InputError, match="features"):
        setup({"responsibilities": {"features": [0, 2]}}, make_trace(d=2))


# ---------------------------------------------------------------------- loglik_contour
def ref_loglik(X, mixture, n_samples=None):
    if X.shape[1] == 1:
        log_comp = norm.logpdf(X, mixture.means[:, 0], mixture.stds[:, 0])
    else:
        log_comp = np.column_stack([multivariate_normal(m, c).logpdf(X)
                                    for m, c in zip(mixture.means, mixture.covariances)])
    total = logsumexp(np.log(mixture.weights) + log_comp, axis=1).sum()
    return total * (n_samples / len(X) if n_samples else 1.0)


def with_mean_std(mixture, k, mean, std):
    means, covs = mixture.means.copy(), mixture.covariances.copy()
    means[k, 0], covs[k, 0, 0] = mean, std**2
    return Mixture(mixture.weights, means, covs)


@pytest.fixture(scope="module")
def contour_1d():
    trace = make_trace(k=2, n_samples=1000)
    return (trace, *setup({"loglik_contour": {"grid": 12, "levels": 8}}, trace))


def test_contour_path_and_markers(contour_1d):
    trace, fig, ax, panel, artists = contour_1d
    assert not ax.axison and len(panel._subs) == 2
    for t in (0, 2, T):
        panel.update(t)
        for view in panel._views:
            k = view.axes[0][0]
            np.testing.assert_array_equal(view.path_line.get_xdata(), trace.means[: t + 1, k, 0])
            np.testing.assert_array_equal(view.path_line.get_ydata(), trace.stds[: t + 1, k, 0])
            np.testing.assert_array_equal(view.current.get_xydata(), [[trace.means[t, k, 0], trace.stds[t, k, 0]]])
    for view in panel._views:
        k = view.axes[0][0]
        marks = {line.get_gid(): line.get_xydata() for line in view.sub.lines if line.get_gid()}
        np.testing.assert_array_equal(marks["start"], [[trace.means[0, k, 0], trace.stds[0, k, 0]]])
        np.testing.assert_allclose(marks["truth"], [[trace.truth.means[k, 0], trace.truth.stds[k, 0]]])
        # The grid encloses the whole path and the truth.
        for values, path, true in zip(view.values, view.path, view.true_point):
            assert values[0] <= min(path.min(), true) and values[-1] >= max(path.max(), true)
        assert view.colorbar.ax.get_ylabel() == "log-likelihood"


def test_contour_grid_matches_scipy_with_n_over_s_scaling(contour_1d):
    trace, _, _, panel, _ = contour_1d
    final = trace.mixture(-1)
    for view in panel._views:
        rng = np.random.default_rng(view.axes[0][0])
        for i, j in zip(rng.integers(0, 12, 4), rng.integers(0, 12, 4)):
            mix = with_mean_std(final, view.axes[0][0], view.values[0][j], view.values[1][i])
            assert view.Z[i, j] == pytest.approx(ref_loglik(trace.X, mix, n_samples=1000), rel=1e-9)
        np.testing.assert_array_equal(view.contour.levels, contour_levels(view.Z, 8, panel.clip))


def test_contour_levels_resolve_the_top():
    Z = -np.linspace(0, 10, 101)[None, :] ** 2 * np.ones((5, 1))  # quadratic drop, far field huge
    levels = contour_levels(Z, n_levels=10, clip=0.25)
    assert len(levels) == 11 and np.all(np.diff(levels) > 0) and levels[-1] == Z.max()
    assert np.mean(Z < levels[0]) == pytest.approx(0.25, abs=0.02)
    # Even spacing in sqrt(max - loglik): even spacing in distance from a quadratic optimum.
    np.testing.assert_allclose(np.diff(np.sqrt(levels[-1] - levels)), -np.sqrt(-levels[0]) / 10)


def test_contour_hold_current_recomputes_per_frame():
    trace = make_trace(k=2)
    fig, ax, panel, artists = setup({"loglik_contour": {"grid": 6, "hold": "current", "components": [1]}}, trace)
    assert panel.blittable is False and type(panel).blittable is True
    (view,) = panel._views
    assert view.sub is ax  # one component: the given Axes itself
    for t in (0, 3):
        changed = panel.update(t)
        assert view.contour in changed and view.colorbar.mappable is view.contour
        mix = with_mean_std(trace.mixture(t), 1, view.values[0][2], view.values[1][4])
        assert view.Z[4, 2] == pytest.approx(ref_loglik(trace.X, mix), rel=1e-9)
    fig.canvas.draw()


def test_contour_hold_truth():
    trace = make_trace(k=2)
    _, _, panel, _ = setup({"loglik_contour": {"grid": 5, "hold": "truth"}}, trace)
    view = panel._views[0]
    mix = with_mean_std(trace.truth, 0, view.values[0][1], view.values[1][3])
    assert view.Z[3, 1] == pytest.approx(ref_loglik(trace.X, mix), rel=1e-9)
    with pytest.raises(InputError, match="hold.*truth"):
        make_panel({"loglik_contour": {"hold": "truth"}}).check(make_trace(truth=False))


def test_contour_2d_defaults_to_the_means():
    trace = make_trace(d=2, k=2)
    _, _, panel, _ = setup({"loglik_contour": {"grid": 5, "components": [0]}}, trace)
    (view,) = panel._views
    panel.update(2)
    assert tuple(name for _, name in view.axes) == ("mean0", "mean1")
    np.testing.assert_array_equal(view.path_line.get_xydata(), trace.means[:3, 0, :])
    means = trace.means[-1].copy()
    means[0] = [view.values[0][4], view.values[1][1]]
    mix = Mixture(trace.weights[-1], means, trace.covariances[-1])
    assert view.Z[1, 4] == pytest.approx(ref_loglik(trace.X, mix), rel=1e-9)


@pytest.mark.parametrize("options, d, match", [
    ({"params": ["mean", "sigma"]}, 1, "params.*valid names"),
    ({"params": ["mean", "std"]}, 2, "params.*valid names"),
    ({"components": [5]}, 1, "components"),
])
def test_contour_bad_params(options, d, match):
    with pytest.raises(InputError, match=match):
        make_panel({"loglik_contour": options}).check(make_trace(d=d, k=2))


@pytest.mark.parametrize("options", [{"hold": "start"}, {"grid": 1}, {"params": ["mean"]}, {"clip": 1.0},
                                     {"cmap": "nope"}, {"legend": "outside"}])
def test_contour_bad_options(options):
    with pytest.raises(InputError, match="loglik_contour"):
        make_panel({"loglik_contour": options})


# ---------------------------------------------------------------------- layout
@pytest.mark.parametrize("spec, d", [("components", 1), ("responsibilities", 1), ("responsibilities", 2),
                                     ({"loglik_contour": {"grid": 5}}, 1)])
def test_nothing_clips_and_outside_legends_stay_off_the_data(spec, d, tmp_path):
    fig, ax = new_axes(size=(8, 3.5))
    trace = make_trace(d=d)
    panel = make_panel(spec)
    panel.setup(ax, trace, COLORS)
    fig.savefig(tmp_path / "panel.png")
    renderer = fig.canvas.get_renderer()
    shown = [a for a in fig.axes if a.axison]
    for a in shown:
        box = a.get_tightbbox(renderer)
        assert fig.bbox.x0 - 1 <= box.x0 and box.x1 <= fig.bbox.x1 + 1, f"{a} clipped horizontally"
        assert fig.bbox.y0 - 1 <= box.y0 and box.y1 <= fig.bbox.y1 + 1, f"{a} clipped vertically"
    legend = ax.get_legend()
    if legend is not None and panel.legend is True and "loglik_contour" not in str(spec):
        assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))


def test_responsibility_features_are_checked_against_the_dimension_before_drawing():
    panel = make_panel({"responsibilities": {"features": [0, 5]}})
    panel.check(1)  # 1D ignores features
    with pytest.raises(InputError, match=r"option 'features' \[0, 5\]: feature 5 does not exist; the data has D=3 \(features 0..2\)"):
        panel.check(3)
