"""The typed config, section by section: what each key may hold, its default and its bounds.

Pydantic models that forbid unknown keys and coerce nothing; :func:`emviz.config.load_config` builds
a :class:`Config` from YAML and adds the checks that need the whole config.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BeforeValidator, Discriminator, Field, PrivateAttr, Tag, ValidationError, WithJsonSchema, field_validator,
    model_validator,
)

from emviz.config.limits import INIT_NAMES, MAX_FPS, MAX_HOLD_SECONDS, MAX_RUN_NAME, MAX_TITLE_CHARS
from emviz.dataspec import DataSpec, MixtureSpec
from emviz.errors import InputError, did_you_mean
from emviz.formats import FORMAT_SUFFIXES, output_suffix
from emviz.validation import StrictModel, dotted, located, nested_numbers, parse_path, problem, seed_field, show

__all__ = ["Config", "DataSection", "MixtureSpec", "InitMixture", "ModelSection", "ModelOverride", "RunSpec",
           "RunSweep", "sweep_run_name", "RecordSection", "FramesSection", "FramesOverride", "StyleSection", "StyleOverride", "OutputSpec"]

#: The ``data:`` section is the data spec of :mod:`emviz.dataspec` (its rules live there, once).
DataSection = DataSpec
#: Tags of the discriminated union for ``model.init`` (in angle brackets: never shown in error paths).
_INIT_TAGS = ("<init name>", "<init mixture>")


class InitMixture(StrictModel):
    """Explicit starting parameters."""

    means: list[list[float]] = Field(min_length=1, description="(K, D)")
    stds: Annotated[list, nested_numbers((1, 2), "a list of K numbers or K lists of D numbers"),
                    WithJsonSchema({"description": "(K,) or (K, D) standard deviations"})] | None = None
    covariances: list[list[list[float]]] | None = Field(None, description="(K, D, D)")
    weights: list[float] | None = Field(None, description="(K,), default equal")

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.stds is None) == (self.covariances is None):
            raise ValueError("give exactly one of stds, covariances")
        return self


def _init_tag(value):
    # Called with raw input when validating and with the model instance when serialising.
    if isinstance(value, str):
        return _INIT_TAGS[0]
    return _INIT_TAGS[1] if isinstance(value, (dict, InitMixture)) else None


def _check_init_name(value):
    if isinstance(value, str) and value not in INIT_NAMES:
        raise ValueError(f"unknown initialisation {value!r}{did_you_mean(value, INIT_NAMES)}; "
                         f"choose from {', '.join(INIT_NAMES)} or give {{means, stds, weights}}")
    return value


InitSpec = Annotated[
    Union[Annotated[Literal[INIT_NAMES], Tag(_INIT_TAGS[0])], Annotated[InitMixture, Tag(_INIT_TAGS[1])]],
    Discriminator(_init_tag, custom_error_type="init_type",
                  custom_error_message="must be a name or a mapping {means, stds|covariances, weights}"),
    BeforeValidator(_check_init_name),
]


def _check_device(value):
    if not (isinstance(value, str) and re.fullmatch(r"auto|cpu|cuda(:\d+)?", value)):
        raise ValueError(f"must be auto, cpu, cuda or cuda:N (got {show(value)})")
    return value


def _check_chunk_size(value):
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValueError(f"must be auto or an integer >= 1 (rows per chunk), got {show(value)}")


ChunkSize = Annotated[Union[Literal["auto"], int], BeforeValidator(_check_chunk_size),
                      WithJsonSchema({"anyOf": [{"const": "auto"}, {"type": "integer", "minimum": 1}]})]


class ModelSection(StrictModel):
    """The mixture to fit and how EM runs."""

    n_components: int = Field(ge=1, description="K (may be left out when runs.sweep sweeps n_components)")
    covariance_type: Literal["full", "diag", "spherical", "tied"] = "full"
    init: InitSpec = "kmeans"
    max_iter: int = Field(100, ge=1)
    tol: float = Field(1e-3, ge=0, allow_inf_nan=False, description="stop when the mean log-likelihood gains less; 0 runs max_iter steps")
    reg_covar: float = Field(1e-6, ge=0, allow_inf_nan=False)
    dtype: Literal["float64", "float32"] = "float64"
    device: Annotated[str, BeforeValidator(_check_device)] = "auto"
    seed: int = seed_field()
    algorithm: Literal["em", "hard"] = "em"
    chunk_size: ChunkSize = Field(
        "auto", description="rows per chunk of exact, chunked EM (no (N, K) array); auto: chunk only when "
                            "the work arrays would not fit the device")
    init_sample: int = Field(1_000_000, ge=1, description="the start is computed from at most this many "
                                                          "points (a seeded sample beyond)")


class ModelOverride(StrictModel):
    """The model keys a run changes; every other key comes from the ``model`` section."""

    n_components: int | None = Field(None, ge=1)
    covariance_type: Literal["full", "diag", "spherical", "tied"] | None = None
    init: InitSpec | None = None
    max_iter: int | None = Field(None, ge=1)
    tol: float | None = Field(None, ge=0, allow_inf_nan=False)
    reg_covar: float | None = Field(None, ge=0, allow_inf_nan=False)
    dtype: Literal["float64", "float32"] | None = None
    device: Annotated[str, BeforeValidator(_check_device)] | None = None
    seed: int | None = None
    algorithm: Literal["em", "hard"] | None = None
    chunk_size: ChunkSize | None = None
    init_sample: int | None = Field(None, ge=1)


class RunSpec(StrictModel):
    """One fit of the data: a name for legends and file names, and what it changes in ``model``."""

    @model_validator(mode="before")
    @classmethod
    def _not_a_sweep(cls, data):
        if isinstance(data, dict) and "sweep" in data:
            raise ValueError("a sweep is the whole runs section, runs: {sweep: {key: [values]}}; it does not "
                             "combine with named runs")
        return data

    name: str = Field(min_length=1, max_length=MAX_RUN_NAME, description="e.g. 'EM', 'hard EM', 'start 2'")
    model: ModelOverride | None = None


def _check_sweep_form(value):
    """The shape only (a mapping); :meth:`Config.run_models` checks the key and every value, with their lines."""
    if isinstance(value, dict) and value:
        return value
    raise ValueError(f"must map a model key to its values, e.g. {{n_components: [1, 2, 3]}} (got {show(value)})")


class RunSweep(StrictModel):
    """``runs: {sweep: {key: [values]}}``: one fit per value of one model key, named ``K=3`` (for
    ``n_components``) or ``key=value``; each value is checked as the model section checks that key."""

    @model_validator(mode="before")
    @classmethod
    def _alone(cls, data):
        if isinstance(data, dict) and "sweep" in data and len(data) > 1:
            other = next(key for key in data if key != "sweep")
            raise ValueError(f"a sweep is the whole runs section: {other!r} does not go beside it (named runs "
                             "and a sweep do not combine)")
        return data

    sweep: Annotated[dict[str, Any], BeforeValidator(_check_sweep_form), WithJsonSchema({
        "type": "object", "minProperties": 1, "maxProperties": 1,
        "propertyNames": {"enum": list(ModelSection.model_fields)},
        "additionalProperties": {"type": "array", "minItems": 1},
        "description": "one model key and its values, e.g. {n_components: [1, 2, 3, 4, 5, 6]}: one run per value",
    })]


def sweep_run_name(key: str, value, index: int) -> str:
    """The name of a sweep's run: ``K=3`` for n_components, ``key=value`` otherwise (``init=#2`` for the
    second of explicit starting mixtures)."""
    if key == "n_components":
        return f"K={value}"
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        text = f"#{index + 1}"
    return f"{key}={text}"


def _runs_tag(value):
    if isinstance(value, list):
        return _RUNS_TAGS[0]
    return _RUNS_TAGS[1] if isinstance(value, (dict, RunSweep)) else None


#: Tags of the union for ``runs`` (in angle brackets: never shown in error paths).
_RUNS_TAGS = ("<run list>", "<run sweep>")
RunsSpec = Annotated[
    Union[Annotated[list[RunSpec], Field(min_length=1), Tag(_RUNS_TAGS[0])], Annotated[RunSweep, Tag(_RUNS_TAGS[1])]],
    Discriminator(_runs_tag, custom_error_type="runs_type",
                  custom_error_message="must be a list of runs [{name, model}] or a sweep {sweep: {key: [values]}}"),
]


class RecordSection(StrictModel):
    """What the trace keeps."""

    resp_points: int = Field(2000, ge=1, description="points whose responsibilities are recorded")
    show_points: int = Field(20000, ge=1, description="at most this many points are kept for drawing")
    save: str | None = Field(None, min_length=1, description="write the trace here (.npz, relative to --out)")


def _check_schedule_form(value):
    """The shape only; :func:`emviz.render.schedule.parse_schedule` checks the rest in :func:`load_config`."""
    if value is None or isinstance(value, (str, list, dict)):
        return value
    raise ValueError(f"must be 'all', a list of iterations or a mapping such as {{dense: 100, every: 10}} "
                     f"(got {show(value)})")


_SCHEDULE_SCHEMA = {
    "description": "which iterations become frames: 'all', a list of iterations, or {dense: n, every: k}, "
                   "{every: k}, {log: n}, {iterations: [...]}, each with an optional max_frames",
    "anyOf": [
        {"const": "all"},
        {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
        {"type": "object", "additionalProperties": False, "properties": {
            "dense": {"type": "integer", "minimum": 0}, "every": {"type": "integer", "minimum": 1},
            "log": {"type": "integer", "minimum": 2}, "max_frames": {"type": "integer", "minimum": 2},
            "iterations": {"type": "array", "items": {"type": "integer", "minimum": 0}}}},
        {"type": "null"},
    ],
}
ScheduleSpec = Annotated[Any, BeforeValidator(_check_schedule_form), WithJsonSchema(_SCHEDULE_SCHEMA)]


def _check_workers(value):
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return value
    raise ValueError(f"must be an integer >= 1 or 'auto' (got {show(value)})")


def _misplaced(data, keys, section: str):
    """Refuse a key of the other section (``style: {fps: 5}``) with where it goes, not "unknown key"."""
    if isinstance(data, dict):
        for key in keys:
            if key in data:
                raise ValueError(f"{key} is a {section} key: write it under {section}, {section}: "
                                 f"{{{key}: {show(data[key])}}}")
    return data


class _FrameKeys(StrictModel):
    """A frames section (global or an output's): a style key in it says where it goes."""

    @model_validator(mode="before")
    @classmethod
    def _no_style_keys(cls, data):
        return _misplaced(data, (StyleSection if cls is FramesSection else StyleOverride).model_fields, "style")


class FramesSection(_FrameKeys):
    """Which iterations become frames, and how fast they play."""

    schedule: ScheduleSpec = None
    fps: float = Field(10.0, gt=0, le=MAX_FPS, allow_inf_nan=False)
    hold_last: float = Field(2.0, ge=0, le=MAX_HOLD_SECONDS, allow_inf_nan=False,
                             description="seconds the last frame is held")
    workers: Annotated[Union[int, Literal["auto"]], BeforeValidator(_check_workers)] = 1
    max_bytes: int | None = Field(5_000_000, ge=1, description="warn when an animation is larger")
    colors: int = Field(128, ge=8, le=255, description="most colours in a GIF's palette; plots need no more "
                                                         "than 128, and fewer make smaller files")
    half_steps: bool = Field(False, description="draw each iteration as two frames: its E-step (the points "
                                                "recoloured, the components still) and its M-step (the "
                                                "components moved, the colours still); the last iteration "
                                                "gets its E-step only, and a still grid both halves")


class FramesOverride(_FrameKeys):
    """Per-output frame keys: only the keys given replace the frames section's."""

    schedule: ScheduleSpec = None
    fps: float | None = Field(None, gt=0, le=MAX_FPS, allow_inf_nan=False)
    hold_last: float | None = Field(None, ge=0, le=MAX_HOLD_SECONDS, allow_inf_nan=False)
    max_bytes: int | None = Field(None, ge=1)
    colors: int | None = Field(None, ge=8, le=255)
    half_steps: bool | None = None


class StyleSection(StrictModel):
    """How frames look."""

    @model_validator(mode="before")
    @classmethod
    def _no_frame_keys(cls, data):
        # The other section at the same level: an output's frames take no workers.
        return _misplaced(data, (FramesSection if cls is StyleSection else FramesOverride).model_fields, "frames")

    theme: Literal["light", "dark"] = "light"
    dpi: float = Field(100.0, gt=0, le=1200, allow_inf_nan=False)
    size: list[Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]] | None = Field(
        None, min_length=2, max_length=2, description="[width, height] in inches")
    font_size: float = Field(9.0, gt=0, le=200, allow_inf_nan=False)


