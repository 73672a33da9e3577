"""A config to files: check everything first, then fit and record, save the trace, render each output.

Every check that can fail on the user's input (config, data, panels, output locations, device) runs
before the fit starts, so a mistake costs no fitting time and leaves no file behind.
"""

from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from emviz.config import MEMORY_SHARE, Config, check_config, init_mixture, load_config, output_kind, run_slug
from emviz.data import Dataset, data_shape, load_data
from emviz.errors import InputError
from emviz.rows import is_rows
from emviz.retrace import render_trace
from emviz.writers.atomic import make_dirs, remove_empty

__all__ = ["run", "Plan", "prepare", "fit", "render_outputs", "output_settings", "render_trace"]


@dataclass(frozen=True)
class Plan:
    """Everything checked and ready to run.

    Parameters
    ----------
    config : Config
    dataset : Dataset
    fitters : dict
        Run name -> :class:`emviz.em.GaussianMixture`, built, not yet initialised (one run named None
        when the config has no ``runs`` section).
    out : Path
        Directory that outputs and the traces are written under.
    """

    config: Config
    dataset: Dataset
    fitters: dict
    out: Path
    #: Indices of the outputs to write (all by default; ``--only`` picks some).
    selected: tuple = None

    def outputs(self) -> list[tuple[int, object, Path]]:
        """(index, OutputSpec, target path) of every output to write, in config order."""
        chosen = range(len(self.config.outputs)) if self.selected is None else self.selected
        return [(i, self.config.outputs[i], self.out / self.config.outputs[i].path) for i in chosen]

    @property
    def fitter(self):
        """The first run's fitter."""
        return next(iter(self.fitters.values()))

    @property
    def targets(self) -> list[Path]:
        """The paths of the outputs to write, in config order."""
        return [target for _, _, target in self.outputs()]

    @property
    def trace_path(self) -> Path | None:
        save = self.config.record.save
        return None if save is None else self.out / save

    def trace_paths(self) -> dict:
        """Run name -> where its trace is saved (None: not saved); several runs get a suffix each."""
        base = self.trace_path
        if base is None or len(self.fitters) == 1:
            return {name: base for name in self.fitters}
        return {name: base.with_name(f"{base.stem}_{run_slug(name)}{base.suffix}") for name in self.fitters}

    def describe(self) -> str:
        """A few lines saying what :func:`run` would do."""
        c, d = self.config, self.dataset
        m = c.model
        swept = c.sweep[0] if c.sweep is not None else None

        def shown(key, text):  # the model section's value, or "swept" for the key a sweep varies
            return f"{key.replace('n_components', 'K')} swept" if key == swept else text

        init = "explicit mixture" if not isinstance(m.init, str) else m.init
        lines = [
            f"emviz plan for {c.source}",
            f"  data:    {d.name}, N={d.n_rows_total}, D={d.n_features} ({', '.join(d.columns)})"
            + (", standardized" if c.data.standardize else ""),
            f"  model:   {shown('n_components', f'K={m.n_components}')}, "
            f"{shown('covariance_type', f'{m.covariance_type} covariances')}, {shown('init', f'init {init}')}, "
            f"{shown('algorithm', m.algorithm)}, {shown('max_iter', f'max_iter={m.max_iter}')}, "
            f"{shown('tol', f'tol={m.tol:g}')}, {shown('dtype', m.dtype)} on {self.fitter.device}",
        ]
        if swept is not None:
            lines.append(f"  runs:    a sweep of {swept}: {', '.join(map(repr, c.run_names()))}")
        elif self.config.runs is not None:
            # Each run with what it changes in the model: "'hard EM' (algorithm hard)".
            runs = [repr(r.name) + (f" ({', '.join(f'{k} {v}' for k, v in changes.items())})" if changes else "")
                    for r in self.config.runs
                    for changes in [r.model.model_dump(exclude_none=True, mode="json") if r.model else {}]]
            lines.append(f"  runs:    {', '.join(runs)}")
        for path in self.trace_paths().values():
            if path is not None:
                lines.append(f"  trace:   {path}")
        max_iter = max(model.max_iter for model in c.run_models().values())
        for i, output, target in self.outputs():
            settings = output_settings(c, i)
            names = ", ".join(p if isinstance(p, str) else next(iter(p)) for p in output.panels)
            if output.overlay:
                names += " + overlay " + ", ".join(p if isinstance(p, str) else next(iter(p)) for p in output.overlay)
            if output.runs is not None:
                names += f" of run{'s' if len(output.runs) > 1 else ''} {', '.join(map(repr, output.runs))}"
            kind = output_kind(output.path)
            frames = (f"iterations {settings['iterations']}" if "iterations" in settings
                      else f"schedule {settings.get('schedule') or 'default'}" if kind != "still" or "schedule" in settings
                      else f"iteration {max_iter} (the last)")
            if settings["half_steps"]:
                frames += ", half-steps"
            lines.append(f"  output:  {target}  [{kind}: {names}; {frames}{_length(settings, kind, max_iter, m.tol)}]")
        return "\n".join(lines)


