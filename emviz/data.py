"""The data a mixture is fitted to: sampled from a known mixture, read from a CSV/NPY file, or bundled.

:func:`load_data` turns a data spec (the ``data:`` section of a config, as a mapping) into a
:class:`Dataset`. Every problem with the spec or the file is an :class:`~emviz.errors.InputError` that
names the file and, where it applies, the line and column.
"""

from __future__ import annotations

import csv
import importlib.resources
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emviz.errors import InputError, did_you_mean
from emviz.dataspec import MixtureSpec, data_spec
from emviz.rows import is_rows, open_npy, read_npy, shard_bounds
from emviz.mixture import MAX_ABS_VALUE, Mixture, spec_field

__all__ = [
    "Dataset", "load_data", "data_shape", "mixture_from_spec", "sample_mixture", "load_file", "load_bundled",
    "standardize", "split_counts", "BUNDLED", "FILE_SUFFIXES",
]

#: Bundled datasets: name -> (CSV file in ``emviz.datasets``, feature columns, label column or None).
BUNDLED = {
    "old_faithful": ("old_faithful.csv", ("eruptions", "waiting"), None),
    "iris": ("iris.csv", ("sepal_length", "sepal_width", "petal_length", "petal_width"), "species"),
}

#: File types :func:`load_data` reads.
FILE_SUFFIXES = (".csv", ".npy")



def _spec_error(key: str, message: str) -> InputError:
    """An error about the spec itself; ``key`` (e.g. ``"columns"``) lets the config point at its line."""
    exc = InputError(message)
    exc.key = key
    return exc


@dataclass(frozen=True, eq=False)
class Dataset:
    """Points to fit, with what is known about where they came from.

    Parameters
    ----------
    X : array of shape (N, D)
        float64, read-only.
    labels : int array of shape (N,), optional
        Known class of each point (the generating component, or a species code).
    truth : Mixture, optional
        The mixture the points were drawn from, in the same coordinates as ``X``.
    name : str
        Short description, e.g. ``"iris"`` or the file name.
    columns : tuple of str
        One name per feature.
    """

    X: np.ndarray
    labels: np.ndarray | None = None
    truth: Mixture | None = None
    name: str = "data"
    columns: tuple[str, ...] = ()
    #: Rows of the whole dataset when this one is a rank's shard of it (else None: ``n_samples``).
    n_total: int | None = None

    def __post_init__(self):
        if is_rows(self.X):  # a memory-mapped file, streamed: never read whole
            X = self.X
        else:
            X = np.array(self.X, dtype=np.float64)
        if X.ndim != 2:
            raise InputError(f"{self.name}: X must have shape (N, D), got {X.shape}")
        if not is_rows(X):
            X.setflags(write=False)
        object.__setattr__(self, "X", X)
        if self.labels is not None:
            labels = np.array(self.labels, dtype=np.int64)
            if labels.shape != (len(X),):
                raise InputError(f"{self.name}: labels have shape {labels.shape}, expected ({len(X)},)")
            labels.setflags(write=False)
            object.__setattr__(self, "labels", labels)
        columns = tuple(str(c) for c in self.columns) or tuple(f"x{j}" for j in range(X.shape[1]))
        if len(columns) != X.shape[1]:
            raise InputError(f"{self.name}: {len(columns)} column names for {X.shape[1]} columns")
        object.__setattr__(self, "columns", columns)
        if self.truth is not None and self.truth.n_features != X.shape[1]:
            raise InputError(f"{self.name}: truth has D={self.truth.n_features}, the data D={X.shape[1]}")

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_rows_total(self) -> int:
        """Rows of the whole dataset (all ranks' shards)."""
        return self.n_samples if self.n_total is None else self.n_total

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def __repr__(self):
        return f"Dataset({self.name!r}, N={self.n_samples}, D={self.n_features}, columns={list(self.columns)})"


