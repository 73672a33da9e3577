"""The record of an EM run: one frozen dataclass of numpy arrays, saved as ``.npz`` without pickle.

The trace is the seam between fitting (torch) and rendering (numpy + matplotlib): a saved trace can be
re-rendered without refitting.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from emviz.errors import InputError
from emviz.mixture import MAX_ABS_VALUE, Mixture

__all__ = ["Trace", "SCHEMA_VERSION"]

#: Bumped whenever a field is added, removed or changes meaning. Files from a newer schema are refused.
SCHEMA_VERSION = 1
#: ``meta`` keys that describe one run of a fit rather than its result (its wall-clock time): kept on
#: the Trace in memory, never written, so that the same config, data and seed save the same bytes.
RUN_ONLY_META = ("seconds",)

_ARRAY_FIELDS = ("weights", "means", "covariances", "log_likelihood", "resp_index", "resp", "X")


@dataclass(frozen=True, eq=False)
class Trace:
    """Parameters, log-likelihoods and responsibilities for iterations t = 0..T.

    t = 0 is the initialisation and t = T the last parameters. The log-likelihood at t is that of the
    parameters at t, summed over all N fitted points (nats).

    Parameters
    ----------
    weights : array of shape (T+1, K)
    means : array of shape (T+1, K, D)
    covariances : array of shape (T+1, K, D, D)
        Full matrices whatever the fitter's covariance type.
    log_likelihood : array of shape (T+1,)
    resp_index : int array of shape (M,)
        Rows of ``X`` whose responsibilities were recorded.
    resp : float32 array of shape (T+1, M, K)
        Responsibilities of those points under the parameters at t. Kept in float32: they are drawn,
        never computed with, and they are most of a trace's bytes.
    X : array of shape (S, D)
        The data shown (all N points, or a seeded sample of them).
    labels : int array of shape (S,), optional
        Known class of each shown point (e.g. the component that generated it).
    truth : Mixture, optional
        The mixture the data were drawn from, when known.
    meta : dict
        JSON-serialisable: config, versions, device, dtype, timings, converged, n_iter, n_samples, events.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    log_likelihood: np.ndarray
    resp_index: np.ndarray
    resp: np.ndarray
    X: np.ndarray
    labels: np.ndarray | None = None
    truth: Mixture | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in _ARRAY_FIELDS:
            arr = np.asarray(getattr(self, name))
            dtype = {"resp_index": np.int64, "resp": np.float32}.get(name, np.float64)
            arr = arr.astype(dtype, copy=False)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.labels is not None:
            labels = np.asarray(self.labels).astype(np.int64)
            labels.setflags(write=False)
            object.__setattr__(self, "labels", labels)
        self._check_shapes()

    def _check_shapes(self) -> None:
        if self.means.ndim != 3:
            raise InputError(f"trace: means must have shape (T+1, K, D), got {self.means.shape}")
        t1, k, d = self.means.shape
        expected = {
            "weights": (t1, k),
            "covariances": (t1, k, d, d),
            "log_likelihood": (t1,),
            "resp": (t1, len(self.resp_index), k),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise InputError(f"trace: {name} has shape {getattr(self, name).shape}, expected {shape}")
        if t1 < 1 or k < 1 or d < 1:
            raise InputError(f"trace: empty trace (means shape {self.means.shape})")
        if self.X.ndim != 2 or self.X.shape[1] != d:
            raise InputError(f"trace: X has shape {self.X.shape}, expected (S, {d})")
        if self.resp_index.ndim != 1 or (
            len(self.resp_index) and (self.resp_index.min() < 0 or self.resp_index.max() >= len(self.X))
        ):
            raise InputError("trace: resp_index must index rows of X")
        if self.labels is not None and self.labels.shape != (len(self.X),):
            raise InputError(f"trace: labels has shape {self.labels.shape}, expected ({len(self.X)},)")
        if self.truth is not None and self.truth.n_features != d:
            raise InputError(f"trace: truth has D={self.truth.n_features}, the trace has D={d}")

    # ------------------------------------------------------------------ derived views
    @property
    def n_iter(self) -> int:
        """T, the number of EM iterations recorded after the initialisation."""
        return self.means.shape[0] - 1

    @property
    def n_components(self) -> int:
        return self.means.shape[1]

    @property
    def n_features(self) -> int:
        return self.means.shape[2]

    @property
    def n_samples(self) -> int:
        """N, the number of points the log-likelihood is summed over."""
        return int(self.meta.get("n_samples", len(self.X)))

    @property
    def stds(self) -> np.ndarray:
        """Per-feature standard deviations, array of shape (T+1, K, D)."""
        return np.sqrt(np.diagonal(self.covariances, axis1=2, axis2=3))

    @property
    def resp_X(self) -> np.ndarray:
        """Coordinates of the points whose responsibilities were recorded, array of shape (M, D)."""
        return self.X[self.resp_index]

    def mixture(self, t: int) -> Mixture:
        """The parameters at iteration ``t`` (negative counts from the end) as a :class:`Mixture`."""
        if not -self.n_iter - 1 <= t <= self.n_iter:
            raise InputError(f"iteration {t} is beyond the trace, which has iterations 0..{self.n_iter}")
        return Mixture(self.weights[t], self.means[t], self.covariances[t])

    def truncated(self, n_iter: int) -> "Trace":
        """A copy holding iterations 0..n_iter only."""
        n = n_iter + 1
        return Trace(
            weights=self.weights[:n], means=self.means[:n], covariances=self.covariances[:n],
            log_likelihood=self.log_likelihood[:n], resp_index=self.resp_index, resp=self.resp[:n],
            X=self.X, labels=self.labels, truth=self.truth, meta={**self.meta, "n_iter": n_iter},
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> Path:
        """Write the trace to ``path`` (``.npz``), atomically: a temporary file renamed into place."""
        path = Path(path)
        arrays = {name: getattr(self, name) for name in _ARRAY_FIELDS}
        if self.labels is not None:
            arrays["labels"] = self.labels
        if self.truth is not None:
            arrays["truth_weights"] = self.truth.weights
            arrays["truth_means"] = self.truth.means
            arrays["truth_covariances"] = self.truth.covariances
        arrays["schema_version"] = np.array(SCHEMA_VERSION, dtype=np.int64)
        # The file is a pure function of config, data and seed: how long this fit took stays in memory.
        saved_meta = {k: v for k, v in self.meta.items() if k not in RUN_ONLY_META}
        arrays["meta_json"] = np.array(json.dumps(saved_meta, sort_keys=True, default=_json_default))
        from emviz.writers import atomic_output  # the one atomic-write helper (stdlib, numpy, Pillow)

        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path) -> "Trace":
        """Read a trace written by :meth:`save`. Never unpickles; a bad file raises :class:`InputError`.

        Everything in the file is checked before a renderer sees it: the schema version, every array's
        dtype and shape, and its values (finite; weights that sum to 1; symmetric positive definite
        covariances; responsibilities in [0, 1]), so that a damaged or hand-made file is refused with
        one line instead of drawing NaN.
        """
        path = Path(path)
        data = _read_npz(path)
        version = data.get("schema_version")
        if version is None:
            raise InputError(f"{path}: not an emviz trace (no schema_version)")
        if version.shape != () or version.dtype.kind not in "iu" or int(version) < 1:
            raise InputError(f"{path}: not an emviz trace (schema_version is {_show(version)}, not a version number)")
        version = int(version)
        if version > SCHEMA_VERSION:
            raise InputError(
                f"{path}: trace schema version {version} is newer than this emviz supports ({SCHEMA_VERSION}); "
                "upgrade emviz"
            )
        missing = [name for name in _ARRAY_FIELDS if name not in data]
        if missing:
            raise InputError(f"{path}: not an emviz trace (missing {', '.join(missing)})")
        try:
            _check_dtypes(data)
            truth = _truth(data)
            meta = _meta(data)
            trace = cls(**{name: data[name] for name in _ARRAY_FIELDS}, labels=data.get("labels"), truth=truth,
                        meta=meta)
            trace._check_values()
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        return trace

    def _check_values(self) -> None:
        """Raise :class:`InputError` for values no fit produces (NaN, weights off 1, covariances that are
        not positive definite, ...): drawing them would show NaN or fail part-way through a render."""

        for name in _ARRAY_FIELDS:
            values = getattr(self, name)
            if name == "resp_index":
                continue
            bad = np.argwhere(~np.isfinite(values))
            if len(bad):
                at = tuple(int(i) for i in bad[0])
                raise InputError(f"trace: {name}{list(at)} is {values[at]}; values must be finite")
            if values.size and float(np.max(np.abs(values))) > MAX_ABS_VALUE:
                raise InputError(f"trace: {name} holds values beyond {MAX_ABS_VALUE:g}, too large to draw")
        if np.any(self.weights < 0) or np.any(np.abs(self.weights.sum(axis=1) - 1) > _TRACE_WEIGHT_TOLERANCE):
            t = int(np.argmax((self.weights < 0).any(axis=1) | (np.abs(self.weights.sum(axis=1) - 1) > _TRACE_WEIGHT_TOLERANCE)))
            raise InputError(f"trace: weights[{t}] are {self.weights[t].tolist()}; weights must be >= 0 and sum to 1")
        if np.any(self.resp < -RESP_TOLERANCE) or np.any(self.resp > 1 + RESP_TOLERANCE):
            raise InputError("trace: resp holds values outside [0, 1]; responsibilities are probabilities")
        covs = self.covariances
        scale = np.maximum(np.abs(covs).max(axis=(2, 3), keepdims=True), np.finfo(np.float64).tiny)
        asym = np.abs(covs - np.swapaxes(covs, 2, 3)) > SYMMETRY_TOLERANCE * scale
        if asym.any():
            t, k = np.argwhere(asym.any(axis=(2, 3)))[0]
            raise InputError(f"trace: covariances[{int(t)}][{int(k)}] is not symmetric")
        lowest = np.linalg.eigvalsh(covs)[..., 0]
        if np.any(lowest <= 0):
            t, k = np.argwhere(lowest <= 0)[0]
            raise InputError(f"trace: covariances[{int(t)}][{int(k)}] is not positive definite "
                             f"(smallest eigenvalue {lowest[t, k]:.3g})")

    def __eq__(self, other):
        if not isinstance(other, Trace):
            return NotImplemented
        same_arrays = all(np.array_equal(getattr(self, f.name), getattr(other, f.name))
                          for f in fields(self) if f.name in _ARRAY_FIELDS)
        return same_arrays and self.truth == other.truth and np.array_equal(
            self.labels if self.labels is not None else [], other.labels if other.labels is not None else []
        )

    def __repr__(self):
        return (f"Trace(T={self.n_iter}, K={self.n_components}, D={self.n_features}, "
                f"shown={len(self.X)}, resp_points={len(self.resp_index)})")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read without pickle; InputError for anything else."""
    if not path.exists():
        raise InputError(f"{path}: trace file not found")
    if not path.is_file():
        raise InputError(f"{path}: is not a file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head[:2] != b"PK":
            # np.load would try (and refuse) to unpickle anything that is neither .npy nor .npz.
            raise InputError(f"{path}: not a readable emviz trace (not an .npz archive)")
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except InputError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise InputError(f"{path}: not a readable emviz trace (it holds Python objects, which emviz "
                             "never unpickles)") from None
        raise InputError(f"{path}: not a readable emviz trace ({exc})") from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError) as exc:
        raise InputError(f"{path}: not a readable emviz trace ({type(exc).__name__}: {exc})") from None
    except MemoryError:
        raise InputError(f"{path}: not a readable emviz trace (its arrays are too large to load)") from None


#: dtype kinds each stored array may have: floats (or integers) for values, integers for indices.
_KINDS = {**{name: "fiu" for name in _ARRAY_FIELDS}, "resp_index": "iu", "labels": "iu",
          "truth_weights": "fiu", "truth_means": "fiu", "truth_covariances": "fiu"}
#: A row of weights may miss 1 by this much (float32 fits) before the file counts as damaged.
_TRACE_WEIGHT_TOLERANCE = 1e-3
#: Responsibilities stored in float32 may leave [0, 1] by rounding, by about this much.
RESP_TOLERANCE = 1e-5
#: |C - C.T| allowed, relative to the largest entry of C (covariances are symmetric up to rounding).
SYMMETRY_TOLERANCE = 1e-6


def _check_dtypes(data: dict) -> None:
    for name, kinds in _KINDS.items():
        if name in data and data[name].dtype.kind not in kinds:
            what = "integers" if kinds == "iu" else "numbers"
            raise InputError(f"{name} must hold {what}, got dtype {data[name].dtype}")


def _truth(data: dict) -> Mixture | None:
    names = ("truth_weights", "truth_means", "truth_covariances")
    given = [name for name in names if name in data]
    if not given:
        return None
    if len(given) != len(names):
        raise InputError(f"truth is incomplete (has {', '.join(given)}, needs {', '.join(names)})")
    try:
        return Mixture(data["truth_weights"], data["truth_means"], data["truth_covariances"])
    except InputError as exc:
        raise InputError(f"truth: {exc}") from None


def _meta(data: dict) -> dict:
    if "meta_json" not in data:
        return {}
    raw = data["meta_json"]
    if raw.shape != () or raw.dtype.kind != "U":
        raise InputError(f"meta_json must be one JSON string, got dtype {raw.dtype} and shape {raw.shape}")
    try:
        meta = json.loads(str(raw))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"trace metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise InputError(f"trace metadata must be a JSON object, got {type(meta).__name__}")
    return meta


def _show(arr: np.ndarray) -> str:
    text = repr(arr.tolist()) if arr.size <= 4 else f"an array of shape {arr.shape}"
    return text if len(text) <= 40 else text[:37] + "..."


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
