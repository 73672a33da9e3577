"""Exact EM chunk by chunk: the E-step and the M-step's sufficient statistics accumulated over chunks of
rows, so that no (N, K) or (N, K, D) array exists. Memory is O(chunk · K · D) plus the data.

The statistics are sums over points, so chunking changes only the order of the additions, and the
iterates equal the unchunked fit's to rounding. Two kinds, as the unchunked fitter has two paths:

* **moments** (float64): ``S = sum_n r_nk phi(x_n)`` (K, P) with ``phi(x) = [1, x, m(x)]``, the same
  statistics :class:`emviz.em.plan.MomentsPlan` estimates from;
* **shifted** (the direct path; float32): about the E-step's own means ``m_k``:
  ``n_k = sum r``, ``s_k = sum r (x - m_k)``, ``S_k = sum r (x - m_k)(x - m_k)^T`` (its diagonal for
  diag/spherical). Then ``mu_k = m_k + s_k / n_k`` and ``Sigma_k = S_k / n_k - (s_k/n_k)(s_k/n_k)^T + reg``,
  which is scikit-learn's two-pass estimate: ``s_k / n_k`` is the mean's step, small next to the spread,
  so nothing cancels the way raw moments would in float32.

Chunks are accumulated into one float64 buffer ``[log-likelihood, statistics...]``: the buffer that a
data-parallel fit all-reduces once per iteration (:mod:`emviz.em.comm`).

Rows come from a :class:`DeviceChunks` (the data on the device, chunks are views) or a
:class:`HostChunks` (a memory-mapped file or a shard on the host, each chunk read, centred and copied to
the device per pass; on CUDA through pinned buffers on a copy stream, so the copy of chunk i + 1 overlaps
the compute on chunk i).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from emviz.em.plan import EMPTY_COMPONENT_MASS, keep_previous

__all__ = ["DeviceChunks", "HostChunks", "auto_chunk", "work_bytes_per_row", "estimate_from_shifted",
           "Accumulator"]

#: The most rows ``chunk_size="auto"`` gives a chunk; larger chunks gain nothing measurable.
MAX_AUTO_CHUNK = 1 << 20
#: Share of the device's free memory that ``chunk_size="auto"`` lets the work arrays take.
AUTO_SHARE = 0.25
#: The fewest rows of an automatic chunk.
MIN_AUTO_CHUNK = 1 << 12


def work_bytes_per_row(k: int, d: int, p: int, itemsize: int, moments: bool) -> int:
    """Bytes of work arrays per point of a chunk: (K, c) log-densities, responsibilities and temporaries,
    the (P, c) features (moments) or the (K, c, D) differences (direct), the chunk itself."""
    per = 4 * k + d + (p if moments else 2 * k * d + k)
    return per * itemsize


def free_memory(device: torch.device) -> int:
    """Bytes free on the device now: CUDA's free memory, or the host's available memory."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 34


