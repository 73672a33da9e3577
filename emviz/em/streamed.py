"""The fitter's streamed path: chunked exact EM, data read from the host per pass, data-parallel ranks.

:class:`GaussianMixture` takes this path when the data is streamed (a memory-mapped file,
:class:`emviz.rows.NpyRows`), when its work arrays would not fit the device (``chunk_size``), or when it
is one rank of a ``torch.distributed`` fit (``comm``). Each step is one pass over the rows, chunk by chunk,
accumulating the E-step's log-likelihood and the M-step's sufficient statistics into one flat buffer
(:class:`emviz.em.stream.Accumulator`), one ``all_reduce`` of it (a no-op in one process), and the M-step
from the reduced numbers, identical on every rank.

The start is computed on rank 0 from the rows of :meth:`init_indices` (all rows up to ``init_sample``, a
seeded sample beyond: the same rule as the in-memory path, so a one-process run and an n-process run start
from the same parameters) and broadcast. The recorded points' responsibilities come from their own rows,
gathered to rank 0 once (:meth:`gather_rows`), with each step's E-step parameters: the same numbers as the
chunk pass gives them, without a per-step gather.
"""

from __future__ import annotations

import numpy as np
import torch

from emviz.em import kernels as K
from emviz.em.comm import gather_rows
from emviz.em.init import initial_responsibilities
from emviz.em.plan import MomentsPlan
from emviz.rows import READ_ROWS, is_rows
from emviz.em.stream import Accumulator, DeviceChunks, HostChunks, auto_chunk, estimate_from_shifted, work_bytes_per_row
from emviz.errors import InputError
from emviz.mixture import Mixture

__all__ = ["StreamedFit", "init_indices"]


def init_indices(n: int, init_sample: int, seed) -> np.ndarray | None:
    """Sorted rows the start is computed from: None (all) when ``n <= init_sample``, else a seeded sample."""
    if n <= init_sample:
        return None
    rng = np.random.default_rng([int(seed), 0x1A17])
    return np.sort(rng.choice(n, init_sample, replace=False))


