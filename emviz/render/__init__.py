"""Rendering: panels laid out in scenes, drawn frame by frame, written as animations and stills.

Everything here is numpy + matplotlib (never torch, never :mod:`emviz.em`). Names are imported lazily,
so ``import emviz.render`` stays cheap for code that only needs the panel registry.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "render": "emviz.render.api",
    "Scene": "emviz.render.scene",
    "grid_figure": "emviz.render.scene",
    "SceneSpec": "emviz.render.frames",
    "FrameRenderer": "emviz.render.frames",
    "iter_frames": "emviz.render.frames",
    "Style": "emviz.render.style",
    "make_style": "emviz.render.style",
    "THEMES": "emviz.render.style",
    "component_colors": "emviz.render.style",
    "required_colors": "emviz.render.style",
    "blend_colors": "emviz.render.style",
    "Schedule": "emviz.render.schedule",
    "parse_schedule": "emviz.render.schedule",
    "schedule_iterations": "emviz.render.schedule",
    "DEFAULT_SCHEDULE": "emviz.render.schedule",
    "Frame": "emviz.render.steps",
    "Panel": "emviz.render.panel",
    "PANELS": "emviz.render.panel",
    "make_panel": "emviz.render.panel",
    "register_panel": "emviz.render.panel",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'emviz.render' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
