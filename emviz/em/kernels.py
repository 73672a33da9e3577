"""Pure tensor functions of Gaussian-mixture EM, one set per covariance type.

The formulas follow scikit-learn's ``sklearn/mixture/_gaussian_mixture.py`` so that both libraries produce
the same iterates from the same start. Covariances are stored in the shape of their type:

=========== ================ ==========================================
type        covariances      precisions_cholesky (same shape)
=========== ================ ==========================================
full        (K, D, D)        upper-triangular U_k with U_k U_k^T = inv(Sigma_k)
tied        (D, D)           one such U shared by all components
diag        (K, D)           1 / sqrt(sigma^2)
spherical   (K,)             1 / sqrt(sigma^2)
=========== ================ ==========================================

Two ways to evaluate a step are provided:

* **direct** (scikit-learn's way): per-component differences ``x - mu``. Numerically the safest; used for
  float32 and for high dimensions.
* **moments**: the weighted log-density is linear in the features ``phi(x) = [1, x, m(x)]`` where ``m(x)``
  are the second moments the covariance type needs (``x_i x_j`` for i <= j; ``x_d^2``; ``|x|^2``). The
  E-step is then one matrix product ``phi(X) @ W`` and the M-step's sufficient statistics another,
  ``phi(X)^T @ resp``: two passes over an (N, P) array instead of K passes over (N, D) temporaries. It
  expands ``(x - mu)^T P (x - mu)``, which loses about ``eps * (|x| / sigma)^2`` to cancellation; on
  centred data in float64 that is far below the tolerances that matter, in float32 it is not, hence the
  direct path there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
    "batched_mixture_loglik",
    "LOG_2PI",
]

LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------------------- cholesky
def _precision_cholesky_full(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Upper-triangular precision factors of (..., D, D) covariances, and the Cholesky failure flags.

    ``cholesky_ex`` reports failure in ``info`` instead of raising, so no host sync is needed here; the
    caller checks the flags at its own sync point.
    """
    chol, info = torch.linalg.cholesky_ex(cov)
    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device).expand_as(cov)
    prec_chol = torch.linalg.solve_triangular(chol, eye, upper=False).transpose(-1, -2)
    return prec_chol, info > 0


