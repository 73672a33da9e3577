"""The parameters of a Gaussian mixture, as plain numpy arrays, validated once.

A :class:`Mixture` is what emviz uses for a known truth, an explicit initialisation and every recorded
iteration. Covariances are always full ``(K, D, D)`` matrices here, whatever the fitter's covariance
type, so that renderers see one shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from emviz.errors import InputError

__all__ = ["Mixture", "WEIGHT_SUM_TOLERANCE", "MAX_ABS_VALUE", "spec_field"]

#: Weights whose sum is off 1 by at most this much are renormalised (a user writing three 0.33s
#: means thirds); a larger error is a mistake and is reported.
WEIGHT_SUM_TOLERANCE = 0.01
#: Largest magnitude a value may have. EM sums squares of (centred) values over all N points: from
#: 1e100 up, that overflows float64 on real data sizes and the fit draws NaN, so such data is refused.
#: Rows drawn at a time by ``Mixture.sample(..., rows=...)``.
SAMPLE_BLOCK = 1 << 18

MAX_ABS_VALUE = 1e100


def _shape(value, name: str) -> tuple:
    """The shape of a nested list; a row of another length than its first sibling raises InputError
    that names it: ``"means[1]: has 1 value, means[0] has 2"``."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        return ()
    shapes = [_shape(v, f"{name}[{i}]") for i, v in enumerate(value)]
    for i, shape in enumerate(shapes[1:], start=1):
        if shape != shapes[0]:
            def size(s):
                return "a number" if not s else f"{s[0]} value{'s' if s[0] != 1 else ''}" if len(s) == 1 else f"shape {s}"
            raise InputError(f"{name}[{i}]: has {size(shape)}, {name}[0] has {size(shapes[0])}")
    return (len(value), *(shapes[0] if shapes else ()))


def _as_float_array(value, name: str, ndim: int) -> np.ndarray:
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        _shape(value, name)  # a ragged list: say which row
        raise InputError(f"{name}: must be numbers ({exc})") from None
    if arr.ndim != ndim:
        raise InputError(f"{name}: must be a {ndim}-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: contains NaN or Inf")
    return arr


_FIELD = re.compile(r"(means|stds|covariances|weights)((?:\[\d+\])*): (.*)", flags=re.S)


def spec_field(exc: InputError) -> tuple[str | None, str]:
    """Split a :class:`Mixture` error into (field, problem): ``"covariances[1]: not positive definite"``
    -> ``("covariances[1]", "not positive definite")``; ``(None, message)`` when it names no field."""
    match = _FIELD.fullmatch(str(exc))
    return (match[1] + match[2], match[3]) if match else (None, str(exc))


def check_spd(covariances: np.ndarray, name: str = "covariances") -> None:
    """Raise :class:`InputError` unless every matrix in ``covariances`` (K, D, D) is symmetric positive definite."""
    for k, cov in enumerate(covariances):
        scale = max(float(np.max(np.abs(cov))), np.finfo(np.float64).tiny)
        if not np.allclose(cov, cov.T, rtol=0.0, atol=1e-10 * scale):
            raise InputError(f"{name}[{k}]: is not symmetric")
        try:
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            raise InputError(f"{name}[{k}]: is not positive definite") from None