class StyleOverride(StyleSection):
    """Per-output style: only the keys given replace the global style's."""

    theme: Literal["light", "dark"] | None = None
    dpi: float | None = Field(None, gt=0, le=1200, allow_inf_nan=False)
    font_size: float | None = Field(None, gt=0, le=200, allow_inf_nan=False)


def _check_panel(value):
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and len(value) == 1:
        (name, options), = value.items()
        if isinstance(name, str) and (options is None or isinstance(options, dict)):
            return value
    raise ValueError(f"a panel is a name or {{name: {{option: value}}}} (got {show(value)})")


PanelSpec = Annotated[Any, BeforeValidator(_check_panel), WithJsonSchema({
    "description": "a panel name, or {name: {option: value}}",
    "anyOf": [{"type": "string"}, {"type": "object", "minProperties": 1, "maxProperties": 1,
                                   "additionalProperties": {"type": ["object", "null"]}}]})]


class OutputSpec(StrictModel):
    """One file (or folder) to write; unset keys fall back to the frames and style sections."""

    path: str = Field(min_length=1, description=".gif .mp4 .html (animations), .tex (beamer slides: a LaTeX "
                                                 "snippet and its frames), .png .pdf .svg (stills) or a folder")
    format: Literal[tuple(FORMAT_SUFFIXES)] | None = Field(
        None, description="the format by name, as the path's suffix would pick it (beamer: .tex); a path "
                          "without a suffix gets the format's")
    panels: list[PanelSpec] = Field(min_length=1)
    iterations: list[Annotated[int, Field(ge=0)]] | None = Field(
        None, min_length=1, description="stills: the iterations drawn (several make a grid); "
                                        "animations: an explicit schedule")
    frames: FramesOverride | None = Field(None, description="frame keys of this output (as in the frames section)")
    style: StyleOverride | None = Field(None, description="style keys of this output (as in the style section)")
    layout: list[Annotated[int, Field(ge=1)]] | None = Field(
        None, min_length=2, max_length=2, description="[rows, cols] of panels; default one row")
    title: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    runs: list[str] | None = Field(None, min_length=1, description="names of the runs shown (default all), "
                                                                    "side by side with shared axes")
    overlay: list[PanelSpec] | None = Field(None, min_length=1, description="panels drawn once with every "
                                                                            "shown run together (e.g. curves)")

    @field_validator("format")
    @classmethod
    def _format_matches_path(cls, value, info):
        path = info.data.get("path")
        if value is None or path is None:
            return value
        suffix, wanted = output_suffix(path), FORMAT_SUFFIXES[value]
        if path.endswith(("/", "\\")):
            raise ValueError(f"{value} writes {wanted} files; {path!r} is a folder (drop format, or the final /)")
        if suffix and suffix != wanted:
            raise ValueError(f"{value} writes {wanted} files, but path {path!r} ends in {suffix}; "
                             f"give the suffix {wanted} or no suffix")
        return value

    @model_validator(mode="after")
    def _suffix_from_format(self):
        # One place to know the format: everything downstream reads the path's suffix.
        if self.format is not None and not output_suffix(self.path):
            self.path += FORMAT_SUFFIXES[self.format]
        return self

    @model_validator(mode="before")
    @classmethod
    def _sections_nest(cls, data):
        # One form: an output overrides a section's keys under that section's name, as the top level does.
        if isinstance(data, dict):
            for section, model in (("frames", FramesOverride), ("style", StyleOverride)):
                for key in model.model_fields:
                    if key in data:
                        raise ValueError(f"{key} goes under {section}, as at the top level: "
                                         f"{section}: {{{key}: {show(data[key])}}}")
        return data


