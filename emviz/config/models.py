"""The typed config, section by section: what each key may hold, its default and its bounds.

Pydantic models that forbid unknown keys and coerce nothing; :func:`emviz.config.load_config` builds
a :class:`Config` from YAML and adds the checks that need the whole config.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BeforeValidator, Discriminator, Field, PrivateAttr, Tag, ValidationError, WithJsonSchema, model_validator,
)

from emviz.config.limits import INIT_NAMES, MAX_FPS, MAX_HOLD_SECONDS, MAX_TITLE_CHARS
from emviz.dataspec import DataSpec, MixtureSpec
from emviz.errors import InputError, did_you_mean
from emviz.validation import StrictModel, dotted, located, nested_numbers, parse_path, problem, seed_field, show

__all__ = ["Config", "DataSection", "MixtureSpec", "InitMixture", "ModelSection", "ModelOverride", "RunSpec",
           "RecordSection", "FramesSection", "FramesOverride", "StyleSection", "StyleOverride", "OutputSpec"]

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


class ModelSection(StrictModel):
    """The mixture to fit and how EM runs."""

    n_components: int = Field(ge=1, description="K")
    covariance_type: Literal["full", "diag", "spherical", "tied"] = "full"
    init: InitSpec = "kmeans"
    max_iter: int = Field(100, ge=1)
    tol: float = Field(1e-3, ge=0, allow_inf_nan=False, description="stop when the mean log-likelihood gains less; 0 runs max_iter steps")
    reg_covar: float = Field(1e-6, ge=0, allow_inf_nan=False)
    dtype: Literal["float64", "float32"] = "float64"
    device: Annotated[str, BeforeValidator(_check_device)] = "auto"
    seed: int = seed_field()
    algorithm: Literal["em", "hard"] = "em"
    chunk_size: Literal["auto"] | Annotated[int, Field(ge=1)] = Field(
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
    chunk_size: Literal["auto"] | Annotated[int, Field(ge=1)] | None = None
    init_sample: int | None = Field(None, ge=1)


class RunSpec(StrictModel):
    """One fit of the data: a name for legends and file names, and what it changes in ``model``."""

    name: str = Field(min_length=1, max_length=40, description="e.g. 'EM', 'hard EM', 'start 2'")
    model: ModelOverride | None = None


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


class FramesOverride(_FrameKeys):
    """Per-output frame keys: only the keys given replace the frames section's."""

    schedule: ScheduleSpec = None
    fps: float | None = Field(None, gt=0, le=MAX_FPS, allow_inf_nan=False)
    hold_last: float | None = Field(None, ge=0, le=MAX_HOLD_SECONDS, allow_inf_nan=False)
    max_bytes: int | None = Field(None, ge=1)
    colors: int | None = Field(None, ge=8, le=255)


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

    path: str = Field(min_length=1, description=".gif .mp4 .html (animations), .png .pdf .svg (stills) or a folder")
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
    runs: list[RunSpec] | None = Field(None, min_length=1, description="several fits of the same data "
                                                                        "(default: one, the model section)")
    outputs: list[OutputSpec] = Field(default_factory=list)

    _name: str = PrivateAttr("config")
    _lines: dict = PrivateAttr(default_factory=dict)
    _base_dir: Path = PrivateAttr(default_factory=Path)
    _path: Path | None = PrivateAttr(None)
    _run_models: dict | None = PrivateAttr(None)

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

    def _validate_runs(self) -> dict:
        if self.runs is None:
            return {None: self.model}
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

    def data_error(self, exc: InputError) -> InputError:
        """Point an error from :mod:`emviz.data` at the data key it is about (when it says which)."""
        key = getattr(exc, "key", None)
        if key is None:
            return exc
        path = ("data", *parse_path(key))
        message = str(exc)
        prefix = f"{dotted(path)}: "
        return self.error(path, message[len(prefix):] if message.startswith(prefix) else message)
