"""``render``: a trace to an animation (GIF, MP4, HTML, PNG folder, beamer snippet) or a still (PNG, PDF, SVG)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from emviz.errors import InputError
from emviz.formats import ANIMATION_SUFFIXES, OUTPUT_FORMATS, STILL_SUFFIXES  # re-exported: the suffixes render() takes
from emviz.trace import Trace
from emviz.render.frames import SceneSpec, iter_frames, progress_bar, write_frames
from emviz.render.scene import as_runs, grid_figure
from emviz.render.schedule import check_iterations, parse_schedule
from emviz.render.steps import frame_label, half_step_frames, whole_frames
from emviz.render.style import make_style, required_colors

__all__ = ["render", "plan_animation", "draw_frames", "AnimationPlan", "ANIMATION_SUFFIXES", "STILL_SUFFIXES"]

#: Frames sampled evenly from the schedule to build a GIF's global palette.
PALETTE_SAMPLES = 6
#: Most cells a small-multiples still may have.
MAX_GRID_CELLS = 36


def render(trace, panels=("components",), path="emviz.gif", *, fps=10.0, schedule=None, hold_last=2.0,
           style=None, workers=1, layout=None, title=None, iterations=None, progress=True,
           max_bytes=5_000_000, overlay=None, colors=128, half_steps=False) -> Path:
    """Render a trace to ``path``; the suffix picks the output.

    Parameters
    ----------
    trace : Trace, path of a saved trace (``.npz``), or mapping of run names to those
        Several runs (e.g. ``{"EM": a, "hard EM": b}``) are shown side by side: ``panels`` once per run,
        with the same colours and shared axis limits.
    panels : list of str, mapping or Panel
        Panels side by side in one scene, e.g. ``["components", "responsibilities"]``.
    overlay : list of str or mapping, optional
        Panels drawn once with every run together (``curves``), after the per-run panels.
    colors : int
        Most colours in a GIF's palette (8-255). 128 reads the same as 255 for plots and makes a
        smaller file (the docs components GIF: 1.9 MB against 2.2 MB).
    path : str or Path
        ``.gif``, ``.mp4``, ``.html`` or a folder (no suffix) for an animation; ``.tex`` for a beamer
        snippet with its frames in the folder ``<stem>-frames`` beside it (see :mod:`emviz.render.beamer`);
        ``.png``, ``.pdf`` or ``.svg`` for a still.
    fps : float
        Frames per second of an animation.
    schedule : "all", list of int or mapping, optional
        Which iterations become frames (see :mod:`emviz.render.schedule`). Default: every iteration up
        to 100, then every 10th.
    hold_last : float
        Seconds the last frame of an animation stays on screen.
    style : Style, mapping (theme, dpi, size, font_size) or theme name, optional
    workers : int or "auto"
        Processes drawing frames; 1 draws in this process.
    layout : [rows, cols], optional
    title : str or False, optional
        A heading above the iteration line; False hides the title line.
    iterations : list of int, optional
        For a still: the iteration(s) to show (default the last; several give a small-multiples grid).
        For an animation: an explicit schedule (0 and T are added).
    progress : bool
        Show a progress bar on stderr.
    max_bytes : int
        Size budget for the output, passed to the writer.
    half_steps : bool
        Draw each scheduled iteration t as two frames (see :mod:`emviz.render.steps`): its E-step
        (iteration t's parameters, the points recoloured by the responsibilities they give) and its
        M-step (iteration t + 1's parameters, the colours still t's); the last iteration T gets its
        E-step only. A schedule's ``max_frames`` then counts these frames. A still shows the two
        halves of each chosen iteration as cells of a grid (the last iteration: its E-step alone).

    Returns
    -------
    Path
        The file (or folder) written, complete: writers write to a temporary name and rename.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in STILL_SUFFIXES:
        spec = _scene_spec(trace, panels, schedule=schedule, iterations=iterations, style=style, layout=layout,
                           title=title, overlay=overlay, half_steps=half_steps)
        return _noted(_render_still(spec, path, schedule, iterations))
    if suffix not in ANIMATION_SUFFIXES:
        raise InputError(
            f"path: {path.name!r} has an unsupported suffix {suffix!r}; use one of "
            f"{', '.join(s for s in ANIMATION_SUFFIXES + STILL_SUFFIXES if s)} or a folder"
        )
    plan = plan_animation(trace, panels, fps=fps, schedule=schedule, hold_last=hold_last, style=style,
                          layout=layout, title=title, iterations=iterations, overlay=overlay, half_steps=half_steps)
    if OUTPUT_FORMATS[suffix].name == "beamer":
        from emviz.render.beamer import render_beamer

        return _noted(render_beamer(plan, path, workers=workers, progress=progress))
    return _noted(_render_animation(plan, path, workers=workers, progress=progress, max_bytes=max_bytes,
                                    colors=colors))


def _noted(path: Path) -> Path:
    """``path``, recorded for a docs gallery's scraper (:mod:`emviz.sphinx_gallery`)."""
    from emviz._recent import note_file

    note_file(path)
    return path


class AnimationPlan(NamedTuple):
    """A checked animation: the scene, the iterations drawn, the frame timing.

    ``frames_at`` is the EM iteration of each frame (each iteration twice with half-steps, the last
    once); ``frames`` what each frame shows, a :class:`~emviz.render.steps.Frame` (empty: the whole
    iterations of ``frames_at``).
    """

    spec: SceneSpec
    frames_at: list
    fps: float
    hold_last_ms: int
    frames: tuple = ()

    def keys(self) -> list:
        """What each frame shows, a :class:`~emviz.render.steps.Frame` per frame."""
        return list(self.frames) if self.frames else whole_frames(self.frames_at)

    def labels(self) -> list[str]:
        """Each frame's caption: ``"Iteration 3"``, or ``"Iteration 3 · E-step"`` with half-steps."""
        return [frame_label(frame) for frame in self.keys()]

    def log_likelihood(self):
        """Per frame, the log-likelihood of the parameters the one run shown shows (None with several runs):
        on an M-step frame, that of iteration t + 1."""
        if not isinstance(self.spec.trace, Trace):
            return None
        return [float(self.spec.trace.log_likelihood[frame.params]) for frame in self.keys()]


def _scene_spec(trace, panels, *, schedule, iterations, style, layout, title, overlay, half_steps=False) -> SceneSpec:
    trace = _load_traces(trace)
    if schedule is not None and iterations is not None:
        raise InputError("schedule and iterations: give one of them, not both")
    if not isinstance(half_steps, bool):
        raise InputError(f"half_steps: must be true or false, got {half_steps!r}")
    return SceneSpec.create(panels, trace, style=make_style(style), layout=layout, title=title, overlay=overlay,
                            half_steps=half_steps)


def plan_animation(trace, panels=("components",), *, fps=10.0, schedule=None, hold_last=2.0, style=None,
                   layout=None, title=None, iterations=None, overlay=None, half_steps=False) -> AnimationPlan:
    """Check an animation's options as :func:`render` does and resolve its scene and frames."""
    spec = _scene_spec(trace, panels, schedule=schedule, iterations=iterations, style=style, layout=layout,
                       title=title, overlay=overlay, half_steps=half_steps)
    fps = _positive(fps, "fps")
    if isinstance(hold_last, bool) or not isinstance(hold_last, (int, float)) or not 0 <= hold_last < 3600:
        raise InputError(f"hold_last: must be seconds >= 0, got {hold_last!r}")
    n_iter = spec.primary.n_iter
    chosen = parse_schedule(iterations if iterations is not None else schedule)
    if not half_steps:
        return AnimationPlan(spec, chosen.iterations(n_iter), fps, int(round(hold_last * 1000)))
    frames = half_step_frames(_counting_halves(chosen).iterations(n_iter), n_iter)
    return AnimationPlan(spec, [frame.t for frame in frames], fps, int(round(hold_last * 1000)), tuple(frames))


def _counting_halves(schedule):
    """``schedule`` with its ``max_frames`` counting half-step frames: n iterations make 2n - 1 of them
    (T has no M-step), so at most (max_frames + 1) // 2 iterations; 0 and T always stay."""
    if schedule.max_frames is None:
        return schedule
    return dataclasses.replace(schedule, max_frames=max(2, (schedule.max_frames + 1) // 2))


def _load_traces(trace):
    """A Trace, or a dict of them, from traces or paths of saved traces."""
    if isinstance(trace, dict):
        if not trace:
            raise InputError("trace: an empty mapping of runs")
        return {name: _load_traces(run) for name, run in trace.items()}
    if isinstance(trace, (str, Path)):
        trace = Trace.load(trace)
    if not isinstance(trace, Trace):
        raise InputError(f"trace: expected a Trace or the path of a saved trace, got {type(trace).__name__}")
    return trace


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name}: must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{name}: must be > 0, got {value!r}")
    return float(value)


def _palette_iterations(frames_at: list) -> list:
    picks = np.round(np.linspace(0, len(frames_at) - 1, min(PALETTE_SAMPLES, len(frames_at)))).astype(int)
    return [frames_at[i] for i in sorted(set(picks.tolist()))]


def _render_animation(plan: AnimationPlan, path: Path, *, workers, progress, max_bytes, colors=128) -> Path:
    from emviz.writers import open_writer

    def open_sink(palette_frames, required):
        return open_writer(path, fps=plan.fps, hold_last_ms=plan.hold_last_ms, loop=0, required_colors=required,
                           palette_frames=palette_frames, max_bytes=max_bytes, colors=colors,
                           labels=plan.labels(), iterations=plan.frames_at, log_likelihood=plan.log_likelihood())

    palettes = path.suffix.lower() in (".gif", ".html")
    return Path(draw_frames(plan, open_sink, palette=palettes, workers=workers, progress=progress,
                            desc=path.name or str(path)))


def draw_frames(plan: AnimationPlan, open_sink, *, palette: bool, workers=1, progress=True, desc=None):
    """Draw the plan's frames into a sink (a writer) under a progress bar; return ``sink.finish()``.

    ``open_sink(palette_frames, required_colors)`` makes the sink once the palette's sample frames are
    drawn (with ``palette``: a few frames spread over the animation, and the colours it must keep).
    """
    spec, frames_at = plan.spec, plan.keys()
    palette_at = _palette_iterations(frames_at) if palette else []
    # The palette's sample frames are drawn first and kept: the stream skips them and they are
    # spliced back in their places (a few frames held, instead of drawn twice).
    rest = [t for t in frames_at if t not in set(palette_at)]
    frames = iter_frames(spec, palette_at + rest, workers=workers)
    # The bar opens first: setting up the panels and the palette frames can take seconds too.
    with progress_bar(len(frames_at), desc, progress) as bar:
        try:
            bar.set_postfix_str("setting up", refresh=True)
            palette_frames = [next(frames) for _ in palette_at]
            kept = dict(zip(palette_at, palette_frames))
            required = (required_colors(spec.style, max(r.n_components for r in as_runs(spec.trace).values()))
                        if palette else ())
            sink = open_sink(palette_frames, required)
            del palette_frames
            bar.set_postfix_str("", refresh=False)
            try:
                write_frames(_spliced(frames_at, kept, frames), sink, bar=bar)
            except BaseException:
                sink.abort()
                raise
            return sink.finish()
        finally:
            frames.close()


def _spliced(frames_at: list, kept: dict, stream):
    """Frames of ``frames_at`` in order: the kept ones from ``kept`` (released once written), the rest
    from ``stream``."""
    for t in frames_at:
        yield kept.pop(t) if t in kept else next(stream)


def _render_still(spec: SceneSpec, path: Path, schedule, iterations) -> Path:
    from emviz.writers import save_figure

    trace = spec.primary
    if iterations is not None:
        if isinstance(iterations, (int, np.integer)) and not isinstance(iterations, bool):
            iterations = [iterations]
        chosen = sorted(set(check_iterations(iterations, trace.n_iter)))
    elif schedule is not None:
        parsed = parse_schedule(schedule)
        chosen = (_counting_halves(parsed) if spec.half_steps else parsed).iterations(trace.n_iter)
    else:
        chosen = [trace.n_iter]
    if not chosen:
        raise InputError("iterations: choose at least one iteration for a still")
    n_chosen = len(chosen)
    if spec.half_steps:  # each iteration's two halves (the last one's E-step alone)
        chosen = half_step_frames(chosen, trace.n_iter)
    if len(chosen) > MAX_GRID_CELLS:
        cells = f"{len(chosen)} cells with half_steps: too many" if spec.half_steps else "too many cells"
        raise InputError(
            f"iterations: {n_chosen} iterations make {cells} for a still grid "
            f"(at most {MAX_GRID_CELLS}); choose fewer, or add max_frames to the schedule"
        )
    if len(chosen) == 1:
        scene = spec.build()
        with spec.style.context():
            scene.update(chosen[0])
            return Path(save_figure(scene.figure, path, dpi=spec.style.dpi))
    if not isinstance(spec.trace, Trace) or spec.overlay:
        halves = " (with half_steps, an iteration before the last is two cells)" if spec.half_steps else ""
        raise InputError(f"iterations: a small-multiples grid{halves} shows one run and no overlay; choose one "
                         f"iteration{', the last' if spec.half_steps else ''}, or one run without overlay")
    fig = grid_figure(list(spec.panels), trace, chosen, style=spec.style,
                      title=spec.title if spec.title is not False else None)
    with spec.style.context():
        return Path(save_figure(fig, path, dpi=spec.style.dpi))

