"""A config from a file, a mapping or a Config: read, overridden, validated and checked as a whole."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from emviz.config.checks import check_static
from emviz.config.models import Config
from emviz.config.overrides import apply_override
from emviz.config.yamlio import read_yaml
from emviz.errors import InputError
from emviz.validation import dotted, show, validation_error, where

__all__ = ["load_config"]


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
        apply_override(data, lines, text, label)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise validation_error(name, lines, exc, Config) from None
    config._name, config._lines, config._path = name, lines, path
    config._base_dir = path.parent if path is not None else Path(".")
    check_static(config)
    return config


def _check_keys_are_strings(node, path: tuple, name: str, lines: dict) -> None:
    """Every key of the config is a name; YAML would also allow ``1:``, ``~:`` or ``true:``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise InputError(f"{where(name, lines, path)}: {dotted(path)}: the key {show(key)} is not a name; "
                                 "keys are words such as n_components")
            _check_keys_are_strings(value, (*path, key), name, lines)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _check_keys_are_strings(item, (*path, i), name, lines)


def _read_source(source) -> tuple[Any, dict, str, Path | None]:
    if isinstance(source, Config):
        return source.model_dump(mode="json", exclude_unset=True), dict(source._lines), source._name, source._path
    if isinstance(source, dict):
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
