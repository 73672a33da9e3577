"""Degenerate EM: nothing NaN or Inf in a trace, and the log-likelihood never decreases."""

import numpy as np
import pytest

from emviz import FitError, GaussianMixture, InputError, Mixture, Recorder

RNG = np.random.RandomState(0)
BASE = np.concatenate([RNG.randn(50, 2), RNG.randn(50, 2) + 5])
CASES = {
    "duplicated points": np.repeat(BASE, 3, axis=0),
    "identical cluster": np.concatenate([RNG.randn(50, 2), np.tile([[5.0, 5.0]], (40, 1))]),
    "scaled by 1e6": BASE * 1e6,
    "scaled by 1e-6": BASE * 1e-6,
    "D=10, N=15": RNG.randn(15, 10),
}


def assert_sound(trace):
    for name in ("weights", "means", "covariances", "log_likelihood", "resp"):
        assert np.all(np.isfinite(getattr(trace, name))), name
    ll = trace.log_likelihood
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[1:])), (np.diff(ll) / np.abs(ll[1:])).min()
    np.testing.assert_allclose(trace.weights.sum(1), 1.0, rtol=1e-9)
    for cov in trace.covariances.reshape(-1, *trace.covariances.shape[-2:]):
        assert np.linalg.eigvalsh(cov).min() > 0


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind", ["full", "diag", "spherical", "tied"])
@pytest.mark.parametrize("init", ["kmeans++", "kmeans", "random"])
def test_degenerate_data_stay_sound(case, kind, init):
    trace = Recorder(GaussianMixture(2, kind, init=init, tol=0, max_iter=40), progress=False).run(CASES[case])
    assert_sound(trace)


def test_collapse_onto_identical_points_is_regularised():
    X = CASES["identical cluster"]
    gm = GaussianMixture(2, init="kmeans", tol=0, max_iter=30)
    trace = Recorder(gm, progress=False).run(X)
    assert_sound(trace)
    collapsed = np.argmin(trace.covariances[-1, :, 0, 0])
    np.testing.assert_allclose(trace.means[-1, collapsed], [5.0, 5.0], atol=1e-9)
    np.testing.assert_allclose(np.linalg.eigvalsh(trace.covariances[-1, collapsed]), 1e-6, rtol=1e-6)
    # The moments path would lose precision to cancellation here: the fitter left it.
    assert gm.kernel_switched_at_ == 0


def test_component_that_loses_all_points():
    X = RNG.randn(100, 2)
    init = Mixture([0.5, 0.5], [[0.0, 0.0], [1e4, 1e4]], [np.eye(2), np.eye(2)])
    trace = Recorder(GaussianMixture(2, init=init, tol=0, max_iter=10), progress=False).run(X)
    assert_sound(trace)
    assert trace.meta["events"] and trace.meta["events"][0]["component"] == 1


def test_single_component():
    trace = Recorder(GaussianMixture(1, init="kmeans++", tol=0, max_iter=5), progress=False).run(BASE)
    assert_sound(trace)
    np.testing.assert_allclose(trace.means[-1, 0], BASE.mean(0), rtol=1e-12)
    np.testing.assert_allclose(trace.covariances[-1, 0], np.cov(BASE.T, bias=True) + 1e-6 * np.eye(2), rtol=1e-9)


def test_float32_on_ill_conditioned_data_works_or_says_float64():
    rng = np.random.RandomState(1)
    X = np.concatenate([rng.randn(200, 2) * [1e3, 1e-3], rng.randn(200, 2) * [1e3, 1e-3] + [5e3, 1]]) + 1e4
    try:
        trace = Recorder(GaussianMixture(2, dtype="float32", tol=0, max_iter=30), progress=False).run(X)
    except InputError as exc:
        assert "float64" in str(exc)
    else:
        assert_sound(trace)


@pytest.mark.parametrize("X", [np.repeat([[0.0], [1.0]], 10, axis=0), np.repeat([[0.0, 0.0], [1.0, 1.0]], 10, axis=0)])
def test_float32_without_regularisation_works_or_says_float64(X):
    try:
        trace = Recorder(GaussianMixture(2, dtype="float32", reg_covar=0.0, tol=0, max_iter=3), progress=False).run(X)
    except FitError as exc:
        assert "float64" in str(exc) and "reg_covar" in str(exc)
    else:
        for name in ("weights", "means", "covariances", "log_likelihood", "resp"):
            assert np.all(np.isfinite(getattr(trace, name)))



def test_float32_covariances_are_exactly_symmetric():
    """The direct M-step's two triangles round differently; every recorded matrix must still be a valid
    Mixture (renderers call trace.mixture(t))."""
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.randn(300, 2) @ [[3, 1], [0, 0.2]], rng.randn(300, 2) + [5, 5]]) * 1e3
    trace = Recorder(GaussianMixture(2, dtype="float32", tol=0, max_iter=50), progress=False).run(X)
    np.testing.assert_array_equal(trace.covariances, np.swapaxes(trace.covariances, -1, -2))
    for t in range(trace.n_iter + 1):
        trace.mixture(t)
