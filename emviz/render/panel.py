"""The panel protocol: one panel draws one view of a trace into one Axes.

A panel is a dataclass whose fields are its options, registered by name in :data:`PANELS`. The scene
calls ``setup(ax, trace, colors)`` once (draw everything static, create the animated artists) and then
``update(t)`` per frame (change the animated artists' data, return them). Panels never create figures,
call pyplot or touch rcParams.

Half-steps (``frames: {half_steps: true}``, see :mod:`emviz.render.steps`) draw EM's two moves as
frames of their own. For those frames the scene calls ``update_frame(frame)`` instead, with a
:class:`~emviz.render.steps.Frame` that says which iteration's parameters (``frame.params``) and
which iteration's responsibilities (``frame.resp``) to show, and where on the iteration axis the
frame sits (``frame.position``: ``t + 0.5`` on an M-step). The default, :meth:`Panel.update_frame`,
is ``update(frame.params)``: right for a panel that draws parameters (they move on the M-step and
hold on the E-step). A panel that draws responsibilities, or both, overrides it; whole-iteration
frames always go to ``update(t)``, so a panel that does not care about half-steps keeps working
unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from emviz.errors import InputError, did_you_mean
from emviz.registry import Registry

__all__ = ["Panel", "PANELS", "describe_dims", "make_panel", "panel_options", "register_panel"]

PANELS = Registry("panel")


class Panel:
    """Base class of the panels. Subclasses are dataclasses and set the class attributes below."""

    #: Data dimensions the panel can draw (``None``: any).
    dims: ClassVar[tuple[int, ...] | None] = None
    #: ``"3d"`` for panels that need a 3D Axes, else ``None``.
    projection: ClassVar[str | None] = None
    #: False when the panel's static parts change per frame (3D camera, moving landscape): no blitting.
    blittable: ClassVar[bool] = True
    #: Short description for ``python -m emviz panels``.
    summary: ClassVar[str] = ""

    def check(self, trace_or_dims) -> None:
        """Raise :class:`InputError` if the panel cannot draw data of this dimension (an int or a Trace)."""
        d = trace_or_dims if isinstance(trace_or_dims, int) else trace_or_dims.n_features
        if self.dims is not None and d not in self.dims:
            raise InputError(
                f"panel {self.name!r} draws data of dimension {describe_dims(self.dims)}; the data has D={d}"
            )

    @property
    def name(self) -> str:
        return getattr(type(self), "panel_name", type(self).__name__)

    def setup(self, ax, trace, colors) -> list:
        """Draw the static parts, create the animated artists; return the animated artists."""
        raise NotImplementedError

    def update(self, t: int) -> list:
        """Show iteration ``t``; return the artists that changed."""
        raise NotImplementedError

    def update_frame(self, frame) -> list:
        """Show a half-step :class:`~emviz.render.steps.Frame`; return the artists that changed.

        The default shows the iteration whose parameters the frame shows, ``update(frame.params)``.
        Override it to show ``frame.resp``'s responsibilities with ``frame.params``' parameters (the
        M-step frame keeps the E-step's colours while the components move), or to put a cursor at
        ``frame.position``. It must return artists from those ``setup`` returned, as ``update`` does.
        """
        return self.update(frame.params)


def describe_dims(dims) -> str:
    """``"1"``, ``"2 or 3"``, ``"2 to 64"`` or ``"any"`` for a panel's ``dims``."""
    if dims is None:
        return "any"
    dims = sorted(dims)
    if len(dims) > 2 and dims == list(range(dims[0], dims[-1] + 1)):
        return f"{dims[0]} to {dims[-1]}"
    return " or ".join(map(str, dims)) if len(dims) <= 2 else ", ".join(map(str, dims))


def register_panel(name: str):
    """Class decorator: make ``cls`` a dataclass (if not yet) and register it under ``name``."""

    def deco(cls):
        if not dataclasses.is_dataclass(cls):
            cls = dataclasses.dataclass(cls)
        cls.panel_name = name
        return PANELS.register(name)(cls)

    return deco


def panel_options(cls) -> dict[str, object]:
    """Option name -> default value of a panel class (``dataclasses.MISSING`` for required ones)."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.name.startswith("_") or not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = dataclasses.MISSING
    return out


def make_panel(spec) -> Panel:
    """Build a panel from ``"name"`` or ``{"name": {option: value}}``; unknown options are errors."""
    if isinstance(spec, Panel):
        return spec
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, dict) and len(spec) == 1:
        (name, options), = spec.items()
        options = options or {}
        if not isinstance(options, dict):
            raise InputError(f"panel {name!r}: options must be a mapping, got {type(options).__name__}")
    else:
        raise InputError(f"a panel is a name or {{name: {{options}}}}, got {spec!r}")
    import emviz.render.panels  # noqa: F401  (registers the built-in panels)

    cls = PANELS.get(name)
    known = panel_options(cls)
    for key in options:
        if key not in known:
            raise InputError(
                f"panel {name!r}: unknown option {key!r}{did_you_mean(key, known)}; "
                f"options are {', '.join(known) or '(none)'}"
            )
    try:
        return cls(**options)
    except InputError:
        raise  # the panel's own message already names it
    except (TypeError, ValueError) as exc:
        raise InputError(f"panel {name!r}: {exc}") from None
