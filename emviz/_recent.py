"""What emviz made lately (files rendered, animations created), for :mod:`emviz.sphinx_gallery`'s scraper.

A docs gallery runs an example block by block; after each block the scraper takes what the block made
and embeds it. Outside a gallery nobody takes: the record is bounded and holds animations weakly, so it
keeps nothing alive. Standard library only.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from pathlib import Path

_RECENT: deque = deque(maxlen=64)
_LOCK = threading.Lock()


def note_file(path) -> None:
    """Record a file (or folder) that emviz has just written."""
    with _LOCK:
        _RECENT.append(("file", Path(path).resolve()))


def note_animation(animation) -> None:
    """Record an animation object (held weakly)."""
    with _LOCK:
        _RECENT.append(("animation", weakref.ref(animation)))


def take() -> list:
    """What was made since the last call, in order: Paths and live animation objects."""
    with _LOCK:
        items = list(_RECENT)
        _RECENT.clear()
    out = []
    for kind, value in items:
        if kind == "animation":
            value = value()
            if value is None:
                continue
        out.append(value)
    return out
