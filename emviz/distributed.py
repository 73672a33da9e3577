"""Data-parallel runs under ``torchrun``: one process per device, each fitting its shard of the rows.

``torchrun --standalone --nproc-per-node 2 -m emviz render config.yaml --out out/`` starts the processes
with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set. :func:`session` sees
them, initialises the default process group (NCCL when the model runs on CUDA, one GPU per local rank;
gloo on CPUs) with a timeout, and hands the fitter a :class:`emviz.em.comm.TorchDistributed`. Outside
``torchrun`` (or with one process) nothing is initialised and everything runs as always.

Rank 0 records, writes the trace and renders; the other ranks fit their shards and exit 0 when the fit
is done. A rank that fails while loading its shard or starting the fit makes every rank raise its
one-line message (:meth:`emviz.em.comm.Comm.agree`); a rank that dies makes the others' next collective
fail (gloo notices the closed connection; the process group's timeout bounds anything else), and
``torchrun`` then stops the rest.
"""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta

__all__ = ["launched", "session", "TIMEOUT_SECONDS"]

#: Seconds a collective may wait for the other ranks before it fails (env ``EMVIZ_DIST_TIMEOUT``).
TIMEOUT_SECONDS = 300.0


def launched() -> bool:
    """Whether this process is one of several started by ``torchrun`` (or an equivalent launcher)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ
    except ValueError:
        return False


def rank_device(device_setting: str):
    """The torch device of this rank: CUDA device ``LOCAL_RANK`` for ``auto`` (on a machine with CUDA)
    and ``cuda``; ``cpu`` as given. An explicit ``cuda:N`` with several processes is refused: each rank
    needs its own device."""
    import torch

    from emviz.errors import InputError

    local = int(os.environ.get("LOCAL_RANK", "0"))
    wants_cuda = device_setting == "cuda" or (device_setting in (None, "auto") and torch.cuda.is_available())
    if str(device_setting).startswith("cuda:"):
        raise InputError(f"model.device: {device_setting!r} names one GPU, but torchrun started "
                         f"{os.environ.get('WORLD_SIZE')} processes; use cuda or auto (rank r takes cuda:LOCAL_RANK)")
    if not wants_cuda:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise InputError("model.device: cuda asked for, but this machine has no CUDA device; use cpu or auto")
    if local >= torch.cuda.device_count():
        raise InputError(f"model.device: local rank {local} has no GPU (this node has {torch.cuda.device_count()}); "
                         "start at most one process per GPU (--nproc-per-node)")
    return torch.device("cuda", local)


@contextlib.contextmanager
def session(device_setting: str = "auto"):
    """The communicator of this run: :data:`emviz.em.comm.LOCAL` outside ``torchrun``, else the
    default process group's, initialised here (and destroyed at the end if this call made it)."""
    from emviz.em.comm import LOCAL

    if not launched():
        yield LOCAL
        return
    import torch
    import torch.distributed as dist

    from emviz.em.comm import TorchDistributed

    device = rank_device(device_setting)
    backend = "nccl" if device.type == "cuda" else "gloo"
    timeout = timedelta(seconds=float(os.environ.get("EMVIZ_DIST_TIMEOUT", TIMEOUT_SECONDS)))
    made = not dist.is_initialized()
    if made:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend, timeout=timeout)
    try:
        yield TorchDistributed(device)
    finally:
        if made and dist.is_initialized():
            dist.destroy_process_group()
