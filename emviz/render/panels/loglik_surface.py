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
The grid and the path's heights are computed in :meth:`LoglikSurfacePanel.prepare`, once per render in
the parent process; frame workers and the cells of a still grid only draw them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from matplotlib import rcParams
from matplotlib.ticker import FuncFormatter, MaxNLocator

from emviz.errors import InputError
from emviz.render.panel import Panel, register_panel
from emviz.render.panels._common import add_legend, foreground
from emviz.render.panels._landscape import (
    Landscape, Prepared, is_int, is_number, band_norm, check_hold_truth, check_landscape_options,
    contour_levels, draw_em_path, legend_handles, option_error, paired_truth, param_label,
)

__all__ = ["LoglikSurfacePanel"]

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
    _land: Landscape = field(init=False, default=None, repr=False)
    _view: dict = field(init=False, default=None, repr=False)
    _art: dict = field(init=False, default=None, repr=False)
    _prepared: Prepared = field(init=False, default_factory=Prepared, repr=False)

    #: ``prepare`` may be called once per run (see :meth:`prepare`).
    prepares_runs: ClassVar[bool] = True

    def __post_init__(self):
        self._check_options()

    def _check_options(self) -> None:
        name = "loglik_surface"
        if self.params is not None:
            pairs = self.params if isinstance(self.params, (list, tuple)) else ()
            if len(pairs) != 2 or not all(
                isinstance(p, (list, tuple)) and len(p) == 2 and is_int(p[0]) and p[0] >= 0
                and isinstance(p[1], str) for p in pairs
            ):
                raise option_error(name, "params", "two [component, name] pairs such as [[0, mean], [1, mean]]",
                                   self.params)
            self.params = tuple((int(k), param) for k, param in pairs)
            if self.params[0] == self.params[1]:
                raise option_error(name, "params", "two different parameters", self.params)
        check_landscape_options(self, name, 3, _LEGEND_LOCS)
        for option in ("elev", "azim", "rotate_degrees"):
            if not is_number(getattr(self, option)):
                raise option_error(name, option, "a number (degrees)", getattr(self, option))
        if self.ranges is not None:
            ranges = self.ranges if isinstance(self.ranges, (list, tuple)) else ()
            if len(ranges) != 2 or not all(
                isinstance(r, (list, tuple)) and len(r) == 2 and all(is_number(v) for v in r) and r[0] < r[1]
                for r in ranges
            ):
                raise option_error(name, "ranges", "two [low, high] pairs with low < high", self.ranges)
            self.ranges = tuple((float(lo), float(hi)) for lo, hi in ranges)

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
        if not isinstance(trace_or_dims, int):
            check_hold_truth("loglik_surface", self.hold, trace_or_dims)

    # ------------------------------------------------------------------ the numbers, once per render
    def prepare(self, trace) -> None:
        """Compute the grid(s) and the heights that :meth:`setup` and :meth:`update` draw for ``trace``.

        The scene spec calls this once, in the parent process (once per run when runs are shown side
        by side); the results travel with the panel to the scene's copies of it, frame workers and
        still-grid cells included. With ``hold: current`` the grids of the frames between the first
        and the last still depend on the frame, and are computed where it is drawn.
        """
        if self._prepared.get(trace) is None:
            self._prepared.put(trace, self._landscape_of(trace))

    def _landscape_of(self, trace) -> Landscape:
        land = Landscape.of(trace, self.axes_spec(trace.n_features, trace.n_components), paired_truth(trace),
                            self.grid, self.ranges)
        if self.hold == "current":
            land.add_grid(trace, self.hold, 0)
            land.add_grid(trace, self.hold, trace.n_iter)  # for the z range (see _z_limits)
            return land
        land.add_grid(trace, self.hold, -1)
        land.extra["path_z"] = land.heights(trace, self.hold, land.path[0], land.path[1], -1)
        if land.true_point is not None:
            land.extra["truth_z"] = float(land.heights(trace, self.hold, *([v] for v in land.true_point), -1)[0])
        return land

    def landscape(self, t: int) -> np.ndarray:
        """Log-likelihood on the grid with the others held for iteration ``t``, array of shape (B, A)."""
        key = -1 if self.hold != "current" else t
        if key in self._land.grids:
            return self._land.grids[key]
        return self._land.grid(self._trace, self.hold, t)

    def heights(self, a, b, t: int) -> np.ndarray:
        """Log-likelihood at the points (a_i, b_i) with the others held for iteration ``t``, shape (P,).

        Evaluated in one batch by the code that computes the grid, so the points lie on the surface.
        """
        return self._land.heights(self._trace, self.hold, a, b, t)

    def path_heights(self, t: int) -> np.ndarray:
        """Heights of the path points 0..t on the surface shown at iteration ``t`` (not clipped), shape (t+1,)."""
        v = self._view
        if self.hold != "current":
            return self._land.extra["path_z"][: t + 1]
        if v["path_z_t"] != t:  # the held parameters change per frame: so do the heights
            v["path_z"] = self.heights(v["path"][0][: t + 1], v["path"][1][: t + 1], t)
            v["path_z_t"] = t
        return v["path_z"]

    def _truth_height(self, t: int) -> float:
        if self.hold != "current":
            return self._land.extra["truth_z"]
        tp = self._view["true_point"]
        return float(self.heights([tp[0]], [tp[1]], t)[0])

    # ------------------------------------------------------------------ drawing
    def setup(self, ax, trace, colors) -> list:
        self.check(trace)
        self._trace = trace
        land = self._land = self._prepared.get(trace) or self._landscape_of(trace)
        self._axes = [tuple(a) for a in land.axes]
        self._view = {"values": land.values, "path": land.path, "true_point": land.true_point, "path_z": None,
                      "path_z_t": None, "land_t": None}
        first_t = 0 if self.hold == "current" else -1
        Z = self.landscape(first_t)
        self._view["zlim"] = self._z_limits(Z)
        # Fixed draw order (see _Z_*): the path and markers always show over the surface.
        ax.computed_zorder = False
        self._art = {"ax": ax}
        self._draw_landscape(Z, first_t)
        self._setup_path(ax, colors)
        self._style_axes(ax, land.params, trace.n_features)
        if self.legend:
            self._add_legend(ax, land.true_point is not None)
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
        # As in loglik_contour: one colour per band, the colour map's low end kept for the far field.
        levels, cmap, norm = band_norm(Z, self.levels, self.clip, self.cmap)
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
        art = self._art
        art["shadow"] = ax.plot([], [], [], color=foreground(), lw=1.2, alpha=0.6, zorder=_Z_SHADOW)[0]
        art.update(draw_em_path(ax, color, (_Z_PATH, _Z_MARKERS, _Z_MARKERS + 0.2, _Z_MARKERS + 0.1),
                                with_truth=self._view["true_point"] is not None, three_d=True))
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
        ax.set_xlabel(param_label(params[0], d, self._axes[0][0]))
        ax.set_ylabel(param_label(params[1], d, self._axes[1][0]))
        # The z ticks are long numbers (-8000, -12500.5): keep the label a tick label's width off them,
        # in every view of a turning camera.
        widest = max((len(ax.zaxis.get_major_formatter()(z)) for z in ax.get_zticks()), default=4)
        ax.set_zlabel("log-likelihood", labelpad=4.0 + 0.45 * widest * rcParams["font.size"])
        ax.set_box_aspect(None, zoom=_ZOOM)

    def _add_legend(self, ax, with_truth: bool) -> None:
        handles = legend_handles(self._art["color"], with_truth)
        where = "upper left" if self.legend is True else self.legend
        add_legend(ax, handles, [h.get_label() for h in handles], where, fontsize="small", framealpha=0.85)

    def azimuth(self, t: float) -> float:
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
                v["truth_z"] = max(self._truth_height(t), v["plateau"])
                v["truth_t"] = v["land_t"]
            art["truth"].set_data_3d([v["true_point"][0]], [v["true_point"][1]], [v["truth_z"]])
            changed.append(art["truth"])
        art["ax"].view_init(elev=self.elev, azim=self.azimuth(t))
        if self.hold == "current":
            changed += [art["surface"], art["floor"]]
        return changed

    def update_frame(self, frame) -> list:
        """A half-step: the path up to ``frame.params``; the camera at ``frame.position`` (it keeps turning
        through both halves instead of stepping on the M-steps)."""
        changed = self.update(frame.params)
        self._art["ax"].view_init(elev=self.elev, azim=self.azimuth(frame.position))
        return changed


def _plain_formatter(span: float) -> FuncFormatter:
    """Tick labels with as few decimals as the range needs, and no offset ("1e3 + ...") text.

    Log-likelihoods of thousands of nats need no decimals; the default formatter would print an offset,
    which on a 3D axis floats away from the ticks.
    """
    decimals = int(np.clip(-np.floor(np.log10(span / _N_TICKS)), 0, 6)) if span > 0 else 0
    return FuncFormatter(lambda x, _: f"{x:.{decimals}f}")
