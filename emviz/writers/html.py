"""HTML: one self-contained page (no network) that plays the frames: the player of :mod:`emviz.writers.player`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emviz.errors import InputError
from emviz.writers.base import WRITERS, FrameWriter

__all__ = ["HtmlWriter"]


@WRITERS.register("html")
class HtmlWriter(FrameWriter):
    """One self-contained HTML page (no network) holding the player of :mod:`emviz.writers.player`.

    The page plays, loops, and shows each frame for its own duration; it has play/pause, a slider,
    previous/next, speed 0.5x/1x/2x and loop on/off, and shows the iteration and log-likelihood of the
    frame. Frames are stored in one palette (the GIF's, chosen from the same arguments) as lossless
    difference patches, so the page is about the GIF's size. The page is written when the writer
    finishes; until then only the encoded patches are kept.

    Parameters
    ----------
    path, fps, hold_last_ms
        See :class:`FrameWriter`.
    labels : sequence of str, optional
        One caption per frame (e.g. ``"iteration 12"``), shown instead of ``iteration t``.
    iterations : sequence of int, optional
        The EM iteration of each frame (default the frame index).
    log_likelihood : sequence of float, optional
        The log-likelihood of each frame, shown beside the iteration.
    required_colors, palette_frames, colors, palette
        The palette, as for :class:`~emviz.writers.gif.GifWriter`.
    """

    name = "html"
    options = ("labels", "iterations", "log_likelihood", "required_colors", "palette_frames", "colors", "palette")

    def __init__(self, path, *, fps=10.0, hold_last_ms=0, labels=None, iterations=None, log_likelihood=None,
                 required_colors=(), palette_frames=(), colors=255, palette=None):
        from emviz.writers.player import PlayerEncoder

        super().__init__(path, fps=fps, hold_last_ms=hold_last_ms)
        if isinstance(colors, bool) or not isinstance(colors, (int, np.integer)) or not 8 <= colors <= 255:
            raise InputError(f"colors: must be an integer from 8 to 255, got {colors!r}")
        self.labels = None if labels is None else [str(x) for x in labels]
        self.iterations = None if iterations is None else [int(t) for t in iterations]
        self.log_likelihood = None if log_likelihood is None else [float(v) for v in log_likelihood]
        self._encoder = PlayerEncoder(required_colors, palette_frames, colors=colors, palette=palette)
        self._tmp: Path | None = None
        self.data = None  # the PlayerData, once finished

    def _open(self, tmp: Path) -> None:
        self._tmp = tmp

    def _write(self, frame: np.ndarray, duration_ms: float) -> None:
        for name in ("labels", "iterations", "log_likelihood"):
            values = getattr(self, name)
            if values is not None and len(self._encoder.patches) >= len(values):
                raise InputError(f"{name}: only {len(values)} {name} for more frames of {str(self.path)!r}")
        self._encoder.add(frame, duration_ms)

    def _close(self) -> None:
        from emviz.writers.player import player_page

        n = len(self._encoder.patches)
        for name in ("labels", "iterations", "log_likelihood"):
            values = getattr(self, name)
            if values is not None and len(values) != n:
                raise InputError(f"{name}: {len(values)} {name} for {n} frames of {str(self.path)!r}")
        self.data = self._encoder.finish(iterations=self.iterations, log_likelihood=self.log_likelihood,
                                         labels=self.labels)
        with open(self._tmp, "w", encoding="utf-8", newline="\n") as fp:
            fp.write(player_page(self.data, title=self.path.stem))
