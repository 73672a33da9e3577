"""Log-likelihood landscapes: the total log-likelihood of the data over a grid of two mixture parameters.

A surface takes a base mixture, substitutes grid values for two scalar parameters (of one component
or of two different components) and evaluates the log-likelihood of every substituted mixture in
batches with torch, using the fitter's own batched log-likelihood
(:func:`emviz.em.kernels.gaussian_log_density`) so that a landscape and the recorded log-likelihoods
come from the same code.

Parameter names
---------------
``mean`` / ``std``
    1D data only: the component's mean and standard deviation.
``meanJ`` / ``stdJ``
    Feature J (0-based) of the mean, and the square root of the J-th variance. Changing ``stdJ``
    scales row and column J of the covariance, which keeps it positive definite and keeps the
    correlations.
``weight``
    The component's weight; the other weights are rescaled proportionally so that they sum to 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from emviz.em.kernels import gaussian_log_density
from emviz.errors import InputError
from emviz.mixture import Mixture

__all__ = ["Param", "parse_param", "param_names", "param_values", "loglik_surface", "loglik_points", "loglik_grid",
           "trace_device"]

#: Upper bound on the working memory of one batched evaluation (bytes).
DEFAULT_CHUNK_BYTES = 16 * 2**20

_PARAM_RE = re.compile(r"^(mean|std)(\d+)?$")


@dataclass(frozen=True)
class Param:
    """One scalar parameter of a component: ``kind`` is ``"mean"``, ``"std"`` or ``"weight"``."""

    kind: str
    feature: int = 0


def param_names(n_features: int, n_components: int = 2) -> list[str]:
    """The parameter names valid for data of dimension ``n_features`` (``weight`` needs K >= 2)."""
    names = ["mean", "std"] if n_features == 1 else []
    names += [f"{kind}{j}" for kind in ("mean", "std") for j in range(n_features)]
    return names + (["weight"] if n_components >= 2 else [])


def parse_param(name: str, n_features: int, n_components: int = 2) -> Param:
    """Turn a parameter name into a :class:`Param`; an invalid name raises :class:`InputError`."""
    valid = param_names(n_features, n_components)
    if name not in valid:
        raise InputError(f"unknown parameter {name!r} for D={n_features}, K={n_components}; "
                         f"valid names are {', '.join(valid)}")
    if name == "weight":
        return Param("weight")
    kind, feature = _PARAM_RE.match(name).groups()
    return Param(kind, int(feature or 0))


def param_values(weights, means, covariances, component: int, param: Param) -> np.ndarray:
    """The value of ``param`` of ``component`` for every leading index (e.g. every iteration).

    Parameters
    ----------
    weights : array of shape (..., K)
    means : array of shape (..., K, D)
    covariances : array of shape (..., K, D, D)

    Returns
    -------
    array of shape (...)
    """
    if param.kind == "weight":
        return np.asarray(weights)[..., component]
    if param.kind == "mean":
        return np.asarray(means)[..., component, param.feature]
    return np.sqrt(np.asarray(covariances)[..., component, param.feature, param.feature])


# ---------------------------------------------------------------------- the surfaces
def _check_axes(axes, mixture: Mixture) -> list[tuple[int, Param]]:
    k, d = mixture.n_components, mixture.n_features
    if len(axes) != 2:
        raise InputError(f"a surface has two parameter axes, got {len(axes)}")
    parsed = []
    for component, name in axes:
        if not (isinstance(component, (int, np.integer)) and 0 <= component < k):
            raise InputError(f"component {component!r} is not one of 0..{k - 1}")
        parsed.append((int(component), parse_param(name, d, k)))
    if parsed[0] == parsed[1]:
        raise InputError(f"the two axes are the same parameter ({axes[0]}); choose two different ones")
    return parsed


def _check_values(values, param: Param, label: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise InputError(f"{label}: grid values must be finite and non-empty")
    if param.kind == "std" and np.any(values <= 0):
        raise InputError(f"{label}: standard deviations must be positive, got min {values.min():g}")
    if param.kind == "weight" and np.any((values < 0) | (values > 1)):
        raise InputError(f"{label}: weights must lie in [0, 1]")
    return values


def _substitute(base, axes, columns):
    """Batches of mixture parameters with the grid values put in place.

    ``base`` is (weights (K,), means (K, D), covariances (K, D, D)) as tensors; ``columns`` holds one
    tensor of shape (B,) per axis. Returns weights (B, K), means (B, K, D), covariances (B, K, D, D)
    and a (B,) mask of the rows whose weights are not a valid mixture (fixed weights above 1).
    """
    w0, mu0, cov0 = base
    b = columns[0].shape[0]
    weights = w0.expand(b, -1).clone()
    means = mu0.expand(b, -1, -1).clone()
    covs = cov0.expand(b, -1, -1, -1).clone()
    fixed = {}
    for (k, param), values in zip(axes, columns):
        if param.kind == "mean":
            means[:, k, param.feature] = values
        elif param.kind == "std":
            # Scaling row and column J by the same factor is a congruence with a positive diagonal
            # matrix, so the covariance stays positive definite and the correlations stay put.
            j = param.feature
            factor = (values / torch.sqrt(cov0[k, j, j]))[:, None]
            covs[:, k, j, :] *= factor
            covs[:, k, :, j] *= factor
        else:
            fixed[k] = values
    invalid = torch.zeros(b, dtype=torch.bool, device=weights.device)
    if fixed:
        weights, invalid = _renormalised_weights(w0, fixed, b)
    return weights, means, covs, invalid


def _renormalised_weights(w0, fixed: dict, b: int):
    """Weights with ``fixed[k]`` (B,) set and the rest scaled in proportion to fill up to 1."""
    k_total = w0.shape[0]
    rest = [k for k in range(k_total) if k not in fixed]
    fixed_sum = sum(fixed.values())
    weights = w0.expand(b, -1).clone()
    for k, values in fixed.items():
        weights[:, k] = values
    left = 1.0 - fixed_sum
    if rest:
        rest_w = w0[rest]
        share = rest_w / rest_w.sum() if rest_w.sum() > 0 else torch.full_like(rest_w, 1.0 / len(rest))
        weights[:, rest] = left[:, None].clamp_min(0.0) * share[None, :]
        invalid = left < -1e-12
    else:
        invalid = left.abs() > 1e-12
    return weights, invalid


def _chunk_sizes(n_rows: int, k: int, d: int, itemsize: int, chunk_bytes: int) -> tuple[int, int]:
    """(mixtures per batch, data rows per block) keeping one evaluation under ``chunk_bytes``.

    One mixture over R rows holds about (2D + 3)·K·R numbers at once (differences, whitened
    differences, Mahalanobis terms, component log-densities).
    """
    per_row = (2 * d + 3) * k * itemsize
    rows = max(1, min(n_rows, chunk_bytes // per_row))
    batch = max(1, chunk_bytes // (per_row * rows))
    return batch, rows


def trace_device(trace) -> str:
    """The device a trace was fitted on (``trace.meta["device"]``), when this machine has it; else cpu.

    Landscapes are evaluated where the fit ran, with the same kernels; a trace fitted on a GPU and
    rendered on a machine without one is evaluated on the CPU.
    """
    device = str(trace.meta.get("device", "cpu"))
    if device.startswith("cuda"):
        try:
            index = torch.device(device).index or 0
        except RuntimeError:
            return "cpu"
        return device if torch.cuda.is_available() and index < torch.cuda.device_count() else "cpu"
    return "cpu"


def loglik_surface(X, base_mixture: Mixture, axes, values_a, values_b, n_samples: int | None = None,
                   device="cpu", dtype=torch.float64, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """Total log-likelihood of the data over a grid of two parameters of ``base_mixture``.

    Parameters
    ----------
    X : array of shape (S, D)
        The data, or a sample of S of the N points.
    base_mixture : Mixture
        The parameters held fixed everywhere except on the two axes.
    axes : list of two (component, name) pairs
        E.g. ``[(0, "mean"), (0, "std")]`` or ``[(0, "mean0"), (1, "mean0")]``; names as in the module
        docstring.
    values_a, values_b : array of shape (A,), array of shape (B,)
        Grid values of the first and the second axis.
    n_samples : int, optional
        N, when ``X`` is a sample: the sum over the S rows is scaled by N / S.
    device, dtype
        Where and in which precision to evaluate.
    chunk_bytes : int
        Bound on the working memory of one batched evaluation.

    Returns
    -------
    array of shape (B, A)
        Entry [i, j] is the log-likelihood with axis a at ``values_a[j]`` and axis b at ``values_b[i]``
        (the layout ``contourf(values_a, values_b, Z)`` expects). NaN where two weight axes sum above 1.
    """
    parsed = _check_axes(axes, base_mixture)
    va = _check_values(values_a, parsed[0][1], "values_a")
    vb = _check_values(values_b, parsed[1][1], "values_b")
    grid_a, grid_b = np.meshgrid(va, vb)  # (B, A) each, row-major: flat index = i * A + j
    flat = loglik_points(X, base_mixture, axes, grid_a.ravel(), grid_b.ravel(), n_samples=n_samples,
                         device=device, dtype=dtype, chunk_bytes=chunk_bytes)
    return flat.reshape(grid_a.shape)


def loglik_points(X, base_mixture: Mixture, axes, values_a, values_b, n_samples: int | None = None,
                  device="cpu", dtype=torch.float64, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """Total log-likelihood at P points (a_p, b_p) of two parameters, array of shape (P,).

    The pointwise form of :func:`loglik_surface` (which evaluates a grid through it): e.g. the height
    of a path on the surface, all its points in one batch. Arguments as for :func:`loglik_surface`,
    with ``values_a`` and ``values_b`` of the same length P.
    """
    parsed = _check_axes(axes, base_mixture)
    va = _check_values(values_a, parsed[0][1], "values_a")
    vb = _check_values(values_b, parsed[1][1], "values_b")
    if va.shape != vb.shape:
        raise InputError(f"values_a and values_b must have the same length, got {va.size} and {vb.size}")
    X = torch.tensor(np.asarray(X, dtype=np.float64), dtype=dtype, device=device)
    if X.ndim != 2 or X.shape[1] != base_mixture.n_features or X.shape[0] == 0:
        raise InputError(f"X: expected shape (S, {base_mixture.n_features}) with S >= 1, got {tuple(X.shape)}")
    scale = (n_samples / X.shape[0]) if n_samples else 1.0
    base = tuple(torch.tensor(a, dtype=dtype, device=device)
                 for a in (base_mixture.weights, base_mixture.means, base_mixture.covariances))
    flat = [torch.tensor(v, dtype=dtype, device=device) for v in (va, vb)]  # copies: inputs may be read-only
    batch, rows = _chunk_sizes(X.shape[0], base_mixture.n_components, base_mixture.n_features,
                               X.element_size(), chunk_bytes)
    # Only the components with a mean or std on an axis change their densities across the grid: the
    # others' log-densities are computed once, not once per grid point (K times less work on the
    # usual one-component landscapes).
    varying = sorted({k for k, param in parsed if param.kind != "weight"})
    weight_axis = any(param.kind == "weight" for _, param in parsed)
    base_log_density = gaussian_log_density(X, base[1], base[2])  # (K, S)
    out = torch.empty(va.size, dtype=dtype, device=device)
    for start in range(0, va.size, batch):
        cols = [f[start:start + batch] for f in flat]
        weights, means, covs, invalid = _substitute(base, parsed, cols)
        total = sum(_batch_loglik(X[r:r + rows], base_log_density[:, r:r + rows], weights, means, covs,
                                  varying, weight_axis) for r in range(0, X.shape[0], rows))
        out[start:start + batch] = torch.where(invalid, torch.nan, total * scale)
    return out.cpu().numpy()


def _batch_loglik(X, base_log_density, weights, means, covs, varying, weight_axis) -> torch.Tensor:
    """Total log-likelihood of rows X (R, D) under B substituted mixtures, array of shape (B,).

    ``base_log_density`` (K, R) holds every component's log-density under the base parameters; only
    the ``varying`` components are evaluated per mixture.
    """
    b, k = weights.shape
    log_w = torch.log(weights)
    fixed = [j for j in range(k) if j not in varying]
    if weight_axis:
        pieces = [log_w[:, j, None] + base_log_density[j] for j in fixed]
    elif fixed:
        # Weights of the fixed components are the same for every mixture: fold them into one term.
        pieces = [torch.logsumexp(log_w[0, fixed, None] + base_log_density[fixed], dim=0).expand(b, -1)]
    else:
        pieces = []
    for j in varying:
        pieces.append(log_w[:, j, None] + gaussian_log_density(X, means[:, j], covs[:, j]))
    return torch.logsumexp(torch.stack(pieces), dim=0).sum(-1)


def loglik_grid(X, mixture: Mixture, component: int, params, axis_values_a, axis_values_b,
                n_samples: int | None = None, device="cpu", dtype=torch.float64,
                chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """Total log-likelihood over two parameters of one component, the others held at ``mixture``.

    Parameters
    ----------
    X : array of shape (S, D)
    mixture : Mixture
    component : int
    params : pair of str
        E.g. ``("mean", "std")`` in 1D or ``("mean0", "mean1")``.
    axis_values_a, axis_values_b : array of shape (A,), array of shape (B,)
    n_samples, device, dtype, chunk_bytes
        As for :func:`loglik_surface`.

    Returns
    -------
    array of shape (B, A)
    """
    if len(params) != 2:
        raise InputError(f"params: expected two parameter names, got {list(params)}")
    axes = [(component, params[0]), (component, params[1])]
    return loglik_surface(X, mixture, axes, axis_values_a, axis_values_b, n_samples=n_samples,
                          device=device, dtype=dtype, chunk_bytes=chunk_bytes)