def _length(settings: dict, kind: str, max_iter: int, tol: float) -> str:
    """How many frames (cells, for a still grid) an output gets, and an animation's playing time."""
    from emviz.render.api import _counting_halves
    from emviz.render.schedule import DEFAULT_SCHEDULE, parse_schedule
    from emviz.render.steps import n_frames

    half = settings.get("half_steps", False)
    if "iterations" in settings:
        chosen = sorted(set(settings["iterations"]))
    elif kind == "still" and "schedule" not in settings:
        chosen = [max_iter]  # a still without iterations shows the last one
    else:
        spec = settings.get("schedule")
        schedule = parse_schedule(spec) if spec is not None else DEFAULT_SCHEDULE
        chosen = (_counting_halves(schedule) if half else schedule).iterations(max_iter)
    # With half-steps each iteration is two frames (E, M) but the last, which has no M-step.
    count = n_frames(len(chosen), half, includes_last=max_iter in chosen)
    # With tol > 0 EM may stop before max_iter: fewer frames then.
    up_to = "up to " if tol > 0 and "iterations" not in settings else ""
    if kind == "still":
        return f"; {count} cell{'s' if count != 1 else ''}" if count > 1 else ""
    if kind == "folder":  # PNG files keep no durations: fps and seconds would mean nothing
        return f"; {up_to}{count} frames"
    seconds = count / settings["fps"] + settings["hold_last"]
    return f", {settings['fps']:g} fps; {up_to}{count} frames, {seconds:.1f} s"


def run(config_or_path, out=".", overrides=(), device=None, dry_run=False, progress=True, only=None) -> list[Path]:
    """Fit the config's model to its data and write every output.

    Parameters
    ----------
    config_or_path : path-like, mapping or Config
    out : path-like
        Directory the outputs and the trace are written under (created when needed).
    overrides : str or iterable of str
        ``"key.path=value"`` overrides, as ``--set`` on the command line (a single string is one).
    device : str, optional
        Replaces ``model.device`` (``"cpu"``, ``"cuda"``, ...).
    dry_run : bool
        Check everything and print the plan, but fit and write nothing.
    progress : bool
        Progress bars on stderr.
    only : str or list of str, optional
        Write only these outputs, each named by its ``path`` as in the config or by its file name
        (with or without the suffix); the fit and the trace are as always.

    Returns
    -------
    list of Path
        The files written (with ``dry_run``: the files that would be written), in config order.

    Raises
    ------
    InputError
        For any problem with the config, the data or the output locations, before anything is written.
    """
    from emviz.distributed import launched, session

    if launched():  # one of several torchrun processes: a data-parallel fit, rank 0 writes
        config = load_config(config_or_path, _overrides(overrides, device))
        with session(config.model.device) as comm:
            return _run(config, out, (), None, dry_run, progress, only, comm)
    return _run(config_or_path, out, overrides, device, dry_run, progress, only, None)


def _run(config_or_path, out, overrides, device, dry_run, progress, only, comm) -> list[Path]:
    plan = prepare(config_or_path, out=out, overrides=overrides, device=device, only=only, comm=comm)
    root = comm is None or comm.is_root
    if dry_run:
        if root:
            print(plan.describe())
        return plan.targets if root else []
    created: list[Path] = []
    try:
        traces = fit(plan, progress=progress and root, created=created)
        if not root:
            return []  # rank 0 renders; this rank's part (its shard's statistics) is done
        return render_outputs(plan, traces, progress=progress, created=created)
    except BaseException:
        remove_empty(created)
        raise


def _overrides(overrides, device) -> list:
    # One string is one override (list("a=1") would be three characters, each a broken --set).
    overrides = [overrides] if isinstance(overrides, str) else list(overrides)
    if device is not None:
        overrides.append((f"model.device={device}", f"--device {device}"))
    return overrides


