"""Each input rule has one home: the data spec's models, Mixture.from_spec and the target-location check
are shared by the config, the data loader, the known mixture and render-trace."""

from pathlib import Path

import numpy as np
import pytest

import emviz
from emviz.config import DataSection, init_mixture, load_config, target_problem
from emviz.data import load_data, mixture_from_spec
from emviz.dataspec import DataSpec, data_spec
from emviz.errors import InputError
from emviz.mixture import Mixture, spec_field
from emviz.pipeline import render_trace

GOOD_MIXTURE = {"means": [[0.0], [3.0]], "stds": [1.0, 0.5], "sizes": [20, 10]}


def test_the_config_data_section_is_the_data_spec():
    assert DataSection is DataSpec


@pytest.mark.parametrize("bad, message", [
    ({"mixture": {**GOOD_MIXTURE, "covariances": [[[1.0]], [[1.0]]]}}, "data.mixture: give exactly one of stds, covariances"),
    ({"mixture": GOOD_MIXTURE, "dataset": "iris"}, "data: give exactly one of mixture, file, dataset (got mixture, dataset)"),
    ({"mixture": GOOD_MIXTURE, "columns": [0]}, "data: columns only applies to a file or a dataset, not a mixture"),
    ({"mixture": {**GOOD_MIXTURE, "sizez": 1}}, "data.mixture.sizez: unknown key (did you mean 'sizes'?); allowed keys are means, stds, covariances, sizes, "
     "n_samples, weights"),
    ({"dataset": "iris", "seed": -1}, "data.seed: must be >= 0 (got -1)"),
])
def test_a_bad_spec_reads_the_same_from_python_and_from_a_config(bad, message):
    with pytest.raises(InputError) as from_python:
        load_data(bad)
    with pytest.raises(InputError) as from_config:
        load_config({"data": bad, "model": {"n_components": 2}, "record": {"save": "t.npz"}})
    assert str(from_python.value) == message
    # The config's line is "config" for a mapping: "config: data...: <the same words>".
    assert str(from_config.value).startswith("config: ") and str(from_config.value).endswith(message.split(": ", 1)[1])


def test_a_spec_written_with_numpy_arrays_is_accepted():
    spec = {"mixture": {"means": np.array([[0.0], [3.0]]), "stds": np.array([1.0, 0.5]), "sizes": (20, 10)}}
    dataset = load_data(spec)
    assert dataset.X.shape == (30, 1)
    assert data_spec(spec).mixture.sizes == [20, 10]


def test_from_spec_builds_the_same_mixture_for_init_and_for_data():
    stds = Mixture.from_spec([[0.0, 1.0], [2.0, 2.0]], stds=[[1.0, 2.0], [0.5, 0.5]])
    np.testing.assert_array_equal(stds.weights, [0.5, 0.5])
    np.testing.assert_array_equal(stds.covariances[0], np.diag([1.0, 4.0]))
    full = Mixture.from_spec([[0.0], [3.0]], weights=[0.25, 0.75], covariances=[[[1.0]], [[4.0]]])
    assert full == Mixture.from_stds([0.25, 0.75], [[0.0], [3.0]], [1.0, 2.0])
    config = load_config({"data": {"mixture": {"means": [[0.0], [3.0]], "stds": [1.0, 2.0], "n_samples": 40,
                                               "weights": [0.25, 0.75]}},
                          "model": {"n_components": 2, "init": {"means": [[0.0], [3.0]], "stds": [1.0, 2.0],
                                                                 "weights": [0.25, 0.75]}},
                          "record": {"save": "t.npz"}})
    assert init_mixture(config) == mixture_from_spec(config.data.mixture) == full
    with pytest.raises(InputError, match="give exactly one of stds, covariances"):
        Mixture.from_spec([[0.0]])


