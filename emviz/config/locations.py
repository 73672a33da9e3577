"""Where a run writes: the output paths as text, the targets under ``--out``, and whether each can be
written without destroying anything (the config, the data, a trace, a folder of someone else's files)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from emviz.config.limits import MAX_NAME_BYTES
from emviz.formats import BEAMER_FILES, OUTPUT_KINDS, frames_folder, latex_name_problem, output_kind
from emviz.validation import dotted

if TYPE_CHECKING:
    from emviz.config.models import Config

__all__ = ["OUTPUT_KINDS", "output_kind", "path_problem", "run_slug", "check_locations", "target_problem",
           "why_not_replaceable", "why_uncreatable"]

def _targets(config: Config) -> list[tuple[tuple, str]]:
    """(config path, path relative to --out) of everything a run writes: the outputs, then the trace(s)."""
    targets = [(("outputs", i, "path"), o.path) for i, o in enumerate(config.outputs)]
    save = config.record.save
    if save is not None:
        runs = config.run_names()
        if len(runs) > 1:  # one trace per run, named as emviz.pipeline.Plan.trace_paths does
            stem, suffix = os.path.splitext(save)
            targets += [(("record", "save"), f"{stem}_{run_slug(name)}{suffix}") for name in runs]
        else:
            targets.append((("record", "save"), save))
    return targets


def run_slug(name: str) -> str:
    """A run's name as it appears in file names: ``"Hard EM"`` -> ``"hard_em"``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "run"


def path_problem(text: str) -> str | None:
    """What is wrong with an output path as text (before any file system is asked), or None."""
    if "\0" in text:
        return f"{text!r} contains a NUL character"
    for part in Path(text).parts:
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            return f"the name {part[:20]}... is {len(part)} characters long; at most {MAX_NAME_BYTES} fit"
    if text.endswith(("/", os.sep)) and Path(text).suffix:
        # The render layer picks the format by suffix and would read "frames.v2/" as a ".v2" file.
        return f"a folder of frames is named without a suffix (got {text!r})"
    return latex_name_problem(text)


def _protected(config: Config) -> dict[Path, str]:
    """Files no output may replace: the config and the data file."""
    files = {}
    if config.path is not None:
        files[config.path.resolve()] = "the config file"
    if config.data.file is not None:
        files[(config.base_dir / config.data.file).resolve()] = "the data file"
    return files


def target_problem(shown, target: Path, *, folder: bool, protected: dict[Path, str]) -> str | None:
    """Why a run may not write ``target``, or None: the one rule for every output and trace location.

    Parameters
    ----------
    shown : path-like
        The path as the user gave it (joined to ``--out``), quoted in the message.
    target : Path
        The resolved path.
    folder : bool
        Whether the output is a folder of frames (replaced whole) rather than a file.
    protected : dict
        Resolved path -> what it is (``"the config file"``, ``"the trace file"``): files that must survive.
    """
    if target in protected:
        return f"{shown} would overwrite {protected[target]}"
    problem = why_uncreatable(target if folder else target.parent)
    if problem:
        return problem
    if folder:
        problem = why_not_replaceable(target, protected)
        return f"{shown} {problem}" if problem else None
    if target.is_dir():
        return f"{shown} is a directory"
    frames = frames_folder(target)
    if frames is not None:  # a beamer snippet replaces the folder of frames beside it whole
        if frames.exists() and not frames.is_dir():
            return f"{frames} (the folder of {shown}'s frames) is a file"
        problem = why_not_replaceable(frames, protected, BEAMER_FILES)
        return f"{frames} (the folder of {shown}'s frames) {problem}" if problem else None
    return None


def check_locations(config: Config, out: Path) -> None:
    """Every output and trace of ``config`` under ``out`` can be written, and no two collide."""
    protected = _protected(config)
    seen: list[tuple[str, Path]] = []  # (what it is, as the messages name it; resolved path)
    for path, rel in _targets(config):
        target = (out / rel).resolve()
        # A beamer snippet also writes the folder of its frames beside it.
        frames = frames_folder(target) if path[0] == "outputs" else None
        mine = [(dotted(path), target)] + ([(f"the frames folder of {dotted(path)}", frames)] if frames else [])
        for _, written in mine:
            for what, other in seen:
                _check_apart(config, path, written, what, other)
        seen.extend(mine)
        folder = path[0] == "outputs" and output_kind(rel) == "folder"
        problem = target_problem(out / rel, target, folder=folder, protected=protected)
        if problem:
            raise config.error(path, problem)


def _check_apart(config: Config, path: tuple, target: Path, what: str, other: Path) -> None:
    """Two things a run writes may not share a path, nor lie one inside the other: a folder output
    replaces its folder whole (and a file cannot hold a file). ``what`` names ``other``."""
    if target == other:
        raise config.error(path, f"{target} is also the path of {what}")
    if other in target.parents:
        raise config.error(path, f"{target} would be inside {what} ({other}); give them separate paths")
    if target in other.parents:
        raise config.error(path, f"{target} would contain {what} ({other}); give them separate paths")


#: What a folder output holds: the frames emviz.writers.PngFramesWriter writes.
_FRAME_NAME = re.compile(r"frame_\d{4,}\.png")


def why_not_replaceable(folder: Path, protected: dict, names: re.Pattern = _FRAME_NAME) -> str | None:
    """Why a folder output may not replace ``folder`` (it is replaced whole), or None when it may:
    it may hold only files whose names match ``names`` (default the PNG folder's frames)."""
    for file, what in protected.items():
        if folder == file or folder in file.parents:
            return f"holds {what}, which a folder output would delete"
    if not folder.is_dir():
        return None
    others = sorted(p.name for p in folder.iterdir() if not names.fullmatch(p.name))
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        return (f"already exists and holds more than emviz frames ({shown}); a folder output replaces its "
                "folder whole, so choose a new or empty folder")
    return None


def why_uncreatable(directory: Path) -> str | None:
    """Why ``directory`` cannot be created or written into, or None when it can."""
    probe = directory
    while not probe.exists():
        if probe.parent == probe:
            return f"cannot create directory {directory}"
        probe = probe.parent
    if not probe.is_dir():
        return f"cannot create directory {directory}: {probe} is a file"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"cannot write to directory {probe}: permission denied"
    return None
