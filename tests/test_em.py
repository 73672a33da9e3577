"""The fitter: agreement with scikit-learn step by step, monotone log-likelihood, kernels, bad input."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from emviz import FitError, GaussianMixture, InputError, Mixture, Recorder
from emviz.em import kernels as K
from emviz.em.gmm import structured_covariances
from emviz.em.sklearn_adapter import SklearnStepper

COV_TYPES = ["full", "tied", "diag", "spherical"]


def blobs(seed=1):
    rng = np.random.RandomState(seed)
    return np.concatenate([
        rng.randn(120, 2) + [3, 0],
        rng.randn(90, 2) @ [[1, 0.5], [0, 1]] - [2, 1],
        rng.randn(60, 2) * 0.5 + [0, 4],
    ])


def start_for(kind: str) -> Mixture:
    """An explicit start with the structure ``kind`` needs."""
    means = [[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]]
    covs = {
        "full": [[[1.0, 0.3], [0.3, 2.0]], [[1.0, 0.0], [0.0, 1.0]], [[2.0, -0.4], [-0.4, 1.0]]],
        "tied": [[[2.0, 0.3], [0.3, 1.0]]] * 3,
        "diag": [[[1.0, 0.0], [0.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]], [[3.0, 0.0], [0.0, 1.0]]],
        "spherical": [np.eye(2) * s for s in (1.0, 2.0, 1.5)],
    }[kind]
    return Mixture([0.3, 0.3, 0.4], means, covs)


def record(fitter, X):
    return Recorder(fitter, progress=False).run(X)


@pytest.mark.parametrize("kernel", ["moments", "direct"])
@pytest.mark.parametrize("kind", COV_TYPES)
def test_agrees_with_sklearn_step_by_step(kind, kernel):
    X = blobs()
    init = start_for(kind)
    ours = record(GaussianMixture(3, kind, init=init, tol=0, max_iter=25, kernel=kernel), X)
    ref = record(SklearnStepper(3, kind, init=init, tol=0, max_iter=25), X)
    assert ours.n_iter == ref.n_iter == 25
    for name in ("means", "covariances", "weights", "log_likelihood", "resp"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-6, atol=1e-9, err_msg=name)
    # The start is the explicit init itself, and the iterates really move.
    np.testing.assert_allclose(ours.means[0], init.means)
    assert np.abs(ours.means[-1] - ours.means[0]).max() > 0.5


@pytest.mark.parametrize("kind", COV_TYPES)
def test_fit_matches_sklearn_fit_with_tolerance(kind):
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    X = blobs(2)
    init = start_for(kind)
    cov = structured_covariances(init.covariances, kind)
    prec = np.linalg.inv(cov) if kind in ("full", "tied") else 1 / cov
    sk = SkGaussianMixture(3, covariance_type=kind, weights_init=init.weights, means_init=init.means,
                           precisions_init=prec, tol=1e-4, max_iter=500).fit(X)
    gm = GaussianMixture(3, kind, init=init, tol=1e-4, max_iter=500).fit(X)
    assert gm.converged_ and gm.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(gm.lower_bound_, sk.lower_bound_, rtol=1e-9)
    np.testing.assert_allclose(gm.covariances_, sk.covariances_, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(gm.predict_proba(X), sk.predict_proba(X), atol=1e-8)
    np.testing.assert_array_equal(gm.predict(X), sk.predict(X))
    np.testing.assert_allclose(gm.score_samples(X), sk.score_samples(X), rtol=1e-9)
    np.testing.assert_allclose(gm.score(X), sk.score(X), rtol=1e-9)
    np.testing.assert_allclose(gm.bic(X), sk.bic(X), rtol=1e-9)
    np.testing.assert_allclose(gm.aic(X), sk.aic(X), rtol=1e-9)


@pytest.mark.parametrize("kind, dtype, max_ops", [
    ("full", "float64", 40),  # the docs data's case: moments path, fused parameter work
    ("tied", "float64", 45),
    ("diag", "float64", None),
    ("full", "float32", None),  # the direct path
])
def test_a_step_never_reads_the_device_and_launches_few_ops(kind, dtype, max_ops):
    """A step waits for no device value (no ``.item()``, ``float()``, ``bool()`` of a tensor: on a GPU
    each is a synchronisation), and on small data, where each tensor op's launch is what a step costs,
    it stays a few dozen ops."""
    from torch.profiler import ProfilerActivity, profile

    X = np.random.RandomState(0).randn(300, 2) * [1.0, 2.0] + np.repeat([[0, 0], [4, 1], [-3, 5]], 100, axis=0)
    gm = GaussianMixture(3, kind, init=start_for(kind), tol=0, max_iter=10, dtype=dtype).initialize(X)
    with torch.inference_mode():
        gm.step()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            gm.step()  # steps 2 and 3: the moments path's conditioning check reads the device every 4th
            gm.step()
    events = prof.events()
    assert [e.name for e in events if e.name == "aten::_local_scalar_dense"] == []
    ops = [e.name for e in events if e.cpu_parent is None and e.name.startswith("aten::")]
    assert len(ops) > 10  # the profiler saw the steps
    if max_ops is not None:
        assert len(ops) / 2 <= max_ops, ops


def test_docs_notebook_log_likelihood():
    """The docs notebook printed a final log-likelihood of -17112.88 after 1000 iterations."""
    truth = Mixture.from_stds([2 / 6, 1 / 6, 3 / 6], [[-2.0], [2.0], [6.0]], [2.0, 1.0, 3.0])
    X, _ = truth.sample([2000, 1000, 3000], seed=0)
    init = Mixture.from_stds([0.33] * 3, [[9.9], [10.0], [10.1]], [2.5] * 3)
    trace = record(GaussianMixture(3, init=init, max_iter=1000, tol=0), X)
    assert trace.n_iter == 1000
    assert trace.log_likelihood[-1] == pytest.approx(-17112.88, abs=0.01)
    assert np.all(np.diff(trace.log_likelihood) >= -1e-9 * np.abs(trace.log_likelihood[1:]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), d=st.integers(1, 3), k=st.integers(1, 4),
       kind=st.sampled_from(COV_TYPES), init=st.sampled_from(["kmeans++", "random", "random_from_data", "kmeans"]))
def test_log_likelihood_never_decreases(seed, d, k, kind, init):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((60, d)) * rng.uniform(0.2, 3, d) + rng.randint(-3, 3, (60, 1))
    trace = record(GaussianMixture(k, kind, init=init, tol=0, max_iter=15, seed=seed), X)
    ll = trace.log_likelihood
    assert np.all(np.isfinite(ll))
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[1:])), np.diff(ll).min()


@pytest.mark.parametrize("kind", COV_TYPES)
def test_log_density_kernels_match_scipy(kind):
    rng = np.random.RandomState(0)
    X = rng.randn(50, 2) * 3
    init = start_for(kind)
    expected = np.column_stack([
        np.log(w) + multivariate_normal(m, c).logpdf(X) for w, m, c in zip(init.weights, init.means, init.covariances)
    ])
    t = lambda a: torch.tensor(np.array(a))
    cov = t(structured_covariances(init.covariances, kind))
    factor, failed = K.COVARIANCE_TYPES[kind].factor(cov)
    assert not failed.any()
    direct = K.weighted_log_prob_direct(t(X), t(init.weights), t(init.means), factor, kind)
    phi = K.moment_features(t(X), kind)
    moments = K.weighted_log_prob_moments(phi, t(init.weights), t(init.means), factor, kind)
    np.testing.assert_allclose(direct.numpy().T, expected, rtol=1e-10)
    np.testing.assert_allclose(moments.numpy().T, expected, rtol=1e-10)
    # The landscapes' kernel (full covariances, one Gaussian per row) gives the same total.
    dens = K.gaussian_log_density(t(X), t(init.means), t(init.covariances))
    total = torch.logsumexp(dens + torch.log(t(init.weights))[:, None], dim=0).sum()
    np.testing.assert_allclose(total.numpy(), logsumexp(expected, axis=1).sum(), rtol=1e-12)


def test_float32_path_close_to_float64():
    X = blobs()
    init = start_for("full")
    t64 = record(GaussianMixture(3, init=init, tol=0, max_iter=20, dtype="float64"), X)
    t32 = record(GaussianMixture(3, init=init, tol=0, max_iter=20, dtype="float32"), X)
    np.testing.assert_allclose(t32.means, t64.means, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(t32.log_likelihood, t64.log_likelihood, rtol=1e-5)
    assert t32.meta["dtype"] == "float32"


def _hard_em_reference(X, mixture, n_steps, reg):
    w, m, c = mixture.weights.copy(), mixture.means.copy(), mixture.covariances.copy()
    for _ in range(n_steps):
        labels = Mixture(w, m, c).component_log_pdf(X).argmax(1)
        resp = np.eye(len(w))[labels]
        nk = resp.sum(0) + 10 * np.finfo(float).eps
        m = resp.T @ X / nk[:, None]
        c = np.stack([((resp[:, k, None] * (X - m[k])).T @ (X - m[k])) / nk[k] + reg * np.eye(X.shape[1])
                      for k in range(len(w))])
        w = nk / nk.sum()
    return w, m, c


def test_hard_em_matches_reference_and_assigns_hard():
    X = blobs()
    init = start_for("full")
    gm = GaussianMixture(3, init=init, tol=0, max_iter=8, algorithm="hard")
    trace = record(gm, X)
    # The trace keeps the E-step's posteriors; the M-step used their arg-max, so a soft M-step differs.
    soft = record(GaussianMixture(3, init=init, tol=0, max_iter=8), X)
    assert np.abs(soft.means[-1] - trace.means[-1]).max() > 1e-3
    w, m, c = _hard_em_reference(X, init, 8, 1e-6)
    np.testing.assert_allclose(trace.weights[-1], w, rtol=1e-10)
    np.testing.assert_allclose(trace.means[-1], m, rtol=1e-10)
    np.testing.assert_allclose(trace.covariances[-1], c, rtol=1e-9)


def test_recorder_equals_hand_stepped_fitter():
    X = blobs()
    init = start_for("diag")
    trace = Recorder(GaussianMixture(3, "diag", init=init, tol=0, max_iter=6), resp_points=40, progress=False, seed=3).run(X)
    gm = GaussianMixture(3, "diag", init=init, tol=0, max_iter=6).initialize(X)
    lls, means = [], []
    for _ in range(6):
        result = gm.step()
        lls.append(float(result.log_likelihood))
        means.append(result.means.numpy().copy())
    final = gm.evaluate()
    lls.append(float(final.log_likelihood))
    means.append(final.means.numpy())
    np.testing.assert_allclose(trace.log_likelihood, lls, rtol=1e-12)
    np.testing.assert_allclose(trace.means, np.stack(means), rtol=1e-12)
    expected_resp = np.exp(final.log_resp.numpy().T[trace.resp_index])
    np.testing.assert_allclose(trace.resp[-1], expected_resp, rtol=1e-6, atol=1e-30)  # float32
    assert trace.resp.shape == (7, 40, 3) and trace.resp.dtype == np.float32
    np.testing.assert_allclose(trace.resp.sum(2), 1.0, rtol=1e-6)


def test_recorder_stops_at_convergence():
    X = blobs()
    gm = GaussianMixture(3, init=start_for("full"), tol=1e-3, max_iter=500)
    trace = record(gm, X)
    assert trace.meta["converged"] is True
    assert trace.n_iter == gm.n_iter_ < 500


def test_ctrl_c_during_a_checkpoint_is_held_until_it_is_written(tmp_path, monkeypatch):
    """A Ctrl-C that lands while a checkpoint is being written interrupts the fit once the file is
    complete (it used to be ignored, and the fit went on to max_iter)."""
    import os
    import signal

    from emviz.trace import Trace

    save, calls = Trace.save, []

    def save_and_interrupt(self, path):
        calls.append(path)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # arrives mid-write
        return save(self, path)

    monkeypatch.setattr(Trace, "save", save_and_interrupt)
    path = tmp_path / "trace.npz"
    # Python's own Ctrl-C handler, whatever this process inherited (a shell's background job ignores SIGINT)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            Recorder(GaussianMixture(3, init=start_for("full"), tol=0, max_iter=400), progress=False,
                     checkpoint_seconds=0.0).run(blobs(), save_path=path)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert len(calls) == 2  # the checkpoint that was interrupted, then the interrupted fit's own
    trace = Trace.load(path)
    assert trace.meta["partial"] is True and trace.n_iter == 0  # the first step, checkpointed


@pytest.mark.parametrize("init", ["kmeans++", "kmeans", "random", "random_from_data"])
def test_named_initialisations_are_seeded(init):
    X = blobs()
    a = GaussianMixture(3, init=init, seed=5, max_iter=0).initialize(X)
    b = GaussianMixture(3, init=init, seed=5, max_iter=0).initialize(X)
    c = GaussianMixture(3, init=init, seed=6, max_iter=0).initialize(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert not np.array_equal(a.means_, c.means_)
    assert np.isclose(a.weights_.sum(), 1.0) and np.all(np.isfinite(a.covariances_))


def test_kmeans_init_finds_the_blobs():
    X = blobs()
    gm = GaussianMixture(3, init="kmeans", max_iter=0).initialize(X)
    centres = np.array(sorted(gm.means_.tolist()))
    np.testing.assert_allclose(centres, sorted([[3, 0], [-2, -1], [0, 4]]), atol=0.6)


def test_empty_component_keeps_its_parameters_and_is_recorded():
    rng = np.random.RandomState(0)
    X = rng.randn(100, 1)
    # Component 1 sits 1e4 standard deviations away: its responsibilities underflow to zero.
    init = Mixture([0.5, 0.5], [[0.0], [1e5]], [[[1.0]], [[1.0]]])
    trace = record(GaussianMixture(2, init=init, tol=0, max_iter=5), X)
    assert np.all(np.isfinite(trace.means)) and np.all(np.isfinite(trace.covariances))
    np.testing.assert_array_equal(trace.means[:, 1, 0], 1e5)
    assert trace.weights[-1, 1] < 1e-10
    events = trace.meta["events"]
    assert {e["component"] for e in events} == {1} and [e["iteration"] for e in events] == [1, 2, 3, 4, 5]


def test_sample_and_mixture():
    gm = GaussianMixture(2, init=Mixture([0.5, 0.5], [[0.0, 0.0], [10.0, 10.0]], [np.eye(2)] * 2), max_iter=0)
    gm.initialize(np.random.RandomState(0).randn(10, 2))
    X, labels = gm.sample(4000, seed=1)
    assert X.shape == (4000, 2) and set(np.unique(labels)) == {0, 1}
    np.testing.assert_allclose(X[labels == 1].mean(0), [10, 10], atol=0.1)
    assert gm.mixture_.n_components == 2


@pytest.mark.parametrize("kwargs, X, message", [
    ({}, np.zeros(5), "must be 2-D"),
    ({}, np.array([[0.0], [np.nan], [1.0]]), "NaN/Inf"),
    ({"n_components": 5}, np.zeros((3, 1)), "fewer than n_components"),
    ({"covariance_type": "ful"}, np.zeros((3, 1)), "did you mean 'full'"),
    ({"init": "kmean"}, np.random.randn(5, 1), "unknown initialisation 'kmean'"),
    ({"n_components": 0}, np.zeros((3, 1)), "n_components: must be an integer >= 1"),
    ({"reg_covar": -1}, np.zeros((3, 1)), "reg_covar"),
    ({"dtype": "float16"}, np.zeros((3, 1)), "dtype"),
    ({"algorithm": "soft"}, np.zeros((3, 1)), "algorithm"),
])
def test_bad_input_raises_clear_errors(kwargs, X, message):
    with pytest.raises(InputError, match=message):
        GaussianMixture(**{"n_components": 1, **kwargs}).fit(X)


@pytest.mark.parametrize("init, kind, message", [
    (Mixture([1.0], [[0.0, 0.0]], [np.eye(2)]), "full", "1 components, n_components is 2"),
    (Mixture([0.5, 0.5], [[0.0], [1.0]], [[[1.0]], [[1.0]]]), "full", "1 feature"),
    (Mixture([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [[[1.0, 0.5], [0.5, 1.0]], np.eye(2)]), "diag", "diagonal"),
    (Mixture([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [np.diag([1.0, 2.0]), np.eye(2)]), "spherical", "c \\* I"),
    (Mixture([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [np.diag([1.0, 2.0]), np.eye(2)]), "tied", "same matrix"),
])
def test_bad_init_raises(init, kind, message):
    X = np.random.RandomState(0).randn(20, 2)
    with pytest.raises(InputError, match=message):
        GaussianMixture(2, kind, init=init).fit(X)


@pytest.mark.parametrize("kwargs, message", [
    ({"weights": [0.5, 0.6], "means": [[0.0], [1.0]], "covariances": [[[1.0]], [[1.0]]]}, "sum to 1"),
    ({"weights": [-0.1, 1.1], "means": [[0.0], [1.0]], "covariances": [[[1.0]], [[1.0]]]}, "non-negative"),
    ({"weights": [0.5, 0.5], "means": [[0.0], [1.0]], "covariances": [[[1.0]], [[-1.0]]]}, "positive definite"),
    ({"weights": [0.5, 0.5], "means": [[0.0, 0], [1.0, 0]], "covariances": [[[1.0, 0.5], [0.0, 1.0]]] * 2}, "symmetric"),
    ({"weights": [0.5, 0.5], "means": [[0.0], [1.0]], "covariances": [[[1.0]]]}, "expected shape"),
])
def test_bad_mixture_raises(kwargs, message):
    with pytest.raises(InputError, match=message):
        Mixture(**kwargs)


def test_weights_close_to_one_are_renormalised():
    m = Mixture.from_stds([0.33, 0.33, 0.33], [[9.9], [10.0], [10.1]], [2.5] * 3)
    np.testing.assert_allclose(m.weights, [1 / 3] * 3)


def test_cuda_asked_for_without_cuda():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InputError, match="no CUDA device"):
        GaussianMixture(2, device="cuda")


def test_singular_covariance_without_regularisation_is_a_clear_error():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 10, axis=0)
    with pytest.raises(FitError, match="reg_covar"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            GaussianMixture(2, init="kmeans++", reg_covar=0.0, tol=0, max_iter=3).fit(X)


@pytest.mark.cuda
@pytest.mark.parametrize("kind", COV_TYPES)
def test_cuda_matches_cpu(kind):
    X = blobs()
    init = start_for(kind)
    cpu = record(GaussianMixture(3, kind, init=init, tol=0, max_iter=25, device="cpu"), X)
    gpu = record(GaussianMixture(3, kind, init=init, tol=0, max_iter=25, device="cuda"), X)
    for name in ("means", "covariances", "weights", "log_likelihood", "resp"):
        np.testing.assert_allclose(getattr(gpu, name), getattr(cpu, name), rtol=1e-9, atol=1e-12)
    assert gpu.meta["device"].startswith("cuda")


def test_small_cpu_fits_run_on_one_thread_and_restore_the_setting():
    seen = []

    class Spy(GaussianMixture):
        def step(self):
            seen.append(torch.get_num_threads())
            return super().step()

    before = torch.get_num_threads()
    Recorder(Spy(2, init=Mixture([0.5, 0.5], [[0, 0], [3, 3]], [np.eye(2)] * 2), tol=0,
                 max_iter=3), progress=False).run(blobs())
    assert seen == [1, 1, 1] and torch.get_num_threads() == before

    class Failing(Spy):
        def step(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        Recorder(Failing(2, tol=0, max_iter=3), progress=False).run(blobs())
    assert torch.get_num_threads() == before
