"""emviz.metrics: the ELBO/KL decomposition from recorded responsibilities, and errors against the truth.

The traces come from the real fitter (small N, few iterations) so that the responsibilities are what
the recorder stores; the references are written out with scipy.stats.
"""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

from emviz import GaussianMixture, InputError, Mixture, Recorder, Trace
from emviz.metrics import elbo_kl, match_components, parameter_errors

TRUTH_1D = Mixture.from_stds([0.5, 0.5], [[-10.0], [10.0]], [5.0, 5.0])
#: Both means start near the saddle between the two optima, on the wrong sides: a slow start, then a climb.
INIT_1D = Mixture.from_stds([0.5, 0.5], [[2.0], [-2.0]], [8.0, 8.0])


def fit(X, truth, init, max_iter=10, resp_points=10_000):
    gm = GaussianMixture(truth.n_components, init=init, tol=0, max_iter=max_iter)
    return Recorder(gm, resp_points=resp_points, progress=False).run(X, truth=truth)


@pytest.fixture(scope="module")
def trace_1d():
    X, _ = TRUTH_1D.sample([150, 150], seed=3)
    return fit(X, TRUTH_1D, INIT_1D)


@pytest.fixture(scope="module")
def trace_2d():
    truth = Mixture([0.3, 0.7], [[1.0, 1.0], [-1.0, -1.0]], [np.eye(2), 0.5 * np.eye(2)])
    X, _ = truth.sample([60, 140], seed=5)
    init = Mixture([0.5, 0.5], [[0.5, -1.5], [-0.5, 1.5]], [np.eye(2), np.eye(2)])
    return fit(X, truth, init)


def direct_elbo(trace, joint_log_pdf):
    """sum_n sum_k q_nk [log w_k + log N(x_n | theta_k) - log q_nk], q from t-1 (from 0 at t = 0)."""
    out = []
    for t in range(trace.n_iter + 1):
        q = trace.resp[max(t - 1, 0)].astype(np.float64)
        q = q / q.sum(axis=1, keepdims=True)
        joint = joint_log_pdf(trace, t)
        safe_q = np.where(q > 0, q, 1.0)
        out.append(np.sum(np.where(q > 0, q * (joint - np.log(safe_q)), 0.0)))
    return np.array(out)


def joint_1d(trace, t):
    x = trace.resp_X[:, :1]
    return np.log(trace.weights[t]) + norm.logpdf(x, trace.means[t, :, 0], trace.stds[t, :, 0])


def joint_2d(trace, t):
    x = trace.resp_X
    return np.column_stack([np.log(trace.weights[t, k]) + multivariate_normal.logpdf(
        x, trace.means[t, k], trace.covariances[t, k]) for k in range(trace.n_components)])


def test_all_points_recorded(trace_1d, trace_2d):
    for tr in (trace_1d, trace_2d):
        assert len(tr.resp_index) == tr.n_samples == len(tr.X)


@pytest.mark.parametrize("name, joint", [("trace_1d", joint_1d), ("trace_2d", joint_2d)])
def test_elbo_is_the_definition_when_every_point_is_recorded(request, name, joint):
    trace = request.getfixturevalue(name)
    elbo, kl = elbo_kl(trace)
    scale = np.abs(trace.log_likelihood)
    np.testing.assert_allclose(elbo, direct_elbo(trace, joint), rtol=0, atol=1e-9 * scale.max())
    # The decomposition: log-likelihood = ELBO + KL, with KL >= 0.
    np.testing.assert_allclose(trace.log_likelihood - elbo, kl, rtol=0, atol=1e-9 * scale.max())
    assert np.all(kl >= 0)
    assert np.all(elbo <= trace.log_likelihood + 1e-9 * scale)