@dataclass(frozen=True, eq=False)
class Mixture:
    """Weights, means and full covariances of a K-component mixture in D dimensions.

    Parameters
    ----------
    weights : array of shape (K,)
        Non-negative, summing to 1 (sums within 0.01 of 1 are renormalised).
    means : array of shape (K, D)
    covariances : array of shape (K, D, D)
        Symmetric positive definite.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    def __post_init__(self):
        weights = _as_float_array(self.weights, "weights", 1)
        means = _as_float_array(self.means, "means", 2)
        covs = _as_float_array(self.covariances, "covariances", 3)
        k, d = means.shape
        if k < 1 or d < 1:
            raise InputError(f"means: must have at least one component and one feature, got shape {means.shape}")
        if weights.shape != (k,):
            raise InputError(f"weights: expected shape ({k},) to match means {means.shape}, got {weights.shape}")
        if covs.shape != (k, d, d):
            raise InputError(
                f"covariances: expected shape ({k}, {d}, {d}) to match means {means.shape}, got {covs.shape}"
            )
        if np.any(weights < 0):
            raise InputError(f"weights: must be non-negative, got {weights.tolist()}")
        total = float(weights.sum())
        # The slack keeps an exact 0.01 error (three 0.33s) from failing on float rounding.
        if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE + 1e-12:
            raise InputError(f"weights: must sum to 1 (within {WEIGHT_SUM_TOLERANCE}), they sum to {total:.6g}")
        check_spd(covs)
        for name, arr in (("weights", weights / total), ("means", means), ("covariances", covs)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @classmethod
    def from_stds(cls, weights, means, stds) -> "Mixture":
        """Build a mixture with diagonal covariances from standard deviations.

        ``stds`` is (K,) for isotropic components or (K, D) per feature.
        """
        means = _as_float_array(means, "means", 2)
        stds = np.array(stds, dtype=np.float64)
        if stds.ndim == 1:
            stds = np.repeat(stds[:, None], means.shape[1], axis=1)
        if stds.shape != means.shape:
            raise InputError(f"stds: expected shape ({means.shape[0]},) or {means.shape}, got {stds.shape}")
        if not np.all(np.isfinite(stds)) or np.any(stds <= 0):
            raise InputError(f"stds: must be positive and finite, got {stds.tolist()}")
        covs = np.einsum("kd,de->kde", stds**2, np.eye(means.shape[1]))
        return cls(weights=weights, means=means, covariances=covs)

    @classmethod
    def from_spec(cls, means, *, weights=None, stds=None, covariances=None) -> "Mixture":
        """A mixture as people write one down (a config's ``init``, a data spec's known mixture).

        Parameters
        ----------
        means : array of shape (K, D)
        weights : array of shape (K,), optional
            Default: equal weights.
        stds : array of shape (K,) or (K, D), optional
            Standard deviations (diagonal covariances); give exactly one of ``stds``, ``covariances``.
        covariances : array of shape (K, D, D), optional

        Raises
        ------
        InputError
            Whose message starts with the offending field (``"stds: ..."``, ``"covariances[1]: ..."``);
            :func:`spec_field` splits it off.
        """
        if (stds is None) == (covariances is None):
            raise InputError("give exactly one of stds, covariances")
        if weights is None:
            k = len(means) if isinstance(means, (list, tuple, np.ndarray)) else 0
            weights = [1.0 / max(k, 1)] * k
        if stds is not None:
            return cls.from_stds(weights, means, stds)
        return cls(weights, means, covariances)

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    @property
    def n_features(self) -> int:
        return self.means.shape[1]

    @property
    def stds(self) -> np.ndarray:
        """Per-feature standard deviations, array of shape (K, D)."""
        return np.sqrt(np.diagonal(self.covariances, axis1=1, axis2=2))

    def component_log_pdf(self, X) -> np.ndarray:
        """Weighted log-density ``log w_k + log N(x | mu_k, Sigma_k)``, array of shape (N, K)."""
        X = np.asarray(X, dtype=np.float64)
        chol = np.linalg.cholesky(self.covariances)  # (K, D, D)
        diff = X[None, :, :] - self.means[:, None, :]  # (K, N, D)
        z = np.linalg.solve(chol, np.swapaxes(diff, 1, 2))  # (K, D, N)
        maha = np.sum(z**2, axis=1)  # (K, N)
        log_det = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
        d = self.n_features
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)
        log_pdf = -0.5 * (d * np.log(2 * np.pi) + log_det[:, None] + maha) + log_w[:, None]
        return log_pdf.T

    def log_pdf(self, X) -> np.ndarray:
        """Mixture log-density at each point, array of shape (N,)."""
        from scipy.special import logsumexp

        return logsumexp(self.component_log_pdf(X), axis=1)

    def sample(self, sizes, seed=0, rows: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``sizes[k]`` points from component k, concatenated in component order.

        Uses numpy's legacy ``RandomState`` stream, which numpy keeps frozen across versions, so the same
        seed gives the same data everywhere (and reproduces data made with ``np.random.seed``).

        ``rows=(start, stop)`` returns only those rows of the same sample, drawing the stream in blocks of
        :data:`SAMPLE_BLOCK` rows and keeping only the wanted ones: one rank's shard of a generated
        dataset, in its memory, without any rank holding all of it.

        Returns
        -------
        X : array of shape (sum(sizes), D) (or (stop - start, D))
        labels : array of shape (sum(sizes),) (or (stop - start,))
        """
        sizes = [int(s) for s in sizes]
        if len(sizes) != self.n_components or any(s < 0 for s in sizes):
            raise InputError(f"sizes: expected {self.n_components} non-negative counts, got {sizes}")
        total = sum(sizes)
        start, stop = (0, total) if rows is None else (max(0, int(rows[0])), min(total, int(rows[1])))
        rng = np.random.RandomState(seed)
        parts, labels, first = [], [], 0
        for k, (mean, cov, size) in enumerate(zip(self.means, self.covariances, sizes)):
            diagonal = np.count_nonzero(cov - np.diag(np.diagonal(cov))) == 0
            # Blocks of the component's rows; a whole component is one block unless rows are asked for.
            step = size if rows is None else SAMPLE_BLOCK
            for lo in range(0, size, max(step, 1)):
                hi = min(lo + step, size)
                if diagonal:
                    # Drawn like np.random.normal, so 1D data matches the classic notebooks.
                    block = rng.normal(loc=mean, scale=np.sqrt(np.diagonal(cov)), size=(hi - lo, self.n_features))
                else:
                    block = rng.multivariate_normal(mean, cov, size=hi - lo)
                a, b = max(start - first - lo, 0), min(stop - first - lo, hi - lo)
                if b > a:
                    parts.append(block[a:b])
                    labels.append(np.full(b - a, k))
            first += size
            if first >= stop and rows is not None:
                break
        X = np.concatenate(parts, axis=0) if parts else np.empty((0, self.n_features))
        return X, (np.concatenate(labels) if labels else np.empty(0, dtype=np.int64))

    def __eq__(self, other):
        if not isinstance(other, Mixture):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, f), getattr(other, f)) for f in ("weights", "means", "covariances")
        )

    def __repr__(self):
        return f"Mixture(K={self.n_components}, D={self.n_features}, weights={np.round(self.weights, 4).tolist()})"
