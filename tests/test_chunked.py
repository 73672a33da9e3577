"""Chunked, exact EM: the same iterates as the unchunked fit, with work arrays of one chunk's rows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from emviz.data import load_data
from emviz.em import GaussianMixture
from emviz.em import stream
from emviz.em.streamed import init_indices
from emviz.errors import InputError
from emviz.mixture import Mixture
from emviz.recorder import Recorder


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal([0, 0], [1, 0.5], (420, 2)), rng.normal([3, 1], [0.5, 1], (480, 2)),
                           rng.normal([-2, 3], 0.7, (300, 2))])


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), 1e-300))


def _steps(fitter, X, n):
    fitter.initialize(X)
    return [fitter.step() for _ in range(n)]


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("algorithm", ["em", "hard"])
@pytest.mark.parametrize("kernel", ["auto", "direct"])
def test_chunked_iterates_equal_unchunked(X, kind, algorithm, kernel):
    kw = dict(n_components=3, covariance_type=kind, algorithm=algorithm, kernel=kernel, tol=0, max_iter=25, seed=1)
    plain, chunked = GaussianMixture(**kw), GaussianMixture(chunk_size=301, **kw)
    a, b = _steps(plain, X, 25), _steps(chunked, X, 25)
    assert not plain._streamed and chunked._streamed
    for t in (0, 1, 12, 24):
        for name in ("weights", "means", "covariances", "log_likelihood"):
            assert _rel(getattr(a[t], name), getattr(b[t], name)) <= 1e-10, (t, name)
    # The work arrays hold one chunk: no (K, N) array.
    assert chunked._wlp.numel() == 3 * 301 and chunked._resp.numel() == 3 * 301
    assert chunked._X.shape == X.shape  # the data itself, centred on the device


def test_float32_chunked_follows_unchunked(X):
    kw = dict(n_components=3, dtype="float32", tol=0, seed=2)
    a, b = _steps(GaussianMixture(**kw), X, 20), _steps(GaussianMixture(chunk_size=128, **kw), X, 20)
    for name in ("weights", "means", "covariances", "log_likelihood"):
        assert _rel(getattr(a[-1], name), getattr(b[-1], name)) <= 1e-4, name


@pytest.mark.parametrize("init", ["kmeans", "kmeans++", "random", "random_from_data"])
def test_recorded_trace_equal(X, init):
    """The recorder's responsibilities and log-likelihoods from chunked EM equal the unchunked ones."""
    traces = [Recorder(GaussianMixture(3, init=init, tol=0, max_iter=8, seed=3, chunk_size=size),
                       progress=False, resp_points=150, show_points=600, seed=4).run(X)
              for size in ("auto", 250)]
    a, b = traces
    assert a.n_iter == b.n_iter == 8
    for name in ("weights", "means", "covariances", "log_likelihood", "resp", "X"):
        assert _rel(getattr(a, name), getattr(b, name)) <= 1e-9, name
    assert np.array_equal(a.resp_index, b.resp_index)


def test_log_likelihood_never_decreases_chunked(X):
    steps = _steps(GaussianMixture(4, covariance_type="diag", tol=0, seed=5, chunk_size=333), X, 40)
    ll = np.array([float(s.log_likelihood) for s in steps])
    assert np.all(np.diff(ll) >= -1e-9 * np.abs(ll[1:]))


def test_explicit_start_and_convergence_chunked(X):
    start = Mixture([0.3, 0.4, 0.3], [[0, 0], [3, 1], [-2, 3]], [np.eye(2)] * 3)
    a = GaussianMixture(3, init=start, seed=0).fit(X)
    b = GaussianMixture(3, init=start, seed=0, chunk_size=64).fit(X)
    assert a.n_iter_ == b.n_iter_ and a.converged_ and b.converged_
    assert _rel(a.means_, b.means_) <= 1e-10
    assert b.lower_bound_ == pytest.approx(a.lower_bound_, rel=1e-12)


