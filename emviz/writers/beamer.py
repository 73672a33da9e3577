r"""Beamer: a LaTeX snippet that animates frames with the ``animate`` package, and the frames beside it.

``slides/em.tex`` is written together with the folder ``slides/em-frames/``: ``frame-000.pdf``,
``frame-001.pdf``, ... (vector: each frame's figure saved as PDF by :meth:`BeamerWriter.grab_figure`)
or ``frame-000.png``, ... (RGB frames given to ``grab_frame``), plus ``timeline.txt`` when the frames'
durations differ (the held last frame does). A user ``\input``\ s the snippet inside a beamer frame,
with ``\usepackage{animate}`` in the preamble.

Paths. LaTeX looks files up from the main document's folder, not from the snippet's, so the snippet
starts its paths with ``\CurrentFilePath``: the folder of the file being input (LaTeX 2021-06 or newer;
``animate`` itself needs 2022-06). ``\input{slides/em}`` then finds ``slides/em-frames/`` from any
folder, without ``\graphicspath``.

Timing. ``\animategraphics{<rate>}{<base>}{<first>}{<last>}`` shows every frame at one rate (the
first frame's). When the rates differ, its ``timeline`` option reads one line per frame,
``[*]:[<frame rate>]:<transparency list>`` (animate.sty's ``\@anim@parseline``): a rate given on a
line holds from that frame on, so it is written where it changes, and line i shows transparency i,
the i-th file of ``<first>`` .. ``<last>``, counted from 0.

The snippet and the folder appear together or not at all (:class:`~emviz.writers.atomic._FileWithFolder`);
a run replaces the older folder whole, so no frame of an older, longer run is left in it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from emviz.errors import InputError
from emviz.formats import BEAMER_FILES, frames_folder, latex_name_problem
from emviz.writers.atomic import _FileWithFolder
from emviz.writers.base import WRITERS, FrameWriter
from emviz.writers.png import write_figure

__all__ = ["BeamerWriter", "snippet", "timeline", "frame_rate"]

#: Highest frame rate LaTeX can read: animate compares rates as TeX dimensions (below 16384 pt).
MAX_RATE = 16383.0
#: Options of ``\animategraphics``: play/pause, step and speed buttons, looping, and as large as
#: the line allows (a column or a minipage makes it smaller) while the slide's title still fits.
OPTIONS = r"controls, loop, width=\linewidth, height=0.75\textheight, keepaspectratio"


def frame_rate(duration_ms: float) -> str:
    """The frame rate (frames per second) that shows a frame for ``duration_ms``, as LaTeX reads it:
    fixed-point (TeX dimensions take no exponent), at most 6 decimals, never 0."""
    rate = 1000.0 / duration_ms
    if rate > MAX_RATE:
        raise InputError(f"a frame of {duration_ms:g} ms is shorter than the animate package can show "
                         f"(at most {MAX_RATE:g} frames per second)")
    text = f"{rate:.6f}".rstrip("0").rstrip(".")
    return text if text != "0" else "0.000001"


def timeline(rates: list[str]) -> str:
    """The ``timeline`` file for frames shown at ``rates`` (see the module docstring)."""
    lines, previous = [], rates[0]
    for i, rate in enumerate(rates):
        lines.append(f":{rate if rate != previous else ''}:{i}")
        previous = rate
    return "\n".join(lines) + "\n"


def snippet(name: str, rates: list[str], durations_ms: list[float], file_type: str) -> str:
    r"""The ``.tex`` snippet for the frames of ``<name>-frames/`` (``frame-000.<file_type>``, ...).

    Parameters
    ----------
    name : str
        The snippet's file stem (``em`` for ``em.tex``).
    rates : list of str
        Each frame's rate, from :func:`frame_rate`; a timeline is used when they differ.
    durations_ms : list of float
        Each frame's duration (for the comment).
    file_type : str
        ``"pdf"`` or ``"png"``.
    """
    folder = f"{name}-frames"
    n = len(rates)
    what = "vector PDF" if file_type == "pdf" else "PNG"
    seconds = [f"{d / 1000:.3g} s" for d in durations_ms]
    if len(set(rates)) == 1:
        timing, options = f"each shown {seconds[0]}", OPTIONS
    else:
        if len(set(rates[:-1])) == 1:  # the held last frame
            timing = f"each shown {seconds[0]}, the last {seconds[-1]}"
        else:
            timing = f"shown {min(durations_ms) / 1000:.3g} s to {max(durations_ms) / 1000:.3g} s each"
        timing += f" ({folder}/timeline.txt)"
        options = OPTIONS + rf", timeline=\emvizdir {folder}/timeline.txt"
    return (
        f"% Written by emviz: {n} frame{'s' if n != 1 else ''} ({what}) in {folder}/, {timing}.\n"
        "% In a beamer frame: \\input{<path to this file, without .tex>}; the preamble needs\n"
        "% \\usepackage{animate}. The frames are found beside this file from any folder (\\CurrentFilePath);\n"
        "% the animation is as wide as the line: \\input it in a column or a minipage to make it smaller.\n"
        "{\\edef\\emvizdir{\\ifx\\CurrentFilePath\\empty\\else\\CurrentFilePath/\\fi}%\n"
        f"\\animategraphics[{options}]%\n"
        f"  {{{rates[0]}}}{{\\emvizdir {folder}/frame-}}{{{_number(0)}}}{{{_number(n - 1)}}}}}%\n"
    )


def _number(i: int) -> str:
    # animate pads the numbers to <first>'s width ("000"); wider numbers (1000) are written in full.
    return f"{i:03d}"


@WRITERS.register("beamer")
class BeamerWriter(FrameWriter):
    """A ``.tex`` snippet with ``\\animategraphics`` and the folder ``<stem>-frames/`` of its frames.

    Give each frame either as a matplotlib figure (:meth:`grab_figure`: saved as a vector PDF page) or
    as RGB pixels (``grab_frame``: a PNG), the same way for every frame of one animation.
    """

    name = "beamer"
    replaces = BEAMER_FILES

    def __init__(self, path: str | os.PathLike, *, fps: float = 10.0, hold_last_ms: float = 0):
        folder = frames_folder(path)
        if folder is None:
            raise InputError(f"output {os.fspath(path)!r}: a beamer snippet is a .tex file")
        problem = latex_name_problem(path)
        if problem:
            raise InputError(f"output {os.fspath(path)!r}: {problem}")
        super().__init__(path, fps=fps, hold_last_ms=hold_last_ms)
        frame_rate(1000.0 / self.fps)  # refuse a rate LaTeX cannot read before anything is drawn
        #: The folder of frames beside the snippet.
        self.folder = folder
        #: ``"pdf"`` or ``"png"`` once the first frame is in.
        self.file_type: str | None = None
        self.durations_ms: list[float] = []
        self._figure_size = None

    def _make_target(self):
        return _FileWithFolder(self.path, self.folder, replaces=self.replaces)

    def _open(self, tmp: Path) -> None:
        self._dir = self._target.folder_tmp

    def _kind(self, file_type: str) -> None:
        if self.file_type not in (None, file_type):
            how = {"pdf": "grab_figure", "png": "grab_frame"}
            raise ValueError(f"frame {self.frame_count}: the frames of {str(self.path)!r} came from "
                             f"{how[self.file_type]} so far; give every frame the same way")
        self.file_type = file_type

    def grab_frame(self, frame: np.ndarray, duration_ms: float | None = None) -> None:
        """Add one frame of RGB pixels (a PNG file); see :meth:`FrameWriter.grab_frame`."""
        self._kind("png")
        super().grab_frame(frame, duration_ms)

    def grab_figure(self, figure, duration_ms: float | None = None) -> None:
        """Add the figure as it is now as one frame: a vector PDF page, saved right away.

        Parameters
        ----------
        figure : matplotlib.figure.Figure
            The same size for every frame.
        duration_ms : float, optional
            How long the frame shows; None means ``1000 / fps``.
        """
        self._ready_for_frames()
        self._kind("pdf")
        size = tuple(float(v) for v in figure.get_size_inches())
        if self._figure_size is None:
            self._figure_size = size
        elif size != self._figure_size:
            raise ValueError(f"frame {self.frame_count}: the figure is {size[0]:g} x {size[1]:g} inches, the first "
                             f"frame's {self._figure_size[0]:g} x {self._figure_size[1]:g}; all frames must be the same size")
        duration = self._duration(duration_ms)
        if self._pending is not None:
            self._write(*self._pending)
        write_figure(figure, self._dir / f"frame-{_number(self.frame_count)}.pdf", "pdf")
        # The duration waits, as a pixel frame does: the last one gets hold_last_ms at finish().
        self._pending = (None, duration)
        self.frame_count += 1

    def _write(self, frame: np.ndarray | None, duration_ms: float) -> None:
        if frame is not None:
            from PIL import Image

            Image.fromarray(frame).save(self._dir / f"frame-{_number(len(self.durations_ms))}.png", format="PNG")
        self.durations_ms.append(duration_ms)

    def _close(self) -> None:
        rates = [frame_rate(d) for d in self.durations_ms]
        if len(set(rates)) > 1:
            (self._dir / "timeline.txt").write_text(timeline(rates), encoding="ascii", newline="\n")
        text = snippet(self.path.stem, rates, self.durations_ms, self.file_type)
        self._target.tmp.write_text(text, encoding="utf-8", newline="\n")
