"""YAML in: a strict safe loader (no duplicate keys, no Python tags, no alias bombs) that remembers the
line of every key, so that every later error can say ``file:line``."""

from __future__ import annotations

import re
from typing import Any

import yaml

from emviz.config.limits import MAX_EXPANDED_NODES
from emviz.errors import InputError

__all__ = ["read_yaml"]


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
