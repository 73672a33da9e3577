"""The record of an EM run: one frozen dataclass of numpy arrays, saved as ``.npz`` without pickle.

The trace is the seam between fitting (torch) and rendering (numpy + matplotlib): a saved trace can be
re-rendered without refitting.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from emviz.errors import InputError
from emviz.mixture import Mixture

__all__ = ["Trace", "SCHEMA_VERSION"]

#: Bumped whenever a field is added, removed or changes meaning. Files from a newer schema are refused.
SCHEMA_VERSION = 1

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
        arrays["meta_json"] = np.array(json.dumps(self.meta, sort_keys=True, default=_json_default))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path) -> "Trace":
        """Read a trace written by :meth:`save`. Never unpickles; a bad file raises :class:`InputError`."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: trace file not found")
        try:
            with np.load(path, allow_pickle=False) as npz:
                data = {name: npz[name] for name in npz.files}
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: not a readable emviz trace ({type(exc).__name__}: {exc})") from None
        if "schema_version" not in data:
            raise InputError(f"{path}: not an emviz trace (no schema_version)")
        version = int(data["schema_version"])
        if version > SCHEMA_VERSION:
            raise InputError(
                f"{path}: trace schema version {version} is newer than this emviz supports ({SCHEMA_VERSION}); "
                "upgrade emviz"
            )
        missing = [name for name in _ARRAY_FIELDS if name not in data]
        if missing:
            raise InputError(f"{path}: not an emviz trace (missing {', '.join(missing)})")
        truth = None
        if "truth_means" in data:
            truth = Mixture(data["truth_weights"], data["truth_means"], data["truth_covariances"])
        try:
            meta = json.loads(str(data["meta_json"])) if "meta_json" in data else {}
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: trace metadata is not valid JSON ({exc})") from None
        try:
            return cls(**{name: data[name] for name in _ARRAY_FIELDS}, labels=data.get("labels"), truth=truth, meta=meta)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None

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


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
