"""The writer protocol (:class:`FrameWriter`), the registry of writers and the choice of one by suffix.

The protocol follows matplotlib's ``AbstractMovieWriter``: ``setup()``, ``grab_frame()``, ``finish()``,
plus ``abort()``; a writer is also a context manager that finishes on success and aborts on an exception.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from emviz.errors import InputError, did_you_mean
from emviz.formats import ANIMATION_SUFFIXES, OUTPUT_FORMATS, output_suffix
from emviz.registry import Registry
from emviz.writers.atomic import _AtomicTarget

__all__ = ["DEFAULT_MAX_BYTES", "WRITERS", "FrameWriter", "open_writer", "writer_for_path"]

#: Writers by short name; ``writer_for_path`` maps output suffixes onto these names through
#: :data:`emviz.formats.OUTPUT_FORMATS`.
WRITERS = Registry("writer")

# GitHub stops rendering README images above about 5 MB.
DEFAULT_MAX_BYTES = 5_000_000

# The folder of this package: a warning raised by a writer points at the first caller outside it.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def caller_stacklevel() -> int:
    """``stacklevel`` that points a warning at the first caller outside :mod:`emviz.writers` (the code
    that called ``finish`` or left the ``with`` block), not at the writer module that warns."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR:
        frame, level = frame.f_back, level + 1
    return level


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
        self._target = self._make_target()
        self._state = "open"
        try:
            self._open(self._target.tmp)
        except BaseException:
            self.abort()
            raise

    def _ready_for_frames(self) -> None:
        """Open the output on the first frame; refuse frames once it is finished or aborted."""
        if self._state == "new":
            self.setup()
        if self._state != "open":
            raise RuntimeError(f"cannot grab a frame: the writer for {str(self.path)!r} is {self._state}")

    def grab_frame(self, frame: np.ndarray, duration_ms: float | None = None) -> None:
        """Add one frame.

        Parameters
        ----------
        frame : array of shape (H, W, 3), dtype uint8
            RGB pixels; copied, so the caller may reuse its buffer (a canvas) right away.
        duration_ms : float, optional
            How long the frame shows; None means ``1000 / fps``.
        """
        self._ready_for_frames()
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

    def _make_target(self):
        """The atomic target: ``tmp`` to write, ``commit()`` and ``discard()`` (see :mod:`~emviz.writers.atomic`)."""
        return _AtomicTarget(self.path, directory=self.directory, replaces=self.replaces)

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

    ``.gif``, ``.mp4`` and ``.html`` are files, ``.tex`` a beamer snippet with its frames in a folder
    beside it; a path without a suffix, or one ending in ``/``, is a folder of PNG frames. Suffixes are
    case-insensitive.

    Raises
    ------
    InputError
        For any other suffix; the message names the suffix, the closest choice and all choices.
    """
    text = os.fspath(path)
    suffix = output_suffix(text)
    if suffix not in ANIMATION_SUFFIXES:
        choices = [s for s in ANIMATION_SUFFIXES if s]
        raise InputError(
            f"output {text!r}: unknown suffix {suffix!r}{did_you_mean(suffix, choices)}; "
            f"choose from {', '.join(choices)}, or a name without a suffix for a folder of PNG frames"
        )
    return WRITERS.get(OUTPUT_FORMATS[suffix].name)


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
    iterations: Sequence[int] | None = None,
    log_likelihood: Sequence[float] | None = None,
    palette: np.ndarray | None = None,
) -> FrameWriter:
    """Create the writer for ``path`` (by suffix, see :func:`writer_for_path`), not yet set up.

    Options that the chosen format has no use for are ignored, so that one call site can write every
    format: ``loop`` and ``max_bytes`` are for GIF, ``required_colors``, ``palette_frames``, ``colors``
    and ``palette`` for GIF and HTML (the same arguments give both the same palette), ``labels``,
    ``iterations`` and ``log_likelihood`` for HTML.

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
    iterations, log_likelihood : sequences, optional
        Per frame, for the HTML player: the EM iteration and its log-likelihood.
    palette : array of shape (n, 3), dtype uint8, optional
        A fixed palette instead of one chosen from ``required_colors`` and ``palette_frames``.

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
        "iterations": iterations,
        "log_likelihood": log_likelihood,
        "palette": palette,
    }
    return cls(path, fps=fps, hold_last_ms=hold_last_ms, **{k: given[k] for k in cls.options})
