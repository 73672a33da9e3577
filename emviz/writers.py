"""Frame writers: stream RGB frames into GIF, MP4, HTML or a folder of PNGs, and save stills, atomically.

Frames arrive one at a time as arrays of shape (H, W, 3), dtype uint8, all the same size. Every writer
keeps a bounded amount of state (the frame held back for ``hold_last_ms`` plus what its format needs),
so a 200-frame 1200x600 animation costs no more memory than a 2-frame one. Every output is built under
a hidden temporary name beside its target and renamed into place only when complete, so a crash or a
Ctrl-C never leaves a half-written file, and an older file at the target survives a failed run.

The writer protocol follows matplotlib's ``AbstractMovieWriter``: ``setup()``, ``grab_frame()``,
``finish()``, plus ``abort()``; a writer is also a context manager that finishes on success and aborts
on an exception.

Examples
--------
>>> with open_writer("em.gif", fps=8, hold_last_ms=1500, required_colors=[(255, 255, 255)]) as w:
...     for frame in frames:  # doctest: +SKIP
...         w.grab_frame(frame)
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import itertools
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import numpy as np

from emviz.errors import InputError, did_you_mean
from emviz.registry import Registry

__all__ = [
    "WRITERS",
    "FrameWriter",
    "GifWriter",
    "HtmlWriter",
    "Mp4Writer",
    "PngFramesWriter",
    "atomic_output",
    "gif_palette",
    "open_writer",
    "save_figure",
    "writer_for_path",
]

#: Writers by short name; ``writer_for_path`` maps output suffixes onto these names.
WRITERS = Registry("writer")

_SUFFIXES = {".gif": "gif", ".mp4": "mp4", ".html": "html", "": "png"}
_STILL_FORMATS = ("png", "pdf", "svg")

# GitHub stops rendering README images above about 5 MB.
DEFAULT_MAX_BYTES = 5_000_000


# --------------------------------------------------------------------------------------------------
# Atomic output


_temp_counter = itertools.count()


class _AtomicTarget:
    """A target path and the temporary path beside it that becomes the target on :meth:`commit`."""

    def __init__(self, path: str | os.PathLike, *, directory: bool = False, replaces: re.Pattern | None = None):
        self.path = Path(path)
        self.directory = directory
        self.replaces = replaces
        if self.path.exists() and self.path.is_dir() != directory:
            kind = "a folder" if self.path.is_dir() else "a file"
            raise InputError(
                f"output {str(self.path)!r} already exists and is {kind}; remove it or choose another name"
            )
        self._check_replaceable()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self._free_name(".tmp")
        if directory:
            self.tmp.mkdir()

    def _free_name(self, tag: str) -> Path:
        # Keep the real suffix last so tools that dispatch on it (ffmpeg, savefig) still see it; the
        # counter only matters when one process writes the same target twice at once.
        stem, suffix = (self.path.name, "") if self.directory else (self.path.stem, self.path.suffix)
        for n in itertools.chain([None], _temp_counter):
            pid = f"{os.getpid()}" if n is None else f"{os.getpid()}-{n}"
            candidate = self.path.with_name(f".{stem}.{pid}{tag}{suffix}")
            if not candidate.exists():
                return candidate
        raise AssertionError("unreachable")

    def _check_replaceable(self) -> None:
        """A folder is replaced whole: refuse one that holds anything but what this writer writes
        (a user's own files, the config, the data), rather than delete it."""
        if not (self.directory and self.replaces is not None and self.path.is_dir()):
            return
        others = sorted(p.name for p in self.path.iterdir() if not self.replaces.fullmatch(p.name))
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise InputError(f"output {str(self.path)!r} already exists and holds other files ({shown}); a folder "
                             "output replaces its folder whole, so choose a new or empty folder")

    def commit(self) -> None:
        """Move the finished temporary output into place, replacing an older one."""
        if not self.directory:
            _fsync(self.tmp)
            os.replace(self.tmp, self.path)
            return
        if not self.path.exists():
            os.replace(self.tmp, self.path)
            return
        self._check_replaceable()  # again: files may have appeared while the frames were drawn
        # os.replace cannot replace a non-empty folder: move the old one aside first, and put it back
        # if the swap fails, so that the target always holds one complete folder.
        old = self._free_name(".old")
        os.replace(self.path, old)
        try:
            os.replace(self.tmp, self.path)
        except BaseException:
            os.replace(old, self.path)
            raise
        shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        """Remove the temporary output; the target is left as it was."""
        if self.tmp.is_dir() and not self.tmp.is_symlink():
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()


def _fsync(path: Path) -> None:
    # Without this a power cut just after the rename can leave an empty file under the final name.
    with open(path, "rb") as f:
        os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Write to a temporary path beside ``path`` and move it into place only if the block completes.

    Parameters
    ----------
    path : str or os.PathLike
        The final output. Its parent folders are created.
    directory : bool, default False
        If True the output is a folder: the temporary folder is created empty and yielded, and on
        success it replaces ``path`` (an existing folder there is replaced whole).

    Yields
    ------
    pathlib.Path
        The temporary path, named ``.<stem>.<pid>.tmp<suffix>`` in the same folder so that the
        rename is atomic and tools that look at the suffix still work. For a file it does not exist yet.

    Raises
    ------
    InputError
        If ``path`` exists and is a folder where a file is wanted, or the other way round.

    Notes
    -----
    On any exception, KeyboardInterrupt included, the temporary output is removed, the exception
    propagates, and whatever was at ``path`` before is left untouched.
    """
    target = _AtomicTarget(path, directory=directory)
    try:
        yield target.tmp
        target.commit()
    except BaseException:
        target.discard()
        raise


# --------------------------------------------------------------------------------------------------
# The writer protocol


def _check_colors(colors: Iterable, what: str) -> list[tuple[int, int, int]]:
    """Validate RGB tuples of ints in 0..255 and drop repeats, keeping the first occurrence's order."""
    out: list[tuple[int, int, int]] = []
    for i, c in enumerate(colors):
        try:
            rgb = tuple(int(v) for v in c)
            ok = len(rgb) == 3 and all(0 <= v <= 255 and v == w for v, w in zip(rgb, c))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"{what}[{i}]: expected an RGB tuple of three integers 0-255, got {c!r}")
        if rgb not in out:
            out.append(rgb)
    return out


