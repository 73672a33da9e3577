"""``--set key.path=value`` overrides: parsed as YAML and applied to the raw document before validation,
each remembered as the "line" its errors point at."""

from __future__ import annotations

import re
from typing import Any

from emviz.config.models import Config
from emviz.config.yamlio import read_yaml
from emviz.errors import InputError, did_you_mean
from emviz.validation import descend, dotted, model_at, parse_path

__all__ = ["parse_override", "apply_override"]

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
    return parse_path(key.strip()), value


def _moved(parent_path: tuple, key, parent) -> tuple | None:
    """Where a frames key given under style (or a style key under frames, or either directly under an
    output) belongs: ``("frames", "fps")`` for ``style.fps``; None when it belongs nowhere else."""
    from emviz.config.models import FramesOverride, FramesSection, OutputSpec, StyleOverride, StyleSection

    if not isinstance(key, str):
        return None
    sections = {"frames": (FramesSection, FramesOverride), "style": (StyleSection, StyleOverride)}
    if parent is OutputSpec:
        base = parent_path
    elif parent in (*sections["frames"], *sections["style"]):
        base = parent_path[:-1]
    else:
        return None
    in_output = bool(base)  # under outputs[i]: the override models' keys
    for section, (top, override) in sections.items():
        if parent not in (top, override) and key in (override if in_output else top).model_fields:
            return (*base, section, key)
    return None


def apply_override(data: dict, lines: dict, text: str, label: str | None = None) -> None:
    path, value = parse_override(text)
    annotation: Any = Config
    node: Any = data
    for depth, part in enumerate(path):
        annotation = descend(annotation, part)
        here = dotted(path[: depth + 1])
        if annotation is None:
            parent = model_at(Config, path[:depth])
            moved = _moved(path[:depth], part, parent)
            if moved is not None:
                raise InputError(f"--set {text}: {here}: {part} is a {moved[-2]} key; write "
                                 f"--set {dotted(moved)}={text.partition('=')[2]}")
            hint = did_you_mean(str(part), parent.model_fields) if parent else ""
            raise InputError(f"--set {text}: {here}: unknown key{hint}")
        is_last = depth == len(path) - 1
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                size = len(node) if isinstance(node, list) else 0
                raise InputError(f"--set {text}: {dotted(path[:depth])} has {size} item(s), there is no {here}")
        elif not isinstance(node, dict):
            raise InputError(f"--set {text}: {dotted(path[:depth])} is not a mapping")
        if is_last:
            node[part] = value
        else:
            if isinstance(part, str) and not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]
    for key in [k for k in lines if k[: len(path)] == path]:
        del lines[key]
    lines[path] = label or f"--set {text}"
