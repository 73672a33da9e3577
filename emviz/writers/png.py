"""PNG: a folder of numbered PNG frames, and stills (PNG, PDF, SVG) saved from a matplotlib figure."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from emviz.errors import InputError, did_you_mean
from emviz.formats import OUTPUT_FORMATS, STILL_SUFFIXES
from emviz.writers.atomic import atomic_output
from emviz.writers.base import WRITERS, FrameWriter

__all__ = ["PngFramesWriter", "save_figure", "write_figure"]


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
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in STILL_SUFFIXES:
        raise InputError(
            f"still {str(path)!r}: unknown suffix {path.suffix!r}{did_you_mean(suffix, STILL_SUFFIXES)}; "
            f"choose from {', '.join(STILL_SUFFIXES)}"
        )
    with atomic_output(path) as tmp:
        write_figure(fig, tmp, OUTPUT_FORMATS[suffix].name, dpi=dpi)
    return path


#: Metadata left out of each format, so that the same figure gives the same bytes.
_NO_STAMPS = {
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
    "svg": {"Date": None, "Creator": None},
}


def write_figure(fig, file, fmt: str, *, dpi: float | None = None) -> None:
    """``fig.savefig`` in format ``fmt`` (png, pdf, svg) without timestamps or random ids, straight to
    ``file`` (not atomic: :func:`save_figure` is, and the beamer writer saves frames into a temporary
    folder)."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "emviz"}):
        fig.savefig(file, format=fmt, dpi=dpi if dpi is not None else "figure", metadata=_NO_STAMPS[fmt])