def _number(value, what: str, *, minimum: float, strict: bool) -> float:
    """``value`` as a finite float above ``minimum`` (or equal to it unless ``strict``), else InputError."""
    try:
        x = float(value)
        ok = np.isfinite(x) and (x > minimum if strict else x >= minimum)
    except (TypeError, ValueError):
        ok = False
    if not ok or isinstance(value, (str, bytes)):
        bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
        raise InputError(f"{what}: must be a number {bound}, got {value!r}")
    return x


class FrameWriter:
    """Base class of the streaming writers: frame checks, durations, the held-back last frame, atomicity.

    Parameters
    ----------
    path : str or os.PathLike
        The output file (or folder, for :class:`PngFramesWriter`).
    fps : float, default 10.0
        Frames per second; a frame grabbed without a duration lasts ``1000 / fps`` ms.
    hold_last_ms : float, default 0
        Extra time added to the last frame's duration, so that the final fit stays on screen.

    Notes
    -----
    Subclasses implement ``_open(tmp)``, ``_write(frame, duration_ms)``, ``_close()`` and
    ``_cleanup()``. The last grabbed frame is written only when the next one arrives or at
    :meth:`finish`, because its duration (with ``hold_last_ms``) is known only then.
    """

    name: ClassVar[str] = ""
    #: Keyword arguments of :func:`open_writer` that this writer takes besides fps and hold_last_ms.
    options: ClassVar[tuple[str, ...]] = ()
    directory: ClassVar[bool] = False
    #: For a folder writer: the names an existing folder may hold to be replaced (None: anything).
    replaces: ClassVar[re.Pattern | None] = None

    def __init__(self, path: str | os.PathLike, *, fps: float = 10.0, hold_last_ms: float = 0):
        self.path = Path(path)
        self.fps = _number(fps, "fps", minimum=0.0, strict=True)
        self.hold_last_ms = _number(hold_last_ms, "hold_last_ms", minimum=0.0, strict=False)
        self.frame_count = 0
        self.frame_size: tuple[int, int] | None = None  # (height, width)
        self._target: _AtomicTarget | None = None
        self._pending: tuple[np.ndarray, float] | None = None
        self._state = "new"

    # -- public protocol ---------------------------------------------------------------------------

    def setup(self) -> None:
        """Create the temporary output; called by ``__enter__`` or by the first :meth:`grab_frame`."""
        if self._state != "new":
            raise RuntimeError(f"{type(self).__name__} for {str(self.path)!r} is already set up")
        self._target = _AtomicTarget(self.path, directory=self.directory, replaces=self.replaces)
        self._state = "open"
        try:
            self._open(self._target.tmp)
        except BaseException:
            self.abort()
            raise

    def grab_frame(self, frame: np.ndarray, duration_ms: float | None = None) -> None:
        """Add one frame.

        Parameters
        ----------
        frame : array of shape (H, W, 3), dtype uint8
            RGB pixels; copied, so the caller may reuse its buffer (a canvas) right away.
        duration_ms : float, optional
            How long the frame shows; None means ``1000 / fps``.
        """
        if self._state == "new":
            self.setup()
        if self._state != "open":
            raise RuntimeError(f"cannot grab a frame: the writer for {str(self.path)!r} is {self._state}")
        frame = self._check_frame(frame)
        duration = self._duration(duration_ms)
        if self._pending is not None:
            self._write(*self._pending)
        self._pending = (frame.copy(), duration)
        self.frame_count += 1

    def finish(self) -> Path:
        """Write the held-back last frame, complete the file and move it into place; return its path."""
        if self._state != "open":
            raise RuntimeError(f"cannot finish: the writer for {str(self.path)!r} is {self._state}")
        try:
            if self._pending is None:
                raise ValueError(f"no frames were grabbed for {str(self.path)!r}; nothing to write")
            frame, duration = self._pending
            self._pending = None
            self._write(frame, duration + self.hold_last_ms)
            self._close()
            self._target.commit()
        except BaseException:
            self.abort()
            raise
        self._state = "finished"
        self._after_commit()
        return self.path

    def abort(self) -> None:
        """Stop writing and remove the temporary output; an existing file at the target is kept."""
        if self._state != "open":
            return
        self._state = "aborted"
        self._pending = None
        try:
            self._cleanup()
        finally:
            self._target.discard()

    def __enter__(self):
        if self._state == "new":
            self.setup()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()

    # -- helpers -----------------------------------------------------------------------------------

    def _check_frame(self, frame) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            hint = ""
            if frame.ndim == 3:
                hint = " (for a matplotlib canvas use np.asarray(canvas.buffer_rgba())[..., :3])"
            raise ValueError(
                f"frame {self.frame_count}: expected an RGB uint8 array of shape (H, W, 3), "
                f"got shape {frame.shape} dtype {frame.dtype}{hint}"
            )
        if self.frame_size is None:
            self.frame_size = frame.shape[:2]
        elif frame.shape[:2] != self.frame_size:
            raise ValueError(
                f"frame {self.frame_count}: size {frame.shape[1]}x{frame.shape[0]} differs from the "
                f"first frame's {self.frame_size[1]}x{self.frame_size[0]}; all frames must be the same size"
            )
        return frame

    def _duration(self, duration_ms) -> float:
        if duration_ms is None:
            return 1000.0 / self.fps
        return _number(duration_ms, f"duration_ms of frame {self.frame_count}", minimum=0.0, strict=True)

    def _open(self, tmp: Path) -> None:
        """Open the temporary output."""

    def _write(self, frame: np.ndarray, duration_ms: float) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        """Complete and close the temporary output (it is committed afterwards)."""

    def _cleanup(self) -> None:
        """Release resources after a failure (the temporary output is removed afterwards)."""

    def _after_commit(self) -> None:
        """Checks on the finished output."""