def _precision_cholesky_tied(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    prec_chol, failed = _precision_cholesky_full(cov)
    return prec_chol, failed.reshape(1)


def _precision_cholesky_diag(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For diag (K, D) and spherical (K,) variances."""
    failed = (cov <= 0).reshape(cov.shape[0], -1).any(-1)
    return torch.rsqrt(cov.clamp_min(torch.finfo(cov.dtype).tiny)), failed


def _log_det_full(prec_chol: torch.Tensor, d: int) -> torch.Tensor:
    return torch.log(torch.diagonal(prec_chol, dim1=-2, dim2=-1)).sum(-1)


def _log_det_diag(prec_chol: torch.Tensor, d: int) -> torch.Tensor:
    return torch.log(prec_chol).sum(-1)


def _log_det_spherical(prec_chol: torch.Tensor, d: int) -> torch.Tensor:
    return d * torch.log(prec_chol)


# ------------------------------------------------------------------------- direct log-probabilities
def _log_prob_full(X, means, prec_chol):
    # y_k = (x - mu_k)^T U_k, computed as X U_k - mu_k U_k like scikit-learn.
    y = torch.einsum("nd,kde->kne", X, prec_chol) - torch.einsum("kd,kde->ke", means, prec_chol)[:, None, :]
    return (y * y).sum(-1).T


def _log_prob_tied(X, means, prec_chol):
    y = X @ prec_chol
    mu = means @ prec_chol
    return ((y[:, None, :] - mu[None, :, :]) ** 2).sum(-1)


def _log_prob_diag(X, means, prec_chol):
    precisions = prec_chol**2
    return (means**2 * precisions).sum(1) - 2.0 * X @ (means * precisions).T + (X**2) @ precisions.T


def _log_prob_spherical(X, means, prec_chol):
    precisions = prec_chol**2
    return (
        (means**2).sum(1) * precisions
        - 2.0 * (X @ means.T) * precisions
        + torch.outer((X**2).sum(1), precisions)
    )


# -------------------------------------------------------------------------------- direct M-step
def _covariances_full(resp, X, nk, means, reg):
    diff = X[None, :, :] - means[:, None, :]  # (K, N, D)
    cov = torch.matmul((resp.T[:, :, None] * diff).transpose(1, 2), diff) / nk[:, None, None]
    return cov + reg * torch.eye(X.shape[1], dtype=X.dtype, device=X.device)


def _covariances_tied(resp, X, nk, means, reg):
    avg_x2 = X.T @ X
    avg_means2 = (nk * means.T) @ means
    cov = (avg_x2 - avg_means2) / nk.sum()
    return cov + reg * torch.eye(X.shape[1], dtype=X.dtype, device=X.device)


def _covariances_diag(resp, X, nk, means, reg):
    avg_x2 = (resp.T @ (X * X)) / nk[:, None]
    return avg_x2 - means**2 + reg


def _covariances_spherical(resp, X, nk, means, reg):
    return _covariances_diag(resp, X, nk, means, reg).mean(1)


# ------------------------------------------------------------------------------- moment features
def _moments_full(X):
    i, j = torch.triu_indices(X.shape[1], X.shape[1], device=X.device)
    return X[:, i] * X[:, j]


def _moments_diag(X):
    return X * X


def _moments_spherical(X):
    return (X * X).sum(1, keepdim=True)


def _quad_coef_full(prec_chol, k):
    """Coefficients of the features x_i x_j (i <= j) in -1/2 (x^T P x), array of shape (Q, K)."""
    precision = prec_chol @ prec_chol.transpose(-1, -2)
    if precision.ndim == 2:  # tied
        precision = precision.expand(k, *precision.shape)
    d = precision.shape[-1]
    i, j = torch.triu_indices(d, d, device=precision.device)
    # Off-diagonal products appear twice in x^T P x.
    scale = torch.where(i == j, -0.5, -1.0).to(precision.dtype)
    return (precision[:, i, j] * scale).T


def _quad_coef_diag(prec_chol, k):
    return (-0.5 * prec_chol**2).T


def _quad_coef_spherical(prec_chol, k):
    return (-0.5 * prec_chol**2)[None, :]


def _precision_times_mean(prec_chol, means, kind):
    """P_k mu_k, array of shape (K, D)."""
    if kind in ("full", "tied"):
        pc = prec_chol if prec_chol.ndim == 3 else prec_chol.expand(means.shape[0], *prec_chol.shape)
        return torch.einsum("kde,kfe,kf->kd", pc, pc, means)
    precisions = prec_chol**2
    return means * (precisions if kind == "diag" else precisions[:, None])


def _cov_from_moments_full(e2, means, reg):
    k, d = means.shape
    i, j = torch.triu_indices(d, d, device=means.device)
    second = torch.zeros(k, d, d, dtype=means.dtype, device=means.device)
    second[:, i, j] = e2
    second[:, j, i] = e2
    cov = second - means[:, :, None] * means[:, None, :]
    return cov + reg * torch.eye(d, dtype=means.dtype, device=means.device)


def _cov_from_moments_diag(e2, means, reg):
    return e2 - means**2 + reg


def _cov_from_moments_spherical(e2, means, reg):
    return (e2[:, 0] - (means**2).sum(1)) / means.shape[1] + reg


# ----------------------------------------------------------------------------- to / from full
def _to_full_full(cov, k, d):
    return cov


def _to_full_tied(cov, k, d):
    return cov.expand(k, d, d)


def _to_full_diag(cov, k, d):
    return torch.diag_embed(cov)


def _to_full_spherical(cov, k, d):
    return cov[:, None, None] * torch.eye(d, dtype=cov.dtype, device=cov.device)


@dataclass(frozen=True)
class CovarianceKernels:
    """The pure functions of one covariance type. Looked up in :data:`COVARIANCE_TYPES`."""

    name: str
    precision_cholesky: Callable  # cov -> (prec_chol, failed (K,) bool)
    log_det: Callable  # (prec_chol, D) -> (K,) or scalar
    log_prob: Callable  # (X, means, prec_chol) -> (N, K) Mahalanobis distances
    covariances: Callable  # (resp, X, nk, means, reg) -> cov
    moments: Callable  # X -> (N, Q)
    quad_coef: Callable  # (prec_chol, K) -> (Q, K)
    cov_from_moments: Callable  # (E[m(x)] (K, Q), means, reg) -> cov
    to_full: Callable  # (cov, K, D) -> (K, D, D)
    n_cov_params: Callable  # (K, D) -> int

    def n_moments(self, d: int) -> int:
        return {"full": d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": d, "spherical": 1}[self.name]


COVARIANCE_TYPES: dict[str, CovarianceKernels] = {
    "full": CovarianceKernels(
        "full", _precision_cholesky_full, _log_det_full, _log_prob_full, _covariances_full,
        _moments_full, _quad_coef_full, _cov_from_moments_full, _to_full_full,
        lambda k, d: k * d * (d + 1) // 2,
    ),
    "tied": CovarianceKernels(
        "tied", _precision_cholesky_tied,
        _log_det_full, _log_prob_tied, _covariances_tied,
        _moments_full, _quad_coef_full, None, _to_full_tied,
        lambda k, d: d * (d + 1) // 2,
    ),
    "diag": CovarianceKernels(
        "diag", _precision_cholesky_diag, _log_det_diag, _log_prob_diag, _covariances_diag,
        _moments_diag, _quad_coef_diag, _cov_from_moments_diag, _to_full_diag,
        lambda k, d: k * d,
    ),
    "spherical": CovarianceKernels(
        "spherical", _precision_cholesky_diag,
        _log_det_spherical, _log_prob_spherical, _covariances_spherical,
        _moments_spherical, _quad_coef_spherical, _cov_from_moments_spherical, _to_full_spherical,
        lambda k, d: k,
    ),
}


# ------------------------------------------------------------------------------ generic layer
def weighted_log_prob_direct(X, weights, means, prec_chol, kind: str) -> torch.Tensor:
    """``log w_k + log N(x_n | mu_k, Sigma_k)``, array of shape (N, K), scikit-learn's way."""
    kern = COVARIANCE_TYPES[kind]
    d = X.shape[1]
    log_det = kern.log_det(prec_chol, d)
    maha = kern.log_prob(X, means, prec_chol)
    return -0.5 * (d * LOG_2PI + maha) + log_det + torch.log(weights)


def moment_features(X: torch.Tensor, kind: str) -> torch.Tensor:
    """``phi(x) = [1, x, m(x)]`` for every point, array of shape (N, 1 + D + Q), contiguous."""
    ones = torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)
    return torch.cat([ones, X, COVARIANCE_TYPES[kind].moments(X)], dim=1).contiguous()


def natural_weights(weights, means, prec_chol, kind: str) -> torch.Tensor:
    """W with ``phi(x) @ W = log w_k + log N(x | mu_k, Sigma_k)``, array of shape (1 + D + Q, K)."""
    kern = COVARIANCE_TYPES[kind]
    k, d = means.shape
    p_mu = _precision_times_mean(prec_chol, means, kind)  # (K, D)
    const = (
        torch.log(weights) - 0.5 * d * LOG_2PI + kern.log_det(prec_chol, d) - 0.5 * (means * p_mu).sum(1)
    )
    return torch.cat([const[None, :], p_mu.T, kern.quad_coef(prec_chol, k)], dim=0)


def weighted_log_prob_moments(phi, weights, means, prec_chol, kind: str, out=None) -> torch.Tensor:
    """Same as :func:`weighted_log_prob_direct` from precomputed ``phi = moment_features(X)``."""
    return torch.matmul(phi, natural_weights(weights, means, prec_chol, kind), out=out)


def _nk(resp_sums: torch.Tensor) -> torch.Tensor:
    # scikit-learn adds 10 eps so that an empty component does not divide by zero.
    return resp_sums + 10 * torch.finfo(resp_sums.dtype).eps


def estimate_from_resp(X, resp, reg_covar: float, kind: str):
    """M-step the direct way: (nk_raw, weights, means, covariances) from responsibilities (N, K)."""
    nk_raw = resp.sum(0)
    nk = _nk(nk_raw)
    means = (resp.T @ X) / nk[:, None]
    cov = COVARIANCE_TYPES[kind].covariances(resp, X, nk, means, reg_covar)
    return nk_raw, nk / nk.sum(), means, cov


def estimate_from_moments(stats, d: int, reg_covar: float, kind: str):
    """M-step from the sufficient statistics ``stats = phi(X)^T @ resp`` (P, K).

    Returns (nk_raw, weights, means, covariances).
    """
    nk_raw = stats[0]
    nk = _nk(nk_raw)
    means = (stats[1 : 1 + d] / nk).T
    e2 = (stats[1 + d :] / nk).T  # (K, Q)
    if kind == "tied":
        # Sum over components of the scatter about each mean, as scikit-learn's tied estimate.
        cov_k = _cov_from_moments_full(e2, means, 0.0)
        cov = (cov_k * nk[:, None, None]).sum(0) / nk.sum()
        cov = cov + reg_covar * torch.eye(d, dtype=cov.dtype, device=cov.device)
    else:
        cov = COVARIANCE_TYPES[kind].cov_from_moments(e2, means, reg_covar)
    return nk_raw, nk / nk.sum(), means, cov


def batched_mixture_loglik(X, weights, means, covariances, chunk_bytes: int = 64 * 2**20) -> torch.Tensor:
    """Total log-likelihood of ``X`` under each of B mixtures, array of shape (B,).

    Parameters
    ----------
    X : tensor of shape (N, D)
    weights : tensor of shape (B, K)
    means : tensor of shape (B, K, D)
    covariances : tensor of shape (B, K, D, D), full
    chunk_bytes : int
        Bound on the (b, N, K) work arrays; mixtures are evaluated in chunks of that size.
    """
    b, k, d = means.shape
    prec_chol, failed = _precision_cholesky_full(covariances.reshape(b * k, d, d))
    prec_chol = prec_chol.reshape(b, k, d, d)
    log_det = _log_det_full(prec_chol, d)  # (B, K)
    const = torch.log(weights) - 0.5 * d * LOG_2PI + log_det
    # Mahalanobis via moments would lose precision on arbitrary grids; use the direct form.
    per = max(1, int(chunk_bytes // max(1, X.shape[0] * k * d * X.element_size())))
    out = torch.empty(b, dtype=X.dtype, device=X.device)
    for s in range(0, b, per):
        pc = prec_chol[s : s + per]
        y = torch.einsum("nd,bkde->bkne", X, pc) - torch.einsum("bkd,bkde->bke", means[s : s + per], pc)[..., None, :]
        wlp = const[s : s + per, :, None] - 0.5 * (y * y).sum(-1)  # (b, K, N)
        out[s : s + per] = torch.logsumexp(wlp, dim=1).sum(-1)
    return torch.where(failed.reshape(b, k).any(1), torch.full_like(out, -torch.inf), out)
