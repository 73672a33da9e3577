"""The one table of output suffixes: which format a suffix writes, and whether that is an animation or a still.

The config checks, the writers and the render API all read it, so a suffix is accepted everywhere or
nowhere. Standard library only: importing it costs nothing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

from emviz.errors import InputError, did_you_mean

__all__ = [
    "OutputFormat", "OUTPUT_FORMATS", "ANIMATION_SUFFIXES", "STILL_SUFFIXES", "OUTPUT_KINDS", "FORMAT_SUFFIXES",
    "BEAMER_FILES", "output_suffix", "output_kind", "frames_folder", "latex_name_problem",
]


class OutputFormat(NamedTuple):
    """What an output suffix writes."""

    #: The writer's name in :data:`emviz.writers.WRITERS` (an animation) or the savefig format (a still).
    name: str
    #: ``"animation"`` (one file; a ``.tex`` snippet has its frames in a folder beside it, see
    #: :func:`frames_folder`), ``"folder"`` (a folder of PNG frames: an animation too) or ``"still"``.
    kind: str


#: Output suffix (lower case) -> format, in the order error messages list them. "" is a path without a
#: suffix, or one ending in "/": a folder of PNG frames.
OUTPUT_FORMATS = {
    ".gif": OutputFormat("gif", "animation"),
    ".mp4": OutputFormat("mp4", "animation"),
    ".html": OutputFormat("html", "animation"),
    ".tex": OutputFormat("beamer", "animation"),  # a LaTeX snippet + a folder of frames beside it
    "": OutputFormat("png", "folder"),
    ".png": OutputFormat("png", "still"),
    ".pdf": OutputFormat("pdf", "still"),
    ".svg": OutputFormat("svg", "still"),
}
#: Suffixes rendered as animations ("" is a folder of PNG frames) and as still images.
ANIMATION_SUFFIXES = tuple(s for s, f in OUTPUT_FORMATS.items() if f.kind != "still")
STILL_SUFFIXES = tuple(s for s, f in OUTPUT_FORMATS.items() if f.kind == "still")
#: File suffix -> kind (the folder, "", left out). :func:`output_kind` looks suffixes up here.
OUTPUT_KINDS = {s: f.kind for s, f in OUTPUT_FORMATS.items() if s}
#: An output's ``format`` name -> the suffix it stands for (``beamer`` -> ``.tex``). The folder of PNG
#: frames has no name: it is a path without a suffix.
FORMAT_SUFFIXES = {f.name: s for s, f in OUTPUT_FORMATS.items() if s}

#: What the folder beside a ``.tex`` snippet holds (see :func:`frames_folder`): the frames, numbered
#: from ``frame-000``, as PDF or PNG, and the timeline of their durations.
BEAMER_FILES = re.compile(r"frame-\d{3,}\.(?:pdf|png)|timeline\.txt")
#: Characters a ``.tex`` output's name may have: it becomes part of LaTeX file names, where a space
#: or a TeX special character (``% # { } ~ $ & ^ \``) breaks ``\animategraphics``.
_LATEX_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def output_suffix(path: str | os.PathLike) -> str:
    """The lower-case suffix of an output path; ``""`` for a folder (no suffix, or a trailing ``/``)."""
    text = os.fspath(path)
    return "" if text.endswith(("/", os.sep)) else Path(text).suffix.lower()


def output_kind(path: str | os.PathLike) -> str:
    """``"animation"``, ``"still"`` or ``"folder"`` (PNG frames: an animation too) for an output path.

    Raises
    ------
    InputError
        For a suffix not in :data:`OUTPUT_KINDS`; the message names the closest suffix and all of them.
    """
    suffix = output_suffix(path)
    if not suffix:
        return OUTPUT_FORMATS[""].kind
    if suffix not in OUTPUT_KINDS:
        raise InputError(
            f"cannot write {suffix!r} files{did_you_mean(suffix, OUTPUT_KINDS)}; "
            f"use {', '.join(OUTPUT_KINDS)} or a folder"
        )
    return OUTPUT_KINDS[suffix]


def frames_folder(path: str | os.PathLike) -> Path | None:
    """The folder of frames that an output writes beside its file, or None: ``slides/em.tex`` ->
    ``slides/em-frames`` (a beamer snippet refers to its frames there)."""
    path = Path(path)
    if output_suffix(path) != ".tex":
        return None
    return path.with_name(f"{path.stem}-frames")


def latex_name_problem(path: str | os.PathLike) -> str | None:
    """Why a ``.tex`` output's file name cannot be used in LaTeX file names, or None."""
    if output_suffix(path) != ".tex":
        return None
    stem = Path(path).stem
    if _LATEX_NAME.fullmatch(stem):
        return None
    return (f"a .tex output's name goes into LaTeX file names, so it takes letters, digits, '.', '_' and '-' "
            f"only, starting with a letter or digit (got {Path(path).name!r})")
