"""The YAML config: strict loading, typed validation, ``--set`` overrides and the checks made before fitting.

Every problem becomes one :class:`~emviz.errors.InputError` line that says where it is, what is wrong
and, for typos, what was probably meant::

    config.yaml:7: model.n_components: must be >= 1 (got 0)
    --set model.tol=abc: model.tol: must be a number (got 'abc')

One module a job:

- :mod:`~emviz.config.yamlio`: YAML in, strictly, with the line of every key;
- :mod:`~emviz.config.models`: the typed sections (the ``data:`` section is :mod:`emviz.dataspec`'s);
- :mod:`~emviz.config.overrides`: ``--set key.path=value``;
- :mod:`~emviz.config.loading`: :func:`load_config` (read, override, validate, :func:`check_static`);
- :mod:`~emviz.config.checks`: the checks before fitting, without and with the data (:func:`check_config`);
- :mod:`~emviz.config.locations`: where a run writes, and whether it may;
- :mod:`~emviz.config.limits`: the bounds, each with its reason.
"""

from __future__ import annotations

from emviz.config.checks import check_config, check_static, init_mixture, register_panels
from emviz.config.limits import (
    INIT_NAMES, MAX_EXPANDED_NODES, MAX_FPS, MAX_FRAME_PIXELS, MAX_HOLD_SECONDS, MAX_NAME_BYTES, MAX_TITLE_CHARS,
    MEMORY_SHARE, MIN_MP4_FPS,
)
from emviz.config.loading import load_config
from emviz.config.locations import (
    OUTPUT_KINDS, output_kind, path_problem, run_slug, target_problem, why_not_replaceable, why_uncreatable,
)
from emviz.config.models import (
    Config, DataSection, FramesSection, InitMixture, MixtureSpec, ModelOverride, ModelSection, OutputSpec,
    RecordSection, RunSpec, StyleOverride, StyleSection,
)
from emviz.config.overrides import parse_override
from emviz.config.yamlio import read_yaml

__all__ = [
    "Config", "load_config", "check_config", "read_yaml", "parse_override", "schema",
    "OUTPUT_KINDS", "output_kind", "INIT_NAMES", "init_mixture", "register_panels", "why_uncreatable",
    "why_not_replaceable", "path_problem", "run_slug", "target_problem", "check_static",
    "MAX_EXPANDED_NODES", "MAX_FPS", "MAX_FRAME_PIXELS", "MAX_HOLD_SECONDS", "MAX_NAME_BYTES", "MAX_TITLE_CHARS",
    "MEMORY_SHARE", "MIN_MP4_FPS",
    "DataSection", "FramesSection", "InitMixture", "MixtureSpec", "ModelOverride", "ModelSection", "OutputSpec",
    "RecordSection", "RunSpec", "StyleOverride", "StyleSection",
]


def schema() -> dict:
    """The JSON schema of a config (``python -m emviz schema``)."""
    out = Config.model_json_schema()
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["title"] = "emviz config"
    return out
