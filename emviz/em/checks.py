"""Checks and conversions of the fitter's inputs: device, dtype, data, an explicit start's covariances."""

from __future__ import annotations

import numpy as np
import torch

from emviz.errors import InputError

__all__ = ["check_data", "resolve_device", "resolve_dtype", "structured_covariances"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def resolve_device(device) -> torch.device:
    """``"auto"`` -> cuda when available, else cpu; a cuda device that does not exist is an InputError."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"device: {device!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device: {device!r} asked for, but this machine has no CUDA device; use cpu or auto")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device: {device!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type != "cpu":
        raise InputError(f"device: {device!r} is not supported; use auto, cpu, cuda or cuda:N")
    return dev


def resolve_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    try:
        return _DTYPES[str(dtype)]
    except KeyError:
        raise InputError(f"dtype: must be float64 or float32, got {dtype!r}") from None


def check_data(X, n_components: int | None = None) -> np.ndarray:
    """Return X as a float64 (N, D) array, or raise InputError saying what is wrong with it."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"X: must be numeric ({exc})") from None
    if X.ndim != 2:
        raise InputError(f"X: must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[1] < 1:
        raise InputError(f"X: has no features (shape {X.shape})")
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise InputError(f"X: contains {int(bad.sum())} NaN/Inf value(s), the first at row {row}, column {col}")
    if n_components is not None and X.shape[0] < n_components:
        raise InputError(f"X: has {X.shape[0]} points, fewer than n_components={n_components}")
    return X


def structured_covariances(covariances: np.ndarray, kind: str) -> np.ndarray:
    """Convert full (K, D, D) covariances to ``kind``'s shape, checking they have its structure."""
    k, d, _ = covariances.shape
    scale = float(np.max(np.abs(covariances)))
    atol = 1e-9 * scale
    off = covariances * (1 - np.eye(d))
    if kind in ("diag", "spherical") and np.any(np.abs(off) > atol):
        comp = int(np.argmax(np.abs(off).reshape(k, -1).max(1)))
        raise InputError(f"init covariances: covariance_type {kind!r} needs diagonal matrices; component {comp} is not diagonal")
    diag = np.diagonal(covariances, axis1=1, axis2=2)
    if kind == "full":
        return covariances.copy()
    if kind == "diag":
        return diag.copy()
    if kind == "spherical":
        if np.any(np.abs(diag - diag[:, :1]) > atol):
            raise InputError("init covariances: covariance_type 'spherical' needs c * I matrices (equal diagonal)")
        return diag[:, 0].copy()
    if np.any(np.abs(covariances - covariances[:1]) > atol):
        raise InputError("init covariances: covariance_type 'tied' needs the same matrix for every component")
    return covariances[0].copy()