def test_kl_is_zero_at_the_start_and_opens_after_each_m_step(trace_1d):
    elbo, kl = elbo_kl(trace_1d)
    ll = trace_1d.log_likelihood
    assert elbo[0] == pytest.approx(ll[0], rel=1e-9)
    assert kl[0] == pytest.approx(0.0, abs=1e-9 * abs(ll[0]))
    # The M-step moves the parameters, so q_{t-1} is no longer the posterior: the gap is strictly positive.
    assert np.all(kl[1:] > 0)


@pytest.mark.parametrize("name", ["trace_1d", "trace_2d"])
def test_em_monotonicity_argument(request, name):
    """LL_{t-1} = ELBO(q_{t-1}, theta_{t-1}) <= ELBO(q_{t-1}, theta_t) = ELBO_t <= LL_t."""
    trace = request.getfixturevalue(name)
    elbo, _ = elbo_kl(trace)
    ll = trace.log_likelihood
    tol = 1e-9 * np.abs(ll).max()
    assert np.all(elbo[1:] >= ll[:-1] - tol)
    assert np.all(elbo <= ll + tol)
    # Hence each step raises the log-likelihood by at least the KL gap it opens.
    _, kl = elbo_kl(trace)
    assert np.all(np.diff(ll) >= kl[1:] - tol)


def test_subsampled_kl_is_scaled_to_all_points(trace_1d):
    """With M < N the per-point KL sums over the M recorded points are scaled by N / M."""
    subset = np.arange(0, len(trace_1d.resp_index), 7)
    sub = Trace(weights=trace_1d.weights, means=trace_1d.means, covariances=trace_1d.covariances,
                log_likelihood=trace_1d.log_likelihood, resp_index=trace_1d.resp_index[subset],
                resp=trace_1d.resp[:, subset], X=trace_1d.X, truth=trace_1d.truth, meta=trace_1d.meta)
    elbo, kl = elbo_kl(sub)
    n, m = sub.n_samples, len(subset)
    for t in (1, 4, sub.n_iter):
        q = trace_1d.resp[t - 1][subset].astype(np.float64)
        q /= q.sum(axis=1, keepdims=True)
        joint = joint_1d(sub, t)
        log_post = joint - logsumexp(joint, axis=1, keepdims=True)
        expected = n / m * np.sum(q * (np.log(q) - log_post))
        assert kl[t] == pytest.approx(expected, rel=1e-9)
    ll = sub.log_likelihood
    np.testing.assert_allclose(ll - elbo, kl, rtol=0, atol=1e-9 * np.abs(ll).max())
    assert np.all(kl >= 0) and np.all(elbo <= ll)


def test_subsampled_trace_from_the_recorder(trace_1d):
    """The recorder's sampled points: an estimate of the full KL, still below the log-likelihood."""
    sampled = fit(trace_1d.X, TRUTH_1D, INIT_1D, resp_points=100)
    assert len(sampled.resp_index) == 100 and sampled.n_samples == 300
    np.testing.assert_allclose(sampled.log_likelihood, trace_1d.log_likelihood, rtol=1e-12)
    elbo, kl = elbo_kl(sampled)
    _, kl_full = elbo_kl(trace_1d)
    assert np.all(elbo <= sampled.log_likelihood)
    # A third of the points: the same order of magnitude as the exact KL.
    ratio = kl[1:] / kl_full[1:]
    assert np.all((ratio > 0.3) & (ratio < 3.0))


def test_elbo_needs_recorded_responsibilities(trace_1d):
    empty = Trace(weights=trace_1d.weights, means=trace_1d.means, covariances=trace_1d.covariances,
                  log_likelihood=trace_1d.log_likelihood, resp_index=np.zeros(0, dtype=int),
                  resp=np.zeros((trace_1d.n_iter + 1, 0, 2)), X=trace_1d.X)
    with pytest.raises(InputError, match="responsibilities"):
        elbo_kl(empty)