class StreamedFit:
    """Mixin of :class:`emviz.em.gmm.GaussianMixture`: everything of the streamed path."""

    # ------------------------------------------------------------------ chunk sizes
    def _bytes_per_row(self, d: int) -> int:
        p = 1 + d + self._kern.n_moments(d)
        return work_bytes_per_row(self.n_components, d, p, self.dtype.itemsize, self._choose_moments(d))

    def _device_chunk(self, n: int, d: int) -> int | None:
        """Rows per chunk for data held on the device, or None for the unchunked path."""
        if self.chunk_size != "auto":
            return None if self.chunk_size >= n else int(self.chunk_size)
        resident = n * d * self.dtype.itemsize if self.device.type == "cuda" else 0
        return auto_chunk(n, self._bytes_per_row(d), self.device, resident)

    # ------------------------------------------------------------------ set-up
    def _initialize_streamed(self, X) -> None:
        comm = self.comm
        streamed_from_host = is_rows(X)
        if streamed_from_host:
            n_local, d = X.shape
            local_take = X.take
        else:
            X = np.asarray(X)
            n_local, d = X.shape
            local_take = X.__getitem__
        # One reduction: every rank's row count (for the shard bounds) and the column sums (the centre).
        sums = torch.zeros(comm.world + d, dtype=torch.float64)
        sums[comm.rank] = n_local
        sums[comm.world :] = torch.from_numpy(_column_sums(X, streamed_from_host))
        comm.all_reduce(sums)
        counts = sums[: comm.world].round().long().tolist()
        self._bounds = np.cumsum([0] + counts).tolist()
        n = self._bounds[-1]
        if n < self.n_components:
            raise InputError(f"X: has {n} points, fewer than n_components={self.n_components}")
        if isinstance(self.init, Mixture) and self.init.n_features != d:
            raise InputError(f"init: means have {self.init.n_features} feature(s), X has {d}")
        center = (sums[comm.world :] / n).numpy()
        self._n, self._d, self._n_local = n, d, n_local
        self._center = torch.as_tensor(center, dtype=self.dtype, device=self.device)
        self._center_host = center
        spread = torch.tensor([_max_sq_distance(X, center, streamed_from_host)], dtype=torch.float64)
        self._spread = float(comm.all_reduce(spread, op="max")[0])
        self._use_moments = self._choose_moments(d)
        self._plan = (MomentsPlan(self.covariance_type, self.n_components, d, self.reg_covar, self.dtype, self.device)
                      if self._use_moments else None)
        if streamed_from_host:
            chunk = (self.chunk_size if self.chunk_size != "auto"
                     else min(auto_chunk(n_local, self._bytes_per_row(d), self.device) or READ_ROWS, READ_ROWS))
            self._chunks = HostChunks(X.read, n_local, d, center, max(1, min(chunk, max(n_local, 1))),
                                      self.dtype, self.device)
            self._X = None
        else:
            self._X = torch.as_tensor(X - center, dtype=self.dtype, device=self.device)
            chunk = self._device_chunk(n_local, d) or max(n_local, 1)
            self._chunks = DeviceChunks(self._X, chunk)
        rows = self._chunks.chunk
        self._wlp = torch.empty(self.n_components * rows, dtype=self.dtype, device=self.device)
        self._resp = torch.empty_like(self._wlp)
        self._acc = self._accumulator()
        self._phi_rows = 1 + d + self._kern.n_moments(d)
        self._phi_buffer = (torch.empty(self._phi_rows * rows, dtype=self.dtype, device=self.device)
                            if self._use_moments else None)
        self._triu_i, self._triu_j = torch.triu_indices(d, d, device=self.device)
        self._local_take = local_take
        self._gen = torch.Generator().manual_seed(int(self.seed))
        self._watch_X = self._watch_phi = None
        self._set_initial_parameters_streamed()

    def _accumulator(self) -> Accumulator:
        d = self._d
        return Accumulator(self.n_components, d, self.covariance_type, self._use_moments,
                           1 + d + self._kern.n_moments(d), self.device)

    def _set_initial_parameters_streamed(self) -> None:
        if isinstance(self.init, Mixture):
            self._set_initial_parameters()
            return
        k, d = self.n_components, self._d
        shapes = [(k,), (k, d), self._cov_shape()]
        flat = torch.zeros(sum(int(np.prod(s)) for s in shapes), dtype=self.dtype, device=self.device)
        idx = init_indices(self._n, self.init_sample, self.seed)
        rows, _ = gather_rows(self.comm, self._local_take, self._bounds,
                              np.arange(self._n) if idx is None else idx)
        if self.comm.is_root:
            X0 = torch.as_tensor(rows - self._center_host, dtype=self.dtype, device=self.device)
            resp = initial_responsibilities(self.init, X0, k, self._gen).T.contiguous()
            _, weights, means, cov = K.estimate_from_resp(X0, resp, self.reg_covar, self.covariance_type)
            flat.copy_(torch.cat([weights.reshape(-1), means.reshape(-1), cov.reshape(-1)]))
        self.comm.broadcast(flat)
        parts = torch.split(flat, [int(np.prod(s)) for s in shapes])
        self._weights, self._means, self._cov = (p.reshape(s).clone() for p, s in zip(parts, shapes))
        self._factor, failed = self._kern.factor(self._cov)
        if bool(failed.any()):
            from emviz.em.gmm import FitError

            raise FitError(f"init: the initial covariances are not positive definite; {self._remedy()}")

    def _cov_shape(self) -> tuple:
        k, d = self.n_components, self._d
        return {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[self.covariance_type]

    # ------------------------------------------------------------------ what the recorder asks
    def gather_rows(self, indices, labels=None):
        """The rows at sorted global ``indices`` (and their labels), on rank 0; (None, None) elsewhere.
        A collective in a data-parallel fit: every rank calls it with the same indices."""
        self._require_init()
        indices = np.asarray(indices, dtype=np.int64)
        if not self._streamed:
            return self._host[indices], None if labels is None else np.asarray(labels)[indices]
        return gather_rows(self.comm, self._local_take, self._bounds, indices, labels)

    def watch(self, indices, rows=None):
        """Record the log-responsibilities of the points at global ``indices`` (their ``rows`` on rank
        0, from :meth:`gather_rows`). Returns the columns of :attr:`StepResult.log_resp` that hold them."""
        self._require_init()
        indices = np.asarray(indices, dtype=np.int64)
        if not self._streamed:
            return indices
        self._watch_X = torch.as_tensor(np.asarray(rows) - self._center_host, dtype=self.dtype, device=self.device)
        self._watch_phi = K.moment_features(self._watch_X, self.covariance_type) if self._use_moments else None
        return np.arange(len(indices))

    # ------------------------------------------------------------------ the streamed step
    def _pass(self, m_step: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """One pass over the rows: the log-likelihood (fresh scalar) and the watched points'
        log-responsibilities (K, M); with ``m_step`` also the statistics, all-reduced, in ``self._acc``."""
        k, kind = self.n_components, self.covariance_type
        acc, moments = self._acc, self._use_moments
        acc.reset()
        if moments:
            W = (self._plan.natural_weights(self._weights, self._means, self._factor) if self._plan.fused
                 else K.natural_weights(self._weights, self._means, self._factor, kind))
        watched = self._watched_log_resp(W if moments else None)
        for Xc in self._chunks:
            c = Xc.shape[0]
            wlp = self._wlp[: k * c].view(k, c)
            resp = self._resp[: k * c].view(k, c)
            if moments:
                phi = self._features(Xc)
                torch.matmul(W, phi, out=wlp)
            else:
                K.weighted_log_prob_direct(Xc, self._weights, self._means, self._factor, kind, out=wlp)
            torch.softmax(wlp, 0, out=resp)
            acc.add_loglik(torch.amax(wlp, 0).sub_(torch.amax(resp, 0).log_()))
            if not m_step:
                continue
            if self.algorithm == "hard":
                resp = torch.zeros_like(resp).scatter_(0, wlp.argmax(0, keepdim=True), 1.0)
            if moments:
                acc.add_moments(resp, phi)
            else:
                acc.add_shifted(resp, Xc, self._means)
        self.comm.all_reduce(acc.buffer if m_step else acc.ll)
        return acc.ll[0].clone().to(self.dtype), watched

    def _features(self, Xc: torch.Tensor) -> torch.Tensor:
        """phi(x) (P, c) of a chunk, written into one work buffer (no concatenation per chunk)."""
        c, d = Xc.shape
        p = self._phi_rows
        phi = self._phi_buffer[: p * c].view(p, c)
        phi[0].fill_(1.0)
        XT = phi[1 : 1 + d]
        XT.copy_(Xc.mT)
        if self.covariance_type in ("full", "tied"):
            torch.mul(XT[self._triu_i], XT[self._triu_j], out=phi[1 + d :])
        elif self.covariance_type == "diag":
            torch.mul(XT, XT, out=phi[1 + d :])
        else:
            torch.sum(XT * XT, 0, keepdim=True, out=phi[1 + d :])
        return phi

    def _watched_log_resp(self, W) -> torch.Tensor:
        if self._watch_X is None:
            return torch.empty(self.n_components, 0, dtype=self.dtype, device=self.device)
        if W is not None:
            wlp = W @ self._watch_phi
        else:
            wlp = K.weighted_log_prob_direct(self._watch_X, self._weights, self._means, self._factor,
                                             self.covariance_type)
        return wlp - torch.logsumexp(wlp, 0, keepdim=True)

    def _streamed_m_step(self) -> torch.Tensor:
        k, d = self.n_components, self._d
        stats = self._acc.stats
        plan = self._plan
        if self._use_moments:
            raw = stats.view(k, -1).to(self.dtype)
            if plan.fused:  # the buffer estimate() reads, with scikit-learn's 10 eps on the sums
                raw = torch.add(raw, plan._nk_guard, out=plan._stats)
            empty, weights, means, cov = plan.estimate(raw, self._means, self._cov)
        else:
            empty, weights, means, cov = estimate_from_shifted(stats, self._means, self.reg_covar,
                                                               self.covariance_type, self._cov, d, self.dtype)
        factor, failed = plan.factor(cov) if plan is not None else self._kern.factor(cov)
        self._failed.append(failed)
        self._empty.append(empty)
        self._weights, self._means, self._cov, self._factor = weights, means, cov, factor
        return empty

    def _leave_moments_streamed(self) -> None:
        """Continue on the direct path (shifted statistics): see ``_leave_moments_if_ill_conditioned``."""
        self._use_moments = False
        self._plan = None
        self._acc = self._accumulator()
        self._watch_phi = self._phi_buffer = None


def _blocks(X, streamed_from_host: bool):
    if streamed_from_host:
        yield from (block for _, block in X.blocks())
    else:
        for start in range(0, len(X), READ_ROWS):
            yield X[start : start + READ_ROWS]


def _column_sums(X, streamed_from_host: bool) -> np.ndarray:
    total = np.zeros(X.shape[1])
    for block in _blocks(X, streamed_from_host):
        total += block.sum(0)
    return total


def _max_sq_distance(X, center: np.ndarray, streamed_from_host: bool) -> float:
    """max_n |x_n - c|^2 (the moments path's conditioning check needs it), chunk-wise."""
    best = 0.0
    for block in _blocks(X, streamed_from_host):
        if len(block):
            best = max(best, float(np.max(np.sum((block - center) ** 2, axis=1))))
    return best
