"""The ``responsibilities`` panel: how much each component owns each recorded point.

In 1D every point is drawn at (x, r_k(x)) once per component, in the component's colour. In 2D and
more the points are drawn in data space, coloured by the responsibility-weighted blend of the
component colours (a point owned by one component takes its colour, a shared point a mix).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from matplotlib.lines import Line2D

from emviz.errors import InputError
from emviz.render.panel import Panel, register_panel
from emviz.render.panels._geometry import axis_label, check_features_exist
from emviz.render.panels._common import (
    add_legend, check_features, check_legend, component_label, padded_range, responsibility_rgba,
)

__all__ = ["ResponsibilitiesPanel"]


@register_panel("responsibilities")
@dataclass
class ResponsibilitiesPanel(Panel):
    """Responsibilities of the recorded points (``trace.resp``) at each iteration.

    Parameters
    ----------
    size : float
        Marker area in points².
    alpha : float
        Marker opacity. Opaque by default: in a palette GIF, translucent overlapping markers blend into
        hundreds of near-colours that compress poorly (the docs GIF: 3.2 MB at 0.6, 0.8 MB opaque and
        crisp).
    antialiased : bool
        Smooth marker edges. Off by default for the same reason: at these sizes the points overlap into
        curves, and crisp edges keep the GIF small and sharp. Turn on for PDF/SVG stills if you like.
    features : pair of int
        D >= 2: the two data features drawn on x and y (0-based). Unused in 1D.
    legend : bool or str
        ``True``/``"outside"``: right of the axes (below it, or smaller, when it is wider than the
        axes); a matplotlib location puts it inside; ``False``: none.
    """

    summary: ClassVar[str] = "responsibilities: r_k(x) against x in 1D, points coloured by blended ownership in 2D+"

    size: float = 20.0
    alpha: float = 1.0
    antialiased: bool = False
    features: tuple[int, int] = (0, 1)
    legend: bool | str = True

    _trace: object = field(init=False, default=None, repr=False)
    _colors: np.ndarray = field(init=False, default=None, repr=False)
    _artists: list = field(init=False, default_factory=list, repr=False)

    def __post_init__(self):
        if isinstance(self.size, bool) or not isinstance(self.size, (int, float)) or self.size <= 0:
            raise InputError(f"panel 'responsibilities': option 'size' must be a positive number, got {self.size!r}")
        if not isinstance(self.antialiased, bool):
            raise InputError(f"panel 'responsibilities': option 'antialiased' must be true or false, got {self.antialiased!r}")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0 < self.alpha <= 1:
            raise InputError(f"panel 'responsibilities': option 'alpha' must be in (0, 1], got {self.alpha!r}")
        self.features = check_features(self.features, 2, "responsibilities")
        check_legend(self.legend, "responsibilities")

    def check(self, trace_or_dims) -> None:
        """Also check ``features`` against the data's dimension (before any fitting)."""
        super().check(trace_or_dims)
        d = trace_or_dims if isinstance(trace_or_dims, int) else trace_or_dims.n_features
        if d > 1:
            check_features_exist("responsibilities", self.features, d)

    def setup(self, ax, trace, colors) -> list:
        self.check(trace)
        self._trace = trace
        self._colors = np.asarray(colors, dtype=np.float64)[:, :3]
        if trace.n_features == 1:
            self._setup_1d(ax, trace)
        else:
            self._setup_nd(ax, trace)
        handles = [Line2D([], [], ls="", marker="o", color=self._colors[k], alpha=self.alpha, label=component_label(k))
                   for k in range(trace.n_components)]
        add_legend(ax, handles, [h.get_label() for h in handles], self.legend)
        return self.update(0)

    def _setup_1d(self, ax, trace) -> None:
        x = trace.resp_X[:, 0]
        self._artists = [
            ax.scatter(x, np.zeros_like(x), s=self.size, color=self._colors[k], alpha=self.alpha,
                       edgecolors="none", antialiased=self.antialiased, animated=True)
            for k in range(trace.n_components)
        ]
        ax.set_xlim(*padded_range(*_span(trace.X[:, 0]), 0.02))
        ax.set_ylim(-0.05, 1.05)
        ax.grid(True)  # colour and alpha from the theme
        ax.set_xlabel(axis_label(trace, 0))
        ax.set_ylabel("responsibility")

    def _setup_nd(self, ax, trace) -> None:
        a, b = self.features
        pts = trace.resp_X[:, [a, b]]
        self._artists = [ax.scatter(pts[:, 0], pts[:, 1], s=self.size, edgecolors="none", animated=True)]
        ax.set_xlim(*padded_range(*_span(trace.X[:, a])))
        ax.set_ylim(*padded_range(*_span(trace.X[:, b])))
        # The data's column names (CSV header, bundled dataset), as the other point panels show them.
        ax.set_xlabel(axis_label(trace, a))
        ax.set_ylabel(axis_label(trace, b))

    def blended_colors(self, t: int) -> np.ndarray:
        """RGBA face colours at iteration ``t``: ``resp[t] @ colors`` with the panel's alpha, shape (M, 4)."""
        return responsibility_rgba(self._trace.resp[t], self._colors, self.alpha)

    def update(self, t: int) -> list:
        tr = self._trace
        if tr.n_features == 1:
            x = tr.resp_X[:, 0]
            for k, scatter in enumerate(self._artists):
                scatter.set_offsets(np.column_stack([x, tr.resp[t, :, k]]))
        else:
            self._artists[0].set_facecolors(self.blended_colors(t))
        return list(self._artists)

    def update_frame(self, frame) -> list:
        """A half-step: the responsibilities of ``frame.resp``, so an M-step frame keeps its E-step's."""
        return self.update(frame.resp)


def _span(values: np.ndarray) -> tuple[float, float]:
    return float(np.min(values)), float(np.max(values))