@pytest.mark.parametrize("message, expected", [
    ("covariances[1]: is not positive definite", ("covariances[1]", "is not positive definite")),
    ("stds: must be positive and finite, got [-1.0]", ("stds", "must be positive and finite, got [-1.0]")),
    ("give exactly one of stds, covariances", (None, "give exactly one of stds, covariances")),
])
def test_spec_field_splits_the_field_off(message, expected):
    assert spec_field(InputError(message)) == expected


def test_a_bad_init_and_a_bad_known_mixture_name_their_own_keys():
    base = {"model": {"n_components": 2}, "record": {"save": "t.npz"}}
    with pytest.raises(InputError) as init:
        load_config({**base, "data": {"dataset": "iris"},
                     "model": {"n_components": 2, "init": {"means": [[0.0], [1.0]], "covariances": [[[1.0]], [[-1.0]]]}}})
    with pytest.raises(InputError) as data:
        load_config({**base, "data": {"mixture": {"means": [[0.0], [1.0]], "covariances": [[[1.0]], [[-1.0]]],
                                                  "sizes": [5, 5]}}})
    assert str(init.value) == "config: model.init.covariances[1]: is not positive definite"
    assert str(data.value) == "config: data.mixture.covariances[1]: is not positive definite"


def test_target_problem_is_the_one_location_rule(tmp_path):
    trace = tmp_path / "t.npz"
    trace.write_bytes(b"x")
    protected = {trace.resolve(): "the trace file"}
    (tmp_path / "folder").mkdir()
    (tmp_path / "blocker").write_text("a file")
    assert target_problem(trace, trace.resolve(), folder=False, protected=protected) == \
        f"{trace} would overwrite the trace file"
    assert target_problem(tmp_path / "folder", (tmp_path / "folder").resolve(), folder=False, protected={}) == \
        f"{tmp_path / 'folder'} is a directory"
    blocked = tmp_path / "blocker" / "x.gif"
    assert target_problem(blocked, blocked, folder=False, protected={}) == \
        f"cannot create directory {tmp_path / 'blocker'}: {tmp_path / 'blocker'} is a file"
    assert target_problem(tmp_path, tmp_path, folder=True, protected=protected).endswith(
        "holds the trace file, which a folder output would delete")
    assert target_problem(tmp_path / "new.gif", tmp_path / "new.gif", folder=False, protected=protected) is None


def test_render_trace_and_a_config_word_a_clash_alike(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 1))
    trace = emviz.Recorder(emviz.GaussianMixture(2, max_iter=2, tol=0.0), progress=False).run(X)
    path = tmp_path / "t.npz"
    trace.save(path)
    (tmp_path / "dir.gif").mkdir()
    with pytest.raises(InputError) as clash:
        render_trace(path, ["components"], tmp_path / "dir.gif", progress=False)
    assert str(clash.value) == f"{tmp_path / 'dir.gif'} is a directory"
    with pytest.raises(InputError) as config_clash:
        emviz.run({"data": {"dataset": "old_faithful", "columns": [0]}, "model": {"n_components": 2, "max_iter": 2},
                   "outputs": [{"path": "dir.gif", "panels": ["components"]}]}, out=tmp_path, progress=False)
    assert str(config_clash.value) == f"config: outputs[0].path: {tmp_path / 'dir.gif'} is a directory"
    assert not any(Path(tmp_path).glob("*.tmp*"))


@pytest.mark.parametrize("spec, message", [
    ({"mixture": {"means": [[0.0, 0.0], [3.0]], "stds": [1.0, 1.0], "sizes": [5, 5]}},
     "data.mixture.means[1]: has 1 value, means[0] has 2 values"),
    ({"mixture": {"means": [[0.0], [3.0]], "covariances": [[[1.0]], [[1.0, 0.0]]], "sizes": [5, 5]}},
     "data.mixture.covariances[1]: has shape (1, 2), covariances[0] has shape (1, 1)"),
])
def test_a_ragged_list_names_the_row(spec, message):
    with pytest.raises(InputError) as err:
        load_data(spec)
    assert str(err.value) == message