# ---------------------------------------------------------------------- matching and errors
@pytest.mark.parametrize("k, d", [(2, 1), (4, 2), (6, 3)])
def test_hungarian_matching_recovers_a_permutation(k, d):
    rng = np.random.default_rng(k)
    true = rng.normal(0.0, 10.0, size=(k, d))
    perm = rng.permutation(k)
    estimated = true[perm] + rng.normal(0.0, 0.01, size=(k, d))
    np.testing.assert_array_equal(match_components(estimated, true), perm)
    np.testing.assert_array_equal(match_components(true[perm], true), perm)


def test_matching_minimises_the_total_distance_not_each_greedily():
    # Greedy pairing would give estimate 0 its nearest truth (1.0) and leave estimate 1 far from 0.0.
    true = np.array([[0.0], [1.0]])
    estimated = np.array([[0.9], [2.5]])
    np.testing.assert_array_equal(match_components(estimated, true), [0, 1])


def test_matching_rejects_shapes():
    with pytest.raises(InputError, match="match_components"):
        match_components(np.zeros((2, 1)), np.zeros((3, 1)))


def hand_trace(truth_order=(0, 1)):
    """Two iterations: at t = 0 the means sit on the other component's true mean; at t = 1 on their own."""
    truth = Mixture.from_stds([0.3, 0.7], [[-4.0], [6.0]], [1.0, 2.0])
    order = list(truth_order)
    shown = Mixture(truth.weights[order], truth.means[order], truth.covariances[order])
    X, _ = truth.sample([30, 70], seed=0)
    means = np.array([[[5.0], [-3.0]], [[-4.5], [6.5]]])
    stds = np.array([[1.5, 1.5], [1.25, 2.5]])
    weights = np.array([[0.5, 0.5], [0.25, 0.75]])
    return Trace(weights=weights, means=means, covariances=stds[..., None, None] ** 2,
                 log_likelihood=np.zeros(2), resp_index=np.arange(3), resp=np.full((2, 3, 2), 0.5), X=X,
                 truth=shown)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_parameter_errors_pair_once_at_the_final_iteration(order):
    errors = parameter_errors(hand_trace(order))
    # The final pairing (fitted 0 ~ true mean -4, fitted 1 ~ true 6) is kept at t = 0, where re-pairing
    # by distance would have swapped the partners.
    np.testing.assert_allclose(errors["mean"], [(9.0 + 9.0) / 2, (0.5 + 0.5) / 2])
    np.testing.assert_allclose(errors["std"], [(0.5 + 0.5) / 2, (0.25 + 0.5) / 2])
    np.testing.assert_allclose(errors["weight"], [(0.2 + 0.2) / 2, (0.05 + 0.05) / 2])


def test_parameter_errors_in_2d_are_distances(trace_2d):
    errors = parameter_errors(trace_2d)
    truth = trace_2d.truth
    perm = match_components(trace_2d.means[-1], truth.means)
    expected = np.mean(np.linalg.norm(trace_2d.means - truth.means[perm], axis=-1), axis=1)
    np.testing.assert_allclose(errors["mean"], expected)
    assert {k: v.shape for k, v in errors.items()} == {k: (trace_2d.n_iter + 1,) for k in ("mean", "std", "weight")}


def test_parameter_errors_need_a_matching_truth(trace_1d):
    no_truth = hand_trace()
    no_truth = Trace(**{f: getattr(no_truth, f) for f in ("weights", "means", "covariances", "log_likelihood",
                                                         "resp_index", "resp", "X")})
    with pytest.raises(InputError, match="true mixture"):
        parameter_errors(no_truth)
    three = Mixture.from_stds(np.full(3, 1 / 3), [[-1.0], [0.0], [1.0]], [1.0, 1.0, 1.0])
    other = Trace(**{f: getattr(trace_1d, f) for f in ("weights", "means", "covariances", "log_likelihood",
                                                      "resp_index", "resp", "X")}, truth=three)
    with pytest.raises(InputError, match="3"):
        parameter_errors(other)