class Config(StrictModel):
    """A whole emviz config. Build it with :func:`load_config`, which also checks what pydantic cannot."""

    data: DataSection
    model: ModelSection
    record: RecordSection = Field(default_factory=RecordSection)
    frames: FramesSection = Field(default_factory=FramesSection)
    style: StyleSection = Field(default_factory=StyleSection)
    runs: RunsSpec | None = Field(None, description="several fits of the same data (default: one, the model "
                                                     "section): a list of named runs [{name, model: {changes}}], or "
                                                     "{sweep: {key: [values]}}, one run per value of one model key "
                                                     "(the two do not combine)")
    outputs: list[OutputSpec] = Field(default_factory=list)

    _name: str = PrivateAttr("config")
    _lines: dict = PrivateAttr(default_factory=dict)
    _base_dir: Path = PrivateAttr(default_factory=Path)
    _path: Path | None = PrivateAttr(None)
    _run_models: dict | None = PrivateAttr(None)
    _sweep_runs: dict = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _swept_key_needs_no_default(cls, data):
        # A sweep of n_components gives every run its K: the model section need not name one. Its
        # placeholder is the first swept value (the sweep's own check reports a bad one, at its line).
        if isinstance(data, dict) and isinstance(data.get("model"), dict) and "n_components" not in data["model"]:
            sweep = data["runs"].get("sweep") if isinstance(data.get("runs"), dict) else None
            if isinstance(sweep, dict) and "n_components" in sweep:
                values = sweep["n_components"]
                first = values[0] if isinstance(values, list) and values else None
                usable = isinstance(first, int) and not isinstance(first, bool) and first >= 1
                data = {**data, "model": {**data["model"], "n_components": first if usable else 1}}
        return data

    @property
    def source(self) -> str:
        """Name of the config (its file path, or ``"config"`` for a mapping)."""
        return self._name

    @property
    def base_dir(self) -> Path:
        """Directory that relative data paths are resolved against (the config file's directory)."""
        return self._base_dir

    @property
    def path(self) -> Path | None:
        """The config file, when it came from one."""
        return self._path

    def error(self, path, message: str) -> InputError:
        """An InputError ``"where: dotted.path: message"`` for a path (a tuple or a dotted string)."""
        return located(self._name, self._lines, parse_path(path) if isinstance(path, str) else tuple(path), message)

    def run_models(self) -> dict:
        """Run name -> its validated :class:`ModelSection`; ``{None: model}`` when there are no runs.

        Validated once and kept: the checks before fitting ask for it several times.
        """
        if self._run_models is None:
            self._run_models = self._validate_runs()
        return self._run_models

    @property
    def sweep(self) -> tuple[str, list] | None:
        """(model key, its values) of a ``runs: {sweep: ...}`` section, else None."""
        if not isinstance(self.runs, RunSweep):
            return None
        key = next(iter(self.runs.sweep))
        return key, self.runs.sweep[key]

    def run_names(self) -> list[str]:
        """The runs' names in config order (a sweep's generated ones); empty without a runs section."""
        if self.runs is None:
            return []
        return list(self.run_models()) if isinstance(self.runs, RunSweep) else [run.name for run in self.runs]

    def swept_value(self, name) -> tuple[str, object] | None:
        """(key, value) that run ``name`` of a sweep gives its model key (as JSON has it), else None."""
        self.run_models()
        if name not in self._sweep_runs:
            return None
        _, key, value = self._sweep_runs[name]
        return key, value

    def model_path(self, name, *keys) -> tuple:
        """Config path of model key ``keys[0]`` (and deeper ``keys``) as run ``name`` gets it: a sweep's
        swept key at its value (``runs.sweep.n_components[2]``), its other keys in the model section."""
        if name is None:
            return ("model", *keys)
        if isinstance(self.runs, RunSweep):
            self.run_models()
            index = self._sweep_runs[name][0]
            key = self.sweep[0]
            return ("runs", "sweep", key, index, *keys[1:]) if keys and keys[0] == key else ("model", *keys)
        return ("runs", [r.name for r in self.runs].index(name), "model", *keys)

    def _validate_runs(self) -> dict:
        if self.runs is None:
            return {None: self.model}
        if isinstance(self.runs, RunSweep):
            return self._validate_sweep()
        models = {}
        for i, run in enumerate(self.runs):
            changes = run.model.model_dump(exclude_none=True) if run.model is not None else {}
            merged = {**self.model.model_dump(), **changes}
            if "init" in changes:
                merged["init"] = getattr(run.model, "init")
            try:
                models[run.name] = ModelSection.model_validate(merged)
            except ValidationError as exc:
                path, message = problem(exc.errors()[0], ModelSection)
                raise self.error(("runs", i, "model", *path), message) from None
        return models

    def _validate_sweep(self) -> dict:
        """One ModelSection per swept value, each checked by the model section's rules at its own line."""
        sweep = self.runs.sweep
        if len(sweep) > 1:
            raise self.error(("runs", "sweep"), f"sweeps one model key at a time, got {len(sweep)}: "
                                                f"{', '.join(map(str, sweep))}")
        (key, values), = sweep.items()
        keys = list(ModelSection.model_fields)
        if key not in keys:
            raise self.error(("runs", "sweep", key), f"unknown model key{did_you_mean(key, keys)}; a sweep "
                                                     f"varies one of {', '.join(keys)}")
        if not isinstance(values, list):
            raise self.error(("runs", "sweep", key), f"must be a list of values to sweep (got {show(values)})")
        if not values:
            raise self.error(("runs", "sweep", key), "is empty: give at least one value")
        base = self.model.model_dump()
        models, self._sweep_runs, seen = {}, {}, {}
        for i, value in enumerate(values):
            merged = {**base, key: value}
            if key != "init":
                merged["init"] = self.model.init
            try:
                model = ModelSection.model_validate(merged)
            except ValidationError as exc:
                path, message = problem(exc.errors()[0], ModelSection)
                where = ("runs", "sweep", key, i, *path[1:]) if path[:1] == (key,) else ("model", *path)
                raise self.error(where, message) from None
            checked = model.model_dump(mode="json")[key]
            same = next((j for j, other in seen.items() if other == checked), None)
            if same is not None:
                raise self.error(("runs", "sweep", key, i), f"{show(value)} is also runs.sweep.{key}[{same}]: "
                                                            "each value is swept once")
            seen[i] = checked
            name = sweep_run_name(key, checked, i)
            models[name] = model
            self._sweep_runs[name] = (i, key, checked)
        return models

    def data_error(self, exc: InputError) -> InputError:
        """Point an error from :mod:`emviz.data` at the data key it is about (when it says which)."""
        key = getattr(exc, "key", None)
        if key is None:
            return exc
        path = ("data", *parse_path(key))
        message = str(exc)
        prefix = f"{dotted(path)}: "
        return self.error(path, message[len(prefix):] if message.startswith(prefix) else message)
