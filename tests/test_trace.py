"""The trace: derived views, save/load round trip, and clear errors for files that are not traces."""

import json
import zipfile

import numpy as np
import pytest

from emviz import InputError, Mixture, Trace
from emviz.trace import SCHEMA_VERSION


def make_trace(t=3, k=2, d=2, s=10, m=4, truth=True, labels=True):
    rng = np.random.RandomState(0)
    covs = np.broadcast_to(np.eye(d) * 2.0, (t + 1, k, d, d)).copy()
    return Trace(
        weights=np.full((t + 1, k), 1 / k), means=rng.randn(t + 1, k, d), covariances=covs,
        log_likelihood=np.linspace(-100, -50, t + 1), resp_index=np.arange(m),
        resp=np.full((t + 1, m, k), 1 / k), X=rng.randn(s, d),
        labels=rng.randint(0, k, s) if labels else None,
        truth=Mixture(np.full(k, 1 / k), np.zeros((k, d)), np.broadcast_to(np.eye(d), (k, d, d))) if truth else None,
        meta={"n_samples": 1000, "config": {"a": [1, 2]}},
    )


def test_views():
    trace = make_trace()
    assert (trace.n_iter, trace.n_components, trace.n_features, trace.n_samples) == (3, 2, 2, 1000)
    np.testing.assert_allclose(trace.stds, np.sqrt(2.0))
    np.testing.assert_array_equal(trace.resp_X, trace.X[:4])
    assert trace.mixture(-1) == Mixture(trace.weights[3], trace.means[3], trace.covariances[3])
    assert trace.truncated(1).n_iter == 1
    with pytest.raises(InputError, match="beyond the trace"):
        trace.mixture(4)


@pytest.mark.parametrize("truth, labels", [(True, True), (False, False)])
def test_round_trip(tmp_path, truth, labels):
    trace = make_trace(truth=truth, labels=labels)
    path = trace.save(tmp_path / "t.npz")
    loaded = Trace.load(path)
    assert loaded == trace
    assert loaded.meta == trace.meta
    assert (loaded.truth is None) == (not truth)
    assert [p.name for p in tmp_path.iterdir()] == ["t.npz"]  # no temporary file left


def test_arrays_are_read_only():
    trace = make_trace()
    with pytest.raises(ValueError):
        trace.means[0, 0, 0] = 1.0


def test_inconsistent_shapes_are_refused():
    good = make_trace()
    with pytest.raises(InputError, match="log_likelihood has shape"):
        Trace(good.weights, good.means, good.covariances, good.log_likelihood[:-1], good.resp_index, good.resp, good.X)
    with pytest.raises(InputError, match="resp_index"):
        Trace(good.weights, good.means, good.covariances, good.log_likelihood, good.resp_index + 100, good.resp, good.X)


def test_not_a_trace(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"hello, not a zip")
    with pytest.raises(InputError, match="not a readable emviz trace"):
        Trace.load(p)
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    with pytest.raises(InputError, match="no schema_version"):
        Trace.load(tmp_path / "other.npz")
    with pytest.raises(InputError, match="not found"):
        Trace.load(tmp_path / "missing.npz")


def test_truncated_file(tmp_path):
    path = make_trace().save(tmp_path / "t.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not a readable emviz trace"):
        Trace.load(path)


def test_future_schema_is_refused(tmp_path):
    trace = make_trace()
    path = trace.save(tmp_path / "t.npz")
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["schema_version"] = np.array(SCHEMA_VERSION + 1)
    np.savez(path, **arrays)
    with pytest.raises(InputError, match="newer than this emviz supports"):
        Trace.load(path)


def test_pickled_object_arrays_are_never_loaded(tmp_path):
    trace = make_trace()
    path = trace.save(tmp_path / "t.npz")
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["means"] = np.array([object()], dtype=object)
    np.savez(path, **arrays)
    with pytest.raises(InputError, match="not a readable emviz trace"):
        Trace.load(path)


def test_meta_is_json(tmp_path):
    path = make_trace().save(tmp_path / "t.npz")
    with zipfile.ZipFile(path) as zf:
        assert "meta_json.npy" in zf.namelist()
    with np.load(path) as npz:
        assert json.loads(str(npz["meta_json"]))["n_samples"] == 1000


def test_the_progress_bar_names_its_run_and_ends_full_when_em_converges(capsys):
    from emviz import GaussianMixture, Recorder

    X = np.random.default_rng(0).normal(size=(200, 1))
    trace = Recorder(GaussianMixture(2, max_iter=200, tol=1e-3), label="start 1").run(X)
    assert trace.meta["converged"] and trace.n_iter < 200
    err = capsys.readouterr().err
    assert "start 1 (converged): 100%" in err and f"{trace.n_iter}/{trace.n_iter}" in err


def test_a_recorded_trace_unpickles_without_torch(tmp_path):
    """Frame workers unpickle the trace: a torch object in it (torch.__version__ is a TorchVersion)
    would make every worker import torch, seconds each, although the render layer never needs it."""
    import os
    import pickle
    import subprocess
    import sys

    from emviz import GaussianMixture, Recorder

    trace = Recorder(GaussianMixture(2, tol=0, max_iter=2), progress=False).run(np.random.RandomState(0).randn(40, 2))
    (tmp_path / "trace.pickle").write_bytes(pickle.dumps(trace))
    code = "import pickle, sys; pickle.load(open(sys.argv[1], 'rb')); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "trace.pickle")], capture_output=True,
                            text=True, timeout=60, env={**os.environ})
    assert result.stdout.strip() == "False", result.stderr
