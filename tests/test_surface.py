"""Log-likelihood surfaces against direct scipy evaluations, the numpy path against the fitter's torch kernel,
parameter substitution and input errors."""

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


# ---------------------------------------------------------------------- the numpy and the torch paths
def random_mixture(rng, d, k):
    """K components with full, correlated covariances, and 150 points around them."""
    A = rng.normal(size=(k, d, d))
    covs = A @ A.transpose(0, 2, 1) + 0.3 * np.eye(d)
    mix = Mixture(rng.dirichlet(np.ones(k) * 2), rng.normal(0.0, 2.0, size=(k, d)), covs)
    return rng.normal(0.0, 2.5, size=(150, d)), mix


def axes_cases(d, k):
    mean, std = ("mean", "std") if d == 1 else ("mean0", f"std{d - 1}")
    cases = [([(0, mean), (0, std)], np.linspace(-3, 3, 6), np.linspace(0.2, 3, 5))]
    if k >= 2:
        cases += [([(0, "weight"), (k - 1, mean)], np.linspace(0.05, 0.95, 6), np.linspace(-2, 2, 5)),
                  ([(0, "weight"), (1, "weight")], np.linspace(0.1, 0.8, 6), 1 - np.linspace(0.1, 0.8, 6)),
                  ([(1, std), (0, mean)], np.linspace(0.3, 2, 6), np.linspace(-1, 1, 5))]
    return cases


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_numpy_and_torch_paths_agree(d, k):
    rng = np.random.default_rng(10 * d + k)
    X, mix = random_mixture(rng, d, k)
    for axes, a, b in axes_cases(d, k):
        by_numpy = loglik_surface(X, mix, axes, a, b, n_samples=1000)
        by_torch = loglik_surface(X, mix, axes, a, b, n_samples=1000, backend="torch")
        np.testing.assert_array_equal(np.isnan(by_numpy), np.isnan(by_torch))
        np.testing.assert_allclose(by_numpy, by_torch, rtol=1e-12, err_msg=str(axes))
        # and the numpy path is the log-likelihood itself (two weights are NaN where they leave no mixture)
        finite = np.argwhere(np.isfinite(by_numpy))
        assert len(finite) >= 6
        i, j = finite[len(finite) // 2]
        assert by_numpy[i, j] == pytest.approx(
            1000 / len(X) * ref_loglik(X, *substituted(mix, axes, a[j], b[i])), rel=RTOL)


def substituted(mix, axes, a, b):
    """The weights, means and covariances with a and b put in, the way the module docstring says."""
    w, means, covs = mix.weights.copy(), mix.means.copy(), mix.covariances.copy()
    fixed = {}
    for (k, name), v in zip(axes, (a, b)):
        param = parse_param(name, mix.n_features, mix.n_components)
        if param.kind == "mean":
            means[k, param.feature] = v
        elif param.kind == "std":
            f = np.ones(mix.n_features)
            f[param.feature] = v / np.sqrt(covs[k, param.feature, param.feature])
            covs[k] = np.diag(f) @ covs[k] @ np.diag(f)
        else:
            fixed[k] = v
    if fixed:
        rest = [j for j in range(len(w)) if j not in fixed]
        if rest:
            w[rest] *= max(0.0, 1 - sum(fixed.values())) / w[rest].sum()
        for k, v in fixed.items():
            w[k] = v
    return w, means, covs


@pytest.mark.parametrize("d", [1, 2, 3])
def test_numpy_log_density_is_the_fitters_kernel(d):
    import torch

    from emviz.em.kernels import gaussian_log_density as kernel
    from emviz.surface import gaussian_log_density

    rng = np.random.default_rng(d)
    X, mix = random_mixture(rng, d, 5)
    covs = mix.covariances.copy()
    covs[3] = -np.eye(d)  # not positive definite: -inf, as the kernel gives
    ours = gaussian_log_density(X, mix.means, covs)
    theirs = kernel(*(torch.tensor(a) for a in (X, mix.means, covs))).numpy()
    assert ours.shape == (5, len(X)) and np.all(ours[3] == -np.inf) and np.all(theirs[3] == -np.inf)
    np.testing.assert_allclose(ours[[0, 1, 2, 4]], theirs[[0, 1, 2, 4]], rtol=1e-12)


def test_the_torch_path_uses_the_fitters_kernel():
    import emviz.em.kernels
    from emviz.surface import _evaluation_path

    assert _evaluation_path("cpu", None, "torch").log_density is emviz.em.kernels.gaussian_log_density
    assert _evaluation_path("cpu", None, None).log_density is not emviz.em.kernels.gaussian_log_density


def test_evaluation_path_choices(data_1d):
    X, mix = data_1d
    with pytest.raises(InputError, match="backend 'numpy' evaluates on the CPU"):
        loglik_surface(X, mix, [(0, "mean"), (0, "std")], [0.0], [1.0], device="cuda:0", backend="numpy")
    with pytest.raises(InputError, match="backend: must be"):
        loglik_surface(X, mix, [(0, "mean"), (0, "std")], [0.0], [1.0], backend="jax")


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
    import torch  # imported: this process could have fitted the trace  # noqa: F401

    from emviz.surface import trace_device

    class T:
        meta = {"device": "cuda:0"}

    assert trace_device(T()) == ("cuda:0" if torch.cuda.is_available() else "cpu")
    T.meta = {"device": "cuda:99"}
    assert trace_device(T()) == "cpu"
    T.meta = {"device": "cpu"}
    assert trace_device(T()) == "cpu"
    T.meta = {}
    assert trace_device(T()) == "cpu"


@pytest.mark.cuda
def test_numpy_and_cuda_paths_agree(data_2d):
    X, mix = data_2d
    a, b = np.linspace(-1, 4, 7), np.linspace(0.2, 3, 6)
    on_cpu = loglik_grid(X, mix, 0, ("mean0", "std1"), a, b)
    on_gpu = loglik_grid(X, mix, 0, ("mean0", "std1"), a, b, device="cuda:0")
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-12)
