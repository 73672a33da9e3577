"""The YAML config: strict loading, typed validation, ``--set`` overrides and the checks made before fitting.

Every problem becomes one :class:`~emviz.errors.InputError` line that says where it is, what is wrong
and, for typos, what was probably meant::

    config.yaml:7: model.n_components: must be >= 1 (got 0)
    --set model.tol=abc: model.tol: must be a number (got 'abc')

Loading is in three steps: :func:`read_yaml` (a safe loader that refuses duplicate keys and Python
tags, and remembers the line of every key), :func:`load_config` (overrides, the pydantic models, and
checks that need neither the data nor the file system) and :func:`check_config` (checks against the
data's dimension and the output locations).
"""

from __future__ import annotations

import os
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, PrivateAttr, Tag, ValidationError,
    WithJsonSchema, model_validator,
)

from emviz.errors import InputError, did_you_mean

__all__ = [
    "Config", "load_config", "check_config", "read_yaml", "parse_override", "schema",
    "OUTPUT_KINDS", "output_kind", "INIT_NAMES", "init_mixture", "register_panels", "why_uncreatable",
    "why_not_replaceable", "path_problem", "run_slug",
]

#: Output suffix -> kind. A path without a suffix (or ending in "/") is a folder of PNG frames.
OUTPUT_KINDS = {".gif": "animation", ".mp4": "animation", ".html": "animation",
                ".png": "still", ".pdf": "still", ".svg": "still"}
#: Named initialisations of :class:`emviz.em.GaussianMixture` (or give a mixture).
INIT_NAMES = ("kmeans++", "k-means++", "kmeans", "random", "random_from_data")
#: A document whose aliases expand to more nodes than this is refused ("billion laughs").
MAX_EXPANDED_NODES = 1_000_000

#: Longest ``title`` of an output: more cannot fit above a frame (and a huge one breaks the font engine).
MAX_TITLE_CHARS = 200
#: Longest file or folder name an output may have. File systems allow 255 bytes; the hidden temporary
#: name beside it (``.<name>.<pid>-<n>.tmp<suffix>``) needs room for about 30 more.
MAX_NAME_BYTES = 200
#: Most pixels one frame (or one still, every cell of a grid together) may have: 2**26 is 64
#: megapixels, 256 MB as RGBA, already far beyond any screen. More makes matplotlib allocate
#: gigabytes (or fail, at 2**16 pixels a side) part-way through a render.
MAX_FRAME_PIXELS = 2**26
#: Highest frame rate: a GIF cannot show a frame for less than 20 ms (50 fps), and an MP4 repeats
#: frames to hold them (at 10^6 fps a held second is a million frames piped to ffmpeg).
MAX_FPS = 100.0
#: Lowest MP4 frame rate: ffmpeg's rate is a fraction with a denominator up to 1001.
MIN_MP4_FPS = 1 / 1001
#: Longest hold of the last frame, in seconds: more is a still, not an animation.
MAX_HOLD_SECONDS = 60.0
#: Share of the machine's memory that the recorded trace and the data may take, together.
MEMORY_SHARE = 0.5

#: Tags of the discriminated union for ``model.init``; they are dropped from error paths.
_INIT_TAGS = ("<init name>", "<init mixture>")


def output_kind(path: str) -> str:
    """``"animation"``, ``"still"`` or ``"folder"`` (PNG frames: an animation too) for an output path.

    Raises InputError for other suffixes.
    """
    suffix = Path(path).suffix.lower()
    if path.endswith(("/", os.sep)) or not suffix:
        return "folder"
    if suffix not in OUTPUT_KINDS:
        raise InputError(
            f"cannot write {suffix!r} files{did_you_mean(suffix, OUTPUT_KINDS)}; "
            f"use {', '.join(OUTPUT_KINDS)} or a folder"
        )
    return OUTPUT_KINDS[suffix]