def writer_for_path(path: str | os.PathLike) -> type[FrameWriter]:
    """Return the writer class for an output path, chosen by its suffix.

    ``.gif``, ``.mp4`` and ``.html`` are files; a path without a suffix, or one ending in ``/``, is a
    folder of PNG frames. Suffixes are case-insensitive.

    Raises
    ------
    InputError
        For any other suffix; the message names the suffix, the closest choice and all choices.
    """
    text = os.fspath(path)
    suffix = "" if text.endswith(("/", os.sep)) else Path(text).suffix.lower()
    if suffix not in _SUFFIXES:
        choices = [s for s in _SUFFIXES if s]
        raise InputError(
            f"output {text!r}: unknown suffix {suffix!r}{did_you_mean(suffix, choices)}; "
            f"choose from {', '.join(choices)}, or a name without a suffix for a folder of PNG frames"
        )
    return WRITERS.get(_SUFFIXES[suffix])


def open_writer(
    path: str | os.PathLike,
    *,
    fps: float = 10.0,
    hold_last_ms: float = 0,
    loop: int | None = 0,
    required_colors: Sequence[tuple[int, int, int]] = (),
    palette_frames: Sequence[np.ndarray] = (),
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    labels: Sequence[str] | None = None,
    colors: int = 255,
) -> FrameWriter:
    """Create the writer for ``path`` (by suffix, see :func:`writer_for_path`), not yet set up.

    Options that the chosen format has no use for are ignored, so that one call site can write every
    format: ``loop``, ``required_colors``, ``palette_frames`` and ``max_bytes`` are for GIF, ``labels``
    for HTML.

    Parameters
    ----------
    path : str or os.PathLike
        Output file, or folder for PNG frames.
    fps : float, default 10.0
        Frames per second for frames grabbed without a duration (and the MP4 frame rate).
    hold_last_ms : float, default 0
        Added to the last frame's duration.
    loop : int or None, default 0
        GIF loop count (NETSCAPE2.0); 0 loops forever, None plays once.
    required_colors : sequence of (r, g, b) ints 0-255
        Colours the GIF palette must contain exactly: background, text, component colours.
    palette_frames : sequence of arrays of shape (H, W, 3), dtype uint8
        A few sample frames from which the rest of the GIF palette is chosen; default the first frame.
    max_bytes : int or None, default 5_000_000
        Warn if the GIF ends up larger than this (None: never warn).
    labels : sequence of str, optional
        One caption per frame for the HTML player, such as ``"iteration 12"``.
    colors : int, default 255
        Most colours in the GIF palette (8-255, required colours included). Line art reads the same
        with 128 and its GIF is smaller: fewer near-colours at antialiased edges compress better.

    Returns
    -------
    FrameWriter
        Use it as a context manager, or call ``setup``/``grab_frame``/``finish`` yourself.
    """
    cls = writer_for_path(path)
    given = {
        "loop": loop,
        "required_colors": required_colors,
        "palette_frames": palette_frames,
        "max_bytes": max_bytes,
        "labels": labels,
        "colors": colors,
    }
    return cls(path, fps=fps, hold_last_ms=hold_last_ms, **{k: given[k] for k in cls.options})


