"""Initial responsibilities, as scikit-learn's ``GaussianMixture`` makes them for each ``init_params``.

Every initialiser returns responsibilities of shape (N, K); the fitter turns them into parameters with
one M-step, exactly as scikit-learn does. Random draws come from a CPU ``torch.Generator`` that the fitter
owns, so the same seed gives the same start on every device.
"""

from __future__ import annotations

import math

import torch

from emviz.errors import InputError, did_you_mean

__all__ = ["INITIALIZERS", "initial_responsibilities", "kmeans_plusplus", "kmeans"]


def _uniform(n: int, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(n, generator=gen, dtype=torch.float64).to(device=like.device, dtype=like.dtype)


def _sq_dist(X: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances, array of shape (N, C), clamped at 0 against rounding."""
    return ((X * X).sum(1)[:, None] - 2 * X @ centers.T + (centers * centers).sum(1)[None, :]).clamp_min(0)


def kmeans_plusplus(X: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """Greedy k-means++ seeding (as scikit-learn's ``kmeans_plusplus``); returns K row indices of X."""
    n = X.shape[0]
    n_trials = 2 + int(math.log(k))
    first = int(torch.randint(n, (1,), generator=gen))
    indices = [first]
    closest = _sq_dist(X, X[first : first + 1])[:, 0]
    for _ in range(1, k):
        total = closest.sum()
        cumulative = torch.cumsum(closest, 0)
        targets = _uniform(n_trials, gen, X) * total
        candidates = torch.searchsorted(cumulative, targets).clamp_max(n - 1)
        cand_dist = torch.minimum(closest[:, None], _sq_dist(X, X[candidates]))  # (N, trials)
        best = int(torch.argmin(cand_dist.sum(0)))
        indices.append(int(candidates[best]))
        closest = cand_dist[:, best]
    return torch.tensor(indices, dtype=torch.long, device=X.device)


def kmeans(X: torch.Tensor, k: int, gen: torch.Generator, max_iter: int = 300, tol: float = 1e-4) -> torch.Tensor:
    """Lloyd's k-means from a k-means++ start; returns labels of shape (N,).

    ``tol`` is relative to the mean per-feature variance of X, as in scikit-learn.
    """
    centers = X[kmeans_plusplus(X, k, gen)].clone()
    threshold = tol * float(X.var(0, correction=0).mean())  # population variance, as scikit-learn
    labels = torch.argmin(_sq_dist(X, centers), 1)
    for _ in range(max_iter):
        onehot = torch.nn.functional.one_hot(labels, k).to(X.dtype)
        counts = onehot.sum(0)
        # An empty cluster keeps its centre rather than becoming NaN.
        new = torch.where(counts[:, None] > 0, (onehot.T @ X) / counts.clamp_min(1)[:, None], centers)
        shift = float(((new - centers) ** 2).sum())
        centers = new
        labels = torch.argmin(_sq_dist(X, centers), 1)
        if shift <= threshold:
            break
    return labels


def _one_hot_at(n: int, indices: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    resp = torch.zeros(n, len(indices), dtype=like.dtype, device=like.device)
    resp[indices, torch.arange(len(indices), device=like.device)] = 1.0
    return resp


def _init_kmeans(X, k, gen):
    return torch.nn.functional.one_hot(kmeans(X, k, gen), k).to(X.dtype)


def _init_kmeans_plusplus(X, k, gen):
    return _one_hot_at(X.shape[0], kmeans_plusplus(X, k, gen), X)


def _init_random(X, k, gen):
    resp = _uniform(X.shape[0] * k, gen, X).reshape(X.shape[0], k)
    return resp / resp.sum(1, keepdim=True)


def _init_random_from_data(X, k, gen):
    indices = torch.randperm(X.shape[0], generator=gen)[:k].to(X.device)
    return _one_hot_at(X.shape[0], indices, X)


INITIALIZERS = {
    "kmeans": _init_kmeans,
    "kmeans++": _init_kmeans_plusplus,
    "k-means++": _init_kmeans_plusplus,
    "random": _init_random,
    "random_from_data": _init_random_from_data,
}


def initial_responsibilities(name: str, X: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """Responsibilities (N, K) for the named initialisation."""
    try:
        init = INITIALIZERS[name]
    except KeyError:
        raise InputError(
            f"init: unknown initialisation {name!r}{did_you_mean(name, INITIALIZERS)}; "
            f"choose from {', '.join(sorted(INITIALIZERS))} or give a Mixture"
        ) from None
    return init(X, k, gen)