# ============================================================================================ YAML
class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys; unknown tags (``!!python/...``) already fail in SafeLoader."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<: *base" merges are allowed to repeat keys of the base
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise _KeyProblem(None, None, f"a mapping key must be a plain value, got {type(key).__name__}",
                                  key_node.start_mark)
            if key in seen:
                raise _KeyProblem(None, None, f"duplicate key {key!r} (first given on line {seen[key]})",
                                  key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _KeyProblem(yaml.constructor.ConstructorError):
    """A key the strict loader refuses (a duplicate, or a list used as a key)."""


# YAML 1.1 (PyYAML) reads ``1e-6`` and ``1e9`` as strings: it wants a dot in a float. People write
# them anyway (``tol: 1e-4``), and "must be a number (got '1e-4')" only confuses; read them as YAML
# 1.2 does. The float resolver is appended, so ints and the YAML 1.1 floats resolve as before.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _yaml_error(name: str, exc: yaml.YAMLError) -> InputError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"{name}:{mark.line + 1}" if mark is not None else name
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, _KeyProblem):
        return InputError(f"{where}: {problem}")
    tag = re.search(r"constructor for the tag '([^']*)'", problem)
    if tag is not None:
        shown = tag[1].replace("tag:yaml.org,2002:", "!!")
        return InputError(f"{where}: the tag {shown} is not allowed: configs are plain YAML "
                          "(no Python objects or custom tags)")
    return InputError(f"{where}: invalid YAML: {problem}")


def _index_lines(node, path, lines, name, sizes) -> int:
    """Record ``path -> "name:line"`` for every key and item below ``node``; return its expanded size."""
    if id(node) in sizes:
        return sizes[id(node)]
    size = 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*path, key_node.value if isinstance(key_node, yaml.ScalarNode) else "?")
            lines.setdefault(child, f"{name}:{key_node.start_mark.line + 1}")
            size += _index_lines(value_node, child, lines, name, sizes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.setdefault((*path, i), f"{name}:{item.start_mark.line + 1}")
            size += _index_lines(item, (*path, i), lines, name, sizes)
    sizes[id(node)] = size
    if size > MAX_EXPANDED_NODES:
        raise InputError(f"{name}: the document expands to more than {MAX_EXPANDED_NODES} values (aliases?)")
    return size


def read_yaml(text: str, name: str = "config") -> tuple[Any, dict[tuple, str]]:
    """Parse YAML text strictly.

    Returns
    -------
    data : object
        The document (None when empty).
    lines : dict
        Path tuple (keys and list indices) -> ``"name:line"`` of that key or item.
    """
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        lines = {(): f"{name}:{node.start_mark.line + 1}"} if node is not None else {}
        if node is not None:
            _index_lines(node, (), lines, name, {})
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise _yaml_error(name, exc) from None
    except RecursionError:
        raise InputError(f"{name}: the document is nested too deeply") from None
    finally:
        loader.dispose()
    return data, lines


# ============================================================================================ models
def _seed_field():
    return Field(0, ge=0, lt=2**32, description="seed (numpy's RandomState takes 0 <= seed < 2**32)")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


def _nested_numbers(depths: tuple[int, ...], what: str):
    """Before-validator: a list nested ``depth`` deep (one of ``depths``) with numbers at the leaves."""

    def depth_of(value) -> int | None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return 0
        if not isinstance(value, list) or not value:
            return None
        inner = {depth_of(v) for v in value}
        return None if len(inner) != 1 or None in inner else inner.pop() + 1

    def check(value):
        if depth_of(value) not in depths:
            raise ValueError(f"must be {what} (got {_show(value)})")
        return value

    return BeforeValidator(check)


class MixtureSpec(_Section):
    """A known mixture to sample from: means and stds or covariances, and sizes or n_samples (+ weights)."""

    means: list[list[float]] = Field(min_length=1, description="(K, D) component means")
    stds: Annotated[list, _nested_numbers((1, 2), "a list of K numbers or K lists of D numbers"),
                    WithJsonSchema({"description": "(K,) or (K, D) standard deviations"})] | None = None
    covariances: list[list[list[float]]] | None = Field(None, description="(K, D, D) covariance matrices")
    sizes: list[Annotated[int, Field(ge=0)]] | None = Field(None, description="(K,) points per component")
    n_samples: int | None = Field(None, ge=1, description="total points, split by weights")
    weights: list[float] | None = Field(None, description="(K,) weights, with n_samples (default equal)")

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.stds is None) == (self.covariances is None):
            raise ValueError("give exactly one of stds, covariances")
        if (self.sizes is None) == (self.n_samples is None):
            raise ValueError("give exactly one of sizes, n_samples")
        if self.weights is not None and self.sizes is not None:
            raise ValueError("weights go with n_samples; with sizes the weights are sizes / sum(sizes)")
        return self


