"""Pure tensor functions of Gaussian-mixture EM, one set per covariance type.

The estimates follow scikit-learn's ``sklearn/mixture/_gaussian_mixture.py`` so that both libraries
produce the same iterates from the same start. Covariances are stored in the shape of their type, next to
their Cholesky factor ``L`` (``L L^T = Sigma``):

=========== ================ ===================================
type        covariances      factor
=========== ================ ===================================
full        (K, D, D)        lower-triangular L_k, (K, D, D)
tied        (D, D)           one L shared by all components
diag        (K, D)           standard deviations, (K, D)
spherical   (K,)             standard deviations, (K,)
=========== ================ ===================================

Work arrays are component-major, (K, N): the log-sum-exp over components then reduces over the outer
axis, which torch vectorises across points (reducing over a short inner axis is several times slower).

Two ways to evaluate a step are provided:

* **direct**: per-component differences ``x - mu``, two-pass. Numerically the safest; used for float32
  and for high dimensions.
* **moments**: the weighted log-density is linear in the features ``phi(x) = [1, x, m(x)]`` where ``m(x)``
  are the second moments the covariance type needs (``x_i x_j`` for i <= j; ``x_d^2``; ``|x|^2``). The
  E-step is then one matrix product ``W^T @ phi(X)`` and the M-step's sufficient statistics another,
  ``resp @ phi(X)^T``: two passes over a (P, N) array instead of K passes over (N, D) temporaries
  (:class:`emviz.em.plan.MomentsPlan` does the parameter work around them in few ops). It
  expands ``(x - mu)^T P (x - mu)``, which loses about ``eps * (|x - c| / sigma)^2`` to cancellation
  (c: the data's centre, which the fitter subtracts); in float64 that is far below the tolerances that
  matter, in float32 it is not, hence the direct path there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import torch

__all__ = [
    "CovarianceKernels",
    "COVARIANCE_TYPES",
    "moment_features",
    "weighted_log_prob_direct",
    "weighted_log_prob_moments",
    "estimate_from_resp",
    "estimate_from_moments",
    "gaussian_log_density",
    "LOG_2PI",
]

LOG_2PI = math.log(2.0 * math.pi)


@lru_cache(maxsize=64)
def _triu(d: int, dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flat indices of the upper triangle (i <= j) of a D x D matrix, the gather index that rebuilds the
    symmetric matrix from them, and the coefficient of each in -1/2 x^T P x (off-diagonals appear twice).

    Cached: building these every step would cost more device ops than the step's arithmetic on small data.
    """
    i, j = torch.triu_indices(d, d)
    flat = (i * d + j).to(device)
    pos = torch.empty(d, d, dtype=torch.long)
    pos[i, j] = torch.arange(len(i))
    pos[j, i] = torch.arange(len(i))
    scale = torch.where(i == j, -0.5, -1.0).to(device=device, dtype=dtype)
    return flat, pos.reshape(-1).to(device), scale


@lru_cache(maxsize=64)
def _cached_eye(d: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.eye(d, dtype=dtype, device=device)


# --------------------------------------------------------------------------------- factors
def _factor_full(cov):
    # cholesky_ex reports failure in ``info`` instead of raising: no host sync here.
    chol, info = torch.linalg.cholesky_ex(cov)
    return chol, (info > 0).reshape(-1)


def _factor_diag(cov):
    failed = (cov <= 0).reshape(cov.shape[0], -1).any(-1)
    return torch.sqrt(cov.clamp_min(torch.finfo(cov.dtype).tiny)), failed


def _log_det_precision_full(chol, d):
    return -torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)


def _log_det_precision_diag(std, d):
    return -torch.log(std).sum(-1)


def _log_det_precision_spherical(std, d):
    return -d * torch.log(std)


# ---------------------------------------------------------------------- direct Mahalanobis (K, N)
def _maha_full(X, means, chol):
    chol = chol if chol.ndim == 3 else chol.expand(len(means), -1, -1)
    # Whiten with the inverse factor, as scikit-learn does: inverting K small triangles and one batched
    # matmul is much faster than a batched triangular solve against (K, D, N) right-hand sides.
    inv = torch.linalg.solve_triangular(chol, _eye(chol.shape[-1], chol).expand_as(chol), upper=False)
    z = inv @ (X.T[None, :, :] - means[:, :, None])  # (K, D, N)
    return (z * z).sum(1)


def _maha_diag(X, means, std):
    z = (X[None, :, :] - means[:, None, :]) / std[:, None, :]
    return (z * z).sum(-1)


def _maha_spherical(X, means, std):
    diff = X[None, :, :] - means[:, None, :]
    return (diff * diff).sum(-1) / (std * std)[:, None]