# ---------------------------------------------------------------------------------------------- entry
def load_data(spec, base_dir=".", comm=None) -> Dataset:
    """Build the :class:`Dataset` a data spec describes.

    Parameters
    ----------
    spec : mapping or DataSpec
        Exactly one of ``mixture`` (``means`` (K, D); ``stds`` (K,) or (K, D), or ``covariances``
        (K, D, D); ``sizes`` (K,), or ``n_samples`` with optional ``weights``), ``file`` (a ``.csv`` or
        ``.npy`` path) or ``dataset`` (``"old_faithful"`` or ``"iris"``); optional ``columns`` (names or
        0-based indices, for files and datasets), ``standardize`` (z-scores) and ``seed`` (for sampling).
        The keys and their rules are those of :class:`emviz.dataspec.DataSpec`.
    base_dir : path-like
        Directory that a relative ``file`` is resolved against (the config file's directory).
    comm : emviz.em.comm.Comm, optional
        In a data-parallel fit, this rank's shard of the rows only: a generated mixture draws only its
        rows, a memory-mapped ``.npy`` maps only its rows; CSV files and bundled datasets (small) are read
        whole and cut. Standardising then uses every rank's rows.

    Returns
    -------
    Dataset
    """
    spec = data_spec(spec)
    shard = None if comm is None or comm.world == 1 else comm

    def this_rank() -> Dataset:
        if spec.source == "mixture":
            dataset = sample_mixture(spec.mixture, seed=spec.seed, comm=shard)
        elif spec.source == "file":
            dataset = _cut(load_file(Path(base_dir) / spec.file, spec.columns, mmap=spec.mmap), shard)
        else:
            dataset = _cut(load_bundled(spec.dataset, spec.columns), shard)
        _check_magnitude(dataset, spec.source if spec.source != "dataset" else None)
        return dataset

    # A bad value in one rank's shard fails every rank with its message (no rank waits for it).
    dataset = this_rank() if shard is None else shard.agree(this_rank)
    if spec.standardize:
        dataset = standardize(dataset, shard)
    return dataset


def _cut(dataset: Dataset, comm) -> Dataset:
    """This rank's contiguous share of the rows (all of them in one process)."""
    if comm is None:
        return dataset
    lo, hi = shard_bounds(dataset.n_samples, comm.world)[comm.rank : comm.rank + 2]
    X = dataset.X.shard(lo, hi) if is_rows(dataset.X) else dataset.X[lo:hi]
    labels = None if dataset.labels is None else dataset.labels[lo:hi]
    return Dataset(X=X, labels=labels, truth=dataset.truth, name=dataset.name, columns=dataset.columns,
                   n_total=dataset.n_samples)


def _check_magnitude(dataset: Dataset, key: str | None) -> None:
    """Refuse values so large that EM's sums of squares overflow (see :data:`MAX_ABS_VALUE`)."""
    if is_rows(dataset.X):
        dataset.X.check(MAX_ABS_VALUE)  # chunk-wise; non-finite values too (a mapped file is not read first)
        return
    big = np.abs(dataset.X) > MAX_ABS_VALUE
    if not big.any():
        return
    i, j = np.argwhere(big)[0]
    where = f"sampled point {i}" if key == "mixture" else f"{dataset.name}: data row {i + 1}, column {dataset.columns[j]!r}"
    message = (f"data.{key}: {where}: {dataset.X[i, j]:g} is too large; EM squares and sums the values, which "
               f"overflows beyond {MAX_ABS_VALUE:g}: rescale the data")
    raise _spec_error(key, message) if key else InputError(message)


def data_shape(spec, base_dir=".") -> tuple[int, int]:
    """(N, D) of the data a spec describes, without sampling a mixture (files and datasets are loaded)."""
    spec = data_spec(spec)
    if spec.source == "mixture":
        truth = mixture_from_spec(spec.mixture)
        n = sum(_sizes(spec.mixture.sizes, truth.n_components)) if spec.mixture.sizes is not None \
            else spec.mixture.n_samples
        return int(n), truth.n_features
    return load_data(spec.model_copy(update={"standardize": False}), base_dir).X.shape


# ---------------------------------------------------------------------------------------------- mixture
def _mixture_spec(spec) -> MixtureSpec:
    return spec if isinstance(spec, MixtureSpec) else data_spec({"mixture": spec}).mixture


