"""Log-likelihood surfaces against direct scipy evaluations, parameter substitution and input errors."""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

from emviz import InputError, Mixture
from emviz.surface import (
    Param, loglik_grid, loglik_surface, param_names, param_values, parse_param,
)

RTOL = 1e-9


@pytest.fixture(scope="module")
def data_1d():
    truth = Mixture.from_stds([0.3, 0.2, 0.5], [[-2.0], [2.0], [6.0]], [2.0, 1.0, 3.0])
    X, _ = truth.sample([60, 40, 100], seed=1)
    return X, truth


@pytest.fixture(scope="module")
def data_2d():
    covs = np.array([[[1.0, 0.6], [0.6, 2.0]], [[0.5, -0.2], [-0.2, 0.4]], [[2.0, 0.0], [0.0, 1.0]]])
    mix = Mixture([0.5, 0.3, 0.2], [[0.0, 0.0], [3.0, 1.0], [-2.0, 3.0]], covs)
    X, _ = mix.sample([100, 60, 40], seed=2)
    return X, mix


def ref_loglik(X, weights, means, covs):
    """Direct scipy evaluation of the total log-likelihood of one mixture."""
    if X.shape[1] == 1:
        log_comp = norm.logpdf(X, means[:, 0], np.sqrt(covs[:, 0, 0]))
    else:
        log_comp = np.column_stack([multivariate_normal(m, c).logpdf(X) for m, c in zip(means, covs)])
    with np.errstate(divide="ignore"):
        return logsumexp(np.log(weights) + log_comp, axis=1).sum()


def sample_cells(Z, n=6, seed=0):
    rng = np.random.default_rng(seed)
    return [(int(i), int(j)) for i, j in zip(rng.integers(0, Z.shape[0], n), rng.integers(0, Z.shape[1], n))]


# ---------------------------------------------------------------------- values against scipy
def test_mean_std_grid_matches_scipy(data_1d):
    X, mix = data_1d
    a, b = np.linspace(-8, 12, 9), np.linspace(0.3, 5, 7)
    Z = loglik_grid(X, mix, 1, ("mean", "std"), a, b)
    assert Z.shape == (7, 9)
    for i, j in sample_cells(Z):
        means, covs = mix.means.copy(), mix.covariances.copy()
        means[1, 0], covs[1, 0, 0] = a[j], b[i] ** 2
        assert Z[i, j] == pytest.approx(ref_loglik(X, mix.weights, means, covs), rel=RTOL)


def test_std_axis_scales_row_and_column_keeping_correlation(data_2d):
    X, mix = data_2d
    a, b = np.linspace(-1, 4, 5), np.linspace(0.2, 3, 6)
    Z = loglik_grid(X, mix, 0, ("mean0", "std1"), a, b)
    for i, j in sample_cells(Z):
        means, covs = mix.means.copy(), mix.covariances.copy()
        means[0, 0] = a[j]
        f = b[i] / np.sqrt(covs[0, 1, 1])
        covs[0] = np.diag([1.0, f]) @ covs[0] @ np.diag([1.0, f])
        assert covs[0, 1, 1] == pytest.approx(b[i] ** 2)
        assert Z[i, j] == pytest.approx(ref_loglik(X, mix.weights, means, covs), rel=RTOL)


def test_weight_axis_renormalises_the_others_proportionally(data_1d):
    X, mix = data_1d
    a, b = np.linspace(0.05, 0.95, 5), np.linspace(-3, 3, 4)
    Z = loglik_grid(X, mix, 0, ("weight", "mean"), a, b)
    for i, j in sample_cells(Z):
        w = mix.weights.copy()
        w[1:] *= (1 - a[j]) / w[1:].sum()
        w[0] = a[j]
        means = mix.means.copy()
        means[0, 0] = b[i]
        assert w.sum() == pytest.approx(1.0)
        assert Z[i, j] == pytest.approx(ref_loglik(X, w, means, mix.covariances), rel=RTOL)


def test_generic_surface_over_two_components(data_2d):
    """The 3D surface panel's case: the means of two different components."""
    X, mix = data_2d
    a, b = np.linspace(-2, 2, 5), np.linspace(0, 5, 4)
    Z = loglik_surface(X, mix, [(0, "mean1"), (2, "mean1")], a, b)
    for i, j in sample_cells(Z):
        means = mix.means.copy()
        means[0, 1], means[2, 1] = a[j], b[i]
        assert Z[i, j] == pytest.approx(ref_loglik(X, mix.weights, means, mix.covariances), rel=RTOL)


