"""Geometry of points and Gaussians in data space, shared by the point panels (``ellipses``, ``cloud3d``):
ellipse axes from covariances, mixture densities on grids, marginals on chosen features, axis labels,
point sizes, subsampling and view limits."""

from __future__ import annotations

import numpy as np

from emviz.errors import InputError
from emviz.mixture import Mixture
from emviz.render.panel import Panel
from emviz.render.panels._common import feature_label, padded_range

__all__ = ["ellipse_geometry", "grid_density", "marginal_mixture", "axis_label", "check_point_size", "check_dims",
           "check_features_exist", "auto_point_size", "subsample", "view_limits", "MAX_OVERHANG"]

#: An initial covariance can be far broader than the data. The axis limits follow ellipses at most this
#: fraction of the data's span beyond the data (and means), so the data do not shrink into a corner;
#: an early, huge ellipse is clipped instead.
MAX_OVERHANG = 0.5


def ellipse_geometry(covariances, levels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Width, height and angle of the ellipses ``(x - mu)^T Sigma^-1 (x - mu) = level^2``.

    Parameters
    ----------
    covariances : array of shape (..., 2, 2)
    levels : sequence of L floats
        In standard deviations.

    Returns
    -------
    width, height : arrays of shape (..., L)
        Full axis lengths, ``2 * level * sqrt(eigenvalue)``; width along the leading eigenvector.
    angle : array of shape (...)
        Degrees from the x axis to the leading eigenvector, in (-90, 90].
    """
    values, vectors = np.linalg.eigh(np.asarray(covariances, dtype=np.float64))
    levels = np.asarray(levels, dtype=np.float64)
    # eigh sorts eigenvalues ascending; clip rounding noise of a (near-)singular matrix.
    root = np.sqrt(np.clip(values, 0.0, None))
    width = 2.0 * root[..., 1, None] * levels
    height = 2.0 * root[..., 0, None] * levels
    lead = vectors[..., :, 1]
    # An eigenvector's sign is arbitrary: point it rightwards (or up) for a unique angle.
    flip = (lead[..., 0] < 0) | ((lead[..., 0] == 0) & (lead[..., 1] < 0))
    lead = np.where(flip[..., None], -lead, lead)
    angle = np.degrees(np.arctan2(lead[..., 1], lead[..., 0]))
    return width, height, np.where(angle <= -90.0, angle + 180.0, angle)


def grid_density(weights, means, covariances, points) -> np.ndarray:
    """Densities of a batch of 2D Gaussian mixtures at ``points``, with the closed-form 2 x 2 inverse.

    Parameters
    ----------
    weights : array of shape (B, K)
    means : array of shape (B, K, 2)
    covariances : array of shape (B, K, 2, 2)
    points : array of shape (P, 2)

    Returns
    -------
    array of shape (B, P)
    """
    a, b, c = covariances[..., 0, 0], covariances[..., 0, 1], covariances[..., 1, 1]
    det = a * c - b * b  # (B, K)
    dx = points[:, 0] - means[..., 0, None]  # (B, K, P)
    dy = points[:, 1] - means[..., 1, None]
    maha = (c[..., None] * dx * dx - 2.0 * b[..., None] * dx * dy + a[..., None] * dy * dy) / det[..., None]
    scale = weights / (2.0 * np.pi * np.sqrt(det))
    return np.einsum("bk,bkp->bp", scale, np.exp(-0.5 * maha))


def marginal_mixture(mixture: Mixture, features) -> Mixture:
    """The mixture of ``mixture``'s marginals on ``features`` (the marginal density of those features)."""
    idx = np.asarray(features)
    return Mixture(mixture.weights, mixture.means[:, idx], mixture.covariances[:, idx][:, :, idx])


def axis_label(trace, j: int) -> str:
    """Feature ``j``'s name from the trace's data columns (``meta["data"]["columns"]``), else ``xJ``;
    ``" (z-score)"`` added when the data were standardised (``meta["data"]["standardized"]``)."""
    data = trace.meta.get("data") if isinstance(trace.meta, dict) else None
    data = data if isinstance(data, dict) else {}
    columns = data.get("columns")
    if isinstance(columns, (list, tuple)) and len(columns) == trace.n_features:
        label = str(columns[j])
    else:
        label = feature_label(j, trace.n_features)
    return f"{label} (z-score)" if data.get("standardized") is True else label


def check_point_size(value, panel: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
        raise InputError(f"panel {panel!r}: option 'point_size' must be a positive number (points²) or "
                         f"null for automatic, got {value!r}")


def check_dims(panel: Panel, trace_or_dims) -> int:
    """The data dimension, or :class:`InputError` naming the panel when it is outside ``panel.dims``."""
    d = trace_or_dims if isinstance(trace_or_dims, int) else trace_or_dims.n_features
    if d not in panel.dims:
        raise InputError(f"panel {panel.name!r} draws data of dimension {min(panel.dims)} to "
                         f"{max(panel.dims)}; the data has D={d}")
    check_features_exist(panel.name, panel.features, d)
    return d


def check_features_exist(panel: str, features, d: int) -> None:
    """:class:`InputError` naming the chosen features that data of dimension ``d`` does not have."""
    missing = [j for j in features if j >= d]
    if missing:
        which = f"feature {missing[0]} does" if len(missing) == 1 else f"features {missing} do"
        raise InputError(f"panel {panel!r}: option 'features' {list(features)}: {which} not exist; "
                         f"the data has D={d} (features 0..{d - 1})")


def auto_point_size(n_points: int) -> float:
    """Marker area (points²) that keeps ``n_points`` readable: 30 for a few hundred, down to 3."""
    return float(np.clip(30.0 * np.sqrt(200.0 / max(n_points, 1)), 3.0, 30.0))


def subsample(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` of ``n`` rows, evenly spread (deterministic, no random state)."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def view_limits(points: np.ndarray, extents_lo: np.ndarray, extents_hi: np.ndarray, frac: float = 0.04):
    """Per-axis (low, high) covering ``points`` and, up to :data:`MAX_OVERHANG`, the ellipse extents.

    Parameters
    ----------
    points : array of shape (P, A)
        Data, means and true means: always inside.
    extents_lo, extents_hi : arrays of shape (Q, A)
        Lower and upper corners of the ellipses' bounding boxes.

    Returns
    -------
    list of A (low, high) pairs
    """
    out = []
    for a in range(points.shape[1]):
        lo, hi = float(points[:, a].min()), float(points[:, a].max())
        span = hi - lo if hi > lo else 1.0
        lo = max(min(lo, float(extents_lo[:, a].min())), lo - MAX_OVERHANG * span)
        hi = min(max(hi, float(extents_hi[:, a].max())), hi + MAX_OVERHANG * span)
        out.append(padded_range(lo, hi, frac))
    return out