def mixture_from_spec(spec) -> Mixture:
    """The generating mixture of a ``mixture:`` spec (a mapping or :class:`~emviz.dataspec.MixtureSpec`):
    weights from sizes, or the given weights (default equal)."""
    spec = _mixture_spec(spec)
    k = len(spec.means)
    if spec.sizes is not None:
        sizes = _sizes(spec.sizes, k)
        weights = sizes / sizes.sum()
    else:
        weights = spec.weights
    try:
        return Mixture.from_spec(spec.means, weights=weights, stds=spec.stds, covariances=spec.covariances)
    except InputError as exc:
        field, problem = spec_field(exc)
        key = f"mixture.{field}" if field else "mixture"
        raise _spec_error(key, f"data.{key}: {problem}") from None


def _sizes(sizes, k: int) -> np.ndarray:
    arr = np.asarray(sizes, dtype=np.int64)
    if len(arr) != k:
        raise _spec_error("mixture.sizes", f"data.mixture.sizes: expected {k} non-negative integers (one per mean), got {sizes!r}")
    if arr.sum() == 0:
        raise _spec_error("mixture.sizes", "data.mixture.sizes: at least one size must be positive")
    return arr


def split_counts(n_samples: int, weights) -> np.ndarray:
    """Split ``n_samples`` into per-component counts proportional to ``weights`` (largest remainder).

    Deterministic, and the counts always sum to ``n_samples``.
    """
    weights = np.asarray(weights, dtype=np.float64)
    exact = n_samples * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    short = n_samples - int(counts.sum())
    # Ties go to the lower index (stable sort), so the split never depends on float noise ordering.
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:short]] += 1
    return counts


def sample_mixture(spec, seed: int = 0, comm=None) -> Dataset:
    """Sample a ``mixture:`` spec with :meth:`Mixture.sample` (numpy's legacy stream, seeded).

    Points come in component order; ``labels`` is the generating component and ``truth`` the mixture.
    """
    spec = _mixture_spec(spec)
    truth = mixture_from_spec(spec)
    if spec.sizes is not None:
        sizes = _sizes(spec.sizes, truth.n_components)
    else:
        sizes = split_counts(spec.n_samples, truth.weights)
    rows = None
    if comm is not None:  # one rank's shard: only its rows are drawn and kept
            rows = tuple(shard_bounds(int(sum(sizes)), comm.world)[comm.rank : comm.rank + 2])
    X, labels = truth.sample(sizes, seed=seed, rows=rows)
    # 0-based, as a headerless file's columns and the panels' ``features`` option count: the axis
    # labelled x2 is feature 2 (1-based names had x2 on the axis for features: [0, 1]).
    columns = ("x",) if truth.n_features == 1 else tuple(f"x{j}" for j in range(truth.n_features))
    return Dataset(X=X, labels=labels, truth=truth, name="mixture", columns=columns,
                   n_total=None if rows is None else int(sum(sizes)))


# ---------------------------------------------------------------------------------------------- files
def load_file(path, columns=None, mmap="auto") -> Dataset:
    """Read a ``.csv`` (header row of names, or none) or ``.npy`` (numeric, 1-D or 2-D) file.

    Parameters
    ----------
    path : path-like
    columns : list of str or int, optional
        Columns to keep, by header name or 0-based index; all columns when omitted.
    mmap : "auto" or bool
        Memory-map a ``.npy`` file instead of reading it (auto: files over 64 MB,
        :data:`emviz.rows.MMAP_BYTES`): ``X`` is then an :class:`emviz.rows.NpyRows`, checked and
        streamed chunk by chunk, never read whole.
    """
    if "\0" in str(path):
        raise _spec_error("file", f"{str(path)!r}: a file name cannot contain a NUL character")
    path = Path(path)
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise _spec_error("file", f"{path}: unsupported file type {path.suffix or '(none)'!r}; use .csv or .npy")
    try:
        if not path.exists():
            raise _spec_error("file", f"{path}: file not found")
        if not path.is_file():
            raise _spec_error("file", f"{path}: is not a file")
        if path.suffix.lower() == ".npy":
            rows = open_npy(path, lambda n_fields: _column_indices(path, columns, n_fields=n_fields, header=None), mmap)
            if rows is not None:
                return Dataset(X=rows, name=path.name, columns=tuple(f"x{j}" for j in rows.columns))
            X, names = _read_npy(path, columns)
        else:
            X, names = _read_csv(path, columns)
    except OSError as exc:  # unreadable, a name too long, a FIFO that vanished, ...
        raise _spec_error("file", f"{path}: cannot be read ({exc.strerror or exc})") from None
    return Dataset(X=X, name=path.name, columns=names)