class DataSection(_Section):
    """Where the points come from: exactly one of mixture, file, dataset."""

    mixture: MixtureSpec | None = None
    file: str | None = Field(None, min_length=1, description=".csv or .npy, relative to the config file")
    dataset: Literal["old_faithful", "iris"] | None = None
    columns: Annotated[list, BeforeValidator(lambda v: _check_columns(v)),
                       WithJsonSchema({"type": "array", "items": {"type": ["string", "integer"]},
                                       "description": "columns by name or 0-based index"})] | None = None
    standardize: bool = Field(False, description="z-score every column (and the truth)")
    seed: int = _seed_field()

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("mixture", "file", "dataset") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of mixture, file, dataset (got {', '.join(given) or 'none'})")
        if self.mixture is not None and self.columns is not None:
            raise ValueError("columns only applies to a file or a dataset, not a mixture")
        return self


def _check_columns(value):
    ok = isinstance(value, list) and value and all(
        isinstance(c, str) or (isinstance(c, int) and not isinstance(c, bool) and c >= 0) for c in value)
    if not ok:
        raise ValueError(f"must be a non-empty list of column names or indices >= 0 (got {_show(value)})")
    return value


class InitMixture(_Section):
    """Explicit starting parameters."""

    means: list[list[float]] = Field(min_length=1, description="(K, D)")
    stds: Annotated[list, _nested_numbers((1, 2), "a list of K numbers or K lists of D numbers"),
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
        raise ValueError(f"must be auto, cpu, cuda or cuda:N (got {_show(value)})")
    return value


class ModelSection(_Section):
    """The mixture to fit and how EM runs."""

    n_components: int = Field(ge=1, description="K")
    covariance_type: Literal["full", "diag", "spherical", "tied"] = "full"
    init: InitSpec = "kmeans"
    max_iter: int = Field(100, ge=1)
    tol: float = Field(1e-3, ge=0, allow_inf_nan=False, description="stop when the mean log-likelihood gains less; 0 runs max_iter steps")
    reg_covar: float = Field(1e-6, ge=0, allow_inf_nan=False)
    dtype: Literal["float64", "float32"] = "float64"
    device: Annotated[str, BeforeValidator(_check_device)] = "auto"
    seed: int = _seed_field()
    algorithm: Literal["em", "hard"] = "em"


class ModelOverride(_Section):
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


class RunSpec(_Section):
    """One fit of the data: a name for legends and file names, and what it changes in ``model``."""

    name: str = Field(min_length=1, max_length=40, description="e.g. 'EM', 'hard EM', 'start 2'")
    model: ModelOverride | None = None


class RecordSection(_Section):
    """What the trace keeps."""

    resp_points: int = Field(2000, ge=1, description="points whose responsibilities are recorded")
    show_points: int = Field(20000, ge=1, description="at most this many points are kept for drawing")
    save: str | None = Field(None, min_length=1, description="write the trace here (.npz, relative to --out)")


def _check_schedule_form(value):
    """The shape only; :func:`emviz.render.schedule.parse_schedule` checks the rest in :func:`load_config`."""
    if value is None or isinstance(value, (str, list, dict)):
        return value
    raise ValueError(f"must be 'all', a list of iterations or a mapping such as {{dense: 100, every: 10}} "
                     f"(got {_show(value)})")


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
    raise ValueError(f"must be an integer >= 1 or 'auto' (got {_show(value)})")


class FramesSection(_Section):
    """Which iterations become frames, and how fast they play."""

    schedule: ScheduleSpec = None
    fps: float = Field(10.0, gt=0, le=MAX_FPS, allow_inf_nan=False)
    hold_last: float = Field(2.0, ge=0, le=MAX_HOLD_SECONDS, allow_inf_nan=False,
                             description="seconds the last frame is held")
    workers: Annotated[Union[int, Literal["auto"]], BeforeValidator(_check_workers)] = 1
    max_bytes: int | None = Field(5_000_000, ge=1, description="warn when an animation is larger")
    colors: int = Field(128, ge=8, le=255, description="most colours in a GIF's palette; plots need no more "
                                                         "than 128, and fewer make smaller files")


class StyleSection(_Section):
    """How frames look."""

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
    raise ValueError(f"a panel is a name or {{name: {{option: value}}}} (got {_show(value)})")


PanelSpec = Annotated[Any, BeforeValidator(_check_panel), WithJsonSchema({
    "description": "a panel name, or {name: {option: value}}",
    "anyOf": [{"type": "string"}, {"type": "object", "minProperties": 1, "maxProperties": 1,
                                   "additionalProperties": {"type": ["object", "null"]}}]})]


class OutputSpec(_Section):
    """One file (or folder) to write; unset keys fall back to the frames and style sections."""

    path: str = Field(min_length=1, description=".gif .mp4 .html (animations), .png .pdf .svg (stills) or a folder")
    panels: list[PanelSpec] = Field(min_length=1)
    iterations: list[Annotated[int, Field(ge=0)]] | None = Field(
        None, min_length=1, description="stills: the iterations drawn (several make a grid); "
                                        "animations: an explicit schedule")
    fps: float | None = Field(None, gt=0, le=MAX_FPS, allow_inf_nan=False)
    schedule: ScheduleSpec = None
    hold_last: float | None = Field(None, ge=0, le=MAX_HOLD_SECONDS, allow_inf_nan=False)
    max_bytes: int | None = Field(None, ge=1)
    style: StyleOverride | None = None
    layout: list[Annotated[int, Field(ge=1)]] | None = Field(
        None, min_length=2, max_length=2, description="[rows, cols] of panels; default one row")
    title: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    runs: list[str] | None = Field(None, min_length=1, description="names of the runs shown (default all), "
                                                                    "side by side with shared axes")
    overlay: list[PanelSpec] | None = Field(None, min_length=1, description="panels drawn once with every "
                                                                            "shown run together (e.g. curves)")


class Config(_Section):
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
        return _located(self._name, self._lines, _parse_path(path) if isinstance(path, str) else tuple(path), message)

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
                path, message = _problem(exc.errors()[0])
                raise self.error(("runs", i, "model", *path), message) from None
        return models

    def data_error(self, exc: InputError) -> InputError:
        """Point an error from :mod:`emviz.data` at the data key it is about (when it says which)."""
        key = getattr(exc, "key", None)
        if key is None:
            return exc
        path = ("data", *_parse_path(key))
        message = str(exc)
        prefix = f"{_dotted(path)}: "
        return self.error(path, message[len(prefix):] if message.startswith(prefix) else message)


# ============================================================================================ errors
def _show(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "a list" if len(repr(value)) > 40 else repr(list(value))
    if isinstance(value, dict):
        return "a mapping" if len(repr(value)) > 40 else repr(value)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _dotted(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "config"


def _parse_path(text: str) -> tuple:
    """``"outputs[0].panels.1"`` -> ``("outputs", 0, "panels", 1)``."""
    parts = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", text):
        token = token.strip("[]") if token.startswith("[") else token
        parts.append(int(token) if token.isdigit() else token)
    return tuple(parts)


def _where(name: str, lines: dict, path: tuple) -> str:
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return name


def _located(name: str, lines: dict, path: tuple, message: str) -> InputError:
    return InputError(f"{_where(name, lines, path)}: {_dotted(path)}: {message}")


_TYPE_WORDS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "list_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
}
_BOUNDS = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"),
           "less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}


def _model_at(path: tuple):
    """The pydantic model class that holds the keys at ``path`` (None if it is not a model)."""
    current: Any = Config
    for part in path:
        current = _descend(current, part)
        if current is None:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation):
    """Strip Annotated/Optional: the model class or container type an annotation stands for."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [_unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        return models[0] if models else members[0]
    return annotation


def _descend(annotation, part):
    """The annotation one step below ``annotation`` at key/index ``part``; None when there is no such key."""
    annotation = _unwrap(annotation)
    if annotation is Any:
        return Any
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(part) if isinstance(part, str) else None
        return None if field is None else field.annotation
    origin = typing.get_origin(annotation)
    if origin is list and isinstance(part, int):
        return typing.get_args(annotation)[0] if typing.get_args(annotation) else Any
    if origin is dict:
        return typing.get_args(annotation)[1]
    return None


def _problem(err: dict) -> tuple[tuple, str]:
    """(path, message) for one pydantic error, in the words the CLI prints."""
    path = tuple(p for p in err["loc"] if p not in _INIT_TAGS)
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        what = "section" if len(path) == 1 else "key"
        return path, f"missing required {what}"
    if kind == "extra_forbidden":
        model = _model_at(path[:-1])
        known = list(model.model_fields) if model else []
        return path, f"unknown key{did_you_mean(path[-1], known)}; allowed keys are {', '.join(known)}"
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        bound = ctx[key]
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return path, f"must be {op} {bound} (got {_show(value)})"
    if kind in _TYPE_WORDS:
        return path, f"must be {_TYPE_WORDS[kind]} (got {_show(value)})"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        return path, f"must be one of {', '.join(choices)} (got {_show(value)}){hint}"
    if kind in ("too_short", "too_long"):
        field = ctx.get("field_type", "List").lower()
        bound = "at least" if kind == "too_short" else "at most"
        limit = ctx.get("min_length", ctx.get("max_length"))
        return path, f"must have {bound} {limit} item{'s' if limit != 1 else ''} (got {ctx.get('actual_length')})" \
            if field == "list" else f"must have {bound} {limit} characters"
    if kind in ("string_too_short", "string_too_long"):
        bound = "at least" if kind == "string_too_short" else "at most"
        limit = ctx.get("min_length", ctx.get("max_length"))
        return path, f"must have {bound} {limit} character{'s' if limit != 1 else ''} (got {len(str(value))})"
    if kind == "finite_number":
        return path, f"must be a finite number (got {_show(value)})"
    if kind == "value_error":
        return path, err["msg"].removeprefix("Value error, ")
    return path, err["msg"]


def _validation_error(name: str, lines: dict, exc: ValidationError) -> InputError:
    errors = exc.errors(include_url=False)
    problems = [_problem(err) for err in errors]

    def order(i):
        # An unknown key first (a typo in "model" also makes "model" missing: the typo is the news),
        # then by line, the file's lines before --set overrides.
        where = _where(name, lines, problems[i][0]).rsplit(":", 1)[-1]
        line = (0, int(where)) if where.isdigit() else (1, 0)
        return (errors[i]["type"] != "extra_forbidden", *line)

    path, message = problems[min(range(len(problems)), key=order)]
    more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
    return _located(name, lines, path, message + more)


# ============================================================================================ overrides
#: ``model.max_iter``, ``outputs[0].path``, ``outputs.0.path``: names and indices, nothing empty.
_KEY_PATH = re.compile(r"[A-Za-z_]\w*(?:\[\d+\])*(?:\.(?:[A-Za-z_]\w*|\d+)(?:\[\d+\])*)*")


def parse_override(text: str) -> tuple[tuple, Any]:
    """``"model.max_iter=200"`` -> ``(("model", "max_iter"), 200)``; the value is parsed as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--set {text}: expected KEY.PATH=VALUE, e.g. model.max_iter=200")
    if not _KEY_PATH.fullmatch(key.strip()):
        raise InputError(f"--set {text}: {key.strip()!r} is not a key path; write dotted names with [index] "
                         "for list items, e.g. model.max_iter=200 or outputs[0].path=x.gif")
    try:
        value, _ = read_yaml(raw, name=f"--set {text}") if raw.strip() else (None, {})
    except InputError as exc:
        # Drop read_yaml's "--set TEXT:LINE: " prefix (TEXT itself may hold ": "), keep the problem.
        problem = re.sub(r"^:\d+: |^: ", "", str(exc).removeprefix(f"--set {text}"))
        raise InputError(f"--set {text}: the value is not valid YAML ({problem})") from None
    return _parse_path(key.strip()), value


def _apply_override(data: dict, lines: dict, text: str, label: str | None = None) -> None:
    path, value = parse_override(text)
    annotation: Any = Config
    node: Any = data
    for depth, part in enumerate(path):
        annotation = _descend(annotation, part)
        here = _dotted(path[: depth + 1])
        if annotation is None:
            parent = _model_at(path[:depth])
            hint = did_you_mean(str(part), parent.model_fields) if parent else ""
            raise InputError(f"--set {text}: {here}: unknown key{hint}")
        is_last = depth == len(path) - 1
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                size = len(node) if isinstance(node, list) else 0
                raise InputError(f"--set {text}: {_dotted(path[:depth])} has {size} item(s), there is no {here}")
        elif not isinstance(node, dict):
            raise InputError(f"--set {text}: {_dotted(path[:depth])} is not a mapping")
        if is_last:
            node[part] = value
        else:
            if isinstance(part, str) and not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]
    for key in [k for k in lines if k[: len(path)] == path]:
        del lines[key]
    lines[path] = label or f"--set {text}"


