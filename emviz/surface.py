"""Log-likelihood landscapes: the total log-likelihood of the data over a grid of two mixture parameters.

A surface takes a base mixture, substitutes grid values for two scalar parameters (of one component
or of two different components) and evaluates the log-likelihood of every substituted mixture in
batches of bounded memory.

Two evaluation paths compute the same numbers (to rounding, about 1e-15 relative in float64):

- numpy (the default on the CPU): a Cholesky factor per Gaussian, the whitened distances, and a
  log-sum-exp over the components. A process that only draws (a frame worker, ``render-trace``)
  never imports torch, which alone is most of such a process's memory.
- torch, on a GPU fit's device: the fitter's own kernel (:func:`emviz.em.kernels.gaussian_log_density`),
  so that a landscape is evaluated where the fit ran. torch is imported only on this path.

:func:`trace_device` picks the device for a trace's landscapes: the fitter's GPU when this process
already has torch (it fitted the trace) and the GPU is present, else the CPU.

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

import math
import re
import sys
from dataclasses import dataclass

import numpy as np

from emviz.errors import InputError, did_you_mean
from emviz.mixture import Mixture

__all__ = ["Param", "parse_param", "param_names", "param_values", "loglik_surface", "loglik_points", "loglik_grid",
           "trace_device", "gaussian_log_density"]

#: Upper bound on the working memory of one batched evaluation (bytes).
DEFAULT_CHUNK_BYTES = 16 * 2**20

_LOG_2PI = math.log(2.0 * math.pi)
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
        hint = did_you_mean(name, valid) if isinstance(name, str) else ""
        raise InputError(f"unknown parameter {name!r}{hint} for D={n_features}, K={n_components}; "
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
    """Batches of mixture parameters with the grid values put in place (numpy, float64: both paths).

    ``base`` is (weights (K,), means (K, D), covariances (K, D, D)); ``columns`` holds one array of
    shape (B,) per axis. Returns weights (B, K), means (B, K, D), covariances (B, K, D, D) and a (B,)
    mask of the rows whose weights are not a valid mixture (fixed weights above 1).
    """
    w0, mu0, cov0 = base
    b = len(columns[0])
    weights = np.repeat(w0[None], b, axis=0)
    means = np.repeat(mu0[None], b, axis=0)
    covs = np.repeat(cov0[None], b, axis=0)
    fixed = {}
    for (k, param), values in zip(axes, columns):
        if param.kind == "mean":
            means[:, k, param.feature] = values
        elif param.kind == "std":
            # Scaling row and column J by the same factor is a congruence with a positive diagonal
            # matrix, so the covariance stays positive definite and the correlations stay put.
            j = param.feature
            factor = (values / np.sqrt(cov0[k, j, j]))[:, None]
            covs[:, k, j, :] *= factor
            covs[:, k, :, j] *= factor
        else:
            fixed[k] = values
    invalid = np.zeros(b, dtype=bool)
    if fixed:
        weights, invalid = _renormalised_weights(w0, fixed, b)
    return weights, means, covs, invalid


def _renormalised_weights(w0, fixed: dict, b: int):
    """Weights with ``fixed[k]`` (B,) set and the rest scaled in proportion to fill up to 1."""
    rest = [k for k in range(len(w0)) if k not in fixed]
    weights = np.repeat(w0[None], b, axis=0)
    for k, values in fixed.items():
        weights[:, k] = values
    left = 1.0 - sum(fixed.values())
    if rest:
        rest_w = w0[rest]
        share = rest_w / rest_w.sum() if rest_w.sum() > 0 else np.full_like(rest_w, 1.0 / len(rest))
        weights[:, rest] = np.maximum(left, 0.0)[:, None] * share[None, :]
        invalid = left < -1e-12
    else:
        invalid = np.abs(left) > 1e-12
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
    """The device for a trace's landscapes: the fitter's GPU (``trace.meta["device"]``) when this process
    has already imported torch and has that GPU; else ``"cpu"``.

    A process that fitted the trace on a GPU evaluates its landscapes there, with the fitter's kernels.
    A process that only draws (a frame worker, ``render-trace`` of a saved trace) has not imported
    torch, and evaluates on the CPU with numpy rather than import torch for it.
    """
    device = str(trace.meta.get("device", "cpu"))
    torch = sys.modules.get("torch")
    if torch is None or not device.startswith("cuda"):
        return "cpu"
    try:
        index = torch.device(device).index or 0
    except RuntimeError:
        return "cpu"
    return device if torch.cuda.is_available() and index < torch.cuda.device_count() else "cpu"


def loglik_surface(X, base_mixture: Mixture, axes, values_a, values_b, n_samples: int | None = None,
                   device="cpu", dtype=None, chunk_bytes: int = DEFAULT_CHUNK_BYTES, backend=None) -> np.ndarray:
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
    device : str
        Where to evaluate: ``"cpu"`` (numpy), or a torch device such as ``"cuda:0"`` (torch, with the
        fitter's kernels).
    dtype : numpy or torch dtype, or its name, optional
        Precision of the evaluation; default float64.
    chunk_bytes : int
        Bound on the working memory of one batched evaluation.
    backend : {"numpy", "torch"}, optional
        Force an evaluation path (``"torch"`` on the CPU compares the two); default numpy on the CPU
        and torch elsewhere.

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
                         device=device, dtype=dtype, chunk_bytes=chunk_bytes, backend=backend)
    return flat.reshape(grid_a.shape)


def loglik_points(X, base_mixture: Mixture, axes, values_a, values_b, n_samples: int | None = None,
                  device="cpu", dtype=None, chunk_bytes: int = DEFAULT_CHUNK_BYTES, backend=None) -> np.ndarray:
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
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != base_mixture.n_features or X.shape[0] == 0:
        raise InputError(f"X: expected shape (S, {base_mixture.n_features}) with S >= 1, got {tuple(X.shape)}")
    ops = _evaluation_path(device, dtype, backend)
    scale = (n_samples / X.shape[0]) if n_samples else 1.0
    base = tuple(np.asarray(a, dtype=np.float64)
                 for a in (base_mixture.weights, base_mixture.means, base_mixture.covariances))
    batch, rows = _chunk_sizes(X.shape[0], base_mixture.n_components, base_mixture.n_features,
                               ops.itemsize, chunk_bytes)
    # Only the components with a mean or std on an axis change their densities across the grid: the
    # others' log-densities are computed once, not once per grid point (K times less work on the
    # usual one-component landscapes).
    varying = sorted({k for k, param in parsed if param.kind != "weight"})
    weight_axis = any(param.kind == "weight" for _, param in parsed)
    X = ops.asarray(X)
    base_log_density = ops.log_density(X, ops.asarray(base[1]), ops.asarray(base[2]))  # (K, S)
    out = np.empty(va.size)
    for start in range(0, va.size, batch):
        weights, means, covs, invalid = _substitute(base, parsed, [va[start:start + batch], vb[start:start + batch]])
        weights, means, covs = (ops.asarray(a) for a in (weights, means, covs))
        total = sum(_batch_loglik(ops, X[r:r + rows], base_log_density[:, r:r + rows], weights, means, covs,
                                  varying, weight_axis) for r in range(0, X.shape[0], rows))
        out[start:start + batch] = np.where(invalid, np.nan, ops.to_numpy(total) * scale)
    return out


def _batch_loglik(ops, X, base_log_density, weights, means, covs, varying, weight_axis):
    """Total log-likelihood of rows X (R, D) under B substituted mixtures, array of shape (B,).

    ``base_log_density`` (K, R) holds every component's log-density under the base parameters; only
    the ``varying`` components are evaluated per mixture. ``ops`` is the evaluation path.
    """
    b, k = weights.shape
    log_w = ops.log(weights)
    fixed = [j for j in range(k) if j not in varying]
    if weight_axis:
        pieces = [log_w[:, j, None] + base_log_density[j] for j in fixed]
    elif fixed:
        # Weights of the fixed components are the same for every mixture: fold them into one term.
        pieces = [ops.expand(ops.logsumexp(log_w[0, fixed, None] + base_log_density[fixed]), b)]
    else:
        pieces = []
    for j in varying:
        pieces.append(log_w[:, j, None] + ops.log_density(X, means[:, j], covs[:, j]))
    return ops.logsumexp(ops.stack(pieces)).sum(-1)


def loglik_grid(X, mixture: Mixture, component: int, params, axis_values_a, axis_values_b,
                n_samples: int | None = None, device="cpu", dtype=None,
                chunk_bytes: int = DEFAULT_CHUNK_BYTES, backend=None) -> np.ndarray:
    """Total log-likelihood over two parameters of one component, the others held at ``mixture``.

    Parameters
    ----------
    X : array of shape (S, D)
    mixture : Mixture
    component : int
    params : pair of str
        E.g. ``("mean", "std")`` in 1D or ``("mean0", "mean1")``.
    axis_values_a, axis_values_b : array of shape (A,), array of shape (B,)
    n_samples, device, dtype, chunk_bytes, backend
        As for :func:`loglik_surface`.

    Returns
    -------
    array of shape (B, A)
    """
    if len(params) != 2:
        raise InputError(f"params: expected two parameter names, got {list(params)}")
    axes = [(component, params[0]), (component, params[1])]
    return loglik_surface(X, mixture, axes, axis_values_a, axis_values_b, n_samples=n_samples,
                          device=device, dtype=dtype, chunk_bytes=chunk_bytes, backend=backend)


# ---------------------------------------------------------------------- the two evaluation paths
def gaussian_log_density(X, means, covariances) -> np.ndarray:
    """``log N(x_r | mu_b, Sigma_b)`` for B Gaussians, with numpy, array of shape (B, R).

    The formula of the fitter's :func:`emviz.em.kernels.gaussian_log_density`: whiten the differences
    with the inverse Cholesky factor. Gaussians whose covariance is not positive definite are -inf.

    Parameters
    ----------
    X : array of shape (R, D)
    means : array of shape (B, D)
    covariances : array of shape (B, D, D)
    """
    d = X.shape[1]
    chol, failed = _cholesky(covariances)
    z = _lower_inverse(chol) @ (X.T[None, :, :] - means[:, :, None])  # (B, D, R)
    maha = np.einsum("bdr,bdr->br", z, z)
    const = -np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1) - 0.5 * d * _LOG_2PI
    out = const[:, None] - 0.5 * maha
    out[failed] = -np.inf
    return out


def _cholesky(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower Cholesky factors (B, D, D) and the (B,) mask of the matrices that have none (given I)."""
    try:
        return np.linalg.cholesky(cov), np.zeros(len(cov), dtype=bool)
    except np.linalg.LinAlgError:
        pass  # one of them is not positive definite: factor them one by one
    chol, failed = np.empty_like(cov), np.zeros(len(cov), dtype=bool)
    for i, c in enumerate(cov):
        try:
            chol[i] = np.linalg.cholesky(c)
        except np.linalg.LinAlgError:
            chol[i], failed[i] = np.eye(len(c)), True
    return chol, failed


