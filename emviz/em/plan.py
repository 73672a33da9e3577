"""The moments path's parameter arithmetic in few tensor ops, with every constant built once per fit.

On small data (the docs notebook's N = 6,000 points, D = 1, K = 3) an EM step costs the number of tensor
ops it launches, a few microseconds of dispatch each, more than their arithmetic: the (K, N) passes take
about as long as the ~50 ops on (K, D, D) parameters around them. :class:`MomentsPlan` keeps the index,
coefficient and regularisation tensors of one fit and does each step's parameter work in batched ops:

* M-step, from ``stats = resp @ phi(X)^T`` (K, P): ``E[x x^T] - mu mu^T`` is one gather and one batched
  outer product (``addcmul``);
* the E-step's natural weights ``W`` (K, P), with ``W @ phi(x) = log w_k + log N(x | mu_k, Sigma_k)``,
  come from one triangular solve and two small matmuls (full and tied covariances)::

      Z = L^-1 [I | mu]                      (K, D, D + 1)
      H = Z^T Z = [[P, P mu], [mu^T P, mu^T P mu]]
      W = H.flat @ C + offset,  W[:, 0] += log w - log|L|

  where the constant matrix ``C`` picks H's entries into W's columns ``[1, x, x_i x_j]`` with their
  coefficients (0, +-1/2, 1, -1: exact in floating point). ``log w`` is added, not multiplied in, so that
  a zero weight stays ``-inf`` in its own entry instead of turning its whole row into NaN.

Work buffers (and the views into them) are made once per fit, since on small data even a view costs
about as much as the arithmetic behind it. The parameters :meth:`MomentsPlan.estimate` returns are fresh
tensors (a recorder may keep references to them); W and the Cholesky factor live in buffers that the
next step overwrites. Nothing reads the host. The diagonal and spherical types have no (D, D) work to
fuse and use :mod:`emviz.em.kernels` directly.
"""

from __future__ import annotations

import torch

from emviz.em import kernels as K

__all__ = ["EMPTY_COMPONENT_MASS", "MomentsPlan", "keep_previous"]

#: A component whose responsibilities sum to less than this many points is treated as empty and keeps
#: its previous mean and covariance (its weight still follows the data). Far below one point, so it
#: only triggers where scikit-learn would divide ~0 by ~0.
EMPTY_COMPONENT_MASS = 1e-8


def keep_previous(empty, means, cov, prev_means, prev_cov, kind: str):
    """Means and covariances where the empty components (``empty`` (K,) bool) keep their previous
    ones instead of 0/0; tied shares one matrix and keeps it as estimated."""
    means = torch.where(empty[:, None], prev_means, means)
    if kind != "tied":
        cov = torch.where(empty.reshape(-1, *([1] * (cov.ndim - 1))), prev_cov, cov)
    return means, cov


