"""Frame writers: stream RGB frames into GIF, MP4, HTML, a folder of PNGs or a beamer snippet's frames,
and save stills, atomically.

Frames arrive one at a time as arrays of shape (H, W, 3), dtype uint8, all the same size. Every writer
keeps a bounded amount of state (the frame held back for ``hold_last_ms`` plus what its format needs),
so a 200-frame 1200x600 animation costs no more memory than a 2-frame one. Every output is built under
a hidden temporary name beside its target and renamed into place only when complete, so a crash or a
Ctrl-C never leaves a half-written file, and an older file at the target survives a failed run.

The writer protocol follows matplotlib's ``AbstractMovieWriter``: ``setup()``, ``grab_frame()``,
``finish()``, plus ``abort()``; a writer is also a context manager that finishes on success and aborts
on an exception.

Modules: :mod:`~emviz.writers.atomic` (atomic output), :mod:`~emviz.writers.base` (the protocol, the
registry, the choice by suffix), :mod:`~emviz.writers.gif`, :mod:`~emviz.writers.mp4`,
:mod:`~emviz.writers.html`, :mod:`~emviz.writers.png` (PNG frames and stills) and :mod:`~emviz.writers.beamer`
(a LaTeX snippet and its PDF or PNG frames). Importing this package
costs the standard library and numpy only: Pillow, ffmpeg and matplotlib are imported when first used.

Examples
--------
>>> with open_writer("em.gif", fps=8, hold_last_ms=1500, required_colors=[(255, 255, 255)]) as w:
...     for frame in frames:  # doctest: +SKIP
...         w.grab_frame(frame)
"""

from __future__ import annotations

from emviz.writers.atomic import atomic_output
from emviz.writers.base import DEFAULT_MAX_BYTES, WRITERS, FrameWriter, open_writer, writer_for_path

# Imported for their registration in WRITERS, in the order that lists the formats.
from emviz.writers.gif import GifWriter, gif_palette
from emviz.writers.mp4 import Mp4Writer
from emviz.writers.html import HtmlWriter
from emviz.writers.png import PngFramesWriter, save_figure
from emviz.writers.beamer import BeamerWriter

__all__ = [
    "BeamerWriter",
    "DEFAULT_MAX_BYTES",
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