def _lower_inverse(chol: np.ndarray) -> np.ndarray:
    """Inverses of lower-triangular matrices (B, D, D), by forward substitution row by row.

    Triangular substitution, as ``torch.linalg.solve_triangular`` in the fitter's kernel; a general
    inverse (LU with pivoting) would round differently.
    """
    d = chol.shape[-1]
    if d == 1:
        return 1.0 / chol
    inv = np.zeros_like(chol)
    for i in range(d):
        row = -np.einsum("bj,bjk->bk", chol[:, i, :i], inv[:, :i, :])
        row[:, i] += 1.0
        inv[:, i, :] = row / chol[:, i, i, None]
    return inv


def _logsumexp(a: np.ndarray) -> np.ndarray:
    """``log(sum(exp(a), axis=0))``, shifted by the maximum; -inf where every term is -inf.

    scipy.special.logsumexp computes the same, about three times slower on these arrays.
    """
    top = a.max(axis=0)
    top = np.where(np.isfinite(top), top, 0.0)
    shifted = np.exp(a - top)
    with np.errstate(divide="ignore"):
        return np.log(shifted.sum(axis=0)) + top


def _dtype_name(dtype) -> str:
    if dtype is None:
        return "float64"
    text = str(dtype)
    return text[len("torch."):] if text.startswith("torch.") else np.dtype(dtype).name


