"""The checks made before fitting: first those that need only the whole config (:func:`check_static`,
run by :func:`emviz.config.load_config`), then those against the data and the file system
(:func:`check_config`). Each failure is one located :class:`~emviz.errors.InputError`."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from emviz.config.limits import MAX_FRAME_PIXELS, MIN_MP4_FPS
from emviz.config.locations import check_locations, output_kind, path_problem
from emviz.config.models import Config, FramesOverride, OutputSpec
from emviz.errors import InputError, did_you_mean
from emviz.validation import dotted, parse_path

__all__ = ["check_static", "check_config", "init_mixture", "register_panels", "run_sections"]


def init_mixture(config: Config, model=None, at=("model", "init")):
    """``init`` of ``model`` (default ``config.model``) as a :class:`~emviz.mixture.Mixture`, or its
    name; a problem names its key below ``at``, the config path of that ``init``."""
    from emviz.mixture import Mixture, spec_field

    init = (model or config.model).init
    if isinstance(init, str):
        return init
    try:
        return Mixture.from_spec(init.means, weights=init.weights, stds=init.stds, covariances=init.covariances)
    except InputError as exc:
        field, problem = spec_field(exc)
        raise config.error((*at, *parse_path(field or "")), problem) from None


def check_static(config: Config) -> None:
    """Checks that need the whole config but neither the data nor the file system."""
    if config.data.mixture is not None:
        from emviz.data import mixture_from_spec

        try:
            mixture_from_spec(config.data.mixture)
        except InputError as exc:
            raise config.data_error(exc) from None
    for name, model in run_sections(config):
        init = init_mixture(config, model, config.model_path(name, "init"))
        if not isinstance(init, str) and init.n_components != model.n_components:
            hint = ("; a sweep of n_components needs a named init (kmeans, ...), not one mixture"
                    if config.sweep is not None and config.sweep[0] == "n_components" else "")
            raise config.error(config.model_path(name, "init", "means"),
                               f"has {init.n_components} components, "
                               f"{dotted(config.model_path(name, 'n_components'))} is {model.n_components}{hint}")
    max_iter = max(m.max_iter for m in config.run_models().values())
    names = config.run_names()
    if config.sweep is None:  # a sweep's names come from distinct values
        for i, name in enumerate(names):
            if name in names[:i]:
                raise config.error(("runs", i, "name"), f"{name!r} is the name of an earlier run too")
    if not config.outputs and config.record.save is None:
        raise config.error(("outputs",), "nothing to do: give at least one output (or record.save)")
    _check_schedule(config, ("frames", "schedule"), config.frames.schedule, max_iter)
    seen = {}
    for i, out in enumerate(config.outputs):
        _check_output_static(config, i, out, max_iter)
        _check_output_runs(config, i, out, names, max_iter)
        key = os.path.normpath(out.path)
        if key in seen:
            raise config.error(("outputs", i, "path"), f"{out.path!r} is also the path of outputs[{seen[key]}]")
        seen[key] = i
    if config.record.save is not None:
        problem = path_problem(config.record.save)
        if problem:
            raise config.error(("record", "save"), problem)
        if not config.record.save.endswith(".npz"):
            raise config.error(("record", "save"), f"a trace is saved as .npz (got {config.record.save!r})")


def run_sections(config: Config):
    """(run name, ModelSection) of every run: ``(None, model section)`` when there are no runs; the
    config path of a run's key is ``config.model_path(name, key)``."""
    return list(config.run_models().items())


def _check_output_runs(config: Config, i: int, out: OutputSpec, names: list[str], max_iter: int) -> None:
    from emviz.render.panel import make_panel

    for j, name in enumerate(out.runs or ()):
        if name not in names:
            choices = f"the runs are {', '.join(map(repr, names))}" if names else "the config has no runs section"
            raise config.error(("outputs", i, "runs", j), f"no run named {name!r}{did_you_mean(name, names)}; {choices}")
    shown = len(out.runs or names) if names else 1
    cells = _grid_cells(out, max_iter, _half_steps(config, out))
    if cells > 1:
        # The grid's key: iterations, or the output's schedule that a still turns into a grid.
        key = ("iterations",) if out.iterations is not None else ("frames", "schedule")
        # With half-steps an iteration before the last is a grid of its two halves already.
        one = "give only the last iteration" if _half_steps(config, out) else "give one iteration"
        if shown > 1:
            raise config.error(("outputs", i, *key), f"a small-multiples grid shows one run, this output "
                                                     f"shows {shown}; {one}, or runs: [one name]")
        if out.overlay:
            what = f"{cells} half-step cells" if _half_steps(config, out) else f"{cells} iterations"
            raise config.error(("outputs", i, "overlay"), f"a small-multiples grid ({what}) draws no "
                                                          f"overlay; drop overlay, or {one}")
    for j, spec in enumerate(out.overlay or ()):
        try:
            panel = make_panel(spec)
        except InputError as exc:
            raise config.error(("outputs", i, "overlay", j), str(exc)) from None
        if not getattr(panel, "overlays_runs", False):
            raise config.error(("outputs", i, "overlay", j),
                               f"panel {panel.name!r} draws one run; it cannot overlay several (list it under panels)")