def auto_chunk(n: int, bytes_per_row: int, device: torch.device, resident_bytes: int = 0) -> int | None:
    """Rows per chunk for ``chunk_size="auto"``: None when the whole (K, N) work fits (no chunking),
    else the most rows whose work arrays take :data:`AUTO_SHARE` of the free memory."""
    budget = AUTO_SHARE * max(free_memory(device) - resident_bytes, 0)
    if n * bytes_per_row <= budget:
        return None
    rows = int(budget // max(bytes_per_row, 1))
    return int(min(max(rows - rows % 1024, MIN_AUTO_CHUNK), MAX_AUTO_CHUNK))


class DeviceChunks:
    """Chunks of centred data already on the device (views, no copies)."""

    def __init__(self, X: torch.Tensor, chunk: int):
        self.X, self.chunk = X, int(chunk)
        self.n = X.shape[0]

    def __iter__(self):
        for start in range(0, self.n, self.chunk):
            yield self.X[start : start + self.chunk]


class HostChunks:
    """Chunks of host rows (``read(a, b)`` -> float64 (b - a, D)), centred and moved to the device per pass.

    On CUDA two pinned host buffers alternate: chunk i + 1 is read into one and copied on a side stream
    while the device computes on chunk i; the compute stream waits for the copy's event only.
    """

    def __init__(self, read, n: int, d: int, center: np.ndarray, chunk: int, dtype, device: torch.device):
        self.read, self.n, self.d = read, int(n), int(d)
        self.center = np.asarray(center, dtype=np.float64)
        self.chunk, self.dtype, self.device = int(chunk), dtype, device
        self._cuda = device.type == "cuda"
        if self._cuda:
            rows = min(self.chunk, self.n)
            self._pinned = [torch.empty(rows, d, dtype=dtype).pin_memory() for _ in range(2)]
            self._device_bufs = [torch.empty(rows, d, dtype=dtype, device=device) for _ in range(2)]
            self._copied = [torch.cuda.Event() for _ in range(2)]
            self._used = [torch.cuda.Event() for _ in range(2)]
            self._stream = torch.cuda.Stream(device)

    def _host_block(self, start: int) -> np.ndarray:
        block = self.read(start, min(start + self.chunk, self.n))
        block -= self.center
        return block

    def __iter__(self):
        if not self._cuda:
            for start in range(0, self.n, self.chunk):
                yield torch.from_numpy(self._host_block(start)).to(self.dtype)
            return
        compute = torch.cuda.current_stream(self.device)
        starts = list(range(0, self.n, self.chunk))
        pending = None
        for i, start in enumerate(starts):
            slot = i % 2
            block = self._host_block(start)
            rows = len(block)
            self._used[slot].synchronize()  # the device is done with this slot's previous chunk
            self._pinned[slot][:rows].copy_(torch.from_numpy(block))
            with torch.cuda.stream(self._stream):
                self._stream.wait_event(self._used[slot])
                self._device_bufs[slot][:rows].copy_(self._pinned[slot][:rows], non_blocking=True)
                self._copied[slot].record(self._stream)
            if pending is not None:
                yield from self._hand_over(*pending, compute)
            pending = (slot, rows)
        if pending is not None:
            yield from self._hand_over(*pending, compute)

    def _hand_over(self, slot: int, rows: int, compute):
        compute.wait_event(self._copied[slot])
        yield self._device_bufs[slot][:rows]
        self._used[slot].record(compute)


def estimate_from_shifted(acc_stats: torch.Tensor, ref_means: torch.Tensor, reg: float, kind: str,
                          prev_cov: torch.Tensor, d: int, dtype):
    """M-step from the shifted statistics ``[n (K), s (K*D), S (K*D*D or K*D)]`` (float64, flat).

    Returns (empty (K,) bool, weights, means, covariances), scikit-learn's estimates (see the module doc).
    """
    k = ref_means.shape[0]
    stats = acc_stats.to(dtype)
    nk_raw = stats[:k]
    s = stats[k : k + k * d].view(k, d)
    nk = nk_raw + 10 * torch.finfo(dtype).eps
    step = s / nk[:, None]
    means = ref_means + step
    if kind in ("full", "tied"):
        S = stats[k + k * d :].view(k, d, d)
        S = 0.5 * (S + S.mT)  # exactly symmetric, as the unchunked scatter
        scatter = S - nk[:, None, None] * step[:, :, None] * step[:, None, :]  # sum r (x - mu)(x - mu)^T
        eye = torch.eye(d, dtype=dtype, device=stats.device)
        if kind == "tied":
            cov = scatter.sum(0) / nk.sum() + reg * eye
        else:
            cov = scatter / nk[:, None, None] + reg * eye
    else:
        S = stats[k + k * d :].view(k, d)
        cov = S / nk[:, None] - step * step + reg
        if kind == "spherical":
            cov = cov.mean(1)
    empty = nk_raw < EMPTY_COMPONENT_MASS
    means, cov = keep_previous(empty, means, cov, ref_means, prev_cov, kind)
    return empty, nk / nk.sum(), means, cov


def shifted_size(k: int, d: int, kind: str) -> int:
    return k + k * d + (k * d * d if kind in ("full", "tied") else k * d)


class Accumulator:
    """The flat float64 buffer ``[log-likelihood, statistics...]`` that chunks add into, and the
    per-chunk arithmetic that fills it (see the module doc for the two kinds of statistics)."""

    def __init__(self, k: int, d: int, kind: str, moments: bool, p: int, device):
        self.k, self.d, self.kind, self.moments = k, d, kind, moments
        size = (k * p) if moments else shifted_size(k, d, kind)
        self.buffer = torch.zeros(1 + size, dtype=torch.float64, device=device)
        self.ll = self.buffer[:1]
        self.stats = self.buffer[1:]

    def reset(self) -> None:
        self.buffer.zero_()

    def add_loglik(self, lse: torch.Tensor) -> None:
        self.ll.add_(lse.sum().to(torch.float64))

    def add_moments(self, resp: torch.Tensor, phi: torch.Tensor) -> None:
        """``resp`` (K, c) and ``phi`` (P, c): S += resp @ phi^T."""
        self.stats.add_((resp @ phi.mT).reshape(-1).to(torch.float64))

    def add_shifted(self, resp: torch.Tensor, X: torch.Tensor, ref_means: torch.Tensor) -> None:
        """``resp`` (K, c), ``X`` (c, D), ``ref_means`` (K, D)."""
        diff = X[None, :, :] - ref_means[:, None, :]  # (K, c, D)
        weighted = resp[:, :, None] * diff
        parts = [resp.sum(1), weighted.sum(1).reshape(-1)]
        if self.kind in ("full", "tied"):
            parts.append(torch.matmul(weighted.mT, diff).reshape(-1))
        else:
            parts.append((weighted * diff).sum(1).reshape(-1))
        self.stats.add_(torch.cat(parts).to(torch.float64))