class MomentsPlan:
    """Per-fit constants and the few-op M-step and natural weights of the moments path.

    Parameters
    ----------
    kind : {"full", "tied", "diag", "spherical"}
    n_components, n_features : int
    reg_covar : float
    dtype, device
        Those of the fit's data.
    """

    def __init__(self, kind: str, n_components: int, n_features: int, reg_covar: float, dtype, device):
        self.kind, self.k, self.d, self.reg = kind, n_components, n_features, float(reg_covar)
        self._kern = K.COVARIANCE_TYPES[kind]
        self._eps10 = 10 * torch.finfo(dtype).eps  # scikit-learn's guard against nk = 0 (kernels._nk)
        # nk_raw < m  <=>  nk < m + 10 eps (up to rounding far below the threshold's own precision)
        self._empty_below = EMPTY_COMPONENT_MASS + self._eps10
        self.fused = kind in ("full", "tied")
        if self.fused:
            self._build(dtype, device)

    def _build(self, dtype, device) -> None:
        k, d = self.k, self.d
        opts = {"dtype": dtype, "device": device}
        i, j = torch.triu_indices(d, d)
        pos = torch.empty(d, d, dtype=torch.long)
        pos[i, j] = torch.arange(len(i))
        pos[j, i] = torch.arange(len(i))
        p = 1 + d + len(i)
        h = (d + 1) ** 2
        # Columns of stats / nk that hold E[x x^T], in (D, D) order.
        self._e2_index = (1 + d + pos.reshape(-1)).to(device)
        # Added to stats / nk by the same op that divides: reg on the columns of the x_i^2 moments.
        self._reg_row = torch.zeros(p, **opts)
        self._reg_row[1 + d + pos.diagonal()] = self.reg
        # C maps H = Z^T Z, flattened, to W's columns [1, x (D), x_i x_j for i <= j (Q)].
        flat = lambda r, c: r * (d + 1) + c
        coef = torch.zeros(h, p, dtype=torch.float64)
        coef[flat(d, d), 0] = -0.5  # -1/2 mu^T P mu
        for a in range(d):
            coef[flat(a, d), 1 + a] = 1.0  # P mu
        for q, (a, b) in enumerate(zip(i.tolist(), j.tolist())):
            coef[flat(a, b), 1 + d + q] = -0.5 if a == b else -1.0  # off-diagonals appear twice
        self._coef = coef.to(**opts)
        self._offset = torch.zeros(p, **opts)
        self._offset[0] = -0.5 * d * K.LOG_2PI
        # [log w, log L_11 .. log L_DD] @ _const_coef = log w - log|L|: added to W's constant column.
        self._const_coef = torch.tensor([[1.0]] + [[-1.0]] * d, **opts)

        # The statistics' matmul adds scikit-learn's 10 eps to the responsibility sums (column 0) itself.
        self._nk_guard = torch.zeros(p, **opts)
        self._nk_guard[0] = self._eps10

        # Work buffers, rewritten every step, and their views, taken once: on small data a view costs as
        # much as the arithmetic behind it.
        self._stats = torch.empty(k, p, **opts)
        self._nk, self._nk_column = self._stats[:, 0], self._stats[:, :1]
        self._scaled = torch.empty(k, p, **opts)
        self._means = self._scaled[:, 1 : 1 + d]
        self._means_col, self._means_row = self._means.unsqueeze(2), self._means.unsqueeze(1)
        self._e2 = torch.empty(k, d * d, **opts)
        self._e2_square = self._e2.view(k, d, d)
        shape = (k, d, d) if self.kind == "full" else (d, d)
        self._chol = torch.empty(shape, **opts)
        self._info = torch.empty(shape[:-2], dtype=torch.int32, device=device)
        self._chol_diag = self._chol.diagonal(dim1=-2, dim2=-1)
        self._eye_mu = torch.cat([torch.eye(d, **opts).expand(k, d, d), torch.zeros(k, d, 1, **opts)], 2)
        # [I | mu]: the last column holds the current (centred) means, which estimate() writes there.
        self._mu_column = self._eye_mu[:, :, d]
        self._z = torch.empty(k, d, d + 1, **opts)
        self._z_t = self._z.mT
        self._h = torch.empty(k, d + 1, d + 1, **opts)
        self._h_flat = self._h.view(k, h)
        self._w = torch.empty(k, p, **opts)
        self._w_const = self._w[:, :1]
        self._logs = torch.empty(k, 1 + d, **opts)
        self._log_w, self._log_diag = self._logs[:, 0], self._logs[:, 1:]

    # ------------------------------------------------------------------ E-step
    def natural_weights(self, weights, means, factor) -> torch.Tensor:
        """W (K, P) with ``W @ phi(x) = log w_k + log N(x | mu_k, Sigma_k)``; ``factor`` is the Cholesky
        factor (K, D, D), or (D, D) for tied. For full and tied, W is a work buffer that the next call
        overwrites."""
        if not self.fused:
            return K.natural_weights(weights, means, factor, self.kind)
        if means is not self._mu_column:  # the start's means; afterwards estimate() writes them there
            self._mu_column.copy_(means)
        # Not torch.cholesky_inverse: it checks its input and so syncs with the host.
        torch.linalg.solve_triangular(factor, self._eye_mu, upper=False, out=self._z)
        torch.matmul(self._z_t, self._z, out=self._h)
        torch.addmm(self._offset, self._h_flat, self._coef, out=self._w)
        diag = self._chol_diag if factor is self._chol else factor.diagonal(dim1=-2, dim2=-1)
        torch.log(weights, out=self._log_w)
        torch.log(diag if diag.ndim == 2 else diag.expand_as(self._log_diag), out=self._log_diag)
        # Added through its own column only: a zero weight's -inf must not meet a 0 coefficient (NaN).
        self._w_const.addmm_(self._logs, self._const_coef)
        return self._w

    # ------------------------------------------------------------------ M-step
    def statistics(self, resp, phi_t) -> torch.Tensor:
        """The sufficient statistics ``resp @ phi(X)^T`` (K, P), for :meth:`estimate`: ``resp`` (K, N),
        ``phi_t`` = phi(X)^T (N, P). For full and tied, a work buffer whose column 0 already holds the
        guarded sums nk = nk_raw + 10 eps."""
        if not self.fused:
            return torch.matmul(resp, phi_t)
        return torch.addmm(self._nk_guard, resp, phi_t, out=self._stats)

    def estimate(self, stats, prev_means, prev_cov):
        """Parameters from :meth:`statistics` (K, P).

        Returns (empty (K,) bool, weights, means, covariances). An empty component (responsibilities
        summing to less than :data:`EMPTY_COMPONENT_MASS`) keeps ``prev_means`` and ``prev_cov``
        instead of 0/0; tied shares one matrix and keeps nothing. For full and tied, ``means`` (centred,
        as the fitter keeps them) is a work buffer that the next call overwrites: it is the fitter's
        state, never handed out (a step reports ``means + centre``, a fresh tensor); the weights and
        covariances are fresh.
        """
        if not self.fused:
            nk_raw, weights, means, cov = K.estimate_from_moments(stats, self.d, self.reg, self.kind)
            empty = nk_raw < EMPTY_COMPONENT_MASS
            return (empty, weights, *keep_previous(empty, means, cov, prev_means, prev_cov, self.kind))
        assert stats is self._stats, "estimate() reads the buffer statistics() wrote"
        k, nk = self.k, self._nk
        total = nk.sum()
        # [1, E[x], E[x x^T] + reg I] per component (the reg lands on the diagonal moments' columns)
        torch.addcdiv(self._reg_row, self._stats, self._nk_column, out=self._scaled)
        empty = nk < self._empty_below
        torch.index_select(self._scaled, 1, self._e2_index, out=self._e2)
        # E[x x^T] + reg I - mu mu^T: each entry one product and one difference: exactly symmetric.
        cov = torch.addcmul(self._e2_square, self._means_col, self._means_row, value=-1)
        if self.kind == "tied":
            # scikit-learn's tied estimate: the nk-weighted average of the per-component scatters
            # (the reg in each averages back to reg).
            cov = (cov * nk.view(k, 1, 1)).sum(0) / total
        else:
            cov = torch.where(empty.view(k, 1, 1), prev_cov, cov)
        # Into [I | mu]'s column: the next natural weights need no copy. (Where prev_means is that
        # column itself, each element is read before it is written: an elementwise op may alias.)
        means = torch.where(empty.unsqueeze(1), prev_means, self._means, out=self._mu_column)
        return empty, nk / total, means, cov

    def factor(self, cov):
        """(Cholesky factor or standard deviations, failed (K,) bool), without a host sync. For full
        and tied, the factor is a work buffer that the next call overwrites."""
        if not self.fused:
            return self._kern.factor(cov)
        torch.linalg.cholesky_ex(cov, out=(self._chol, self._info))
        failed = self._info > 0
        return self._chol, failed if failed.ndim == 1 else failed.view(-1)
