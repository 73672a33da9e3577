"""The ``loglik_surface`` panel: the log-likelihood over two parameters as a 3D surface, with EM's path on it.

The two parameters may belong to different components: the default is the means of components 1 and
2, the landscape of the lecture notes, with its two peaks that are the same mixture with the labels
swapped. The surface is drawn over a grid, its filled contours projected on the floor of the box, and
EM's path drawn on the surface (and its shadow on the floor) up to the shown iteration.

The other parameters are held at the final, the true or the shown iteration's values (``hold``). A
path point's height is the log-likelihood of *those* held parameters with the path's two values put in,
evaluated by :func:`emviz.surface.loglik_surface` like the grid: so the path lies on the surface. (It is
not the recorded log-likelihood, which is that of all the parameters at t; the two agree at the shown
iteration with ``hold: current`` and at the last one with ``hold: final``.)

The camera may turn with the iterations, and 3D axes cannot be blitted: the panel is redrawn per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.colors import BoundaryNorm
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

from emviz.errors import InputError
from emviz.render.panel import Panel, register_panel
from emviz.render.panels._common import (
    add_legend, component_label, feature_label, foreground, matched_truth, param_axis_values,
)
from emviz.render.panels.loglik_contour import contour_levels

__all__ = ["LoglikSurfacePanel"]

_HOLDS = ("final", "truth", "current")
_LEGEND_LOCS = ("upper right", "upper left", "lower left", "lower right", "outside")
#: Draw order, bottom to top. The axes' depth sort is off (see setup): sorting whole artists by their
#: mean depth would hide the path under the surface at some camera angles and not at others.
_Z_FLOOR, _Z_SHADOW, _Z_SURFACE, _Z_PATH, _Z_MARKERS = 1.0, 2.0, 3.0, 4.0, 5.0
#: The box's floor, where the contours are projected, lies this fraction of the surface's height range
#: below the surface's plateau: far enough to read as a map under the surface, near enough to leave
#: the surface most of the box.
FLOOR_GAP = 0.45
#: Ticks per axis: more crowd the foreshortened 3D axes.
_N_TICKS = 5
#: Shrinks the box inside the Axes so that the tick and axis labels stay inside at every azimuth.
_ZOOM = 0.85


@register_panel("loglik_surface")
@dataclass
class LoglikSurfacePanel(Panel):
    """The total log-likelihood over two parameters (of one or two components) as a 3D surface, with EM's path.

    Parameters
    ----------
    params : pair of [component, name], optional
        The parameters on x and y: components are 0-based; names as in :mod:`emviz.surface` (``mean``,
        ``std`` in 1D, ``meanJ``, ``stdJ``, ``weight``). Default ``[[0, mean], [1, mean]]`` in 1D and
        ``[[0, mean0], [1, mean0]]`` otherwise (needs K >= 2).
    hold : {"final", "truth", "current"}
        Values of the other parameters: the last iteration's, the true mixture's (paired with the fitted
        components), or the shown iteration's (the surface is then recomputed every frame).
    grid : int
        Grid points per axis.
    levels : int
        Colour bands on the surface and filled contours on the floor.
    clip : float
        Fraction of the grid, the lowest values, flattened onto a plateau in the lowest colour, so that
        the height and the colours resolve the region near the optimum (see
        :func:`emviz.render.panels.loglik_contour.contour_levels`).
    cmap : str
        Matplotlib colour map.
    elev, azim : float
        The camera's elevation and its azimuth at iteration 0, degrees.
    rotate_degrees : float
        How far the camera turns from the first to the last iteration; 0 keeps it still.
    ranges : pair of [low, high], optional
        Grid range of each axis. Default: a mean spans the data (and the path and truth), a standard
        deviation from near 0 to above the path, a weight [0.01, 0.99].
    legend : bool or str
        ``True``: upper left inside the axes; a corner name or ``"outside"``; ``False``: none.
    """

    projection: ClassVar[str] = "3d"
    blittable: ClassVar[bool] = False
    summary: ClassVar[str] = "log-likelihood over two parameters as a 3D surface with EM's path on it"

    params: tuple | None = None
    hold: str = "final"
    grid: int = 50
    levels: int = 20
    clip: float = 0.25
    cmap: str = "viridis"
    elev: float = 30.0
    azim: float = -135.0
    rotate_degrees: float = 0.0
    ranges: tuple | None = None
    legend: bool | str = True

    _trace: object = field(init=False, default=None, repr=False)
    _axes: list = field(init=False, default=None, repr=False)
    _view: dict = field(init=False, default=None, repr=False)
    _art: dict = field(init=False, default=None, repr=False)

    def __post_init__(self):
        self._check_options()

    def _check_options(self) -> None:
        def bad(option, must, value):
            return InputError(f"panel 'loglik_surface': option {option!r} must be {must}, got {value!r}")

        if self.params is not None:
            pairs = self.params if isinstance(self.params, (list, tuple)) else ()
            if len(pairs) != 2 or not all(
                isinstance(p, (list, tuple)) and len(p) == 2 and _is_int(p[0]) and p[0] >= 0
                and isinstance(p[1], str) for p in pairs
            ):
                raise bad("params", "two [component, name] pairs such as [[0, mean], [1, mean]]", self.params)
            self.params = tuple((int(k), name) for k, name in pairs)
            if self.params[0] == self.params[1]:
                raise bad("params", "two different parameters", self.params)
        if self.hold not in _HOLDS:
            raise bad("hold", f"one of {', '.join(_HOLDS)}", self.hold)
        for option, low in (("grid", 3), ("levels", 1)):
            if not _is_int(getattr(self, option)) or getattr(self, option) < low:
                raise bad(option, f"an integer >= {low}", getattr(self, option))
        if not _is_number(self.clip) or not 0 <= self.clip < 1:
            raise bad("clip", "a fraction in [0, 1)", self.clip)
        if self.cmap not in colormaps:
            raise bad("cmap", "a matplotlib colour map name", self.cmap)
        for option in ("elev", "azim", "rotate_degrees"):
            if not _is_number(getattr(self, option)):
                raise bad(option, "a number (degrees)", getattr(self, option))
        if self.ranges is not None:
            ranges = self.ranges if isinstance(self.ranges, (list, tuple)) else ()
            if len(ranges) != 2 or not all(
                isinstance(r, (list, tuple)) and len(r) == 2 and all(_is_number(v) for v in r) and r[0] < r[1]
                for r in ranges
            ):
                raise bad("ranges", "two [low, high] pairs with low < high", self.ranges)
            self.ranges = tuple((float(lo), float(hi)) for lo, hi in ranges)
        if not (isinstance(self.legend, bool) or self.legend in _LEGEND_LOCS):
            raise bad("legend", f"true, false or one of {', '.join(_LEGEND_LOCS)}", self.legend)

    # ------------------------------------------------------------------ resolving options against a trace
    def axes_spec(self, n_features: int, n_components: int) -> tuple:
        """The two (component, name) axes, the default filled in for D = ``n_features``."""
        if self.params is not None:
            return self.params
        if n_components < 2:
            raise InputError("panel 'loglik_surface': the default parameters are the means of components 0 "
                             "and 1, and the fit has one component; set option 'params', e.g. "
                             "[[0, mean], [0, std]]")
        name = "mean" if n_features == 1 else "mean0"
        return ((0, name), (1, name))

    def check(self, trace_or_dims) -> None:
        """Also check the parameters (and ``hold: truth``) against the data and the fit."""
        super().check(trace_or_dims)
        from emviz.surface import parse_param

        if isinstance(trace_or_dims, int):
            d, k = trace_or_dims, max(2, 1 + max((c for c, _ in self.params or ()), default=0))
        else:
            d, k = trace_or_dims.n_features, trace_or_dims.n_components
        for component, name in self.axes_spec(d, k):
            if component >= k:
                raise InputError(f"panel 'loglik_surface': option 'params': component {component} is not "
                                 f"among the components 0..{k - 1}")
            try:
                parse_param(name, d, k)
            except InputError as exc:
                raise InputError(f"panel 'loglik_surface': option 'params': {exc}") from None
        if not isinstance(trace_or_dims, int) and self.hold == "truth":
            truth = trace_or_dims.truth
            if truth is None or truth.n_components != k:
                why = "has no true mixture" if truth is None else f"has a truth of {truth.n_components} components"
                raise InputError(f"panel 'loglik_surface': option 'hold' is 'truth' but the trace {why}; "
                                 "use 'final' or 'current'")

    def held_mixture(self, t: int):
        """The mixture whose other parameters the surface holds fixed when iteration ``t`` is shown."""
        if self.hold == "truth":
            return matched_truth(self._trace)
        return self._trace.mixture(t if self.hold == "current" else -1)

    # ------------------------------------------------------------------ the numbers
    def landscape(self, t: int) -> np.ndarray:
        """Log-likelihood on the grid with the others held for iteration ``t``, array of shape (B, A)."""
        from emviz.surface import loglik_surface, trace_device

        tr, v = self._trace, self._view
        return loglik_surface(tr.X, self.held_mixture(t), self._axes, v["values"][0], v["values"][1],
                              n_samples=tr.n_samples, device=trace_device(tr))

    def heights(self, a, b, t: int) -> np.ndarray:
        """Log-likelihood at the points (a_i, b_i) with the others held for iteration ``t``, shape (P,).

        Evaluated in one batch by the code that computes the grid, so the points lie on the surface.
        """
        from emviz.surface import loglik_points, trace_device

        tr, held = self._trace, self.held_mixture(t)
        return loglik_points(tr.X, held, self._axes, np.atleast_1d(a), np.atleast_1d(b), n_samples=tr.n_samples,
                             device=trace_device(tr))

    def path_heights(self, t: int) -> np.ndarray:
        """Heights of the path points 0..t on the surface shown at iteration ``t`` (not clipped), shape (t+1,)."""
        v = self._view
        if self.hold != "current":
            return v["path_z"][: t + 1]
        if v["path_z_t"] != t:  # the held parameters change per frame: so do the heights
            v["path_z"] = self.heights(v["path"][0][: t + 1], v["path"][1][: t + 1], t)
            v["path_z_t"] = t
        return v["path_z"]

    def _axis_values(self, i: int, param, points: np.ndarray) -> np.ndarray:
        """Grid values of axis ``i``: the ``ranges`` option, or a range that encloses the path and the truth."""
        if self.ranges is not None:
            return np.linspace(*self.ranges[i], self.grid)
        return param_axis_values(self._trace, param, points, self.grid)

    # ------------------------------------------------------------------ drawing
    def setup(self, ax, trace, colors) -> list:
        from emviz.surface import param_values, parse_param

        self.check(trace)
        self._trace = trace
        d, k = trace.n_features, trace.n_components
        self._axes = [tuple(a) for a in self.axes_spec(d, k)]
        params = [parse_param(name, d, k) for _, name in self._axes]
        path = [param_values(trace.weights, trace.means, trace.covariances, c, p)
                for (c, _), p in zip(self._axes, params)]
        truth = matched_truth(trace)
        true_point = None
        if truth is not None and truth.n_components == k:
            true_point = [float(param_values(truth.weights, truth.means, truth.covariances, c, p))
                          for (c, _), p in zip(self._axes, params)]
        values = [self._axis_values(i, p, path[i] if true_point is None else np.append(path[i], true_point[i]))
                  for i, p in enumerate(params)]
        self._view = {"values": values, "path": path, "true_point": true_point, "path_z": None,
                      "path_z_t": None, "land_t": None}
        first_t = 0 if self.hold == "current" else -1
        Z = self.landscape(first_t)
        if self.hold != "current":
            self._view["path_z"] = self.heights(path[0], path[1], -1)
        self._view["zlim"] = self._z_limits(Z)
        # Fixed draw order (see _Z_*): the path and markers always show over the surface.
        ax.computed_zorder = False
        self._art = {"ax": ax}
        self._draw_landscape(Z, first_t)
        self._setup_path(ax, colors)
        self._style_axes(ax, params, d)
        if self.legend:
            self._add_legend(ax, true_point is not None)
        return self.update(0)

    def _z_limits(self, Z: np.ndarray) -> tuple[float, float]:
        """The box's z range: the floor contours below the surface's plateau, the peak at the top.

        With ``hold: current`` the surface changes per frame; the range then covers the first and the
        last iteration's surfaces (the landscapes in between lie between them in practice), so that
        the box stays put.
        """
        grids = [Z] if self.hold != "current" else [Z, self.landscape(self._trace.n_iter)]
        floors, tops = zip(*[(lv[0], lv[-1]) for lv in (contour_levels(g, self.levels, self.clip) for g in grids)])
        lo, hi = min(floors), max(tops)
        span = hi - lo if hi > lo else 1.0
        return lo - FLOOR_GAP * span, hi + 0.02 * span

    def _draw_landscape(self, Z: np.ndarray, t: int) -> None:
        """Draw the surface (clipped at its plateau) and the floor's filled contours for the grid ``Z``."""
        ax, v = self._art["ax"], self._view
        for name in ("surface", "floor"):
            if self._art.get(name) is not None:
                self._art[name].remove()
        levels = contour_levels(Z, self.levels, self.clip)
        cmap = colormaps[self.cmap]
        # As in loglik_contour: one evenly spaced colour per band although the levels are not evenly
        # spaced, the colour map's low end kept for the clipped far field.
        norm = BoundaryNorm(levels, cmap.N, extend="min")
        A, B = np.meshgrid(*v["values"])
        # The plateau: the lowest `clip` fraction of the grid would otherwise stretch the z axis over
        # thousands of nats and squash the peaks flat, exactly as linear contour levels would.
        shown = np.maximum(Z, levels[0])
        self._art["surface"] = ax.plot_surface(A, B, shown, cmap=cmap, norm=norm, rstride=1, cstride=1,
                                               linewidth=0, antialiased=False, zorder=_Z_SURFACE)
        self._art["floor"] = ax.contourf(A, B, np.ma.masked_invalid(Z), levels=levels, cmap=cmap, norm=norm,
                                         extend="min", zdir="z", offset=v["zlim"][0], zorder=_Z_FLOOR)
        v.update(Z=Z, plateau=float(levels[0]), land_t=t)

    def _setup_path(self, ax, colors) -> None:
        (ka, _), (kb, _) = self._axes
        # One component's parameters: its colour; two components': the path belongs to neither.
        color = colors[ka] if ka == kb else foreground()
        outline = [patheffects.withStroke(linewidth=4, foreground="white")]
        art = self._art
        art["shadow"] = ax.plot([], [], [], color=foreground(), lw=1.2, alpha=0.6, zorder=_Z_SHADOW)[0]
        art["path"] = ax.plot([], [], [], color=color, lw=2, path_effects=outline, zorder=_Z_PATH)[0]
        art["start"] = ax.plot([], [], [], ls="", marker="*", ms=15, mfc="white", mec="black", mew=1.2,
                               zorder=_Z_MARKERS)[0]
        art["truth"] = None
        if self._view["true_point"] is not None:
            art["truth"] = ax.plot([], [], [], ls="", marker="o", ms=6, mfc="black", mec="white", mew=1.2,
                                   zorder=_Z_MARKERS + 0.2)[0]
        art["current"] = ax.plot([], [], [], ls="", marker="o", ms=10, mfc=color, mec="white", mew=1.5,
                                 zorder=_Z_MARKERS + 0.1)[0]
        art["color"] = color

    def _style_axes(self, ax, params, d: int) -> None:
        v = self._view
        ax.set_xlim(v["values"][0][0], v["values"][0][-1])
        ax.set_ylim(v["values"][1][0], v["values"][1][-1])
        ax.set_zlim(*v["zlim"])
        for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
            # Transparent panes: the theme's background shows through, light or dark.
            axis.set_pane_color((0.0, 0.0, 0.0, 0.0))
            axis.set_major_locator(MaxNLocator(_N_TICKS))
        ax.zaxis.set_major_formatter(_plain_formatter(v["zlim"][1] - v["zlim"][0]))
        ax.set_xlabel(_param_label(self._axes[0][0], params[0], d))
        ax.set_ylabel(_param_label(self._axes[1][0], params[1], d))
        ax.set_zlabel("log-likelihood")
        ax.set_box_aspect(None, zoom=_ZOOM)

    def _add_legend(self, ax, with_truth: bool) -> None:
        outline = [patheffects.withStroke(linewidth=4, foreground="white")]
        color = self._art["color"]
        handles = [
            Line2D([], [], color=color, lw=2, path_effects=outline, label="EM path"),
            Line2D([], [], ls="", marker="*", ms=12, mfc="white", mec="black", label="start"),
            Line2D([], [], ls="", marker="o", ms=9, mfc=color, mec="white", label="current"),
        ]
        if with_truth:
            handles.append(Line2D([], [], ls="", marker="o", ms=7, mfc="black", mec="white", label="truth"))
        where = "upper left" if self.legend is True else self.legend
        add_legend(ax, handles, [h.get_label() for h in handles], where, fontsize="small", framealpha=0.85)

    def azimuth(self, t: int) -> float:
        """The camera's azimuth at iteration ``t``: ``azim + rotate_degrees * t / T`` (degrees)."""
        n_iter = self._trace.n_iter
        return float(self.azim + (self.rotate_degrees * t / n_iter if n_iter > 0 else 0.0))

    def update(self, t: int) -> list:
        t = range(self._trace.n_iter + 1)[t]
        v, art = self._view, self._art
        if self.hold == "current" and v["land_t"] != t:
            self._draw_landscape(self.landscape(t), t)
        a, b = v["path"][0][: t + 1], v["path"][1][: t + 1]
        # On the drawn surface, which is flattened onto its plateau below the clip level.
        z = np.maximum(self.path_heights(t), v["plateau"])
        art["path"].set_data_3d(a, b, z)
        art["shadow"].set_data_3d(a, b, np.full_like(a, v["zlim"][0]))
        art["start"].set_data_3d(a[:1], b[:1], z[:1])
        art["current"].set_data_3d(a[-1:], b[-1:], z[-1:])
        changed = [art["path"], art["shadow"], art["start"], art["current"]]
        if art["truth"] is not None:
            if v.get("truth_t") != v["land_t"]:
                tp = v["true_point"]
                v["truth_z"] = max(float(self.heights([tp[0]], [tp[1]], t)[0]), v["plateau"])
                v["truth_t"] = v["land_t"]
            art["truth"].set_data_3d([v["true_point"][0]], [v["true_point"][1]], [v["truth_z"]])
            changed.append(art["truth"])
        art["ax"].view_init(elev=self.elev, azim=self.azimuth(t))
        if self.hold == "current":
            changed += [art["surface"], art["floor"]]
        return changed


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and bool(np.isfinite(value))


def _param_label(component: int, param, n_features: int) -> str:
    if param.kind == "weight":
        what = "weight"
    else:
        what = "mean" if param.kind == "mean" else "standard deviation"
        if n_features > 1:
            what = f"{what} of {feature_label(param.feature, n_features)}"
    return f"{what} ({component_label(component)})"


def _plain_formatter(span: float) -> FuncFormatter:
    """Tick labels with as few decimals as the range needs, and no offset ("1e3 + ...") text.

    Log-likelihoods of thousands of nats need no decimals; the default formatter would print an offset,
    which on a 3D axis floats away from the ticks.
    """
    decimals = int(np.clip(-np.floor(np.log10(span / _N_TICKS)), 0, 6)) if span > 0 else 0
    return FuncFormatter(lambda x, _: f"{x:.{decimals}f}")
