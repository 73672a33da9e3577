"""Data loading: sampled mixtures, CSV/NPY files, bundled datasets, standardisation, and every error."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emviz.data import Dataset, data_shape, load_data, split_counts
from emviz.errors import InputError
from emviz.mixture import Mixture

NOTEBOOK = {"means": [[-2.0], [2.0], [6.0]], "stds": [2.0, 1.0, 3.0], "sizes": [2000, 1000, 3000]}


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def error(spec, base_dir=".") -> str:
    with pytest.raises(InputError) as info:
        load_data(spec, base_dir)
    return str(info.value)


# ---------------------------------------------------------------------------------------------- mixture
def test_mixture_reproduces_the_notebooks_numpy_calls_exactly():
    np.random.seed(0)
    expected = np.concatenate([np.random.normal(-2, 2, 2000), np.random.normal(2, 1, 1000),
                               np.random.normal(6, 3, 3000)])
    data = load_data({"mixture": NOTEBOOK, "seed": 0})
    assert data.X.shape == (6000, 1) and data.X.dtype == np.float64
    np.testing.assert_array_equal(data.X[:, 0], expected)
    np.testing.assert_array_equal(data.labels, np.repeat([0, 1, 2], [2000, 1000, 3000]))
    np.testing.assert_allclose(data.truth.weights, [2 / 6, 1 / 6, 3 / 6])
    np.testing.assert_allclose(data.truth.stds[:, 0], [2.0, 1.0, 3.0])


def test_mixture_same_seed_same_data_other_seed_other_data():
    a = load_data({"mixture": NOTEBOOK, "seed": 3})
    b = load_data({"mixture": NOTEBOOK, "seed": 3})
    c = load_data({"mixture": NOTEBOOK, "seed": 4})
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)


def test_mixture_with_covariances_and_n_samples():
    spec = {"means": [[0.0, 0.0], [5.0, 5.0]], "covariances": [[[1.0, 0.5], [0.5, 1.0]], [[2.0, 0.0], [0.0, 0.5]]],
            "n_samples": 1001, "weights": [0.25, 0.75]}
    data = load_data({"mixture": spec, "seed": 1})
    assert data.X.shape == (1001, 2)
    assert np.bincount(data.labels).tolist() == [250, 751]
    np.testing.assert_allclose(data.truth.weights, [0.25, 0.75])
    np.testing.assert_allclose(data.truth.covariances[0], [[1.0, 0.5], [0.5, 1.0]])
    assert data_shape({"mixture": spec}) == (1001, 2)


def test_mixture_per_feature_stds():
    data = load_data({"mixture": {"means": [[0.0, 10.0]], "stds": [[1.0, 3.0]], "sizes": [4000]}})
    np.testing.assert_allclose(data.X.std(axis=0), [1.0, 3.0], rtol=0.05)
    # Named as a headerless file's columns and the features option count them: from 0.
    assert data.columns == ("x0", "x1")


@pytest.mark.parametrize("mixture, needle", [
    ({"means": [[0.0], [1.0]], "stds": [1.0], "sizes": [5, 5]}, "data.mixture.stds: expected shape (2,)"),
    ({"means": [[0.0], [1.0]], "stds": [1.0, -1.0], "sizes": [5, 5]}, "data.mixture.stds: must be positive"),
    ({"means": [[0.0], [1.0]], "stds": [1.0, 1.0], "sizes": [5]}, "data.mixture.sizes: expected 2 non-negative"),
    ({"means": [[0.0], [1.0]], "stds": [1.0, 1.0], "sizes": [0, 0]}, "at least one size must be positive"),
    ({"means": [[0.0]], "stds": [1.0]}, "give exactly one of sizes, n_samples"),
    ({"means": [[0.0]], "sizes": [3]}, "give exactly one of stds, covariances"),
    ({"means": [[0.0]], "stds": [1.0], "sizes": [3], "weights": [1.0]}, "weights go with n_samples"),
    ({"means": [[0.0], [1.0]], "stds": [1.0, 1.0], "n_samples": 10, "weights": [0.9, 0.5]}, "data.mixture.weights: must sum to 1"),
    ({"means": [[0.0]], "covariances": [[[-1.0]]], "sizes": [3]}, "data.mixture.covariances[0]: is not positive definite"),
    ({"means": [[0.0]], "stds": [1.0], "sizes": [3], "meens": 1}, "data.mixture.meens: unknown key (did you mean 'means'?)"),
])
def test_mixture_errors_name_the_key(mixture, needle):
    assert needle in error({"mixture": mixture})


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 10_000), weights=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=8))
def test_split_counts_sums_exactly_and_stays_within_one_of_proportional(n, weights):
    counts = split_counts(n, weights)
    exact = n * np.asarray(weights) / np.sum(weights)
    assert counts.sum() == n and np.all(counts >= 0)
    assert np.all(np.abs(counts - exact) < 1.0)
    np.testing.assert_array_equal(counts, split_counts(n, weights))


# ---------------------------------------------------------------------------------------------- bundled
def test_old_faithful_is_bundled():
    data = load_data({"dataset": "old_faithful"})
    assert data.X.shape == (272, 2) and data.columns == ("eruptions", "waiting")
    assert data.labels is None and data.truth is None
    np.testing.assert_allclose(data.X[0], [3.6, 79.0])
    assert 1.5 < data.X[:, 0].min() and data.X[:, 1].max() < 100


def test_iris_is_bundled_with_species_codes():
    data = load_data({"dataset": "iris"})
    assert data.X.shape == (150, 4)
    assert data.columns == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    np.testing.assert_array_equal(data.labels, np.repeat([0, 1, 2], 50))
    np.testing.assert_allclose(data.X[0], [5.1, 3.5, 1.4, 0.2])


def test_dataset_columns_by_name_and_index():
    by_name = load_data({"dataset": "iris", "columns": ["petal_width", "sepal_length"]})
    by_index = load_data({"dataset": "iris", "columns": [3, 0]})
    np.testing.assert_array_equal(by_name.X, by_index.X)
    assert by_name.columns == by_index.columns == ("petal_width", "sepal_length")
    assert by_name.X.shape == (150, 2) and by_name.labels is not None


@pytest.mark.parametrize("spec, needle", [
    ({"dataset": "old_faitful"}, "data.dataset: must be one of old_faithful, iris (got 'old_faitful') (did you mean 'old_faithful'?)"),
    ({"dataset": "iris", "columns": ["petal_widht"]}, "'petal_widht' is not a column of iris (did you mean 'petal_width'?)"),
    ({"dataset": "iris", "columns": [4]}, "index 4 is out of range; iris has 4 columns"),
    ({"dataset": "iris", "columns": [0, "sepal_length"]}, "selected twice"),
])
def test_dataset_errors(spec, needle):
    assert needle in error(spec)


def test_the_spec_needs_exactly_one_source():
    assert "exactly one of mixture, file, dataset (got none)" in error({"seed": 1})
    assert "(got file, dataset)" in error({"file": "x.csv", "dataset": "iris"})
    assert "only applies to a file or a dataset" in error({"mixture": NOTEBOOK, "columns": [0]})


# ---------------------------------------------------------------------------------------------- standardize
def test_standardize_gives_z_scores_and_moves_the_truth_with_the_data():
    raw = load_data({"mixture": {"means": [[0.0, 100.0], [4.0, 120.0]], "stds": [[1.0, 5.0], [2.0, 10.0]],
                                 "sizes": [300, 200]}})
    z = load_data({"mixture": {"means": [[0.0, 100.0], [4.0, 120.0]], "stds": [[1.0, 5.0], [2.0, 10.0]],
                               "sizes": [300, 200]}, "standardize": True})
    np.testing.assert_allclose(z.X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.X.std(axis=0), 1.0, atol=1e-12)
    np.testing.assert_array_equal(z.labels, raw.labels)
    # The transformed truth is the same distribution in new coordinates: densities differ by the Jacobian.
    scale = raw.X.std(axis=0)
    np.testing.assert_allclose(z.truth.log_pdf(z.X), raw.truth.log_pdf(raw.X) + np.log(scale).sum(), rtol=1e-10)


def test_standardize_bundled_dataset_and_constant_column(tmp_path):
    data = load_data({"dataset": "old_faithful", "standardize": True})
    np.testing.assert_allclose(data.X.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(data.X.std(axis=0), 1.0)
    write(tmp_path / "c.csv", "a,b\n1,5\n2,5\n3,5\n")
    assert "column 'b' is constant" in error({"file": "c.csv", "standardize": True}, tmp_path)


# ---------------------------------------------------------------------------------------------- CSV
def test_csv_with_header_columns_by_name_and_index(tmp_path):
    write(tmp_path / "d.csv", "a,b,c\n1,2,3\n4,5,6\n\n7, 8 ,\"9\"\n")
    data = load_data({"file": "d.csv"}, tmp_path)
    np.testing.assert_array_equal(data.X, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert data.columns == ("a", "b", "c") and data.name == "d.csv"
    picked = load_data({"file": "d.csv", "columns": ["c", 0]}, tmp_path)
    np.testing.assert_array_equal(picked.X, [[3, 1], [6, 4], [9, 7]])
    assert picked.columns == ("c", "a")


def test_csv_without_header_and_with_bom(tmp_path):
    (tmp_path / "n.csv").write_bytes("\ufeff1.5,2\n-3e-1,4\n".encode("utf-8"))
    data = load_data({"file": "n.csv", "columns": [1]}, tmp_path)
    np.testing.assert_array_equal(data.X, [[2.0], [4.0]])
    assert data.columns == ("x1",)


def test_csv_non_numeric_columns_can_be_left_out(tmp_path):
    write(tmp_path / "s.csv", "x,label\n1.0,cat\n2.0,dog\n")
    assert load_data({"file": "s.csv", "columns": ["x"]}, tmp_path).X.shape == (2, 1)
    assert "line 2, column 2 ('label'): 'cat' is not a number" in error({"file": "s.csv"}, tmp_path)


@pytest.mark.parametrize("text, needle", [
    ("", "file is empty"),
    ("\n  \n", "file is empty"),
    ("a,b\n", "has a header row but no data rows"),
    ("a,b\n1,2\n3,x\n", "line 3, column 2 ('b'): 'x' is not a number"),
    # Headerless: the column's name as the axes and columns: [1] know it, beside the editor's column number.
    ("1,2\n3,oops\n", "line 2, column 2 ('x1'): 'oops' is not a number"),
    ("a,b\n1,2\n\n3,nan\n", "line 4, column 2 ('b'): nan is not allowed; values must be finite"),
    ("a,b\n1,2\n-inf,3\n", "line 3, column 1 ('a'): -inf is not allowed"),
    ("a,b\n1,\n", "line 2, column 2 ('b'): empty cell"),
    ("a,b\n1,2\n3\n", "line 3: has 1 fields, expected 2"),
    ("x,1\n2,3\n", "line 1, column 1: 'x' is not a number (a header row must be all names"),
    # A spreadsheet's other exports: said at once, not as "'1;2' is not a number" lines later.
    ("a;b\n1;2\n", "line 1 is separated by ';', not commas; emviz reads comma-separated values"),
    ("\n1\t2\n3\t4\n", "line 2 is separated by tabs, not commas"),
])
def test_bad_csv_errors_name_file_line_and_column(tmp_path, text, needle):
    write(tmp_path / "bad.csv", text)
    message = error({"file": "bad.csv"}, tmp_path)
    assert message.startswith(str(tmp_path / "bad.csv") + ":")
    assert needle in message


@pytest.mark.parametrize("spec, needle", [
    ({"file": "missing.csv"}, "missing.csv: file not found"),
    ({"file": "d.xlsx"}, "unsupported file type '.xlsx'; use .csv or .npy"),
    ({"file": "d.csv", "columns": ["bb"]}, "'bb' is not a column of"),
    ({"file": "d.csv", "columns": [2]}, "index 2 is out of range"),
    ({"file": "h.csv", "columns": ["a"]}, "has no header row, so select columns by index"),
    ({"file": "dup.csv", "columns": ["a"]}, "'a' appears twice in"),
    ({"file": "d.csv", "columns": [True]}, "data.columns: must be a non-empty list of column names or indices >= 0 (got [True])"),
])
def test_csv_spec_errors(tmp_path, spec, needle):
    write(tmp_path / "d.csv", "a,b\n1,2\n")
    write(tmp_path / "h.csv", "1,2\n")
    write(tmp_path / "dup.csv", "a,a\n1,2\n")
    assert needle in error(spec, tmp_path)


def test_spec_errors_carry_the_key_for_the_config():
    with pytest.raises(InputError) as info:
        load_data({"file": "nowhere.csv"})
    assert info.value.key == "file"


# ---------------------------------------------------------------------------------------------- NPY
def test_npy_2d_and_1d(tmp_path):
    np.save(tmp_path / "two.npy", np.arange(6, dtype=np.int32).reshape(3, 2))
    np.save(tmp_path / "one.npy", np.array([1.0, 2.0, 3.0]))
    two = load_data({"file": "two.npy"}, tmp_path)
    one = load_data({"file": "one.npy"}, tmp_path)
    assert two.X.dtype == np.float64 and two.X.shape == (3, 2)
    assert one.X.shape == (3, 1)
    np.testing.assert_array_equal(load_data({"file": "two.npy", "columns": [1]}, tmp_path).X[:, 0], [1, 3, 5])


@pytest.mark.parametrize("array, needle", [
    (np.array([{"a": 1}, None], dtype=object), "holds Python objects (dtype object)"),
    (np.zeros((2, 2, 2)), "must be a 1-D or 2-D array (N, D), got shape (2, 2, 2)"),
    (np.array(["a", "b"]), "must hold numbers, got dtype <U1"),
    (np.zeros((0, 2)), "is empty"),
    (np.array([[1.0, 2.0], [3.0, np.nan]]), "element [1, 1] is nan; values must be finite"),
])
def test_bad_npy_errors(tmp_path, array, needle):
    np.save(tmp_path / "bad.npy", array, allow_pickle=True)
    message = error({"file": "bad.npy"}, tmp_path)
    assert message.startswith(str(tmp_path / "bad.npy") + ":") and needle in message


def test_npy_columns_must_be_indices(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 2)))
    assert "has no header row, so select columns by index" in error({"file": "a.npy", "columns": ["x"]}, tmp_path)


# ---------------------------------------------------------------------------------------------- Dataset
def test_dataset_is_read_only_and_checks_shapes():
    data = Dataset(X=[[1.0], [2.0]], labels=[0, 1], name="t")
    assert data.n_samples == 2 and data.n_features == 1 and data.columns == ("x0",)
    with pytest.raises(ValueError):
        data.X[0, 0] = 5.0
    with pytest.raises(InputError, match="labels have shape"):
        Dataset(X=[[1.0], [2.0]], labels=[0])
    with pytest.raises(InputError, match="truth has D=2"):
        Dataset(X=[[1.0]], truth=Mixture.from_stds([1.0], [[0.0, 0.0]], [1.0]))