def _evaluation_path(device, dtype, backend):
    """The numpy path on the CPU, torch elsewhere (or the ``backend`` asked for)."""
    on_cpu = str(device).split(":")[0] == "cpu"
    if backend is None:
        backend = "numpy" if on_cpu else "torch"
    if backend == "numpy":
        if not on_cpu:
            raise InputError(f"backend 'numpy' evaluates on the CPU, not on device {device!r}")
        return _NumpyPath(np.dtype(_dtype_name(dtype)))
    if backend == "torch":
        return _TorchPath(device, _dtype_name(dtype))
    raise InputError(f"backend: must be 'numpy' or 'torch', got {backend!r}")


class _NumpyPath:
    """Array operations of the numpy evaluation path."""

    log_density = staticmethod(gaussian_log_density)
    logsumexp = staticmethod(_logsumexp)
    stack = staticmethod(np.stack)

    def __init__(self, dtype: np.dtype):
        self.dtype, self.itemsize = dtype, dtype.itemsize

    def asarray(self, a) -> np.ndarray:
        return np.asarray(a, dtype=self.dtype)

    @staticmethod
    def to_numpy(a) -> np.ndarray:
        return a

    @staticmethod
    def log(a) -> np.ndarray:
        with np.errstate(divide="ignore"):  # a weight of 0: log 0 = -inf, as torch gives
            return np.log(a)

    @staticmethod
    def expand(a, b: int) -> np.ndarray:
        return np.broadcast_to(a, (b, a.shape[-1]))


class _TorchPath:
    """Array operations of the torch evaluation path: the fitter's kernel on ``device``."""

    def __init__(self, device, dtype_name: str):
        import torch

        from emviz.em.kernels import gaussian_log_density as kernel

        self.torch, self.device, self.log_density = torch, device, kernel
        self.dtype = getattr(torch, dtype_name)
        self.itemsize = self.dtype.itemsize

    def asarray(self, a):
        # A copy: the inputs may be read-only numpy views, which torch.as_tensor would share.
        return self.torch.tensor(np.asarray(a), dtype=self.dtype, device=self.device)

    @staticmethod
    def to_numpy(a) -> np.ndarray:
        return a.cpu().numpy()

    def log(self, a):
        return self.torch.log(a)

    def logsumexp(self, a):
        return self.torch.logsumexp(a, dim=0)

    def stack(self, pieces):
        return self.torch.stack(pieces)

    @staticmethod
    def expand(a, b: int):
        return a.expand(b, -1)