# ============================================================================================ loading
def load_config(source, overrides=()) -> Config:
    """Read, override and validate a config.

    Parameters
    ----------
    source : path-like, mapping or Config
        A YAML file, or the config as a mapping (relative data paths then resolve against the
        current directory).
    overrides : iterable of str or (str, str)
        ``"key.path=value"`` strings (``--set``), applied in order; values are parsed as YAML. A
        ``(text, label)`` pair names its origin in errors by ``label`` (e.g. ``"--device cuda"``)
        instead of ``"--set text"``.

    Returns
    -------
    Config
        Validated, including the checks that need neither the data nor the file system
        (see :func:`check_config` for those).
    """
    if isinstance(source, Config) and not overrides:
        return source
    data, lines, name, path = _read_source(source)
    if not isinstance(data, dict):
        what = "empty" if data is None else f"a {type(data).__name__}"
        raise InputError(f"{name}: the config must be a mapping of sections (data, model, outputs, ...), got {what}")
    _check_keys_are_strings(data, (), name, lines)
    for item in overrides:
        text, label = (item, None) if isinstance(item, str) else item
        _apply_override(data, lines, text, label)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(name, lines, exc) from None
    config._name, config._lines, config._path = name, lines, path
    config._base_dir = path.parent if path is not None else Path(".")
    _check_static(config)
    return config


