"""A saved trace to a file, without refitting: ``python -m emviz render-trace`` and
:func:`emviz.pipeline.render_trace`. Every argument is checked against the trace before anything is
written, with the same location rule as a config's outputs."""

from __future__ import annotations

import math
from pathlib import Path

from emviz.config import (
    MAX_FPS, MAX_HOLD_SECONDS, MAX_TITLE_CHARS, MIN_MP4_FPS, output_kind, path_problem, register_panels, target_problem,
)
from emviz.errors import InputError
from emviz.writers.atomic import make_dirs, remove_empty

__all__ = ["render_trace"]


def render_trace(trace, panels, path, *, fps=10.0, schedule=None, iterations=None, hold_last=2.0, style=None,
                 title=None, progress=True, half_steps=False) -> Path:
    """Render a saved trace, checking the arguments against it before anything is written.

    Parameters
    ----------
    trace : path-like or Trace
    panels : list
        Panel specs (names or ``{name: {options}}``), or ``(label, spec)`` pairs whose label prefixes
        errors about that panel (the command line passes ``"--panels TEXT"``).
    path : path-like
        The output file or folder.
    style : mapping, optional
        Style keys (theme, dpi, size, font_size) over the style section of the config the trace was
        fitted with (kept in its meta), over emviz's defaults.
    fps, schedule, iterations, hold_last, title, progress, half_steps
        As for :func:`emviz.render.render`.
    """
    from emviz.render.api import render
    from emviz.render.panel import make_panel
    from emviz.render.schedule import check_iterations, parse_schedule
    from emviz.trace import Trace

    trace_path = None if isinstance(trace, Trace) else Path(trace)
    trace = trace if isinstance(trace, Trace) else Trace.load(trace)
    style = _saved_style(trace, style)
    try:
        kind = output_kind(str(path))
    except InputError as exc:  # the suffix: name the path, as every other problem with it does
        raise InputError(f"{path}: {exc}") from None
    register_panels()
    specs = []
    for item in panels:
        label, spec = item if isinstance(item, tuple) else (None, item)
        try:
            make_panel(spec).check(trace)
        except InputError as exc:
            raise (InputError(f"{label}: {exc}") if label else exc) from None
        specs.append(spec)
    if schedule is not None and iterations is not None:
        raise InputError("give a schedule or iterations, not both")
    if schedule is not None:
        parse_schedule(schedule).iterations(trace.n_iter)
    if iterations is not None:
        check_iterations(iterations if isinstance(iterations, list) else [iterations], trace.n_iter)
    if not (math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise InputError(f"fps: must be > 0 and <= {MAX_FPS:g}, got {fps:g}")
    if kind != "still" and str(path).lower().endswith(".mp4") and fps < MIN_MP4_FPS:
        raise InputError(f"fps: is {fps:g}; an MP4 needs at least 1/1001 frames per second")
    if not (math.isfinite(hold_last) and 0 <= hold_last <= MAX_HOLD_SECONDS):
        raise InputError(f"hold_last: must be from 0 to {MAX_HOLD_SECONDS:g} seconds, got {hold_last:g}")
    if title is not None and len(str(title)) > MAX_TITLE_CHARS:
        raise InputError(f"title: at most {MAX_TITLE_CHARS} characters fit above a frame (got {len(str(title))})")
    problem = path_problem(str(path))
    if problem:
        raise InputError(f"{path}: {problem}")
    path = Path(path)
    protected = {trace_path.resolve(): "the trace file"} if trace_path is not None else {}
    problem = target_problem(path, path.resolve(), folder=kind == "folder", protected=protected)
    if problem:
        raise InputError(problem)
    created: list[Path] = []
    try:
        make_dirs(path.parent, created)
        return render(trace, panels=specs, path=path, fps=fps, schedule=schedule, iterations=iterations,
                      hold_last=hold_last, style=style, title=title, progress=progress, half_steps=half_steps)
    except BaseException:
        remove_empty(created)
        raise


def _saved_style(trace, style) -> dict | str | None:
    """``style`` over the style section saved with the trace (a trace fitted from a config keeps it)."""
    if style is not None and not isinstance(style, (dict, str)):
        return style  # a Style object is complete
    saved = (trace.meta.get("config") or {}).get("style")
    if not isinstance(saved, dict):
        return style
    given = {"theme": style} if isinstance(style, str) else dict(style or {})
    return {**{k: v for k, v in saved.items() if v is not None}, **{k: v for k, v in given.items() if v is not None}}
