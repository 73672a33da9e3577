"""The one table of output suffixes: which format a suffix writes, and whether that is an animation or a still.

The config checks, the writers and the render API all read it, so a suffix is accepted everywhere or
nowhere. Standard library only: importing it costs nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from emviz.errors import InputError, did_you_mean

__all__ = [
    "OutputFormat", "OUTPUT_FORMATS", "ANIMATION_SUFFIXES", "STILL_SUFFIXES", "OUTPUT_KINDS",
    "output_suffix", "output_kind",
]


class OutputFormat(NamedTuple):
    """What an output suffix writes."""

    #: The writer's name in :data:`emviz.writers.WRITERS` (an animation) or the savefig format (a still).
    name: str
    #: ``"animation"`` (one file), ``"folder"`` (a folder of PNG frames: an animation too) or ``"still"``.
    kind: str


#: Output suffix (lower case) -> format, in the order error messages list them. "" is a path without a
#: suffix, or one ending in "/": a folder of PNG frames.
OUTPUT_FORMATS = {
    ".gif": OutputFormat("gif", "animation"),
    ".mp4": OutputFormat("mp4", "animation"),
    ".html": OutputFormat("html", "animation"),
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