def _check_keys_are_strings(node, path: tuple, name: str, lines: dict) -> None:
    """Every key of the config is a name; YAML would also allow ``1:``, ``~:`` or ``true:``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                where = _where(name, lines, path)
                raise InputError(f"{where}: {_dotted(path)}: the key {_show(key)} is not a name; "
                                 "keys are words such as n_components")
            _check_keys_are_strings(value, (*path, key), name, lines)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _check_keys_are_strings(item, (*path, i), name, lines)


def _read_source(source) -> tuple[Any, dict, str, Path | None]:
    if isinstance(source, Config):
        return source.model_dump(mode="json", exclude_unset=True), dict(source._lines), source._name, source._path
    if isinstance(source, dict):
        import copy

        return copy.deepcopy(source), {}, "config", None
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: config file not found")
    if not path.is_file():
        raise InputError(f"{path}: is not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: is not a UTF-8 text file") from None
    data, lines = read_yaml(text, name=str(path))
    return data, lines, str(path), path


def init_mixture(config: Config, model=None, where=("model",)):
    """``init`` of ``model`` (default ``config.model``) as a :class:`~emviz.mixture.Mixture`, or its
    name; a problem names its key under ``where``."""
    from emviz.mixture import Mixture

    init = (model or config.model).init
    if isinstance(init, str):
        return init
    k = len(init.means)
    weights = init.weights if init.weights is not None else [1.0 / k] * k
    try:
        if init.stds is not None:
            return Mixture.from_stds(weights, init.means, init.stds)
        return Mixture(weights, init.means, init.covariances)
    except InputError as exc:
        # Mixture's messages start with the offending field: "stds: ...", "covariances[1]: ...".
        field, sep, rest = str(exc).partition(": ")
        if sep and re.fullmatch(r"(means|stds|covariances|weights)(\[\d+\])?", field):
            raise config.error((*where, "init", *_parse_path(field)), rest) from None
        raise config.error((*where, "init"), str(exc)) from None


def _check_static(config: Config) -> None:
    """Checks that need the whole config but neither the data nor the file system."""
    if config.data.mixture is not None:
        from emviz.data import mixture_from_spec

        try:
            mixture_from_spec(config.data.mixture.model_dump(exclude_none=True))
        except InputError as exc:
            raise config.data_error(exc) from None
    for where, model in _run_sections(config):
        init = init_mixture(config, model, where)
        if not isinstance(init, str) and init.n_components != model.n_components:
            raise config.error((*where, "init", "means"), f"has {init.n_components} components, "
                                                          f"{_dotted(where)}.n_components is {model.n_components}")
    max_iter = max(m.max_iter for m in config.run_models().values())
    names = [run.name for run in config.runs or ()]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise config.error(("runs", i, "name"), f"{name!r} is the name of an earlier run too")
    if not config.outputs and config.record.save is None:
        raise config.error(("outputs",), "nothing to do: give at least one output (or record.save)")
    _check_schedule(config, ("frames", "schedule"), config.frames.schedule, max_iter)
    seen = {}
    for i, out in enumerate(config.outputs):
        _check_output_static(config, i, out, max_iter)
        _check_output_runs(config, i, out, names)
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


def _targets(config: Config) -> list[tuple[tuple, str]]:
    """(config path, path relative to --out) of everything a run writes: the outputs, then the trace(s)."""
    targets = [(("outputs", i, "path"), o.path) for i, o in enumerate(config.outputs)]
    save = config.record.save
    if save is not None:
        runs = [r.name for r in config.runs or ()]
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
    return None


def _run_sections(config: Config):
    """(config path, ModelSection) of every run: the model section itself when there are no runs."""
    models = config.run_models()
    if config.runs is None:
        return [(("model",), config.model)]
    return [(("runs", i, "model"), models[run.name]) for i, run in enumerate(config.runs)]


def _check_output_runs(config: Config, i: int, out: OutputSpec, names: list[str]) -> None:
    from emviz.render.panel import make_panel

    for j, name in enumerate(out.runs or ()):
        if name not in names:
            choices = f"the runs are {', '.join(map(repr, names))}" if names else "the config has no runs section"
            raise config.error(("outputs", i, "runs", j), f"no run named {name!r}{did_you_mean(name, names)}; {choices}")
    shown = len(out.runs or names) if names else 1
    if shown > 1 and output_kind(out.path) == "still" and len(set(out.iterations or ())) > 1:
        raise config.error(("outputs", i, "iterations"), f"a small-multiples grid shows one run, this output "
                                                         f"shows {shown}; give one iteration, or runs: [one name]")
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
        raise config.error((*path, *_parse_path(match[1])), match[2]) from None
    explicit_path = path if isinstance(spec, list) else (*path, "iterations")
    for j, t in enumerate(schedule.explicit or ()):
        if t > max_iter:
            raise config.error((*explicit_path, j), f"iteration {t} is beyond model.max_iter ({max_iter})")
    return schedule


def _check_output_static(config: Config, i: int, out: OutputSpec, max_iter: int) -> None:
    from emviz.render.panel import make_panel

    problem = path_problem(out.path)
    if problem:
        raise config.error(("outputs", i, "path"), problem)
    try:
        kind = output_kind(out.path)
    except InputError as exc:
        raise config.error(("outputs", i, "path"), str(exc)) from None
    fps = out.fps if out.fps is not None else config.frames.fps
    if out.path.lower().endswith(".mp4") and fps < MIN_MP4_FPS:
        key = ("outputs", i, "fps") if out.fps is not None else ("frames", "fps")
        raise config.error(key, f"is {fps:g}; an MP4 needs at least 1/1001 frames per second")
    if out.iterations is not None:
        if out.schedule is not None:
            raise config.error(("outputs", i, "iterations"), "give iterations or schedule, not both")
        for j, t in enumerate(out.iterations):
            if t > max_iter:
                raise config.error(("outputs", i, "iterations", j), f"iteration {t} is beyond model.max_iter ({max_iter})")
    schedule = _check_schedule(config, ("outputs", i, "schedule"), out.schedule, max_iter)
    if kind == "still":
        from emviz.render.api import MAX_GRID_CELLS

        cells = len(set(out.iterations)) if out.iterations is not None else \
            len(schedule.iterations(max_iter)) if schedule is not None else 1
        if cells > MAX_GRID_CELLS:
            key = "iterations" if out.iterations is not None else "schedule"
            raise config.error(("outputs", i, key), f"a still grid has at most {MAX_GRID_CELLS} cells, this asks "
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
    _check_pixels(config, i, out, kind, schedule, max_iter)


def _check_pixels(config: Config, i: int, out: OutputSpec, kind: str, schedule, max_iter: int) -> None:
    """Refuse frames (or still grids) so large that drawing them would exhaust memory."""
    from emviz.render.style import make_style

    style = config.style.model_dump(exclude_none=True)
    if out.style is not None:
        style.update(out.style.model_dump(exclude_none=True))
    try:
        looks = make_style(style)
    except InputError as exc:
        raise config.error(("outputs", i, "style") if out.style is not None else ("style",), str(exc)) from None
    n_panels = len(out.panels) * max(1, len(out.runs or config.runs or [None])) + len(out.overlay or ())
    rows, cols = out.layout if out.layout is not None else (1, n_panels)
    # Without style.size the render layer sizes frames by the panels; this is its smallest guess.
    width, height = looks.figure_size(rows, cols)
    cells = 1
    if kind == "still":
        cells = len(set(out.iterations)) if out.iterations is not None else \
            len(schedule.iterations(max_iter)) if schedule is not None else 1
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


# ============================================================================================ checks
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
        n, d = dataset.X.shape
    else:
        try:
            n, d = data_shape(config.data, config.base_dir)
        except InputError as exc:
            raise config.data_error(exc) from None
    for where, model in _run_sections(config):
        k = model.n_components
        if n < k:
            raise config.error((*where, "n_components"), f"is {k}, but the data has only {n} point(s); "
                                                         "EM needs at least one point per component")
        init = init_mixture(config, model, where)
        if not isinstance(init, str) and init.n_features != d:
            raise config.error((*where, "init", "means"), f"has {init.n_features} feature(s), the data has D={d}")
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
    _check_locations(config, Path(out))
    return d


def _preview_traces(config: Config, dataset) -> dict:
    """Run name -> a one-iteration stand-in for its trace: the data, the truth and K as the fit will
    have them, so panels can check options that depend on them (a component index, ``hold: truth``)
    before any fitting."""
    import numpy as np

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
            truth=dataset.truth, meta={"n_samples": dataset.n_samples, "preview": True},
        )
    return previews


def _protected(config: Config) -> dict[Path, str]:
    """Files no output may replace: the config and the data file."""
    files = {}
    if config.path is not None:
        files[config.path.resolve()] = "the config file"
    if config.data.file is not None:
        files[(config.base_dir / config.data.file).resolve()] = "the data file"
    return files


def _check_locations(config: Config, out: Path) -> None:
    protected = _protected(config)
    seen: list[tuple[tuple, Path]] = []
    for path, rel in _targets(config):
        target = (out / rel).resolve()
        if target in protected:
            raise config.error(path, f"{out / rel} would overwrite {protected[target]}")
        folder = output_kind(rel) == "folder" if path[0] == "outputs" else False
        for other_path, other in seen:
            _check_apart(config, path, target, other_path, other)
        seen.append((path, target))
        problem = why_uncreatable(target if folder else target.parent)
        if problem:
            raise config.error(path, problem)
        if folder:
            problem = why_not_replaceable(target, protected)
            if problem:
                raise config.error(path, f"{out / rel} {problem}")
        elif target.is_dir():
            raise config.error(path, f"{out / rel} is a directory")


def _check_apart(config: Config, path: tuple, target: Path, other_path: tuple, other: Path) -> None:
    """Two things a run writes may not share a path, nor lie one inside the other: a folder output
    replaces its folder whole (and a file cannot hold a file)."""
    if target == other:
        raise config.error(path, f"{target} is also the path of {_dotted(other_path)}")
    if other in target.parents:
        raise config.error(path, f"{target} would be inside {_dotted(other_path)} ({other}); give them separate paths")
    if target in other.parents:
        raise config.error(path, f"{target} would contain {_dotted(other_path)} ({other}); give them separate paths")


#: What a folder output holds: the frames emviz.writers.PngFramesWriter writes.
_FRAME_NAME = re.compile(r"frame_\d{4,}\.png")


def why_not_replaceable(folder: Path, protected: dict) -> str | None:
    """Why a folder output may not replace ``folder`` (it is replaced whole), or None when it may."""
    for file, what in protected.items():
        if folder == file or folder in file.parents:
            return f"holds {what}, which a folder output would delete"
    if not folder.is_dir():
        return None
    others = sorted(p.name for p in folder.iterdir() if not _FRAME_NAME.fullmatch(p.name))
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


def schema() -> dict:
    """The JSON schema of a config (``python -m emviz schema``)."""
    out = Config.model_json_schema()
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["title"] = "emviz config"
    return out