def _check_schedule(config: Config, path: tuple, spec, max_iter: int):
    """Parse a schedule with the render engine's parser (None when not given); explicit iterations
    must be <= max_iter."""
    from emviz.render.schedule import parse_schedule

    if spec is None:
        return None
    try:
        schedule = parse_schedule(spec)
    except InputError as exc:
        # The parser's messages start with "schedule", "schedule.every" or "schedule[3]".
        match = re.match(r"schedule((?:\.\w+|\[\d+\])*): (.*)", str(exc), flags=re.S)
        if match is None:
            raise config.error(path, str(exc)) from None
        raise config.error((*path, *parse_path(match[1])), match[2]) from None
    explicit_path = path if isinstance(spec, list) else (*path, "iterations")
    for j, t in enumerate(schedule.explicit or ()):
        if t > max_iter:
            raise config.error((*explicit_path, j), f"iteration {t} is beyond model.max_iter ({max_iter})")
    return schedule


def _half_steps(config: Config, out: OutputSpec) -> bool:
    """Whether an output draws half-steps (its frames key, else the frames section's)."""
    given = out.frames.half_steps if out.frames is not None else None
    return config.frames.half_steps if given is None else given


def _grid_cells(out: OutputSpec, max_iter: int, half_steps: bool = False) -> int:
    """Cells of a still output's grid (1: a single figure, and for every animation), at most as many as
    the render will draw: explicit iterations, else the output's schedule up to ``max_iter``; with
    ``half_steps`` two per iteration before ``max_iter`` (its E-step and its M-step)."""
    from emviz.render.api import _counting_halves
    from emviz.render.schedule import parse_schedule
    from emviz.render.steps import n_frames

    if output_kind(out.path) != "still":
        return 1
    if out.iterations is not None:
        chosen = set(out.iterations)
    elif out.frames is not None and out.frames.schedule is not None:
        schedule = parse_schedule(out.frames.schedule)
        chosen = set((_counting_halves(schedule) if half_steps else schedule).iterations(max_iter))
    else:
        chosen = {max_iter}
    return n_frames(len(chosen), half_steps, includes_last=max(chosen) >= max_iter)


def _check_output_static(config: Config, i: int, out: OutputSpec, max_iter: int) -> None:
    from emviz.render.panel import make_panel

    problem = path_problem(out.path)
    if problem:
        raise config.error(("outputs", i, "path"), problem)
    try:
        kind = output_kind(out.path)
    except InputError as exc:
        raise config.error(("outputs", i, "path"), str(exc)) from None
    frames = out.frames or FramesOverride()
    fps = frames.fps if frames.fps is not None else config.frames.fps
    if out.path.lower().endswith(".mp4") and fps < MIN_MP4_FPS:
        key = ("outputs", i, "frames", "fps") if frames.fps is not None else ("frames", "fps")
        raise config.error(key, f"is {fps:g}; an MP4 needs at least 1/1001 frames per second")
    if out.iterations is not None:
        if frames.schedule is not None:
            raise config.error(("outputs", i, "iterations"), "give iterations or frames.schedule, not both")
        for j, t in enumerate(out.iterations):
            if t > max_iter:
                raise config.error(("outputs", i, "iterations", j), f"iteration {t} is beyond model.max_iter ({max_iter})")
    _check_schedule(config, ("outputs", i, "frames", "schedule"), frames.schedule, max_iter)
    if kind == "still":
        from emviz.render.api import MAX_GRID_CELLS

        cells = _grid_cells(out, max_iter, _half_steps(config, out))
        if cells > MAX_GRID_CELLS:
            key = ("iterations",) if out.iterations is not None else ("frames", "schedule")
            raise config.error(("outputs", i, *key), f"a still grid has at most {MAX_GRID_CELLS} cells, this asks "
                                                    f"for {cells}; choose fewer iterations (or add max_frames)")
    if out.layout is not None and out.layout[0] * out.layout[1] < len(out.panels):
        raise config.error(("outputs", i, "layout"),
                           f"{out.layout} has {out.layout[0] * out.layout[1]} cells for {len(out.panels)} panels")
    register_panels()
    for j, spec in enumerate(out.panels):
        try:
            make_panel(spec)
        except InputError as exc:
            raise config.error(("outputs", i, "panels", j), str(exc)) from None
    _check_pixels(config, i, out, max_iter)