# --------------------------------------------------------------------------------------------------
# GIF


def gif_palette(
    required_colors: Sequence[tuple[int, int, int]] = (),
    sample_frames: Sequence[np.ndarray] = (),
    max_colors: int = 255,
) -> np.ndarray:
    """Choose one palette for a whole animation.

    Parameters
    ----------
    required_colors : sequence of (r, g, b) ints 0-255
        Put first, exactly, in the given order (repeats dropped).
    sample_frames : sequence of arrays of shape (H, W, 3), dtype uint8
        The rest of the palette comes from these: their exact colours when there are about 256 or fewer
        (the rarest dropped if they do not fit), else a median cut (Pillow's, without dithering).
    max_colors : int, default 255
        Palette size; 255 leaves one of a GIF's 256 indices for transparency.

    Returns
    -------
    array of shape (n, 3), dtype uint8
        Distinct colours, ``n <= max_colors``, the required ones first.
    """
    from PIL import Image

    required = _check_colors(required_colors, "required_colors")
    if len(required) > max_colors:
        raise InputError(
            f"required_colors: {len(required)} distinct colours do not fit a {max_colors}-colour GIF palette"
        )
    budget = max_colors - len(required)
    frames = [np.asarray(f, dtype=np.uint8).reshape(-1, 3) for f in sample_frames]
    if not frames or budget == 0:
        return np.array(required, dtype=np.uint8).reshape(-1, 3)
    pixels = np.concatenate(frames)
    # Median cut cost grows with the pixel count; a regular subsample of a few megapixels loses nothing.
    pixels = pixels[:: max(1, len(pixels) // 2_000_000)]
    montage = Image.fromarray(np.ascontiguousarray(pixels[None]))
    exact = montage.getcolors(maxcolors=256 + len(required))
    if exact is not None:
        # Few colours (flat line art): keep them all exactly, the most frequent first.
        candidates = [c for _, c in sorted(exact, key=lambda nc: (-nc[0], nc[1]))]
    else:
        quant = montage.quantize(colors=budget, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        flat = quant.getpalette()
        counts = quant.getcolors(maxcolors=256)
        candidates = [tuple(flat[3 * i : 3 * i + 3]) for _, i in sorted(counts, key=lambda nc: (-nc[0], nc[1]))]
    extra = [c for c in dict.fromkeys(map(tuple, candidates)) if c not in required]
    return np.array(required + extra[:budget], dtype=np.uint8).reshape(-1, 3)


class _PaletteMap:
    """Exact-first nearest-colour mapping of RGB pixels to palette indices, memoised in a 2**24 table.

    A pixel equal to a palette colour always maps to that index (Pillow's quantize shares one cache
    cell among 4x4x4 neighbouring colours and can map a palette colour to its neighbour). Unknown colours
    get the nearest palette entry by squared RGB distance, the lowest index on ties: deterministic.
    """

    def __init__(self, palette: np.ndarray, sentinel: int):
        self.palette = palette.astype(np.int32)
        self.sentinel = sentinel  # the transparent index: never a mapping result, so it marks "not yet known"
        self._table = np.full(1 << 24, sentinel, dtype=np.uint8)  # 16 MiB, independent of the frame count

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Map an array of shape (h, w, 3) uint8 to indices of shape (h, w) uint8."""
        keys = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
        idx = np.take(self._table, keys)
        missing = idx == self.sentinel
        if missing.any():
            new = np.unique(keys[missing])
            self._learn(new)
            idx[missing] = np.take(self._table, keys[missing])
        return idx

    def _learn(self, keys: np.ndarray) -> None:
        for start in range(0, len(keys), 4096):  # chunks bound the (n, palette) distance matrix
            k = keys[start : start + 4096]
            rgb = np.stack([(k >> 16) & 255, (k >> 8) & 255, k & 255], axis=1).astype(np.int32)
            d = ((rgb[:, None, :] - self.palette[None, :, :]) ** 2).sum(axis=2)
            self._table[k] = np.argmin(d, axis=1).astype(np.uint8)


def _changed_box(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (top, bottom, left, right), half-open, of pixels that differ between two images."""
    h = a.shape[0]
    # Comparing (h, w*c) rows is several times faster than reducing over a length-3 last axis.
    ne = a.reshape(h, -1) != b.reshape(h, -1)
    rows = np.flatnonzero(ne.any(axis=1))
    if rows.size == 0:
        return None
    channels = 1 if a.ndim == 2 else a.shape[2]
    cols = np.flatnonzero(ne[rows[0] : rows[-1] + 1].any(axis=0)) // channels
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _caller_stacklevel() -> int:
    """``stacklevel`` that points a warning at the first caller outside this module (finish or __exit__)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    return level


def _gif_centiseconds(duration_ms: float) -> int:
    # Browsers replace delays under 20 ms by 100 ms, so 20 ms is the shortest delay that means what it says.
    return int(min(max(np.floor(duration_ms / 10.0 + 0.5), 2), 0xFFFF))


def _gif_image_blocks(indices: np.ndarray, left: int, top: int) -> bytes:
    """Image descriptor + LZW data of one frame, encoded by Pillow's C encoder (no local colour table)."""
    from PIL import GifImagePlugin, Image

    im = Image.fromarray(np.ascontiguousarray(indices))  # mode "L": the encoder only needs the index bytes
    data = b"".join(GifImagePlugin.getdata(im, offset=(left, top)))
    if data[:1] != b",":  # getdata writes a graphic control block only if asked to; we write our own
        raise RuntimeError("unexpected output from PIL.GifImagePlugin.getdata")
    return data


@WRITERS.register("gif")
class GifWriter(FrameWriter):
    """Streaming animated GIF: one global palette, no dithering, frame differences, exact durations.

    Parameters
    ----------
    path, fps, hold_last_ms
        See :class:`FrameWriter`.
    loop : int or None, default 0
        NETSCAPE2.0 loop count; 0 loops forever, None plays once.
    required_colors : sequence of (r, g, b) ints 0-255
        Colours the palette contains exactly (see :func:`gif_palette`).
    palette_frames : sequence of arrays of shape (H, W, 3), dtype uint8
        Sample frames for the rest of the palette; default the first grabbed frame.
    max_bytes : int or None, default 5_000_000
        Warn after finishing if the file is larger.

    Notes
    -----
    Each frame after the first is cropped to the box of pixels whose palette index changed, with
    unchanged pixels inside the box transparent, and is drawn over the previous one (disposal 1, "do
    not dispose"). An unchanged frame is kept as a 1x1 transparent frame so that the decoded frame count
    equals the number of grabbed frames. Durations are stored in 10 ms units, at least 20 ms.
    """

    name = "gif"
    options = ("loop", "required_colors", "palette_frames", "max_bytes", "colors")

    def __init__(
        self,
        path,
        *,
        fps=10.0,
        hold_last_ms=0,
        loop=0,
        required_colors=(),
        palette_frames=(),
        max_bytes=DEFAULT_MAX_BYTES,
        colors=255,
    ):
        super().__init__(path, fps=fps, hold_last_ms=hold_last_ms)
        if isinstance(colors, bool) or not isinstance(colors, (int, np.integer)) or not 8 <= colors <= 255:
            raise InputError(f"colors: must be an integer from 8 to 255, got {colors!r}")
        self.colors = int(colors)
        if loop is not None and not (isinstance(loop, (int, np.integer)) and 0 <= loop <= 0xFFFF):
            raise InputError(f"loop: must be an integer 0-65535 (0 = forever) or None (play once), got {loop!r}")
        self.loop = loop
        self.required_colors = _check_colors(required_colors, "required_colors")
        self.max_bytes = max_bytes
        self.palette: np.ndarray | None = None
        self._palette_frames = list(palette_frames)
        self._fp = None
        self._map: _PaletteMap | None = None
        self._prev_rgb: np.ndarray | None = None
        self._prev_idx: np.ndarray | None = None

    @property
    def transparent_index(self) -> int:
        """Index reserved for "unchanged" pixels: the one after the palette's colours."""
        return len(self.palette)

    def _open(self, tmp: Path) -> None:
        self._fp = open(tmp, "wb")
        if self._palette_frames:
            self._set_palette(self._palette_frames)
        self._palette_frames = []  # the samples are not needed any more: do not keep them alive

    def _set_palette(self, frames) -> None:
        self.palette = gif_palette(self.required_colors, frames, max_colors=self.colors)
        self._map = _PaletteMap(self.palette, sentinel=self.transparent_index)

    def _write(self, frame: np.ndarray, duration_ms: float) -> None:
        if self._prev_idx is None:
            if self.palette is None:
                self._set_palette([frame])
            self._fp.write(self._header(frame.shape[1], frame.shape[0]))
            indices = self._map(frame)
            block = _gif_image_blocks(indices, 0, 0)
            self._fp.write(self._control(duration_ms, transparent=False) + block)
            self._prev_rgb, self._prev_idx = frame, indices
            return
        self._fp.write(self._control(duration_ms, transparent=True) + self._difference_blocks(frame))
        self._prev_rgb = frame  # the base class hands over a fresh copy per frame: no copy needed

    def _difference_blocks(self, frame: np.ndarray) -> bytes:
        """Encode the part of ``frame`` that changed since the previous one, over it."""
        t = self.transparent_index
        box = _changed_box(frame, self._prev_rgb)
        if box is not None:
            # Only pixels whose RGB changed need mapping; the box then narrows to changed indices.
            y0, y1, x0, x1 = box
            new = self._map(frame[y0:y1, x0:x1])
            old = self._prev_idx[y0:y1, x0:x1]  # a view: updating it keeps the composited image current
            inner = _changed_box(new, old)
            if inner is not None:
                a, b, c, d = inner
                crop = new[a:b, c:d]
                same = crop == old[a:b, c:d]
                old[...] = new
                crop[same] = t
                return _gif_image_blocks(crop, x0 + c, y0 + a)
        # Nothing changed: still a frame (1x1, transparent), so decoders count every grabbed frame.
        return _gif_image_blocks(np.full((1, 1), t, np.uint8), 0, 0)

    def _header(self, width: int, height: int) -> bytes:
        n = len(self.palette) + 1  # + the transparent index
        bits = max(1, int(np.ceil(np.log2(n))))
        table = np.zeros((1 << bits, 3), np.uint8)
        table[: len(self.palette)] = self.palette
        # Global colour table flag, 8-bit colour resolution, table size 2**bits; background index 0.
        packed = 0x80 | 0x70 | (bits - 1)
        out = b"GIF89a" + struct.pack("<HHBBB", width, height, packed, 0, 0) + table.tobytes()
        if self.loop is not None:
            out += b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", self.loop) + b"\x00"
        return out

    def _control(self, duration_ms: float, *, transparent: bool) -> bytes:
        """Graphic control extension: disposal 1 (leave the frame in place), delay, transparency."""
        packed = (1 << 2) | int(transparent)
        t = self.transparent_index if transparent else 0
        return b"!\xf9\x04" + struct.pack("<BHB", packed, _gif_centiseconds(duration_ms), t) + b"\x00"

    def _close(self) -> None:
        self._fp.write(b";")
        self._fp.close()

    def _cleanup(self) -> None:
        if self._fp is not None:
            self._fp.close()

    def _after_commit(self) -> None:
        size = self.path.stat().st_size
        if self.max_bytes is not None and size > self.max_bytes:
            warnings.warn(
                f"{str(self.path)!r} is {size / 1e6:.1f} MB, more than {self.max_bytes / 1e6:.1f} MB "
                "(GitHub stops showing larger README images). To make it smaller: fewer frames (a sparser "
                "schedule, e.g. every k-th iteration after the first few), a smaller figure or lower dpi, "
                "or a lower fps.",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )


# --------------------------------------------------------------------------------------------------
# MP4


def _ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise RuntimeError("MP4 output needs the imageio-ffmpeg package: pip install imageio-ffmpeg") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


@WRITERS.register("mp4")
class Mp4Writer(FrameWriter):
    """H.264 MP4 through the ffmpeg binary shipped by imageio-ffmpeg, fed frames through a pipe.

    Frames are padded (by repeating the last row or column) to an even width and height, which
    yuv420p requires. The video runs at ``fps``; a frame's duration is approximated by repeating it,
    rounding the running total so that errors do not accumulate, and every frame shows at least once.
    Bit-exact flags and no metadata make the same frames give the same bytes.
    """

    name = "mp4"
    #: x264 quality (lower is better); 18-20 keeps thin lines and small text clean.
    crf: ClassVar[int] = 18

    def __init__(self, path, *, fps=10.0, hold_last_ms=0):
        super().__init__(path, fps=fps, hold_last_ms=hold_last_ms)
        self._proc: subprocess.Popen | None = None
        self._stderr = None
        self._tmp: Path | None = None
        self._elapsed_ms = 0.0
        self._emitted = 0

    def _open(self, tmp: Path) -> None:
        self._exe = _ffmpeg_exe()  # fail before any frame is rendered when ffmpeg is missing
        self._tmp = tmp

    def _start(self, height: int, width: int) -> None:
        rate = Fraction(self.fps).limit_denominator(1001)  # 29.97 -> 2997/100, exactly what was asked
        if rate <= 0:  # ffmpeg refuses a zero frame rate with a page of its own words
            raise InputError(f"fps: {self.fps:g} is too low for an MP4; it needs at least 1/1001 frames per second")
        cmd = [
            self._exe, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width + width % 2}x{height + height % 2}",
            "-r", str(rate), "-i", "-", "-an",
            "-c:v", "libx264", "-preset", "medium", "-crf", str(self.crf), "-pix_fmt", "yuv420p",
            "-r", str(rate), "-movflags", "+faststart", "-map_metadata", "-1",
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-f", "mp4", str(self._tmp),
        ]  # fmt: skip
        # ffmpeg's messages go to a file, not a pipe nobody reads, which could fill up and block it.
        self._stderr = tempfile.TemporaryFile()
        # A session of its own keeps Ctrl-C from killing ffmpeg mid-frame: the KeyboardInterrupt reaches
        # Python, and abort() stops ffmpeg and removes the partial video.
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr, start_new_session=True
        )

    def _write(self, frame: np.ndarray, duration_ms: float) -> None:
        h, w = frame.shape[:2]
        if self._proc is None:
            self._start(h, w)
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        self._elapsed_ms += duration_ms
        total = int(np.floor(self._elapsed_ms * float(self.fps) / 1000.0 + 0.5))
        repeats = max(1, total - self._emitted)
        data = np.ascontiguousarray(frame).tobytes()
        try:
            for _ in range(repeats):
                self._proc.stdin.write(data)
        except (BrokenPipeError, OSError):
            self._proc.wait()
            message = f"ffmpeg stopped while writing {str(self.path)!r}: {self._ffmpeg_error()}"
            raise RuntimeError(message) from None
        self._emitted += repeats

    def _ffmpeg_error(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return text[-2000:] or f"exit status {self._proc.returncode}"

    def _close(self) -> None:
        self._proc.stdin.close()
        if self._proc.wait() != 0:
            raise RuntimeError(f"ffmpeg failed to write {str(self.path)!r}: {self._ffmpeg_error()}")
        self._stderr.close()

    def _cleanup(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()  # an aborted video is thrown away: no need to let ffmpeg finish it
            self._proc.wait()
        if self._stderr is not None:
            self._stderr.close()


# --------------------------------------------------------------------------------------------------
# HTML


def _encode_image(frame: np.ndarray, fmt: str) -> bytes:
    """Encode a frame losslessly as ``"PNG"`` or ``"WEBP"``."""
    from PIL import Image

    buf = io.BytesIO()
    if fmt == "WEBP":
        # Lossless WebP at its fastest setting: about 2.5x smaller than PNG on rendered plots, and faster.
        Image.fromarray(frame).save(buf, format="WEBP", lossless=True, quality=0, method=1)
    else:
        Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


def _smaller_image_format(frame: np.ndarray) -> str:
    """``"WEBP"`` if this Pillow can write it and it is smaller for ``frame`` than PNG, else ``"PNG"``."""
    from PIL import features

    if not features.check("webp"):
        return "PNG"
    return "WEBP" if len(_encode_image(frame, "WEBP")) < len(_encode_image(frame, "PNG")) else "PNG"


def _js(value) -> str:
    # json.dumps makes a valid JS literal; escaping "</" keeps a label from closing the <script>.
    return json.dumps(value).replace("</", "<\\/")


_HTML_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em; }}
.emviz-player img {{ max-width: 100%; height: auto; display: block; }}
.emviz-controls {{ display: flex; align-items: center; gap: 0.75em; margin-top: 0.5em; max-width: {width}px; }}
.emviz-controls input[type=range] {{ flex: 1; }}
.emviz-counter {{ font-variant-numeric: tabular-nums; white-space: nowrap; }}
</style>
</head>
<body>
<div class="emviz-player">
<img id="emviz-frame" width="{width}" height="{height}" alt="{title}">
<div class="emviz-controls">
<button id="emviz-play" type="button">Pause</button>
<input id="emviz-slider" type="range" min="0" max="0" value="0" step="1" aria-label="iteration">
<span id="emviz-counter" class="emviz-counter"></span>
</div>
</div>
<script>
const FRAMES = [
"""

_HTML_PLAYER = """(function () {
  const img = document.getElementById("emviz-frame");
  const play = document.getElementById("emviz-play");
  const slider = document.getElementById("emviz-slider");
  const counter = document.getElementById("emviz-counter");
  let i = 0, playing = true, timer = null;
  slider.max = FRAMES.length - 1;
  function show(k) {
    i = k;
    img.src = FRAMES[k];
    slider.value = k;
    const label = LABELS && LABELS[k] ? LABELS[k] + " \\u00b7 " : "";
    counter.textContent = label + "frame " + (k + 1) + " / " + FRAMES.length;
  }
  function schedule() {
    clearTimeout(timer);
    if (playing) timer = setTimeout(function () { show((i + 1) % FRAMES.length); schedule(); }, DURATIONS[i]);
  }
  function toggle() { playing = !playing; play.textContent = playing ? "Pause" : "Play"; schedule(); }
  play.addEventListener("click", toggle);
  slider.addEventListener("input", function () { show(Number(slider.value)); schedule(); });
  document.addEventListener("keydown", function (e) {
    if (e.target === slider) return;
    if (e.key === " ") { e.preventDefault(); toggle(); }
    else if (e.key === "ArrowRight") { show((i + 1) % FRAMES.length); schedule(); }
    else if (e.key === "ArrowLeft") { show((i + FRAMES.length - 1) % FRAMES.length); schedule(); }
  });
  show(0);
  schedule();
})();
</script>
</body>
</html>
"""


@WRITERS.register("html")
class HtmlWriter(FrameWriter):
    """One self-contained HTML page (no network) that plays the frames, with play/pause and a slider.

    Frames are embedded as base64 images as they arrive (lossless WebP, or PNG where that is smaller
    or Pillow cannot write WebP); the page loops and shows each frame for its
    own duration. ``labels`` (one per frame, e.g. ``"iteration 12"``) appear beside the frame counter.
    Space toggles playing, the arrow keys step.
    """

    name = "html"
    options = ("labels",)

    def __init__(self, path, *, fps=10.0, hold_last_ms=0, labels=None):
        super().__init__(path, fps=fps, hold_last_ms=hold_last_ms)
        self.labels = None if labels is None else [str(x) for x in labels]
        self._durations: list[int] = []
        self._fp = None

    def _open(self, tmp: Path) -> None:
        self._fp = open(tmp, "w", encoding="utf-8", newline="\n")

    def _write(self, frame: np.ndarray, duration_ms: float) -> None:
        if self.labels is not None and len(self._durations) >= len(self.labels):
            raise InputError(f"labels: only {len(self.labels)} labels for more frames of {str(self.path)!r}")
        if not self._durations:
            # Chosen once from the first frame, so that every frame of a page has the same format.
            self._format = _smaller_image_format(frame)
            title = html.escape(self.path.stem)
            self._fp.write(_HTML_HEAD.format(title=title, width=frame.shape[1], height=frame.shape[0]))
        data = base64.b64encode(_encode_image(frame, self._format)).decode("ascii")
        self._fp.write(f'"data:image/{self._format.lower()};base64,{data}",\n')
        self._durations.append(int(round(duration_ms)))

    def _close(self) -> None:
        if self.labels is not None and len(self.labels) != len(self._durations):
            raise InputError(
                f"labels: {len(self.labels)} labels for {len(self._durations)} frames of {str(self.path)!r}"
            )
        self._fp.write("];\n")
        self._fp.write(f"const DURATIONS = {_js(self._durations)};\n")
        self._fp.write(f"const LABELS = {_js(self.labels)};\n")
        self._fp.write(_HTML_PLAYER)
        self._fp.close()

    def _cleanup(self) -> None:
        if self._fp is not None:
            self._fp.close()


# --------------------------------------------------------------------------------------------------
# PNG frames


@WRITERS.register("png")
class PngFramesWriter(FrameWriter):
    """A folder of ``frame_0000.png``, ``frame_0001.png``, ...; built under a temporary name, swapped in whole.

    Durations are not stored: the folder is for slides and for tools that take an image sequence.
    """

    name = "png"
    directory = True
    replaces = re.compile(r"frame_\d{4,}\.png")

    def _open(self, tmp: Path) -> None:
        self._dir = tmp
        self._index = 0

    def _write(self, frame: np.ndarray, duration_ms: float) -> None:
        from PIL import Image

        Image.fromarray(frame).save(self._dir / f"frame_{self._index:04d}.png", format="PNG")
        self._index += 1


# --------------------------------------------------------------------------------------------------
# Stills


def save_figure(fig, path: str | os.PathLike, *, dpi: float | None = None) -> Path:
    """Save a matplotlib figure as PNG, PDF or SVG, atomically and byte-identically between runs.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or os.PathLike
        Ending in ``.png``, ``.pdf`` or ``.svg``.
    dpi : float, optional
        Resolution; default the figure's own.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    Timestamps and the software version string are left out of the metadata, and SVG element ids are
    derived from a fixed salt (``svg.hashsalt``) instead of a random one, so the same figure always gives
    the same bytes.
    """
    import matplotlib

    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in _STILL_FORMATS:
        choices = [f".{f}" for f in _STILL_FORMATS]
        raise InputError(
            f"still {str(path)!r}: unknown suffix {path.suffix!r}{did_you_mean(path.suffix.lower(), choices)}; "
            f"choose from {', '.join(choices)}"
        )
    metadata = {
        "png": {"Software": None},
        "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
        "svg": {"Date": None, "Creator": None},
    }[fmt]
    with atomic_output(path) as tmp, matplotlib.rc_context({"svg.hashsalt": "emviz"}):
        fig.savefig(tmp, format=fmt, dpi=dpi if dpi is not None else "figure", metadata=metadata)
    return path
