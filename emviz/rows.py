"""Data that the fitter reads chunk by chunk instead of holding whole: a memory-mapped ``.npy`` file.

:class:`NpyRows` is what :func:`emviz.data.load_file` returns for a ``.npy`` file larger than
:data:`MMAP_BYTES`: the file is opened with ``np.load(mmap_mode="r")`` and nothing reads it whole. Rows come
out as float64 chunks of at most :data:`READ_ROWS` rows (the selected columns, standardised if asked), so a
pass over the data costs a chunk's memory plus the operating system's page cache of the file, which it can
drop at will. The same object describes one rank's shard of the rows (:meth:`NpyRows.shard`), with error
messages that name rows of the whole file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emviz.errors import InputError

__all__ = ["MMAP_BYTES", "READ_ROWS", "NpyRows", "is_rows", "open_npy", "read_npy", "shard_bounds"]

#: ``.npy`` files larger than this are memory-mapped and streamed; smaller ones are read into memory.
MMAP_BYTES = 64 << 20

#: Rows per read of a memory-mapped file (validation, sums, host-to-device streaming).
READ_ROWS = 1 << 18


def shard_bounds(n: int, world: int) -> list[int]:
    """Row boundaries of ``world`` contiguous, nearly equal shards of ``n`` rows (length world + 1)."""
    return [r * n // world for r in range(world + 1)]


def is_rows(X) -> bool:
    """Whether X is streamed data (:class:`NpyRows`) rather than an array."""
    return isinstance(X, NpyRows)


class NpyRows:
    """Rows ``[start, stop)`` of a memory-mapped 2-D ``.npy`` array, columns ``columns``, as float64.

    Parameters
    ----------
    path : Path
    array : np.memmap of shape (N, F)
    columns : list of int
        Column indices to keep.
    start, stop : int
        The row range (a shard); the whole file by default.
    offset, scale : arrays of shape (D,), optional
        Rows are returned as ``(x - offset) / scale`` (standardised data).
    """

    def __init__(self, path: Path, array: np.ndarray, columns, start: int = 0, stop: int | None = None,
                 offset=None, scale=None):
        self.path = Path(path)
        self._array = array
        self.columns = list(columns)
        self._all_columns = self.columns == list(range(array.shape[1]))
        self.start = int(start)
        self.stop = int(array.shape[0] if stop is None else stop)
        self.offset = None if offset is None else np.asarray(offset, dtype=np.float64)
        self.scale = None if scale is None else np.asarray(scale, dtype=np.float64)

    # ndarray-like facts, for code that only asks for the shape
    @property
    def shape(self) -> tuple[int, int]:
        return (self.stop - self.start, len(self.columns))

    @property
    def ndim(self) -> int:
        return 2

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, key):
        """A slice of rows, read (``rows[:m]``); nothing else is supported."""
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("NpyRows supports only row slices; use take() for indices")
        start, stop, _ = key.indices(len(self))
        return self.read(start, max(start, stop))

    @property
    def n_total(self) -> int:
        """Rows in the whole file (all shards)."""
        return int(self._array.shape[0])

    @property
    def nbytes(self) -> int:
        return len(self) * len(self.columns) * 8

    def __repr__(self):
        return f"NpyRows({self.path.name!r}, rows {self.start}:{self.stop}, columns {self.columns})"

    def shard(self, start: int, stop: int) -> "NpyRows":
        """Rows ``[start, stop)`` of this view (file rows ``self.start + start ...``)."""
        return NpyRows(self.path, self._array, self.columns, self.start + start, self.start + stop,
                       self.offset, self.scale)

    def standardized(self, offset, scale) -> "NpyRows":
        return NpyRows(self.path, self._array, self.columns, self.start, self.stop, offset, scale)

    # ------------------------------------------------------------------ reading
    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` of this view as a fresh float64 array (stop - start, D)."""
        raw = self._array[self.start + start : self.start + stop]
        block = np.array(raw if self._all_columns else raw[:, self.columns], dtype=np.float64)
        return self._transform(block)

    def take(self, indices) -> np.ndarray:
        """The rows at sorted ``indices`` (into this view), float64 (len(indices), D): reads only those."""
        idx = np.asarray(indices, dtype=np.int64) + self.start
        raw = self._array[idx]
        return self._transform(np.array(raw if self._all_columns else raw[:, self.columns], dtype=np.float64))

    def _transform(self, block: np.ndarray) -> np.ndarray:
        if self.offset is not None:
            block -= self.offset
            block /= self.scale
        return block

    def blocks(self, rows: int = READ_ROWS):
        """(start, block) over the whole view, ``rows`` rows at a time."""
        for start in range(0, len(self), rows):
            yield start, self.read(start, min(start + rows, len(self)))

    # ------------------------------------------------------------------ checks and sums, chunk-wise
    def check(self, max_abs: float) -> None:
        """Raise InputError at the first non-finite or too large value (one pass, chunk-wise)."""
        for start, block in self.blocks():
            bad = ~np.isfinite(block) | (np.abs(block) > max_abs)
            if bad.any():
                i, j = np.argwhere(bad)[0]
                row, value = self.start + start + i, block[i, j]
                if not np.isfinite(value):
                    raise InputError(f"{self.path}: element [{row}, {self.columns[j]}] is {value}; values must be finite")
                raise InputError(f"{self.path}: element [{row}, {self.columns[j]}] is {value:g}, too large; EM squares "
                                 f"and sums the values, which overflows beyond {max_abs:g}: rescale the data")

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Sum and sum of squares of every column, float64 (D,), (D,)."""
        total = np.zeros(len(self.columns))
        squares = np.zeros(len(self.columns))
        for _, block in self.blocks():
            total += block.sum(0)
            squares += np.einsum("ij,ij->j", block, block)
        return total, squares


def read_npy(path: Path, mmap_mode=None) -> np.ndarray:
    """``np.load`` of one numeric 1-D or 2-D array, as (N, D) (memory-mapped with ``mmap_mode="r"``), or
    an InputError saying what the file holds instead."""
    try:
        arr = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise InputError(f"{path}: holds Python objects (dtype object); save a numeric array") from None
        raise InputError(f"{path}: not a readable .npy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise InputError(f"{path}: holds several arrays; save one array with np.save")
    if arr.dtype.names is not None or arr.dtype.kind not in "biuf":
        raise InputError(f"{path}: must hold numbers, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InputError(f"{path}: must be a 1-D or 2-D array (N, D), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{path}: is empty (shape {arr.shape})")
    return arr


def open_npy(path: Path, columns_index, mmap="auto") -> NpyRows | None:
    """An :class:`NpyRows` over a numeric 2-D (or 1-D) ``.npy`` file, or None to read it whole (``mmap``
    False, or "auto" and a file of at most :data:`MMAP_BYTES`; or a file whose rows are not contiguous).

    ``columns_index`` maps the number of fields to the 0-based column indices to keep (it raises for bad ones).
    """
    if mmap is False or (mmap == "auto" and path.stat().st_size <= MMAP_BYTES):
        return None
    arr = read_npy(path, mmap_mode="r")
    if not isinstance(arr, np.memmap) or not arr.flags.c_contiguous:
        return None  # a Fortran-ordered file: reading a row would touch every column's pages
    return NpyRows(path, arr, columns_index(arr.shape[1]))