# -------------------------------------------------------------------------- direct M-step (two-pass)
def _scatter(resp, X, nk, means):
    """Responsibility-weighted scatter about each mean, (K, D, D), divided by nk."""
    diff = X[None, :, :] - means[:, None, :]  # (K, N, D)
    scatter = torch.matmul((resp[:, :, None] * diff).transpose(1, 2), diff) / nk[:, None, None]
    # (r * diff)^T diff rounds its two triangles differently (~1e-8 relative in float32): symmetrise,
    # so every covariance that leaves the fitter is exactly symmetric.
    return 0.5 * (scatter + scatter.transpose(1, 2))


def _eye(d, like):
    return _cached_eye(d, like.dtype, like.device)


def _covariances_full(resp, X, nk, means, reg):
    return _scatter(resp, X, nk, means) + reg * _eye(X.shape[1], X)


def _covariances_tied(resp, X, nk, means, reg):
    # scikit-learn's tied estimate: the nk-weighted average of the per-component scatters.
    cov = (_scatter(resp, X, nk, means) * nk[:, None, None]).sum(0) / nk.sum()
    return cov + reg * _eye(X.shape[1], X)


def _covariances_diag(resp, X, nk, means, reg):
    diff = X[None, :, :] - means[:, None, :]
    return (resp[:, :, None] * diff * diff).sum(1) / nk[:, None] + reg


def _covariances_spherical(resp, X, nk, means, reg):
    return _covariances_diag(resp, X, nk, means, reg).mean(1)


# -------------------------------------------------------------------------------- moments path
def _moments_full(XT):
    d = XT.shape[0]
    i, j = torch.triu_indices(d, d, device=XT.device)
    return XT[i] * XT[j]


def _moments_diag(XT):
    return XT * XT


def _moments_spherical(XT):
    return (XT * XT).sum(0, keepdim=True)


def _precision_terms_full(chol, means):
    """(P mu (K, D), coefficients of the moment features in -1/2 x^T P x (K, Q))."""
    k, d = means.shape
    # P = L^-T L^-1. Not torch.cholesky_inverse: it checks its input and so syncs with the host.
    chol_inv = torch.linalg.solve_triangular(chol, _eye(d, chol).expand_as(chol), upper=False)
    precision = chol_inv.mT @ chol_inv
    if precision.ndim == 2:  # tied
        precision = precision.expand(k, d, d)
    flat, _, scale = _triu(d, means.dtype, means.device)
    p_mu = torch.matmul(precision, means[:, :, None])[:, :, 0]
    return p_mu, precision.reshape(k, d * d)[:, flat] * scale


def _precision_terms_diag(std, means):
    precision = 1.0 / (std * std)
    return means * precision, -0.5 * precision


def _precision_terms_spherical(std, means):
    precision = 1.0 / (std * std)
    return means * precision[:, None], -0.5 * precision[:, None]


def _cov_from_moments_full(e2, means, reg):
    k, d = means.shape
    _, pos, _ = _triu(d, means.dtype, means.device)
    cov = e2[:, pos].reshape(k, d, d) - means[:, :, None] * means[:, None, :]
    cov.diagonal(dim1=-2, dim2=-1).add_(reg)
    return cov


def _cov_from_moments_tied(e2, means, reg, nk):
    cov_k = _cov_from_moments_full(e2, means, 0.0)
    return (cov_k * nk[:, None, None]).sum(0) / nk.sum() + reg * _eye(means.shape[1], means)


def _cov_from_moments_diag(e2, means, reg):
    return e2 - means * means + reg


def _cov_from_moments_spherical(e2, means, reg):
    return (e2[:, 0] - (means * means).sum(1)) / means.shape[1] + reg


# ----------------------------------------------------------------------------- to full (K, D, D)
def _to_full_tied(cov, k, d):
    return cov.expand(k, d, d)


def _to_full_spherical(cov, k, d):
    return cov[:, None, None] * _eye(d, cov)


@dataclass(frozen=True)
class CovarianceKernels:
    """The pure functions of one covariance type. Looked up in :data:`COVARIANCE_TYPES`."""

    name: str
    factor: Callable  # cov -> (factor, failed (K,) bool)
    log_det_precision: Callable  # (factor, D) -> (K,) or scalar
    mahalanobis: Callable  # (X, means, factor) -> (K, N)
    covariances: Callable  # (resp (K, N), X, nk, means, reg) -> cov
    moments: Callable  # X^T (D, N) -> (Q, N)
    precision_terms: Callable  # (factor, means) -> (P mu (K, D), quad coefficients (K, Q))
    cov_from_moments: Callable  # (E[m(x)] (K, Q), means, reg[, nk]) -> cov
    to_full: Callable  # (cov, K, D) -> (K, D, D)
    n_moments: Callable  # D -> Q
    n_cov_params: Callable  # (K, D) -> int


