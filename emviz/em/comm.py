"""How the fitter talks to the other processes of a data-parallel fit: :class:`Local` (one process, every
call a no-op) or :class:`TorchDistributed` (``torch.distributed``: gloo on CPUs, NCCL on GPUs).

Data-parallel EM needs few collectives: sums at the start (the centre, the spread), one broadcast of the
starting parameters (computed on rank 0), one gather of the rows the recorder shows, and per iteration
one ``all_reduce`` of every sufficient statistic and the log-likelihood packed in a single flat buffer.
Every rank then does the same M-step on the same numbers, so the ranks never drift apart.

:meth:`Comm.agree` runs a step that may fail on one rank only (its shard holds a NaN) and makes every
rank raise the failing rank's message, instead of leaving the others waiting in the next collective.
"""

from __future__ import annotations

import numpy as np
import torch

from emviz.errors import InputError
from emviz.rows import shard_bounds  # noqa: F401 - re-exported

__all__ = ["Comm", "Local", "TorchDistributed", "RankError", "shard_bounds"]


class RankError(InputError):
    """Another rank failed; carries its one-line message."""


class Comm:
    """The collectives the fitter uses; this base class is one process (every call returns its input)."""

    rank = 0
    world = 1
    compute_device = None

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def all_reduce(self, tensor: torch.Tensor, op: str = "sum") -> torch.Tensor:
        """Reduce ``tensor`` in place over the ranks (``op``: "sum" or "max"); returns it."""
        return tensor

    def broadcast(self, tensor: torch.Tensor) -> torch.Tensor:
        """Rank 0's ``tensor`` on every rank, in place; returns it."""
        return tensor

    def gather(self, obj) -> list | None:
        """Every rank's ``obj`` (picklable) in rank order on rank 0; None elsewhere."""
        return [obj]

    def agree(self, fn):
        """Run ``fn()``; if it raised on any rank, raise on every rank (the failing rank's own error there,
        :class:`RankError` with its message elsewhere). Returns ``fn()``'s result."""
        return fn()

    def __repr__(self):
        return f"{type(self).__name__}(rank={self.rank}, world={self.world})"


class Local(Comm):
    """One process: nothing to talk to."""


LOCAL = Local()


class TorchDistributed(Comm):
    """The default ``torch.distributed`` process group (already initialised)."""

    def __init__(self, device: torch.device):
        import torch.distributed as dist

        self._dist = dist
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()
        self.backend = dist.get_backend()
        self.compute_device = device
        # NCCL reduces device tensors; gloo reduces CPU tensors (it also takes CUDA ones, more slowly).
        self.device = device if self.backend == "nccl" else torch.device("cpu")

    def _on(self, tensor: torch.Tensor):
        return tensor if tensor.device == self.device else tensor.to(self.device)

    def all_reduce(self, tensor, op="sum"):
        work = self._on(tensor)
        self._dist.all_reduce(work, op=self._dist.ReduceOp.SUM if op == "sum" else self._dist.ReduceOp.MAX)
        if work is not tensor:
            tensor.copy_(work)
        return tensor

    def broadcast(self, tensor):
        work = self._on(tensor)
        self._dist.broadcast(work, src=0)
        if work is not tensor:
            tensor.copy_(work)
        return tensor

    def gather(self, obj):
        out = [None] * self.world if self.rank == 0 else None
        self._dist.gather_object(obj, out, dst=0)
        return out

    def _all_gather(self, obj) -> list:
        out = [None] * self.world
        self._dist.all_gather_object(out, obj)
        return out

    def agree(self, fn):
        try:
            result, error = fn(), None
        except Exception as exc:  # noqa: BLE001 - reported to every rank, then re-raised here
            result, error = None, exc
        messages = self._all_gather(None if error is None else _one_line(error))
        failed = [(r, m) for r, m in enumerate(messages) if m is not None]
        if error is not None:
            raise error
        if failed:
            rank, message = failed[0]
            raise RankError(f"rank {rank}: {message}")
        return result


def _one_line(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0] if text else type(exc).__name__


def gather_rows(comm: Comm, local_rows, bounds: list[int], indices: np.ndarray, labels=None):
    """Rows ``indices`` (sorted, global) of data sharded by ``bounds``, on rank 0, with their labels.

    ``local_rows(idx)`` reads this rank's rows at local indices ``idx``. Returns (X (M, D), labels (M,) or
    None) on rank 0 and (None, None) elsewhere.
    """
    lo, hi = bounds[comm.rank], bounds[comm.rank + 1]
    mine = indices[(indices >= lo) & (indices < hi)] - lo
    part = (local_rows(mine), None if labels is None else np.asarray(labels)[mine])
    parts = comm.gather(part)
    if parts is None:
        return None, None
    X = np.concatenate([p[0] for p in parts], axis=0)
    lab = None if labels is None else np.concatenate([p[1] for p in parts])
    return X, lab