def test_auto_is_a_no_op_when_it_fits_and_chunks_when_not(X, monkeypatch):
    assert not GaussianMixture(3, chunk_size="auto").initialize(X)._streamed
    # A device with little free memory: the automatic chunk is used, with the same iterates.
    monkeypatch.setattr(stream, "free_memory", lambda device: 64 * 1024 * 4)
    monkeypatch.setattr(stream, "MIN_AUTO_CHUNK", 256)
    small = GaussianMixture(3, chunk_size="auto", tol=0, seed=1)
    b = _steps(small, X, 10)
    assert small._streamed and small._chunks.chunk < len(X)
    monkeypatch.undo()
    a = _steps(GaussianMixture(3, tol=0, seed=1), X, 10)
    assert _rel(a[-1].means, b[-1].means) <= 1e-10


def test_init_uses_a_seeded_sample_beyond_init_sample(X):
    """k-means on a large N runs on a seeded sample of init_sample rows, in both paths alike."""
    plain = GaussianMixture(3, init_sample=500, seed=7).initialize(X)
    chunked = GaussianMixture(3, init_sample=500, seed=7, chunk_size=128).initialize(X)
    assert _rel(plain.means_, chunked.means_) <= 1e-12
    idx = init_indices(len(X), 500, 7)
    assert len(idx) == 500 and np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, init_indices(len(X), 500, 7))  # seeded
    # The same start as a fit of the sample alone (centred the same way up to rounding).
    alone = GaussianMixture(3, seed=7).initialize(X[idx])
    assert np.allclose(np.sort(plain.means_[:, 0]), np.sort(alone.means_[:, 0]), rtol=1e-9, atol=1e-9)
    assert init_indices(2000, 2000, 7) is None  # all rows up to init_sample: unchanged from before


@pytest.mark.parametrize("bad", [0, -3, 2.5, "big", True])
def test_bad_chunk_size(bad):
    with pytest.raises(InputError, match="chunk_size: must be auto or an integer >= 1"):
        GaussianMixture(2, chunk_size=bad)


def test_sharded_mixture_rows_equal_the_whole_sample(monkeypatch):
    """A rank draws only its rows of a generated dataset, the same numbers as the whole draw."""
    import emviz.mixture as mixture_module

    monkeypatch.setattr(mixture_module, "SAMPLE_BLOCK", 700)
    truth = Mixture([0.3, 0.7], [[0, 0], [3, 1]], [np.eye(2), [[1, 0.5], [0.5, 2]]])
    X, labels = truth.sample([3000, 4500], seed=3)
    for lo, hi in [(0, 7500), (0, 2999), (2500, 4100), (3000, 7500), (7499, 7500)]:
        part, lab = truth.sample([3000, 4500], seed=3, rows=(lo, hi))
        assert np.array_equal(part, X[lo:hi]) and np.array_equal(lab, labels[lo:hi])


def test_config_chunk_size_reaches_the_fitter(tmp_path):
    from emviz.pipeline import prepare

    cfg = {"data": {"mixture": {"means": [[0.0], [4.0]], "stds": [1.0, 1.0], "n_samples": 400}},
           "model": {"n_components": 2, "chunk_size": 64, "init_sample": 300, "device": "cpu"},
           "outputs": [{"path": "a.png", "panels": ["components"]}]}
    plan = prepare(cfg, out=tmp_path)
    assert plan.fitter.chunk_size == 64 and plan.fitter.init_sample == 300
    data = load_data(cfg["data"])
    assert data.n_samples == 400


def test_sync_free_cuda_loop():
    """On CUDA, a chunked step and a bare step read nothing from the device (tol 0: no test either)."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 2))
    for chunk in ("auto", 4096):
        fitter = GaussianMixture(3, tol=0, max_iter=10, device="cuda", chunk_size=chunk, dtype="float32")
        fitter.initialize(X)
        fitter.step()
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            for _ in range(5):
                fitter.step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
        fitter.check()


@pytest.mark.parametrize("kind,kernel", list(itertools.product(["full", "diag"], ["auto", "direct"])))
def test_kernel_switch_streamed(kind, kernel):
    """Points collapsing onto one value: the streamed fitter leaves the moments path like the plain one."""
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(size=(300, 2)), np.full((40, 2), 5.0)])
    kw = dict(n_components=2, covariance_type=kind, kernel=kernel, tol=0, reg_covar=1e-10, seed=0, init="kmeans")
    a, b = GaussianMixture(**kw), GaussianMixture(chunk_size=50, **kw)
    ra, rb = _steps(a, X, 12), _steps(b, X, 12)
    assert a.kernel_switched_at_ == b.kernel_switched_at_
    assert _rel(ra[-1].means, rb[-1].means) <= 1e-9