COVARIANCE_TYPES: dict[str, CovarianceKernels] = {
    "full": CovarianceKernels(
        "full", _factor_full, _log_det_precision_full, _maha_full, _covariances_full, _moments_full,
        _precision_terms_full, _cov_from_moments_full, lambda c, k, d: c,
        lambda d: d * (d + 1) // 2, lambda k, d: k * d * (d + 1) // 2,
    ),
    "tied": CovarianceKernels(
        "tied", _factor_full, _log_det_precision_full, _maha_full, _covariances_tied, _moments_full,
        _precision_terms_full, _cov_from_moments_tied, _to_full_tied,
        lambda d: d * (d + 1) // 2, lambda k, d: d * (d + 1) // 2,
    ),
    "diag": CovarianceKernels(
        "diag", _factor_diag, _log_det_precision_diag, _maha_diag, _covariances_diag, _moments_diag,
        _precision_terms_diag, _cov_from_moments_diag, lambda c, k, d: torch.diag_embed(c),
        lambda d: d, lambda k, d: k * d,
    ),
    "spherical": CovarianceKernels(
        "spherical", _factor_diag, _log_det_precision_spherical, _maha_spherical, _covariances_spherical,
        _moments_spherical, _precision_terms_spherical, _cov_from_moments_spherical, _to_full_spherical,
        lambda d: 1, lambda k, d: k,
    ),
}


# ------------------------------------------------------------------------------- generic layer
def weighted_log_prob_direct(X, weights, means, factor, kind: str, out=None) -> torch.Tensor:
    """``log w_k + log N(x_n | mu_k, Sigma_k)``, array of shape (K, N), the two-pass way (into ``out``)."""
    kern = COVARIANCE_TYPES[kind]
    d = X.shape[1]
    const = torch.log(weights) + kern.log_det_precision(factor, d) - 0.5 * d * LOG_2PI
    return torch.sub(const[:, None], kern.mahalanobis(X, means, factor), alpha=0.5, out=out)


def moment_features(X: torch.Tensor, kind: str) -> torch.Tensor:
    """``phi(x) = [1, x, m(x)]`` for every point, feature-major: array of shape (1 + D + Q, N)."""
    XT = X.T
    ones = torch.ones(1, X.shape[0], dtype=X.dtype, device=X.device)
    return torch.cat([ones, XT, COVARIANCE_TYPES[kind].moments(XT)], dim=0).contiguous()


def natural_weights(weights, means, factor, kind: str) -> torch.Tensor:
    """W^T with ``W^T @ phi(x) = log w_k + log N(x | mu_k, Sigma_k)``, array of shape (K, 1 + D + Q)."""
    kern = COVARIANCE_TYPES[kind]
    d = means.shape[1]
    p_mu, quad = kern.precision_terms(factor, means)
    const = torch.log(weights) + kern.log_det_precision(factor, d) - 0.5 * (d * LOG_2PI + (means * p_mu).sum(1))
    return torch.cat([const[:, None], p_mu, quad], dim=1)


def weighted_log_prob_moments(phi, weights, means, factor, kind: str, out=None) -> torch.Tensor:
    """Same as :func:`weighted_log_prob_direct` from precomputed ``phi = moment_features(X)``."""
    return torch.matmul(natural_weights(weights, means, factor, kind), phi, out=out)


def _nk(resp_sums: torch.Tensor) -> torch.Tensor:
    # scikit-learn adds 10 eps so that an empty component does not divide by zero.
    return resp_sums + 10 * torch.finfo(resp_sums.dtype).eps


def estimate_from_resp(X, resp, reg_covar: float, kind: str):
    """M-step the direct way from responsibilities (K, N): (nk_raw, weights, means, covariances)."""
    nk_raw = resp.sum(1)
    nk = _nk(nk_raw)
    means = (resp @ X) / nk[:, None]
    cov = COVARIANCE_TYPES[kind].covariances(resp, X, nk, means, reg_covar)
    return nk_raw, nk / nk.sum(), means, cov


def estimate_from_moments(stats, d: int, reg_covar: float, kind: str):
    """M-step from the sufficient statistics ``stats = resp @ phi(X)^T`` (K, P).

    Returns (nk_raw, weights, means, covariances).
    """
    nk_raw = stats[:, 0]
    nk = _nk(nk_raw)
    scaled = stats / nk[:, None]  # (K, P): [1, E[x], E[m(x)]] per component
    means = scaled[:, 1 : 1 + d]
    e2 = scaled[:, 1 + d :]
    kern = COVARIANCE_TYPES[kind]
    cov = kern.cov_from_moments(e2, means, reg_covar, nk) if kind == "tied" else kern.cov_from_moments(e2, means, reg_covar)
    return nk_raw, nk / nk.sum(), means, cov


def gaussian_log_density(X, means, covariances) -> torch.Tensor:
    """``log N(x_n | mu_b, Sigma_b)`` for B Gaussians, array of shape (B, N).

    Rows whose covariance is not positive definite are ``-inf``. Same formula as the fitter's direct path.
    """
    d = X.shape[1]
    chol, failed = _factor_full(covariances)
    const = _log_det_precision_full(chol, d) - 0.5 * d * LOG_2PI
    out = const[:, None] - 0.5 * _maha_full(X, means, chol)
    return torch.where(failed[:, None], -torch.inf, out)
