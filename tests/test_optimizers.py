"""Optimiser paths beside EM's, and the loglik_contour panel over two components' parameters."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from emviz import GaussianMixture, InputError, Mixture, Recorder
from emviz.optimizers import optimizer_paths
from emviz.render.panel import make_panel
from emviz.surface import loglik_surface

TRUTH = Mixture.from_stds([0.5, 0.5], [[-10.0], [10.0]], [5.0, 5.0])
X, _ = TRUTH.sample([500, 500], seed=0)
MEANS = [(0, "mean"), (1, "mean")]


def test_paths_start_at_start_and_reach_the_grid_maximum():
    paths = optimizer_paths(X, TRUTH, MEANS, (-2.0, 2.0), methods=("BFGS", "Nelder-Mead", "L-BFGS-B"))
    grid = np.linspace(-12, -8, 41), np.linspace(8, 12, 41)  # 0.1 apart, around the optimum
    Z = loglik_surface(X, TRUTH, MEANS, *grid)
    i, j = np.unravel_index(np.argmax(Z), Z.shape)
    for path in paths:
        assert path.status == "converged" and path.message == path.method
        np.testing.assert_array_equal(path.points[0], [-2.0, 2.0])
        np.testing.assert_allclose(path.points[-1], [grid[0][j], grid[1][i]], atol=0.15)
        assert path.log_likelihood[-1] >= Z.max() - 1e-6
        direct = loglik_surface(X, TRUTH, MEANS, [path.points[3, 0]], [path.points[3, 1]])[0, 0]
        assert path.log_likelihood[3] == pytest.approx(direct, rel=1e-12)


def test_an_optimiser_that_steps_to_a_negative_std_is_stopped_and_says_so():
    (path,) = optimizer_paths(X, TRUTH, [(0, "mean"), (0, "std")], (-2.0, 0.1), methods=("CG",))
    assert path.status == "failed" and path.message == "CG (failed: std <= 0)"
    assert path.points[-1, 1] <= 0 and np.isnan(path.log_likelihood[-1])
    assert np.all(np.isfinite(path.log_likelihood[:-1]))


def test_divergence_outside_the_landscape_is_stopped():
    (path,) = optimizer_paths(X, TRUTH, MEANS, (-2.0, 2.0), methods=("BFGS",), box=((-2.5, -1.5), (1.5, 2.5)))
    assert path.status == "diverged" and "left the landscape" in path.message


def test_a_precision_loss_stop_at_rounding_level_is_converged():
    from types import SimpleNamespace

    from emviz.optimizers import _precision_loss

    loss = "Desired error not necessarily achieved due to precision loss."
    assert _precision_loss(SimpleNamespace(message=loss, jac=np.array([3e-5, 6e-5]), fun=3648.5))
    assert not _precision_loss(SimpleNamespace(message=loss, jac=np.array([0.5, 0.0]), fun=3648.5))
    assert not _precision_loss(SimpleNamespace(message="Maximum number of iterations", jac=np.zeros(2), fun=1.0))
    assert not _precision_loss(SimpleNamespace(message=loss, fun=1.0))  # no gradient to judge by


def test_unknown_method():
    with pytest.raises(InputError, match="did you mean 'BFGS'"):
        optimizer_paths(X, TRUTH, MEANS, (0.0, 0.0), methods=("BFGs",))


@pytest.fixture(scope="module")
def trace():
    init = Mixture.from_stds([0.5, 0.5], [[-2.0], [2.0]], [5.0, 5.0])
    return Recorder(GaussianMixture(2, init=init, max_iter=12, tol=0), progress=False).run(X, truth=TRUTH)


def draw(trace, **options):
    fig = Figure(figsize=(5, 4), dpi=50)
    FigureCanvasAgg(fig)
    panel = make_panel({"loglik_contour": options})
    panel.setup(fig.add_subplot(), trace, [(0.0, 0.4, 0.7), (0.8, 0.4, 0.0)])
    return fig, panel


def test_pair_mode_draws_one_landscape_over_two_components(trace):
    fig, panel = draw(trace, params=[[0, "mean"], [1, "mean"]], grid=12)
    (view,) = panel._views
    assert view.axes == ((0, "mean"), (1, "mean"))
    panel.update(7)
    np.testing.assert_allclose(view.path_line.get_xdata(), trace.means[:8, 0, 0])
    np.testing.assert_allclose(view.path_line.get_ydata(), trace.means[:8, 1, 0])
    expected = loglik_surface(trace.X, trace.mixture(-1), [(0, "mean"), (1, "mean")], view.values[0], view.values[1])
    np.testing.assert_allclose(view.Z, expected, rtol=1e-12)
    assert "component 1" in view.sub.get_xlabel() and "component 2" in view.sub.get_ylabel()


def test_optimizers_are_revealed_with_em_and_labelled(trace):
    fig, panel = draw(trace, params=[[0, "mean"], [0, "std"]], grid=10, optimizers=["BFGS", "CG"])
    (view,) = panel._views
    panel.update(2)
    (bfgs, bfgs_line, _), (cg, cg_line, cg_end) = view.optimizer_lines
    np.testing.assert_allclose(bfgs_line.get_xdata(), bfgs.points[:3, 0])
    assert cg_line.get_label() == cg.message
    legend_labels = [t.get_text() for t in view.sub.get_legend().get_texts()]
    assert "BFGS" in legend_labels and cg.message in legend_labels
    panel.update(trace.n_iter)
    if cg.status == "failed":
        assert list(cg_end.get_xdata()) == [cg.points[-1, 0]]


@pytest.mark.parametrize("options, message", [
    ({"optimizers": ["BFGS"], "hold": "current"}, "option 'hold' must be final or truth"),
    ({"optimizers": ["bfgs"]}, "unknown optimiser 'bfgs'"),
    ({"optimizers": "BFGS"}, "option 'optimizers' must be a list"),
    ({"params": [[0, "mean"], [0, "mean"]]}, "option 'params'"),
    ({"params": [[0, "mean"], [1, "mean"]], "components": [0]}, "option 'components'"),
])
def test_bad_options(options, message):
    with pytest.raises(InputError, match=message):
        make_panel({"loglik_contour": options})


def test_pair_with_a_component_beyond_the_trace(trace):
    panel = make_panel({"loglik_contour": {"params": [[0, "mean"], [5, "mean"]]}})
    with pytest.raises(InputError, match=r"\[5\] not among the components"):
        panel.check(trace)