def _read_npy(path: Path, columns) -> tuple[np.ndarray, tuple[str, ...]]:
    arr = read_npy(path)
    names = tuple(f"x{j}" for j in range(arr.shape[1]))
    idx = _column_indices(path, columns, n_fields=arr.shape[1], header=None)
    X = arr[:, idx].astype(np.float64)
    bad = np.argwhere(~np.isfinite(X))
    if len(bad):
        i, j = bad[0]
        raise InputError(f"{path}: element [{i}, {idx[j]}] is {X[i, j]}; values must be finite")
    return X, tuple(names[j] for j in idx)


def _column_indices(path: Path, columns, n_fields: int, header) -> list[int]:
    """0-based indices of the selected columns (all when ``columns`` is None)."""
    if columns is None:
        return list(range(n_fields))
    if isinstance(columns, (str, int)) or not columns:
        raise _spec_error("columns", f"data.columns: must be a non-empty list of names or indices, got {columns!r}")
    out = []
    for c in columns:
        if isinstance(c, bool) or not isinstance(c, (str, int, np.integer)):
            raise _spec_error("columns", f"data.columns: {c!r} is neither a column name nor an index")
        if isinstance(c, str):
            if header is None:
                raise _spec_error("columns", f"data.columns: {path} has no header row, so select columns by index, not {c!r}")
            if header.count(c) != 1:
                why = "appears twice in" if c in header else "is not a column of"
                raise _spec_error(
                    "columns", f"data.columns: {c!r} {why} {path}{did_you_mean(c, header)}; columns are {', '.join(header)}"
                )
            c = header.index(c)
        elif not 0 <= c < n_fields:
            raise _spec_error("columns", f"data.columns: index {c} is out of range; {path} has {n_fields} columns (0..{n_fields - 1})")
        if int(c) in out:
            raise _spec_error("columns", f"data.columns: column {columns[len(out)]!r} is selected twice")
        out.append(int(c))
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_row(path: Path) -> tuple[int, list[str] | None]:
    """(line number, fields) of the first non-blank line, or (0, None) for an empty file."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for row in reader:
                if any(field.strip() for field in row):
                    return reader.line_num, [field.strip() for field in row]
    except UnicodeDecodeError:
        raise InputError(f"{path}: is not a UTF-8 text file") from None
    return 0, None


def _read_csv(path: Path, columns) -> tuple[np.ndarray, tuple[str, ...]]:
    line, first = _first_row(path)
    if first is None:
        raise InputError(f"{path}: file is empty")
    if len(first) == 1:
        # One field holding another separator: a spreadsheet's ';' or tab export, which would fail later
        # with "'1;2' is not a number".
        sep = next((name for char, name in ((";", "';'"), ("\t", "tabs")) if char in first[0]), None)
        if sep is not None:
            raise InputError(f"{path}: line {line} is separated by {sep}, not commas; emviz reads comma-separated "
                             "values (save the file as CSV with ',' between values)")
    numeric = [_is_number(f) for f in first]
    if any(numeric) and not all(numeric):
        j = numeric.index(False)
        raise InputError(
            f"{path}: line {line}, column {j + 1}: {first[j]!r} is not a number "
            "(a header row must be all names, a data row all numbers)"
        )
    header = None if all(numeric) else first
    skip = line if header is not None else line - 1
    idx = _column_indices(path, columns, len(first), header)
    names = tuple(header[j] for j in idx) if header is not None else tuple(f"x{j}" for j in idx)
    try:
        with warnings.catch_warnings():
            # A header-only file is reported below, in words that name the problem.
            warnings.filterwarnings("ignore", message="loadtxt: input contained no data")
            X = np.loadtxt(path, delimiter=",", skiprows=skip, usecols=idx, ndmin=2, dtype=np.float64,
                           comments=None, quotechar='"', encoding="utf-8-sig")
    except ValueError as exc:
        _diagnose_csv(path, skip, len(first), idx, header)
        raise InputError(f"{path}: cannot be read as numbers ({exc})") from None
    if X.shape[0] == 0:
        raise InputError(f"{path}: has a header row but no data rows")
    if not np.all(np.isfinite(X)):
        _diagnose_csv(path, skip, len(first), idx, header)
    return X, names


def _diagnose_csv(path: Path, skip: int, n_fields: int, idx: list[int], header) -> None:
    """Raise an error naming the first bad line and column (the slow path, used only after a failure)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        for row in reader:
            if reader.line_num <= skip or not any(f.strip() for f in row):
                continue
            line = reader.line_num
            if len(row) < n_fields:
                raise InputError(f"{path}: line {line}: has {len(row)} fields, expected {n_fields}")
            for j in idx:
                # The column's name too (a headerless file's is x<index>, as on the axes and in columns: [j]).
                where = f"{path}: line {line}, column {j + 1} ({header[j] if header else f'x{j}'!r})"
                text = row[j].strip()
                if not text:
                    raise InputError(f"{where}: empty cell; every value must be a number")
                if not _is_number(text):
                    raise InputError(f"{where}: {text!r} is not a number")
                if not np.isfinite(float(text)):
                    raise InputError(f"{where}: {text} is not allowed; values must be finite (remove or impute them)")


