"""The data spec (a config's ``data:`` section, or the mapping given to :func:`emviz.load_data`): its
keys and rules, in one place.

The same models validate a config file (errors with file and line, through :mod:`emviz.config`) and a
mapping passed from Python (errors naming the key, through :func:`data_spec`).
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BeforeValidator, Field, ValidationError, WithJsonSchema, model_validator

from emviz.errors import InputError
from emviz.validation import StrictModel, dotted, first_problem, nested_numbers, seed_field, show

__all__ = ["MixtureSpec", "DataSpec", "data_spec", "SOURCES"]

#: Where points can come from; a spec names exactly one.
SOURCES = ("mixture", "file", "dataset")


class MixtureSpec(StrictModel):
    """A known mixture to sample from: means and stds or covariances, and sizes or n_samples (+ weights)."""

    means: list[list[float]] = Field(min_length=1, description="(K, D) component means")
    stds: Annotated[list, nested_numbers((1, 2), "a list of K numbers or K lists of D numbers"),
                    WithJsonSchema({"description": "(K,) or (K, D) standard deviations"})] | None = None
    covariances: list[list[list[float]]] | None = Field(None, description="(K, D, D) covariance matrices")
    sizes: list[Annotated[int, Field(ge=0)]] | None = Field(None, description="(K,) points per component")
    n_samples: int | None = Field(None, ge=1, description="total points, split by weights")
    weights: list[float] | None = Field(None, description="(K,) weights, with n_samples (default equal)")

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.stds is None) == (self.covariances is None):
            raise ValueError("give exactly one of stds, covariances")
        if (self.sizes is None) == (self.n_samples is None):
            raise ValueError("give exactly one of sizes, n_samples")
        if self.weights is not None and self.sizes is not None:
            raise ValueError("weights go with n_samples; with sizes the weights are sizes / sum(sizes)")
        return self


def _check_columns(value):
    ok = isinstance(value, list) and value and all(
        isinstance(c, str) or (isinstance(c, int) and not isinstance(c, bool) and c >= 0) for c in value)
    if not ok:
        raise ValueError(f"must be a non-empty list of column names or indices >= 0 (got {show(value)})")
    return value


class DataSpec(StrictModel):
    """Where the points come from: exactly one of mixture, file, dataset."""

    mixture: MixtureSpec | None = None
    file: str | None = Field(None, min_length=1, description=".csv or .npy, relative to the config file")
    dataset: Literal["old_faithful", "iris"] | None = None
    columns: Annotated[list, BeforeValidator(_check_columns),
                       WithJsonSchema({"type": "array", "items": {"type": ["string", "integer"]},
                                       "description": "columns by name or 0-based index"})] | None = None
    standardize: bool = Field(False, description="z-score every column (and the truth)")
    mmap: Literal["auto"] | bool = Field("auto", description="memory-map a .npy file and stream it to the device "
                                                            "chunk by chunk (auto: files over 64 MB)")
    seed: int = seed_field()

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in SOURCES if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of mixture, file, dataset (got {', '.join(given) or 'none'})")
        if self.mixture is not None and self.columns is not None:
            raise ValueError("columns only applies to a file or a dataset, not a mixture")
        if self.mmap is True and not (self.file or "").lower().endswith(".npy"):
            raise ValueError("mmap: true applies to a .npy file only")
        return self

    @property
    def source(self) -> str:
        """``"mixture"``, ``"file"`` or ``"dataset"``."""
        return next(k for k in SOURCES if getattr(self, k) is not None)


def _plain(value):
    """Arrays and tuples as lists (the models are strict: a spec written in Python may hold either)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    return value


def data_spec(spec) -> DataSpec:
    """Validate a data spec given as a mapping (or pass a :class:`DataSpec` through).

    Raises
    ------
    InputError
        ``"data.KEY: problem"``; the error's ``key`` attribute holds ``"KEY"`` (dotted) so that a
        config can point at its line.
    """
    if isinstance(spec, DataSpec):
        return spec
    if not isinstance(spec, dict):
        raise InputError(f"data: must be a mapping, got {type(spec).__name__}")
    try:
        return DataSpec.model_validate(_plain(spec))
    except ValidationError as exc:
        path, message = first_problem(exc, DataSpec)
        error = InputError(f"{dotted(('data', *path))}: {message}")
        error.key = dotted(path) if path else None
        raise error from None
