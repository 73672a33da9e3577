"""The ``loglik_contour`` panel: the EM path of one component over its log-likelihood landscape.

For each chosen component the total log-likelihood is drawn as a filled contour over two scalar
parameters of that component (``mean`` and ``std`` in 1D), the other parameters held at the final,
the true or the current iteration's values, with the path EM took through those two parameters.

One panel, several Axes: the scene gives a panel one Axes, but this view needs one subplot per
component; the given Axes is split into a row of them (:func:`emviz.render.panels._common.split_axes`).

The grids and the optimiser paths are computed in :meth:`LoglikContourPanel.prepare`, once per render
in the parent process; frame workers and the cells of a still grid only draw them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from matplotlib import patheffects
from matplotlib.ticker import StrMethodFormatter

from emviz.errors import InputError
from emviz.render.panel import Panel, register_panel
from emviz.render.panels._common import add_legend, component_label, free_corner, split_axes
from emviz.render.panels._landscape import (
    Landscape, Prepared, band_norm, check_hold_truth, check_landscape_options, contour_levels, draw_em_path,
    held_mixture, is_int, legend_handles, option_error, paired_truth, param_label,
)

__all__ = ["LoglikContourPanel", "contour_levels", "split_axes"]

_LEGEND_LOCS = ("upper right", "upper left", "lower left", "lower right")
#: Draw order of EM's path, its start, the true point and the current point (the contour is at 1).
_PATH_ZORDERS = (4, 4, 6, 5)
#: Axes fractions a legend of four entries covers: about 40 % of a subplot's width, 35 % of its height.
_LEGEND_SIZE = (0.4, 0.35)
#: Points a legend keeps clear of the paths: the current point's radius and its ring.
_LEGEND_MARGIN = 6.0


@register_panel("loglik_contour")
@dataclass
class LoglikContourPanel(Panel):
    """Filled contours of the total log-likelihood over two parameters of each component, with EM's path.

    Parameters
    ----------
    params : pair of str, or pair of [component, str], optional
        The two parameters on x and y: ``mean``, ``std`` (1D), ``meanJ``, ``stdJ`` (feature J, 0-based),
        ``weight``. Default ``[mean, std]`` in 1D and ``[mean0, mean1]`` otherwise: one subplot per
        component. Pairs such as ``[[0, mean], [1, mean]]`` name parameters of two components: then
        there is one subplot, over (mu1, mu2) for example, as in the lecture picture.
    components : list of int, optional
        Components to draw (0-based indices; labels show them 1-based), one subplot each. Default: all.
    hold : {"final", "truth", "current"}
        Values of the other parameters: the last iteration's, the true mixture's, or the shown
        iteration's (the landscape is then recomputed every frame and the panel is not blittable).
    grid : int
        Grid points per axis.
    levels : int
        Number of filled contour bands.
    clip : float
        Fraction of the grid, the lowest values, drawn in the colour bar's "under" colour so that the
        bands resolve the region near the optimum (see :func:`contour_levels`).
    cmap : str
        Matplotlib colour map of the landscape.
    legend : bool or str
        ``True``: in the first subplot, where no path of any frame passes; in a subplot too small for
        that, in a smaller font, or else below it; a corner name puts it there; ``False``: none.
    optimizers : list of str
        ``scipy.optimize.minimize`` methods (``BFGS``, ``Nelder-Mead``, ``L-BFGS-B``, ...) run from EM's
        start over the same two parameters, the others held as the landscape holds them. Iteration i
        of each optimiser is revealed with EM's iteration i; one that fails or diverges ends in a cross
        and says so in the legend. Not with ``hold: current`` (the landscape would move under them).
    optimizer_max_iter : int
    """

    summary: ClassVar[str] = "log-likelihood contours over two parameters of each component, with EM's path"
    #: Under an output's ``overlay`` the scene sets ``runs`` (name -> Trace): the landscape is held at
    #: the best run's parameters (highest final log-likelihood) and every run's path is drawn on it.
    overlays_runs: ClassVar[bool] = True

    params: tuple[str, str] | None = None
    components: tuple[int, ...] | None = None
    hold: str = "final"
    grid: int = 60
    levels: int = 20
    clip: float = 0.25
    cmap: str = "viridis"
    legend: bool | str = True
    optimizers: tuple[str, ...] = ()
    optimizer_max_iter: int = 200

    _trace: object = field(init=False, default=None, repr=False)
    _subs: list = field(init=False, default_factory=list, repr=False)
    _views: list = field(init=False, default_factory=list, repr=False)
    runs: dict | None = field(init=False, default=None, repr=False)
    _n_iter: int = field(init=False, default=0, repr=False)
    _prepared: Prepared = field(init=False, default_factory=Prepared, repr=False)

    #: ``prepare`` may be called once per run, and on the overlay panel (see :meth:`prepare`).
    prepares_runs: ClassVar[bool] = True

    def __post_init__(self):
        self._check_options()
        self.blittable = self.hold != "current"

    def _check_options(self) -> None:
        name = "loglik_contour"
        if self.params is not None:
            params = _normalise_params(self.params)
            if params is None:
                raise option_error(name, "params", "two different parameter names, or two [component, name] pairs",
                                   self.params)
            self.params = params
        if isinstance(self.optimizers, str) or not isinstance(self.optimizers, (list, tuple)):
            raise option_error(name, "optimizers", "a list of scipy.optimize method names", self.optimizers)
        from emviz.optimizers import check_methods

        try:
            self.optimizers = check_methods(self.optimizers)
        except InputError as exc:
            raise InputError(f"panel 'loglik_contour': option 'optimizers': {exc}") from None
        if self.optimizers and self.hold == "current":
            raise option_error(name, "hold", "final or truth when optimizers are drawn", self.hold)
        if self.params is not None and isinstance(self.params[0], tuple) and self.components is not None:
            raise option_error(name, "components", "left out when params name [component, name] pairs",
                               self.components)
        if self.components is not None:
            if not isinstance(self.components, (list, tuple)) or not self.components or not all(
                isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in self.components
            ):
                raise option_error(name, "components", "a non-empty list of component indices", self.components)
            self.components = tuple(self.components)
        check_landscape_options(self, name, 2, _LEGEND_LOCS)
        if not is_int(self.optimizer_max_iter) or self.optimizer_max_iter < 1:
            raise option_error(name, "optimizer_max_iter", "an integer >= 1", self.optimizer_max_iter)

    # ------------------------------------------------------------------ resolving options against a trace
    def check(self, trace_or_dims) -> None:
        """Also check the parameter names (and ``hold: truth``) against the data."""
        super().check(trace_or_dims)
        from emviz.surface import parse_param

        d = trace_or_dims if isinstance(trace_or_dims, int) else trace_or_dims.n_features
        k = 2 if isinstance(trace_or_dims, int) else trace_or_dims.n_components
        try:
            for name in self.param_names(d):
                parse_param(name if isinstance(name, str) else name[1], d, k)
        except InputError as exc:
            raise InputError(f"panel 'loglik_contour': option 'params': {exc}") from None
        if not isinstance(trace_or_dims, int):
            self._check_against(trace_or_dims)

    def _check_against(self, trace) -> None:
        bad = [k for k in self.components or () if k >= trace.n_components]
        if self._pairs():
            bad += [k for k, _ in self.params if k >= trace.n_components]
        if bad:
            raise InputError(f"panel 'loglik_contour': option 'components': {bad} not among the "
                             f"components 0..{trace.n_components - 1}")
        check_hold_truth("loglik_contour", self.hold, trace)

    def param_names(self, n_features: int) -> tuple[str, str]:
        """The two parameter names, the default filled in for data of dimension ``n_features``."""
        if self.params is not None:
            return self.params
        return ("mean", "std") if n_features == 1 else ("mean0", "mean1")

    def _pairs(self) -> bool:
        return self.params is not None and not isinstance(self.params[0], str)

    def _view_axes(self, trace) -> list[tuple]:
        """(axes, component) of each subplot; the component is None for a path through two components."""
        if self._pairs():
            return [(tuple((k, name) for k, name in self.params), None)]
        names = self.param_names(trace.n_features)
        return [(((k, names[0]), (k, names[1])), k) for k in self.components or range(trace.n_components)]

    def _runs(self, trace) -> dict:
        return self.runs if self.runs and len(self.runs) > 1 else {None: trace}

    # ------------------------------------------------------------------ the numbers, once per render
    def prepare(self, trace) -> None:
        """Compute the landscapes (and the optimiser paths) that :meth:`setup` draws for ``trace``.

        The scene spec calls this once, in the parent process: for one trace, for every run, and on
        the overlay panel (with :attr:`runs` set; its landscape is the best run's). The results travel
        with the panel to the scene's copies of it, frame workers and still-grid cells included.
        """
        best = _best(self._runs(trace))
        if self._prepared.get(best) is None:
            self._prepared.put(best, self._landscapes(best))

    def _landscapes(self, trace) -> list[Landscape]:
        truth = paired_truth(trace)
        start_t = 0 if self.hold == "current" else -1
        out = []
        for axes, _ in self._view_axes(trace):
            land = Landscape.of(trace, axes, truth, self.grid)
            land.add_grid(trace, self.hold, start_t)
            if self.optimizers:
                land.extra["optimizers"] = self._optimizer_paths(trace, land)
            out.append(land)
        return out

    def _optimizer_paths(self, trace, land: Landscape) -> list:
        from emviz.optimizers import optimizer_paths

        start = (float(land.path[0][0]), float(land.path[1][0]))
        box = [(v[0], v[-1]) for v in land.values]
        return optimizer_paths(trace.X, held_mixture(trace, self.hold, -1), list(land.axes), start, self.optimizers,
                               n_samples=trace.n_samples, max_iter=self.optimizer_max_iter, box=box)

    # ------------------------------------------------------------------ drawing
    def setup(self, ax, trace, colors) -> list:
        runs = self._runs(trace)
        for run in runs.values():
            self.check(run)
        # The best fit's landscape: the one the other runs are compared against.
        trace = _best(runs)
        self._trace = trace
        self._n_iter = max(run.n_iter for run in runs.values())
        lands = self._prepared.get(trace) or self._landscapes(trace)
        # A path through two components' parameters: the neutral path colour.
        path_colors = [None if k is None else colors[k] for _, k in self._view_axes(trace)]
        self._subs = split_axes(ax, [1] * len(lands))
        self._views = [self._setup_view(sub, land, color) for sub, land, color in zip(self._subs, lands, path_colors)]
        if len(runs) > 1:
            for view in self._views:
                self._draw_run_paths(view, runs)
        if self.legend:
            self._add_legend(self._views[0], lands[0].true_point is not None)
        return self.update(0)

    def _setup_view(self, sub, land: Landscape, color) -> "_View":
        view = _View(sub=sub, land=land)
        start_t = 0 if self.hold == "current" else -1
        view.contour = self._draw_contour(view, land.grids[start_t])
        view.landscape_t = start_t
        view.colorbar = _label_colorbar(sub.figure.colorbar(view.contour, ax=sub, fraction=0.06, pad=0.03))
        self._draw_markers(view, color)
        if self.optimizers:
            self._draw_optimizers(view)
        sub.set_xlim(land.values[0][0], land.values[0][-1])
        sub.set_ylim(land.values[1][0], land.values[1][-1])
        pair = land.axes[0][0] != land.axes[1][0]
        d = self._trace.n_features
        sub.set_xlabel(param_label(land.params[0], d, land.axes[0][0] if pair else None))
        sub.set_ylabel(param_label(land.params[1], d, land.axes[1][0] if pair else None))
        if not pair:
            sub.set_title(component_label(land.axes[0][0]).capitalize())
        return view

    def _draw_run_paths(self, view: "_View", runs: dict) -> None:
        """Every run's path on ``view``'s landscape (the best run's path is the view's own)."""
        view.base_run = next(name for name, run in runs.items() if run is self._trace)
        outline = [patheffects.withStroke(linewidth=3.5, foreground="black")]
        view.path_line.set_label(view.base_run)
        for i, (name, run) in enumerate((n, r) for n, r in runs.items() if r is not self._trace):
            color, style, marker = _RUN_STYLES[i % len(_RUN_STYLES)]
            line = view.sub.plot([], [], color=color, ls=style, lw=1.8, zorder=4, path_effects=outline,
                                 animated=True, label=name)[0]
            current = view.sub.plot([], [], ls="", marker=marker, ms=8, mfc=color, mec="black", zorder=5,
                                    animated=True)[0]
            view.run_paths.append((view.land.path_of(run), run.n_iter, line, current))

    def _draw_optimizers(self, view: "_View") -> None:
        outline = [patheffects.withStroke(linewidth=3.5, foreground="black")]
        view.optimizer_lines = []
        for i, opt in enumerate(view.optimizers):
            color, style, marker = _OPTIMIZER_STYLES[i % len(_OPTIMIZER_STYLES)]
            line = view.sub.plot([], [], color=color, ls=style, lw=1.8, marker=marker, ms=4, zorder=3,
                                 path_effects=outline, animated=True, label=opt.message)[0]
            end = None
            if opt.status in ("failed", "diverged"):
                end = view.sub.plot([], [], ls="", marker="X", ms=10, mfc=color, mec="black", zorder=5,
                                    animated=True)[0]
            view.optimizer_lines.append((opt, line, end))

    def _draw_contour(self, view: "_View", Z: np.ndarray):
        levels, cmap, norm = band_norm(Z, self.levels, self.clip, self.cmap)
        view.Z = Z
        return view.sub.contourf(view.values[0], view.values[1], np.ma.masked_invalid(Z), levels=levels,
                                 cmap=cmap, norm=norm, extend="min", zorder=1,
                                 animated=self.hold == "current")

    def _draw_markers(self, view: "_View", color) -> None:
        # A path of no component's (two components' parameters): white, outlined in black.
        halo = "white" if color is not None else "black"
        art = draw_em_path(view.sub, "white" if color is None else color, _PATH_ZORDERS, halo=halo,
                           start=(view.path[0][0], view.path[1][0]), truth=view.true_point, animated=True)
        view.path_line, view.current = art["path"], art["current"]

    def _add_legend(self, view: "_View", with_truth: bool) -> None:
        handles = legend_handles("0.45", with_truth) + [line for _, line, _ in view.optimizer_lines]
        if view.run_paths:
            handles = [view.path_line] + [line for _, _, line, _ in view.run_paths] + handles[1:]
        # Clear of every frame's paths and markers: EM's (and the other runs') whole path, the optimisers'.
        lines = [np.column_stack(view.path), *(np.column_stack(path) for path, *_ in view.run_paths),
                 *(opt.points for opt, _, _ in view.optimizer_lines)]
        points = [(view.path[0][0], view.path[1][0])] + ([tuple(view.true_point)] if view.true_point is not None else [])
        # The colour bar is on the right: a legend that finds no free place inside goes below.
        add_legend(view.sub, handles, [h.get_label() for h in handles],
                   self.legend if isinstance(self.legend, str) else "auto", prefer=_free_corner(view), lines=lines,
                   points=points, margin=_LEGEND_MARGIN, sides=("below",), fontsize="small", framealpha=0.85)

    def update(self, t: int) -> list:
        t_all = range(self._n_iter + 1)[t]
        t = min(t_all, self._trace.n_iter)  # a run that stopped earlier rests at its last iteration
        changed = []
        for view in self._views:
            for path, n_iter, line, current in view.run_paths:
                tt = min(t_all, n_iter)
                line.set_data(path[0][: tt + 1], path[1][: tt + 1])
                current.set_data([path[0][tt]], [path[1][tt]])
                changed += [line, current]
            if self.hold == "current" and view.landscape_t != t:
                view.contour.remove()
                view.contour = self._draw_contour(view, view.land.grid(self._trace, self.hold, t))
                # A colour bar takes its boundaries from the contour set it was made for (update_normal
                # keeps the old ones), so a new landscape gets a new bar in the same place.
                cax = view.colorbar.ax
                cax.clear()
                view.colorbar = _label_colorbar(cax.figure.colorbar(view.contour, cax=cax))
                view.landscape_t = t
            view.path_line.set_data(view.path[0][: t + 1], view.path[1][: t + 1])
            view.current.set_data([view.path[0][t]], [view.path[1][t]])
            changed += [view.path_line, view.current]
            for opt, line, end in view.optimizer_lines:
                shown = opt.points[: t_all + 1]  # optimiser iteration i beside EM iteration i
                line.set_data(shown[:, 0], shown[:, 1])
                changed.append(line)
                if end is not None:
                    done = t_all + 1 >= len(opt.points)
                    end.set_data(*(([shown[-1, 0]], [shown[-1, 1]]) if done else ([], [])))
                    changed.append(end)
            if self.hold == "current":
                changed.append(view.contour)
        return changed


@dataclass(eq=False)
class _View:
    """One subplot: its landscape (the numbers) and the artists that change."""

    sub: object
    land: Landscape
    Z: np.ndarray = None  # the grid drawn now
    landscape_t: int = -1
    contour: object = None
    colorbar: object = None
    path_line: object = None
    current: object = None
    optimizer_lines: list = field(default_factory=list)
    run_paths: list = field(default_factory=list)  # other runs: (path, n_iter, line, current marker)
    base_run: object = None

    @property
    def axes(self) -> tuple:  # ((component, name), (component, name))
        return self.land.axes

    @property
    def values(self) -> list:
        return self.land.values

    @property
    def path(self) -> list:
        return self.land.path

    @property
    def true_point(self) -> list | None:
        return self.land.true_point

    @property
    def optimizers(self) -> list:
        return self.land.extra.get("optimizers", [])


#: (colour, line style, marker) of the other runs' paths when runs are overlaid.
_RUN_STYLES = (("#f0e442", "--", "s"), ("#ffffff", ":", "^"), ("#cc79a7", "-.", "D"), ("#56b4e9", "--", "v"))

#: (colour, line style, marker) of the optimiser paths: neutral, unlike the component colours.
_OPTIMIZER_STYLES = (("white", "--", "o"), ("#f0e442", ":", "s"), ("#bbbbbb", "-.", "^"), ("#ffffff", "-", "D"))


def _best(runs: dict):
    """The run with the highest final log-likelihood (the first of equals)."""
    return max(runs.values(), key=lambda run: run.log_likelihood[-1])


def _normalise_params(params):
    """Two names, or two (component, name) pairs, as tuples; None if neither."""
    if not isinstance(params, (list, tuple)) or len(params) != 2:
        return None
    if all(isinstance(p, str) for p in params):
        return tuple(params) if params[0] != params[1] else None
    pairs = []
    for p in params:
        if not (isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], int)
                and not isinstance(p[0], bool) and p[0] >= 0 and isinstance(p[1], str)):
            return None
        pairs.append((p[0], p[1]))
    return tuple(pairs) if pairs[0] != pairs[1] else None


def _label_colorbar(colorbar):
    """Label ``colorbar``, its ticks with as few decimals as keep them apart; return it.

    The levels are not round numbers (they come from the data), and the default formatter prints
    them with every digit; log-likelihoods of thousands of nats need none after the point.
    """
    colorbar.set_label("log-likelihood")
    levels = np.asarray(colorbar.mappable.levels)
    gap = float(np.min(np.diff(levels))) if len(levels) > 1 else 1.0
    decimals = int(np.clip(-np.floor(np.log10(gap)), 0, 6)) if gap > 0 else 0
    colorbar.ax.yaxis.set_major_formatter(StrMethodFormatter(f"{{x:.{decimals}f}}"))
    return colorbar


def _free_corner(view: _View) -> str:
    """The corner of ``view``'s Axes with the fewest path and marker points under the legend."""
    (a0, a1), (b0, b1) = (view.values[0][[0, -1]], view.values[1][[0, -1]])
    xs, ys = list(view.path[0]), list(view.path[1])
    if view.true_point is not None:
        xs.append(view.true_point[0])
        ys.append(view.true_point[1])
    return free_corner((np.asarray(xs) - a0) / (a1 - a0), (np.asarray(ys) - b0) / (b1 - b0), _LEGEND_SIZE)