def prepare(config_or_path, out=".", overrides=(), device=None, only=None, comm=None) -> Plan:
    """Load and check the config, load the data and build the fitter; nothing is written.

    With ``comm`` (a data-parallel run), the dataset is this rank's shard and the fitters are its ranks.
    """
    only = [only] if isinstance(only, str) else only
    config = load_config(config_or_path, _overrides(overrides, device))
    selected = None if only is None else _select_outputs(config, only)
    # The fitters first: building one checks the device, and the memory check needs it.
    fitters = {name: build_fitter(config, model, name, comm) for name, model in config.run_models().items()}
    try:
        if config.data.mixture is not None:
            # Check the memory before sampling: a mistyped size must not take the machine down.
            n, d = data_shape(config.data, config.base_dir)
            world = 1 if comm is None else comm.world
            check_memory(config, -(-n // world), d, fitters)
        dataset = load_data(config.data, config.base_dir, comm=comm)
    except InputError as exc:
        raise config.data_error(exc) from None
    check_config(config, out=out, dataset=dataset)
    if config.data.mixture is None:  # a sampled mixture's shape was checked before sampling
        check_memory(config, *dataset.X.shape, fitters, streamed_data=is_rows(dataset.X))
    return Plan(config=config, dataset=dataset, fitters=fitters, out=Path(out), selected=selected)


def _select_outputs(config: Config, names) -> tuple:
    """Indices of the outputs named (by path, file name or stem); an unknown name is an InputError."""
    from emviz.errors import did_you_mean

    chosen = set()
    for name in names:
        hits = [i for i, o in enumerate(config.outputs)
                if name in (o.path, Path(o.path).name, Path(o.path).stem, o.path.rstrip("/"))]
        if not hits:
            known = [o.path for o in config.outputs]
            spellings = known + [Path(p).stem for p in known]
            raise InputError(f"--only {name}: no output of {config.source} is named so"
                             f"{did_you_mean(name, spellings)}; the outputs are {', '.join(known) or 'none'}")
        chosen.update(hits)
    return tuple(sorted(chosen))


def _memory_budget(devices) -> tuple[float, str]:
    """Bytes the fit may use (a share of the host's memory, or of a GPU's if smaller) and a description."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no check
        return math.inf, "this machine's memory"
    budget, what = MEMORY_SHARE * total, f"this machine's {_size(total)} of memory"
    for device in devices:
        if getattr(device, "type", "cpu") == "cuda":
            import torch

            gpu = torch.cuda.get_device_properties(device).total_memory
            if MEMORY_SHARE * gpu < budget:
                budget, what = MEMORY_SHARE * gpu, f"the {_size(gpu)} of {device}"
    return budget, what


def _size(n_bytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n_bytes < 1000 or unit == "TB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    raise AssertionError("unreachable")


def check_memory(config: Config, n: int, d: int, fitters: dict, streamed_data: bool = False) -> None:
    """Refuse a fit whose data or recorded trace would not fit in memory, before anything is allocated.

    The recorder preallocates ``max_iter + 1`` rows of every recorded quantity on the device and copies
    them to the host; the fitter keeps the data and two (K, N) work buffers. The estimate counts those,
    which dominate; the budget is :data:`emviz.config.MEMORY_SHARE` of the host's (or the GPU's) memory.
    """
    from emviz.em.stream import MAX_AUTO_CHUNK

    budget, what = _memory_budget([getattr(f, "device", None) for f in fitters.values()])
    record = config.record
    m = min(record.resp_points, record.show_points, n)
    traces, data = 0.0, 0.0
    for name, model in config.run_models().items():
        k, item = model.n_components, (8 if model.dtype == "float64" else 4)
        row = k + k * d + k * d * d + 1 + m * k
        # Device buffers, their float64 host copy, and the float32 responsibilities of the Trace.
        trace_bytes = (model.max_iter + 1) * (row * (item + 8) + m * k * 4)
        traces += trace_bytes  # every run's trace is kept until the outputs are rendered
        # X on the host and the device, the moment features (up to D*D per point), the (K, N) buffers;
        # chunked EM (chunk_size, or auto when they would not fit) keeps the work to one chunk's rows.
        work_rows = n if model.chunk_size == "auto" else min(n, model.chunk_size)
        if model.chunk_size == "auto" and n * item * (d + d * d + 2 * k) > budget / 2:
            work_rows = MAX_AUTO_CHUNK
        streamed = streamed_data  # a memory-mapped file: rows are read per pass, never held
        data = max(data, (0 if streamed else n * (8 + item) * d) + work_rows * item * (d + d * d + 2 * k))
        if trace_bytes > budget:
            raise config.error(config.model_path(name, "max_iter"), f"recording up to {model.max_iter} iterations (K={k}, D={d}, "
                                                     f"responsibilities of {m} points) needs about {_size(trace_bytes)}, "
                                                     f"more than {MEMORY_SHARE:.0%} of {what}; lower max_iter "
                                                     "or record.resp_points")
    if data > budget:
        key = ("data", "mixture") if config.data.mixture is not None else ("data",)
        raise config.error(key, f"fitting {n} points of dimension {d} needs about {_size(data)}, more than "
                                f"{MEMORY_SHARE:.0%} of {what}; use fewer points")
    if traces + data > budget:
        raise config.error(("record", "resp_points"), f"the traces of every run and the data need about "
                                                      f"{_size(traces + data)}, more than {MEMORY_SHARE:.0%} of "
                                                      f"{what}; lower model.max_iter or record.resp_points")


def build_fitter(config: Config, model=None, run=None, comm=None):
    """The :class:`emviz.em.GaussianMixture` a model section (default ``config.model``) describes;
    ``run`` names the run it is for (its errors point at that run's keys); ``comm``: the ranks of a
    data-parallel run."""
    from emviz.em import GaussianMixture

    m = model or config.model
    if comm is not None and comm.world > 1:
        m = m.model_copy(update={"device": str(comm.compute_device)})  # each rank on its own device
    try:
        return GaussianMixture(
            n_components=m.n_components, covariance_type=m.covariance_type,
            init=init_mixture(config, m, config.model_path(run, "init")),
            reg_covar=m.reg_covar, tol=m.tol, max_iter=m.max_iter, dtype=m.dtype, device=m.device,
            seed=m.seed, algorithm=m.algorithm, chunk_size=m.chunk_size, init_sample=m.init_sample, comm=comm,
        )
    except InputError as exc:
        raise _model_error(config, exc, run) from None


def _model_error(config: Config, exc: InputError, run=None) -> InputError:
    """Point the fitter's ``"field: problem"`` errors at the model key of run ``run`` (and its line)."""
    message = str(exc)
    match = re.match(r"(\w+)\b", message)
    field = match[1] if match else ""
    if field not in type(config.model).model_fields:
        return exc
    rest = message[len(field) + 2:] if message.startswith(f"{field}: ") else message
    return config.error(config.model_path(run, field), rest)


def fit(plan: Plan, progress: bool = True, created: list | None = None) -> dict:
    """Run each run's fitter under a :class:`emviz.recorder.Recorder`; save the traces if asked.

    Returns run name -> Trace, in the config's order (one run named None without a runs section).
    """
    from emviz.recorder import Recorder

    config, dataset = plan.config, plan.dataset
    traces = {}
    for name, save_path in plan.trace_paths().items():
        fitter = plan.fitters[name]
        recorder = Recorder(fitter, resp_points=config.record.resp_points,
                            show_points=config.record.show_points, progress=progress, seed=config.model.seed,
                            label="EM" if name is None else name)
        if save_path is not None and plan.fitter.is_root:
            make_dirs(save_path.parent, created)
        meta = {"config": _saved_config(config), "run": name,
                # The file name only: the same config run from another folder saves the same bytes.
                "config_source": Path(config.source).name,
                "data": {"name": dataset.name, "columns": list(dataset.columns),
                         "standardized": bool(config.data.standardize)}}
        swept = config.swept_value(name)
        if swept is not None:  # what the model-selection panel puts on its x axis
            meta["sweep"] = {"key": swept[0], "value": swept[1]}
        try:
            traces[name] = recorder.run(dataset.X, truth=dataset.truth, labels=dataset.labels, meta=meta,
                                        save_path=save_path)
        except InputError as exc:
            raise _model_error(config, exc, name) from None
    return traces


def _saved_config(config: Config) -> dict:
    """The config as a trace keeps it: without how many processes drew the frames (frames.workers),
    which changes no result, so 1 and 2 workers save the same trace."""
    dumped = config.model_dump(mode="json")
    dumped["frames"].pop("workers", None)
    return dumped


def output_settings(config: Config, index: int) -> dict:
    """Keyword arguments of :func:`emviz.render.render` for output ``index`` (output keys over globals)."""
    output = config.outputs[index]
    style = config.style.model_dump(exclude_none=True)
    if output.style is not None:
        style.update(output.style.model_dump(exclude_none=True))
    frames = config.frames.model_dump()
    given = output.frames.model_dump(exclude_none=True) if output.frames is not None else {}
    frames.update(given)
    settings = {
        "fps": frames["fps"],
        "hold_last": frames["hold_last"],
        "style": style,
        "workers": _usable_workers(frames["workers"]),
        "layout": output.layout,
        "title": output.title,
        "max_bytes": frames["max_bytes"],
        "colors": frames["colors"],
        "half_steps": frames["half_steps"],
    }
    if output.iterations is not None:
        settings["iterations"] = list(output.iterations)
    elif "schedule" in given:
        settings["schedule"] = given["schedule"]
    elif output_kind(output.path) != "still":
        # A still without iterations shows the last one; the global schedule is for animations.
        settings["schedule"] = config.frames.schedule
    return settings


def _usable_workers(workers):
    """``workers``, but never more processes than CPUs: more only cost memory (each holds a figure),
    and ``workers: 1000`` would start one process per frame."""
    if workers == "auto":
        return workers
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(int(workers), cpus))


def render_outputs(plan: Plan, traces, progress: bool = True, created: list | None = None) -> list[Path]:
    """Render every output of the plan from ``traces`` (run name -> Trace, or one Trace); return the
    paths written."""
    from emviz.render.api import render

    if not isinstance(traces, dict):
        traces = {None: traces}
    written = []
    for i, output, target in plan.outputs():
        shown = {name: traces[name] for name in (output.runs or traces)}
        subject = next(iter(shown.values())) if list(shown) == [None] else shown
        n_iter = max(t.n_iter for t in shown.values())
        settings = _clip_to_trace(output_settings(plan.config, i), n_iter, target, quiet=not progress)
        if len(shown) == 1 and subject is not next(iter(shown.values())) and _is_grid(output.path, settings, n_iter):
            # A grid draws one Trace (the config check allows runs: [one name] for it): the run's
            # name becomes the heading, where an animation of one named run shows it above its panels.
            (name, subject), = shown.items()
            if settings["title"] is None:
                settings["title"] = name
        if output.overlay is not None:
            settings["overlay"] = list(output.overlay)
        make_dirs(target.parent, created)
        try:
            written.append(render(subject, panels=list(output.panels), path=target, progress=progress, **settings))
        except InputError as exc:
            # Problems only the render layer sees (a layout too small for its panels, say) still name the
            # output; the fit is not lost: the saved trace renders again without refitting.
            saved = [str(p) for p in plan.trace_paths().values() if p is not None and p.is_file()]
            hint = f" (the fit is saved in {', '.join(saved)}: fix the output and use render-trace)" if saved else ""
            raise plan.config.error(("outputs", i), f"{exc}{hint}") from None
    return written


def _is_grid(path: str, settings: dict, n_iter: int) -> bool:
    """Whether the render draws a small-multiples grid: a still of several iterations."""
    from emviz.render.schedule import parse_schedule

    if output_kind(path) != "still":
        return False
    if settings.get("iterations") is not None:
        chosen = set(settings["iterations"])
    elif settings.get("schedule") is not None:
        chosen = set(parse_schedule(settings["schedule"]).iterations(n_iter))
    else:
        chosen = {n_iter}
    # With half-steps an iteration before the last is two cells (its E-step and its M-step).
    return len(chosen) > 1 or (settings.get("half_steps", False) and min(chosen) < n_iter)


def _clip_to_trace(settings: dict, n_iter: int, target: Path, quiet: bool) -> dict:
    """Explicit iterations beyond T become T: checked against max_iter, but EM may converge sooner."""

    def clip(values):
        return sorted({min(int(t), n_iter) for t in values})

    settings = dict(settings)
    iterations, schedule = settings.get("iterations"), settings.get("schedule")
    beyond = [t for t in (iterations or []) if t > n_iter]
    if iterations is not None:
        settings["iterations"] = clip(iterations)
    elif isinstance(schedule, list):
        beyond, settings["schedule"] = [t for t in schedule if t > n_iter], clip(schedule)
    elif isinstance(schedule, dict) and schedule.get("iterations") is not None:
        beyond = [t for t in schedule["iterations"] if t > n_iter]
        settings["schedule"] = {**schedule, "iterations": clip(schedule["iterations"])}
    if beyond and not quiet:
        print(f"emviz: note: {target}: EM stopped at iteration {n_iter}; iteration(s) "
              f"{', '.join(map(str, beyond))} drawn as {n_iter}", file=sys.stderr)
    return settings