def _check_pixels(config: Config, i: int, out: OutputSpec, max_iter: int) -> None:
    """Refuse frames (or still grids) so large that drawing them would exhaust memory."""
    from emviz.render.style import make_style

    style = config.style.model_dump(exclude_none=True)
    if out.style is not None:
        style.update(out.style.model_dump(exclude_none=True))
    try:
        looks = make_style(style)
    except InputError as exc:
        raise config.error(("outputs", i, "style") if out.style is not None else ("style",), str(exc)) from None
    n_panels = len(out.panels) * max(1, len(out.runs or config.run_names())) + len(out.overlay or ())
    rows, cols = out.layout if out.layout is not None else (1, n_panels)
    # Without style.size the render layer sizes frames by the panels; this is its smallest guess.
    width, height = looks.figure_size(rows, cols)
    # style.size is the whole figure's, a grid's too; without it every cell gets a frame's size.
    cells = _grid_cells(out, max_iter, _half_steps(config, out)) if looks.size is None else 1
    pixels = width * looks.dpi * height * looks.dpi * cells
    if pixels > MAX_FRAME_PIXELS:
        key = ("outputs", i, "style") if out.style is not None and (out.style.dpi or out.style.size) else ("style",)
        grid = f" x {cells} cells" if cells > 1 else ""
        raise config.error(key, f"{width:g} x {height:g} inches at {looks.dpi:g} dpi{grid} is {pixels / 1e6:,.0f} "
                                f"megapixels for outputs[{i}]; at most {MAX_FRAME_PIXELS / 1e6:.0f} fit in memory: "
                                "lower style.dpi or style.size")


def register_panels() -> None:
    """Import the built-in panels so that they are in the registry (no-op until they exist)."""
    import importlib

    try:
        importlib.import_module("emviz.render.panels")
    except ModuleNotFoundError as exc:
        if exc.name not in ("emviz.render.panels",):
            raise


def check_config(config: Config, out=".", dataset=None) -> int:
    """Check the config against its data and output locations; return the data's dimension D.

    Parameters
    ----------
    config : Config
    out : path-like
        Directory that outputs and ``record.save`` are written under.
    dataset : Dataset, optional
        The loaded data; without it, N and D come from the mixture spec (nothing is sampled) or by
        loading the file or bundled dataset.
    """
    from emviz.data import data_shape
    from emviz.render.panel import make_panel

    if dataset is not None:
        n, d = dataset.n_rows_total, dataset.n_features
    else:
        try:
            n, d = data_shape(config.data, config.base_dir)
        except InputError as exc:
            raise config.data_error(exc) from None
    for name, model in run_sections(config):
        k = model.n_components
        if n < k:
            raise config.error(config.model_path(name, "n_components"),
                               f"is {k}, but the data has only {n} point(s); EM needs at least one point per component")
        init = init_mixture(config, model, config.model_path(name, "init"))
        if not isinstance(init, str) and init.n_features != d:
            raise config.error(config.model_path(name, "init", "means"),
                               f"has {init.n_features} feature(s), the data has D={d}")
    previews = _preview_traces(config, dataset) if dataset is not None else {}
    for i, output in enumerate(config.outputs):
        shown = [previews[name] for name in (output.runs or previews)] if previews else [d]
        for key in ("panels", "overlay"):
            for j, spec in enumerate(getattr(output, key) or ()):
                try:
                    for subject in shown:
                        make_panel(spec).check(subject)
                except InputError as exc:
                    raise config.error(("outputs", i, key, j), str(exc)) from None
    check_locations(config, Path(out))
    return d


def _preview_traces(config: Config, dataset) -> dict:
    """Run name -> a one-iteration stand-in for its trace: the data, the truth and K as the fit will
    have them, so panels can check options that depend on them (a component index, ``hold: truth``)
    before any fitting."""
    from emviz.trace import Trace

    X = dataset.X[: config.record.show_points]
    m = min(config.record.resp_points, len(X))
    previews = {}
    for name, model in config.run_models().items():
        k, d = model.n_components, X.shape[1]
        previews[name] = Trace(
            weights=np.full((1, k), 1.0 / k), means=np.zeros((1, k, d)),
            covariances=np.broadcast_to(np.eye(d), (1, k, d, d)), log_likelihood=np.zeros(1),
            resp_index=np.arange(m), resp=np.full((1, m, k), 1.0 / k, dtype=np.float32), X=X,
            truth=dataset.truth, meta={"n_samples": dataset.n_rows_total, "preview": True,
                                       "covariance_type": model.covariance_type, "run": name,
                                       **({"sweep": dict(zip(("key", "value"), config.swept_value(name)))}
                                          if config.swept_value(name) else {})},
        )
    return previews
