"""The ``loglik_contour`` panel: the EM path of one component over its log-likelihood landscape.

For each chosen component the total log-likelihood is drawn as a filled contour over two scalar
parameters of that component (``mean`` and ``std`` in 1D), the other parameters held at the final,
the true or the current iteration's values, with the path EM took through those two parameters.

One panel, several Axes: the scene gives a panel one Axes, but this view needs one subplot per
component. The given Axes is split into a row of sub-Axes with ``subgridspec`` of its SubplotSpec
(so layout engines treat them as ordinary subplots); an Axes placed by a rectangle is split by
rectangle instead. The given Axes is kept but switched off and taken out of the layout, so that a
scene holding it can still use it (``draw_artist``) without it showing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.colors import BoundaryNorm
from matplotlib.lines import Line2D
from matplotlib.ticker import StrMethodFormatter

from emviz.errors import InputError
from emviz.render.panel import Panel, register_panel
from emviz.render.panels._common import component_label, feature_label, matched_truth, param_axis_values

__all__ = ["LoglikContourPanel", "contour_levels", "split_axes"]

_HOLDS = ("final", "truth", "current")
_LEGEND_LOCS = ("upper right", "upper left", "lower left", "lower right")


def contour_levels(Z: np.ndarray, n_levels: int = 20, clip: float = 0.25) -> np.ndarray:
    """Contour levels that resolve the region near the optimum of a log-likelihood grid.

    The total log-likelihood falls off quadratically near the optimum and by thousands of nats far
    from it, so linear levels over the full range put every ring in the far field and paint the
    interesting region one colour. Instead the lowest ``clip`` fraction of the grid is left below the
    lowest level (drawn in the colour bar's "under" extension), and the levels are spaced evenly in
    ``sqrt(max - loglik)``: near a quadratic optimum that is even spacing in parameter distance, so the
    rings are evenly spaced on screen and the top ones lie close to the optimum.

    Parameters
    ----------
    Z : array of shape (B, A)
        Log-likelihood grid (NaN entries are ignored).
    n_levels : int
        Number of filled bands.
    clip : float
        Fraction of the grid points, the lowest ones, left below the lowest level.

    Returns
    -------
    array of shape (n_levels + 1,)
        Increasing levels; the last is the grid's maximum.
    """
    finite = np.asarray(Z, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return np.linspace(-1.0, 0.0, n_levels + 1)
    top = float(finite.max())
    depth = float(np.quantile(top - finite, 1.0 - clip))
    # A flat grid, or one flat to a few ulps of its top (a component no point belongs to): bands
    # narrower than the float resolution at ``top`` would repeat levels. Any band width shows such a
    # grid as one colour.
    if not depth > 1e3 * np.finfo(np.float64).eps * max(abs(top), 1.0):
        depth = max(1.0, abs(top) * 1e-9)
    u = np.linspace(1.0, 0.0, n_levels + 1)
    levels = top - depth * u**2
    levels[-1] = top
    return levels


def split_axes(ax, n: int) -> list:
    """Replace ``ax`` by a row of ``n`` Axes in the same place; ``ax`` is hidden, not removed."""
    if n == 1:
        return [ax]
    fig = ax.figure
    spec = ax.get_subplotspec()
    if spec is not None:
        grid = spec.subgridspec(1, n)  # spacing left to the layout engine
        subs = [fig.add_subplot(grid[0, i]) for i in range(n)]
    else:
        pos = ax.get_position()
        width = pos.width / n
        # Leave a quarter of each slot for the colour bar and the next subplot's labels.
        subs = [fig.add_axes([pos.x0 + i * width, pos.y0, 0.75 * width, pos.height]) for i in range(n)]
    ax.set_axis_off()
    ax.set_in_layout(False)
    return subs


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
        ``True``: in the corner of the first subplot farthest from the path; a corner name puts it
        there; ``False``: none.
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

    def __post_init__(self):
        self._check_options()
        self.blittable = self.hold != "current"

    def _check_options(self) -> None:
        def bad(option, must, value):
            return InputError(f"panel 'loglik_contour': option {option!r} must be {must}, got {value!r}")

        if self.params is not None:
            self.params = _normalise_params(self.params)
            if self.params is None:
                raise bad("params", "two different parameter names, or two [component, name] pairs", self.params)
        if isinstance(self.optimizers, str) or not isinstance(self.optimizers, (list, tuple)):
            raise bad("optimizers", "a list of scipy.optimize method names", self.optimizers)
        from emviz.optimizers import check_methods

        try:
            self.optimizers = check_methods(self.optimizers)
        except InputError as exc:
            raise InputError(f"panel 'loglik_contour': option 'optimizers': {exc}") from None
        if self.optimizers and self.hold == "current":
            raise bad("hold", "final or truth when optimizers are drawn", self.hold)
        if self.params is not None and isinstance(self.params[0], tuple) and self.components is not None:
            raise bad("components", "left out when params name [component, name] pairs", self.components)
        if self.components is not None:
            if not isinstance(self.components, (list, tuple)) or not self.components or not all(
                isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in self.components
            ):
                raise bad("components", "a non-empty list of component indices", self.components)
            self.components = tuple(self.components)
        if self.hold not in _HOLDS:
            raise bad("hold", f"one of {', '.join(_HOLDS)}", self.hold)
        for option, low in (("grid", 2), ("levels", 1), ("optimizer_max_iter", 1)):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise bad(option, f"an integer >= {low}", value)
        if isinstance(self.clip, bool) or not isinstance(self.clip, (int, float)) or not 0 <= self.clip < 1:
            raise bad("clip", "a fraction in [0, 1)", self.clip)
        if self.cmap not in colormaps:
            raise bad("cmap", "a matplotlib colour map name", self.cmap)
        if not (isinstance(self.legend, bool) or self.legend in _LEGEND_LOCS):
            raise bad("legend", f"true, false or one of {', '.join(_LEGEND_LOCS)}", self.legend)

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
        if self.hold == "truth":
            if trace.truth is None:
                raise InputError("panel 'loglik_contour': option 'hold' is 'truth' but the trace has no "
                                 "true mixture; use 'final' or 'current'")
            if trace.truth.n_components != trace.n_components:
                raise InputError(f"panel 'loglik_contour': option 'hold' is 'truth' but the truth has "
                                 f"{trace.truth.n_components} components and the fit {trace.n_components}")

    def param_names(self, n_features: int) -> tuple[str, str]:
        """The two parameter names, the default filled in for data of dimension ``n_features``."""
        if self.params is not None:
            return self.params
        return ("mean", "std") if n_features == 1 else ("mean0", "mean1")

    def held_mixture(self, t: int):
        """The mixture whose other parameters the landscape holds fixed when iteration ``t`` is shown."""
        if self.hold == "truth":
            return matched_truth(self._trace)
        return self._trace.mixture(t if self.hold == "current" else -1)

    # ------------------------------------------------------------------ drawing
    def setup(self, ax, trace, colors) -> list:
        runs = self.runs if self.runs and len(self.runs) > 1 else {None: trace}
        for run in runs.values():
            self.check(run)
        # The best fit's landscape: the one the other runs are compared against.
        trace = max(runs.values(), key=lambda run: run.log_likelihood[-1])
        self._trace = trace
        self._n_iter = max(run.n_iter for run in runs.values())
        truth = matched_truth(trace)
        if truth is not None and truth.n_components != trace.n_components:
            truth = None  # unpaired components: no true point to mark
        if self._pairs():
            views_axes = [tuple((k, name) for k, name in self.params)]
            path_colors = [None]  # a path through two components' parameters: the neutral path colour
        else:
            names = self.param_names(trace.n_features)
            comps = self.components or tuple(range(trace.n_components))
            views_axes = [((k, names[0]), (k, names[1])) for k in comps]
            path_colors = [colors[k] for k in comps]
        self._subs = split_axes(ax, len(views_axes))
        self._views = [self._setup_view(sub, axes, color, truth)
                       for sub, axes, color in zip(self._subs, views_axes, path_colors)]
        if len(runs) > 1:
            for view in self._views:
                self._draw_run_paths(view, runs)
        if self.legend:
            self._add_legend(self._views[0], truth is not None)
        return self.update(0)

    def _pairs(self) -> bool:
        return self.params is not None and not isinstance(self.params[0], str)

    def _setup_view(self, sub, axes, color, truth) -> "_View":
        from emviz.surface import param_values, parse_param

        tr = self._trace
        params = [parse_param(name, tr.n_features, tr.n_components) for _, name in axes]
        path = [param_values(tr.weights, tr.means, tr.covariances, k, p) for (k, _), p in zip(axes, params)]
        true_point = None
        if truth is not None:
            true_point = [float(param_values(truth.weights, truth.means, truth.covariances, k, p))
                          for (k, _), p in zip(axes, params)]
        axes_values = [self._axis_values(p, path[i], None if true_point is None else true_point[i])
                       for i, p in enumerate(params)]
        view = _View(sub=sub, axes=axes, values=axes_values, path=path, true_point=true_point)
        start_t = 0 if self.hold == "current" else -1
        view.contour = self._draw_contour(view, self._landscape(view, start_t))
        view.landscape_t = start_t
        view.colorbar = _label_colorbar(sub.figure.colorbar(view.contour, ax=sub, fraction=0.06, pad=0.03))
        self._draw_markers(view, color)
        if self.optimizers:
            self._draw_optimizers(view)
        sub.set_xlim(axes_values[0][0], axes_values[0][-1])
        sub.set_ylim(axes_values[1][0], axes_values[1][-1])
        pair = axes[0][0] != axes[1][0]
        labels = [_param_label(p, tr.n_features) + (f" ({component_label(k)})" if pair else "")
                  for (k, _), p in zip(axes, params)]
        sub.set_xlabel(labels[0])
        sub.set_ylabel(labels[1])
        if not pair:
            sub.set_title(component_label(axes[0][0]).capitalize())
        return view

    def _draw_run_paths(self, view: "_View", runs: dict) -> None:
        """Every run's path on ``view``'s landscape (the best run's path is the view's own)."""
        from emviz.surface import param_values, parse_param

        view.base_run = next(name for name, run in runs.items() if run is self._trace)
        params = [parse_param(name, self._trace.n_features, self._trace.n_components) for _, name in view.axes]
        outline = [patheffects.withStroke(linewidth=3.5, foreground="black")]
        view.path_line.set_label(view.base_run)
        for i, (name, run) in enumerate((n, r) for n, r in runs.items() if r is not self._trace):
            color, style, marker = _RUN_STYLES[i % len(_RUN_STYLES)]
            path = [param_values(run.weights, run.means, run.covariances, k, p) for (k, _), p in zip(view.axes, params)]
            line = view.sub.plot([], [], color=color, ls=style, lw=1.8, zorder=4, path_effects=outline,
                                 animated=True, label=name)[0]
            current = view.sub.plot([], [], ls="", marker=marker, ms=8, mfc=color, mec="black", zorder=5,
                                    animated=True)[0]
            view.run_paths.append((path, run.n_iter, line, current))

    def _draw_optimizers(self, view: "_View") -> None:
        from emviz.optimizers import optimizer_paths

        start = (float(view.path[0][0]), float(view.path[1][0]))
        box = [(v[0], v[-1]) for v in view.values]
        view.optimizers = optimizer_paths(self._trace.X, self.held_mixture(-1), list(view.axes), start,
                                          self.optimizers, n_samples=self._trace.n_samples,
                                          max_iter=self.optimizer_max_iter, box=box)
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

    def _axis_values(self, param, path: np.ndarray, true_value: float | None) -> np.ndarray:
        """Grid values of one axis: a range from the data that always encloses the path and the truth."""
        points = path if true_value is None else np.append(path, true_value)
        return param_axis_values(self._trace, param, points, self.grid)

    def _landscape(self, view: "_View", t: int) -> np.ndarray:
        """Log-likelihood grid over ``view``'s two parameters, the others held for iteration ``t``, shape (B, A)."""
        from emviz.surface import loglik_surface, trace_device

        tr = self._trace
        return loglik_surface(tr.X, self.held_mixture(t), list(view.axes), view.values[0], view.values[1],
                              n_samples=tr.n_samples, device=trace_device(tr))

    def _draw_contour(self, view: "_View", Z: np.ndarray):
        levels = contour_levels(Z, self.levels, self.clip)
        cmap = colormaps[self.cmap]
        # BoundaryNorm gives every band its own evenly spaced colour although the levels are not
        # evenly spaced; "min" reserves the colour map's low end for the clipped far field.
        norm = BoundaryNorm(levels, cmap.N, extend="min")
        view.Z = Z
        return view.sub.contourf(view.values[0], view.values[1], np.ma.masked_invalid(Z), levels=levels,
                                 cmap=cmap, norm=norm, extend="min", zorder=1,
                                 animated=self.hold == "current")

    def _draw_markers(self, view: "_View", color) -> None:
        sub = view.sub
        outline = [patheffects.withStroke(linewidth=4, foreground="white" if color is not None else "black")]
        color = "white" if color is None else color
        view.path_line = sub.plot([], [], color=color, lw=2, zorder=4, path_effects=outline, animated=True)[0]
        sub.plot([view.path[0][0]], [view.path[1][0]], ls="", marker="*", ms=15, mfc="white", mec="black",
                 mew=1.2, zorder=4, gid="start")
        if view.true_point is not None:
            # Above the current point: once EM has converged onto the truth, a dot inside its circle.
            sub.plot([view.true_point[0]], [view.true_point[1]], ls="", marker="o", ms=6, mfc="black",
                     mec="white", mew=1.2, zorder=6, gid="truth")
        view.current = sub.plot([], [], ls="", marker="o", ms=10, mfc=color, mec="white", mew=1.5, zorder=5,
                                animated=True)[0]

    def _add_legend(self, view: "_View", with_truth: bool) -> None:
        outline = [patheffects.withStroke(linewidth=4, foreground="white")]
        gray = "0.45"
        handles = [
            Line2D([], [], color=gray, lw=2, path_effects=outline, label="EM path"),
            Line2D([], [], ls="", marker="*", ms=12, mfc="white", mec="black", label="start"),
            Line2D([], [], ls="", marker="o", ms=9, mfc=gray, mec="white", label="current"),
        ]
        if with_truth:
            handles.append(Line2D([], [], ls="", marker="o", ms=7, mfc="black", mec="white", label="truth"))
        handles += [line for _, line, _ in view.optimizer_lines]
        if view.run_paths:
            handles = [view.path_line] + [line for _, _, line, _ in view.run_paths] + handles[1:]
        loc = self.legend if isinstance(self.legend, str) else _free_corner(view)
        view.sub.legend(handles=handles, loc=loc, fontsize="small", framealpha=0.85)

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
                view.contour = self._draw_contour(view, self._landscape(view, t))
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
    """One component's subplot: its grid, its path and the artists that change."""

    sub: object
    axes: tuple  # ((component, name), (component, name))
    values: list
    path: list
    true_point: list | None
    Z: np.ndarray = None
    landscape_t: int = -1
    contour: object = None
    colorbar: object = None
    path_line: object = None
    current: object = None
    optimizers: list = field(default_factory=list)
    optimizer_lines: list = field(default_factory=list)
    run_paths: list = field(default_factory=list)  # other runs: (path, n_iter, line, current marker)
    base_run: object = None


#: (colour, line style, marker) of the other runs' paths when runs are overlaid.
_RUN_STYLES = (("#f0e442", "--", "s"), ("#ffffff", ":", "^"), ("#cc79a7", "-.", "D"), ("#56b4e9", "--", "v"))

#: (colour, line style, marker) of the optimiser paths: neutral, unlike the component colours.
_OPTIMIZER_STYLES = (("white", "--", "o"), ("#f0e442", ":", "s"), ("#bbbbbb", "-.", "^"), ("#ffffff", "-", "D"))


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


def _param_label(param, n_features: int) -> str:
    if param.kind == "weight":
        return "weight"
    name = "mean" if param.kind == "mean" else "standard deviation"
    return name if n_features == 1 else f"{name} of {feature_label(param.feature, n_features)}"


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
    """The corner of ``view``'s Axes with the fewest path and marker points near it."""
    (a0, a1), (b0, b1) = (view.values[0][[0, -1]], view.values[1][[0, -1]])
    xs, ys = list(view.path[0]), list(view.path[1])
    if view.true_point is not None:
        xs.append(view.true_point[0])
        ys.append(view.true_point[1])
    fx = (np.asarray(xs) - a0) / (a1 - a0)
    fy = (np.asarray(ys) - b0) / (b1 - b0)
    # A legend of four entries covers about 40 % of the width and 35 % of the height of a subplot.
    counts = {
        "upper right": np.sum((fx > 0.6) & (fy > 0.65)),
        "upper left": np.sum((fx < 0.4) & (fy > 0.65)),
        "lower right": np.sum((fx > 0.6) & (fy < 0.35)),
        "lower left": np.sum((fx < 0.4) & (fy < 0.35)),
    }
    return min(counts, key=lambda loc: counts[loc])  # ties go to the first, upper right