# ---------------------------------------------------------------------------------------------- bundled
def load_bundled(name: str, columns=None) -> Dataset:
    """A bundled dataset: ``"old_faithful"`` (272 x 2) or ``"iris"`` (150 x 4, labels = species codes).

    See ``emviz/datasets/PROVENANCE.md`` for sources and licences.
    """
    if name not in BUNDLED:
        raise _spec_error(
            "dataset", f"data.dataset: unknown dataset {name!r}{did_you_mean(name, BUNDLED)}; choose from {', '.join(BUNDLED)}"
        )
    filename, features, label_column = BUNDLED[name]
    resource = importlib.resources.files("emviz.datasets").joinpath(filename)
    with importlib.resources.as_file(resource) as path:
        header = tuple(_first_row(path)[1])
        idx = _column_indices(Path(name), columns, len(features), list(features))
        picked = [features[j] for j in idx]
        X, names = _read_csv(path, picked)
        labels = None
        if label_column is not None:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                species = [row[header.index(label_column)] for row in csv.reader(fh)][1:]
            codes = {s: i for i, s in enumerate(dict.fromkeys(species))}
            labels = np.array([codes[s] for s in species], dtype=np.int64)
    return Dataset(X=X, labels=labels, name=name, columns=names)


# ---------------------------------------------------------------------------------------------- transforms
def standardize(dataset: Dataset, comm=None) -> Dataset:
    """Z-scores per column (population std); the truth, when known, is mapped to the same coordinates.

    Streamed rows are standardised as they are read; with ``comm``, over every rank's rows."""
    if is_rows(dataset.X) or (comm is not None and comm.world > 1):
        mean, std = _mean_std(dataset.X, comm)
    else:
        mean = dataset.X.mean(axis=0)
        std = dataset.X.std(axis=0)
    flat = np.flatnonzero(std == 0)
    if len(flat):
        raise InputError(f"{dataset.name}: column {dataset.columns[flat[0]]!r} is constant; cannot standardize it")
    X = dataset.X.standardized(mean, std) if is_rows(dataset.X) else (dataset.X - mean) / std
    truth = None
    if dataset.truth is not None:
        t = dataset.truth
        truth = Mixture(t.weights, (t.means - mean) / std, t.covariances / np.outer(std, std))
    return Dataset(X=X, labels=dataset.labels, truth=truth, name=dataset.name, columns=dataset.columns,
                   n_total=dataset.n_total)


def _mean_std(X, comm) -> tuple[np.ndarray, np.ndarray]:
    """Column means and population stds, two passes of blocks, summed over the ranks."""
    import torch

    from emviz.em.comm import LOCAL

    comm = comm or LOCAL
    blocks = (lambda: (b for _, b in X.blocks())) if is_rows(X) else (lambda: (X,))
    d = X.shape[1]
    sums = torch.zeros(1 + d, dtype=torch.float64)
    for block in blocks():
        sums[0] += len(block)
        sums[1:] += torch.from_numpy(block.sum(0))
    comm.all_reduce(sums)
    mean = (sums[1:] / sums[0]).numpy()
    dev = torch.zeros(d, dtype=torch.float64)
    for block in blocks():
        dev += torch.from_numpy(((block - mean) ** 2).sum(0))
    comm.all_reduce(dev)
    return mean, np.sqrt(dev.numpy() / float(sums[0]))