def test_two_weight_axes_above_one_are_nan(data_1d):
    X, mix = data_1d
    a = b = np.array([0.2, 0.7])
    Z = loglik_surface(X, mix, [(0, "weight"), (1, "weight")], a, b)
    assert np.isnan(Z[1, 1]) and np.all(np.isfinite([Z[0, 0], Z[0, 1], Z[1, 0]]))
    w = np.array([0.2, 0.7, 0.1])
    assert Z[1, 0] == pytest.approx(ref_loglik(X, w, mix.means, mix.covariances), rel=RTOL)


def test_sample_sum_is_scaled_to_n(data_1d):
    X, mix = data_1d
    a, b = np.linspace(-3, 3, 3), np.linspace(1, 2, 2)
    plain = loglik_grid(X, mix, 0, ("mean", "std"), a, b)
    scaled = loglik_grid(X, mix, 0, ("mean", "std"), a, b, n_samples=10 * len(X))
    np.testing.assert_allclose(scaled, 10 * plain, rtol=1e-12)


def test_chunking_does_not_change_values(data_2d):
    X, mix = data_2d
    a, b = np.linspace(-1, 1, 7), np.linspace(0.5, 2, 5)
    whole = loglik_grid(X, mix, 1, ("mean1", "std0"), a, b)
    # A budget of a few kB forces both batching over the grid and blocking over the rows of X.
    chunked = loglik_grid(X, mix, 1, ("mean1", "std0"), a, b, chunk_bytes=4096)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12)


def test_uses_the_fitters_kernel():
    import emviz.em.kernels
    import emviz.surface

    assert emviz.surface.gaussian_log_density is emviz.em.kernels.gaussian_log_density


# ---------------------------------------------------------------------- names and errors
def test_parameter_names():
    assert param_names(1, 3) == ["mean", "std", "mean0", "std0", "weight"]
    assert param_names(2, 1) == ["mean0", "mean1", "std0", "std1"]
    assert parse_param("std1", 2) == Param("std", 1)
    assert parse_param("mean", 1) == Param("mean", 0)
    assert parse_param("weight", 2) == Param("weight")


@pytest.mark.parametrize("name, d", [("sigma", 1), ("mean", 2), ("mean2", 2), ("std", 3), ("Mean0", 2)])
def test_unknown_parameter_lists_the_valid_ones(name, d):
    with pytest.raises(InputError, match=r"valid names are .*mean0"):
        parse_param(name, d)


def test_param_values_over_iterations(data_2d):
    _, mix = data_2d
    w, m, c = (np.stack([a, a]) for a in (mix.weights, mix.means, mix.covariances))
    np.testing.assert_allclose(param_values(w, m, c, 1, Param("std", 1)), np.sqrt([0.4, 0.4]))
    np.testing.assert_allclose(param_values(w, m, c, 2, Param("mean", 1)), [3.0, 3.0])
    np.testing.assert_allclose(param_values(w, m, c, 0, Param("weight")), [0.5, 0.5])


@pytest.mark.parametrize("axes, a, b, match", [
    ([(0, "mean"), (0, "mean")], [0.0], [1.0], "same parameter"),
    ([(0, "mean"), (5, "std")], [0.0], [1.0], "component 5"),
    ([(0, "mean"), (0, "std")], [0.0], [0.0, 1.0], "positive"),
    ([(0, "weight"), (0, "std")], [1.5], [1.0], r"\[0, 1\]"),
    ([(0, "mean"), (0, "sigma")], [0.0], [1.0], "valid names"),
    ([(0, "mean")], [0.0], [1.0], "two parameter axes"),
])
def test_bad_surface_requests(data_1d, axes, a, b, match):
    X, mix = data_1d
    with pytest.raises(InputError, match=match):
        loglik_surface(X, mix, axes, a, b)


def test_data_of_the_wrong_dimension(data_1d, data_2d):
    with pytest.raises(InputError, match="X: expected shape"):
        loglik_grid(data_2d[0], data_1d[1], 0, ("mean", "std"), [0.0], [1.0])


def test_landscapes_are_evaluated_on_the_fitters_device_when_present():
    import torch

    from emviz.surface import trace_device

    class T:
        meta = {"device": "cuda:0"}

    assert trace_device(T()) == ("cuda:0" if torch.cuda.is_available() else "cpu")
    T.meta = {"device": "cpu"}
    assert trace_device(T()) == "cpu"
    T.meta = {}
    assert trace_device(T()) == "cpu"
