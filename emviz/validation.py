"""Pydantic building blocks for emviz's input models, and their errors in the words the CLI prints.

A model error becomes one line that says where (``file:line`` when known), what (the dotted key
path) and what is wrong, with a "did you mean" for typos::

    config.yaml:7: model.n_components: must be >= 1 (got 0)

Shared by the config models (:mod:`emviz.config.models`) and the data spec (:mod:`emviz.dataspec`).
Discriminated-union tags are written in angle brackets (``"<init name>"``) and never shown in a path.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Annotated, Any, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from emviz.errors import InputError, did_you_mean

__all__ = ["StrictModel", "seed_field", "nested_numbers", "show", "dotted", "parse_path", "where", "located",
           "model_at", "descend", "problem", "first_problem", "validation_error"]


class StrictModel(BaseModel):
    """A section of input: unknown keys are errors and no value is coerced to another type."""

    model_config = ConfigDict(extra="forbid", strict=True)


def seed_field():
    return Field(0, ge=0, lt=2**32, description="seed (numpy's RandomState takes 0 <= seed < 2**32)")


def nested_numbers(depths: tuple[int, ...], what: str):
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
            raise ValueError(f"must be {what} (got {show(value)})")
        return value

    return BeforeValidator(check)


def _is_tag(part) -> bool:
    return isinstance(part, str) and part.startswith("<") and part.endswith(">")


def show(value) -> str:
    """A value as an error message quotes it: YAML's words for null and booleans, long values summarised."""
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


def dotted(path) -> str:
    """``("outputs", 0, "path")`` -> ``"outputs[0].path"`` (``"config"`` for the empty path)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "config"


def parse_path(text: str) -> tuple:
    """``"outputs[0].panels.1"`` -> ``("outputs", 0, "panels", 1)``."""
    parts = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", text):
        token = token.strip("[]") if token.startswith("[") else token
        parts.append(int(token) if token.isdigit() else token)
    return tuple(parts)


def where(name: str, lines: dict, path: tuple) -> str:
    """``"file:line"`` of the deepest part of ``path`` whose line is known, else ``name``."""
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return name


def located(name: str, lines: dict, path: tuple, message: str) -> InputError:
    """The one-line error ``"where: dotted.path: message"``."""
    return InputError(f"{where(name, lines, path)}: {dotted(path)}: {message}")


_TYPE_WORDS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "list_type": "a list",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
}
_BOUNDS = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"),
           "less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}


def model_at(root: type[BaseModel], path: tuple):
    """The pydantic model class that holds the keys at ``path`` (None if it is not a model)."""
    current: Any = root
    for part in path:
        current = descend(current, part)
        if current is None:
            return None
    current = unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def unwrap(annotation):
    """Strip Annotated/Optional: the model class or container type an annotation stands for."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [unwrap(a) for a in typing.get_args(annotation) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        return models[0] if models else members[0]
    return annotation


def descend(annotation, part):
    """The annotation one step below ``annotation`` at key/index ``part``; None when there is no such key.

    In a union (``runs``: a list of runs or a sweep) the first member that has ``part`` answers.
    """
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (Union, types.UnionType):
        for member in typing.get_args(annotation):
            found = None if member is type(None) else descend(member, part)
            if found is not None:
                return found
        return None
    annotation = unwrap(annotation)
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


def problem(err: dict, root: type[BaseModel]) -> tuple[tuple, str]:
    """(path, message) for one pydantic error, in the words the CLI prints."""
    path = tuple(p for p in err["loc"] if not _is_tag(p))
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        what = "section" if len(path) == 1 else "key"
        return path, f"missing required {what}"
    if kind == "extra_forbidden":
        model = model_at(root, path[:-1])
        known = list(model.model_fields) if model else []
        return path, f"unknown key{did_you_mean(path[-1], known)}; allowed keys are {', '.join(known)}"
    if kind in _BOUNDS:
        op, key = _BOUNDS[kind]
        bound = ctx[key]
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return path, f"must be {op} {bound} (got {show(value)})"
    if kind in _TYPE_WORDS:
        return path, f"must be {_TYPE_WORDS[kind]} (got {show(value)})"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        return path, f"must be one of {', '.join(choices)} (got {show(value)}){hint}"
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
        return path, f"must be a finite number (got {show(value)})"
    if kind == "value_error":
        return path, err["msg"].removeprefix("Value error, ")
    return path, err["msg"]


def first_problem(exc: ValidationError, root: type[BaseModel], name: str = "config",
                  lines: dict | None = None) -> tuple[tuple, str]:
    """(path, message) of the problem to report from a pydantic error: an unknown key first (a typo in
    "model" also makes "model" missing: the typo is the news), then by line, a file's lines before
    ``--set`` overrides. A second problem is told too (``"; also LINE: PATH: PROBLEM"``); more are counted."""
    lines = lines or {}
    errors = exc.errors(include_url=False)
    problems = [problem(err, root) for err in errors]

    def order(i):
        at = where(name, lines, problems[i][0]).rsplit(":", 1)[-1]
        line = (0, int(at)) if at.isdigit() else (1, 0)
        return (errors[i]["type"] != "extra_forbidden", *line)

    ranked = sorted(range(len(problems)), key=order)
    path, message = problems[ranked[0]]
    if len(problems) == 2:
        other_path, other = problems[ranked[1]]
        at = f"{where(name, lines, other_path)}: " if lines else ""
        message += f"; also {at}{dotted(other_path)}: {other}"
    elif len(problems) > 2:
        message += f" (and {len(problems) - 1} more problems)"
    return path, message


def validation_error(name: str, lines: dict, exc: ValidationError, root: type[BaseModel]) -> InputError:
    """The first problem of a pydantic error as one located line (see :func:`first_problem`)."""
    return located(name, lines, *first_problem(exc, root, name, lines))
