"""What the two landscape panels (``loglik_contour``, ``loglik_surface``) share.

The rules: which mixture a landscape holds fixed, the grid values of its two parameter axes and EM's
path along them, the bands of its colours, the labels of its axes, the artists of EM's path and the
legend that explains them, and the checks of their common options.

The numbers: a :class:`Landscape` holds, for one pair of parameter axes of one trace, everything
numeric a panel draws from, log-likelihood grids included. A panel computes it in ``prepare(trace)``,
which the scene spec runs once in the parent process, keyed by the trace it belongs to
(:class:`Prepared`); the panel's pickled or copied state carries it to every frame worker and every
cell of a still grid, which then only draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.colors import BoundaryNorm
from matplotlib.lines import Line2D

from emviz.errors import InputError
from emviz.render.panels._common import component_label, feature_label, matched_truth, param_axis_values
from emviz.surface import loglik_points, loglik_surface, param_values, parse_param, trace_device

__all__ = ["HOLDS", "Landscape", "Prepared", "band_norm", "check_hold_truth", "check_landscape_options",
           "contour_levels", "draw_em_path", "held_mixture", "is_int", "is_number", "legend_handles", "option_error",
           "param_label", "paired_truth"]

#: Values of the ``hold`` option: which iteration's parameters (or the truth's) the landscape holds.
HOLDS = ("final", "truth", "current")


# ---------------------------------------------------------------------- the numbers
def held_mixture(trace, hold: str, t: int):
    """The mixture whose other parameters a landscape holds fixed when iteration ``t`` is shown."""
    if hold == "truth":
        return matched_truth(trace)
    return trace.mixture(t if hold == "current" else -1)


def paired_truth(trace):
    """The true mixture paired with the fitted components, or None (none known, or another K)."""
    truth = matched_truth(trace)
    if truth is not None and truth.n_components != trace.n_components:
        return None  # unpaired components: no true point to mark
    return truth


@dataclass
class Landscape:
    """One pair of parameter axes of one trace: the grid, EM's path, the true point and the grids.

    Attributes
    ----------
    axes : pair of (component, name)
    params : pair of :class:`emviz.surface.Param`
    values : pair of arrays of shape (A,) and (B,)
        Grid values of the two axes.
    path : pair of arrays of shape (T+1,)
        EM's path along the two axes.
    true_point : pair of float, or None
    grids : dict
        Iteration whose held parameters a grid holds (-1: the last, or the truth) -> log-likelihood
        grid, array of shape (B, A).
    extra : dict
        Other numbers one panel computes once (optimiser paths, heights of the path on the surface).
    """

    axes: tuple
    params: tuple
    values: list
    path: list
    true_point: list | None
    grids: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @classmethod
    def of(cls, trace, axes, truth, n_grid: int, ranges=None) -> "Landscape":
        """The axes' grid values and EM's path along them, no grid computed yet.

        A grid axis spans ``ranges[i]`` when given, else a range from the data that encloses the
        path and the true point (:func:`emviz.render.panels._common.param_axis_values`).
        """
        axes = tuple(tuple(a) for a in axes)
        params = tuple(parse_param(name, trace.n_features, trace.n_components) for _, name in axes)
        land = cls(axes=axes, params=params, values=[], path=[], true_point=None)
        land.path = land.path_of(trace)
        if truth is not None:
            land.true_point = [float(v) for v in land.path_of(truth)]
        for i, param in enumerate(params):
            if ranges is not None:
                land.values.append(np.linspace(*ranges[i], n_grid))
                continue
            points = land.path[i] if land.true_point is None else np.append(land.path[i], land.true_point[i])
            land.values.append(param_axis_values(trace, param, points, n_grid))
        return land

    def path_of(self, trace_or_mixture) -> list:
        """The values of the two axes' parameters in a trace (arrays of shape (T+1,)) or a mixture (scalars)."""
        src = trace_or_mixture
        return [param_values(src.weights, src.means, src.covariances, k, p) for (k, _), p in zip(self.axes, self.params)]

    def grid(self, trace, hold: str, t: int) -> np.ndarray:
        """The log-likelihood grid with the others held for iteration ``t``, array of shape (B, A)."""
        return loglik_surface(trace.X, held_mixture(trace, hold, t), list(self.axes), self.values[0], self.values[1],
                              n_samples=trace.n_samples, device=trace_device(trace))

    def add_grid(self, trace, hold: str, t: int) -> np.ndarray:
        """:meth:`grid`, kept in :attr:`grids`."""
        self.grids[t] = self.grid(trace, hold, t)
        return self.grids[t]

    def heights(self, trace, hold: str, a, b, t: int) -> np.ndarray:
        """Log-likelihood at the points (a_i, b_i) with the others held for iteration ``t``, shape (P,).

        Evaluated by the code that computes the grid, so the points lie on the surface.
        """
        return loglik_points(trace.X, held_mixture(trace, hold, t), list(self.axes), np.atleast_1d(a),
                             np.atleast_1d(b), n_samples=trace.n_samples, device=trace_device(trace))


class Prepared:
    """What a panel computed for each trace in ``prepare``, looked up by the trace itself.

    Identity, not equality: the scene's copies of a panel share the traces (deep copies with the
    traces in the memo) and so does a pickled scene spec (one pickle), so a copy finds what the
    original prepared; a trace the panel did not prepare for is simply not found.
    """

    def __init__(self):
        self._items: list = []

    def __deepcopy__(self, memo):
        # Read-only results: every copy of the panel (each scene cell, each grid cell) shares them
        # instead of copying the grids and optimiser paths again.
        return self

    def get(self, trace):
        return next((value for key, value in self._items if key is trace), None)

    def put(self, trace, value) -> None:
        self._items = [(key, v) for key, v in self._items if key is not trace] + [(trace, value)]


# ---------------------------------------------------------------------- colours, labels, artists
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


def band_norm(Z: np.ndarray, n_levels: int, clip: float, cmap_name: str):
    """(levels, colour map, norm) of a grid's filled bands.

    ``BoundaryNorm`` gives every band its own evenly spaced colour although the levels are not evenly
    spaced; ``extend="min"`` reserves the colour map's low end for the clipped far field.
    """
    levels = contour_levels(Z, n_levels, clip)
    cmap = colormaps[cmap_name]
    return levels, cmap, BoundaryNorm(levels, cmap.N, extend="min")


def param_label(param, n_features: int, component: int | None = None) -> str:
    """An axis label: ``"mean"``, ``"standard deviation of x1"``, ``"weight (component 2)"``."""
    if param.kind == "weight":
        what = "weight"
    else:
        what = "mean" if param.kind == "mean" else "standard deviation"
        if n_features > 1:
            what = f"{what} of {feature_label(param.feature, n_features)}"
    return what if component is None else f"{what} ({component_label(component)})"


def _halo(color) -> list:
    return [patheffects.withStroke(linewidth=4, foreground=color)]


def draw_em_path(ax, color, zorders, *, halo="white", start=None, truth=None, with_truth=False,
                 animated=False, three_d=False) -> dict:
    """EM's path, its start, the true point and the current point, in the styles the legend explains.

    Parameters
    ----------
    ax : Axes
    color : colour
        Of the path and the current point.
    zorders : (path, start, truth, current)
    halo : colour
        Of the path's outline.
    start, truth : pair of float, optional
        Where to draw the start and the true point once (static, with ``gid`` "start" and "truth");
        left out, their markers are created empty, for the panel to place per frame.
    with_truth : bool
        Create the true point's marker although ``truth`` is not given.
    animated : bool
        Flag the path and the current point as animated (for blitting).
    three_d : bool
        Create 3D lines (their data is set with ``set_data_3d``).

    Returns
    -------
    dict
        ``path``, ``start``, ``truth`` (None without a truth) and ``current`` Line2D artists.
    """
    def plot(point, gid=None, **style):
        if point is None:
            return ax.plot(*[[]] * (3 if three_d else 2), **style)[0]
        return ax.plot(*[[v] for v in point], gid=gid, **style)[0]

    path_z, start_z, truth_z, current_z = zorders
    art = {"path": plot(None, color=color, lw=2, path_effects=_halo(halo), zorder=path_z, animated=animated)}
    art["start"] = plot(start, ls="", marker="*", ms=15, mfc="white", mec="black", mew=1.2, zorder=start_z,
                        gid="start")
    art["truth"] = None
    if truth is not None or with_truth:
        art["truth"] = plot(truth, ls="", marker="o", ms=6, mfc="black", mec="white", mew=1.2, zorder=truth_z,
                            gid="truth")
    art["current"] = plot(None, ls="", marker="o", ms=10, mfc=color, mec="white", mew=1.5, zorder=current_z,
                          animated=animated)
    return art


def legend_handles(color, with_truth: bool) -> list:
    """Legend entries for the artists of :func:`draw_em_path`, the path and current point in ``color``."""
    handles = [
        Line2D([], [], color=color, lw=2, path_effects=_halo("white"), label="EM path"),
        Line2D([], [], ls="", marker="*", ms=12, mfc="white", mec="black", label="start"),
        Line2D([], [], ls="", marker="o", ms=9, mfc=color, mec="white", label="current"),
    ]
    if with_truth:
        handles.append(Line2D([], [], ls="", marker="o", ms=7, mfc="black", mec="white", label="truth"))
    return handles


# ---------------------------------------------------------------------- options
def is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and bool(np.isfinite(value))


def option_error(panel: str, option: str, must: str, value) -> InputError:
    """The error for a bad option value: ``panel 'x': option 'y' must be ..., got ...``."""
    return InputError(f"panel {panel!r}: option {option!r} must be {must}, got {value!r}")


def check_landscape_options(panel, name: str, min_grid: int, legend_locs) -> None:
    """Check the options both landscape panels have: ``hold``, ``grid``, ``levels``, ``clip``, ``cmap``,
    ``legend``; raise :class:`InputError` naming the first bad one."""
    if panel.hold not in HOLDS:
        raise option_error(name, "hold", f"one of {', '.join(HOLDS)}", panel.hold)
    for option, low in (("grid", min_grid), ("levels", 1)):
        if not is_int(getattr(panel, option)) or getattr(panel, option) < low:
            raise option_error(name, option, f"an integer >= {low}", getattr(panel, option))
    if not is_number(panel.clip) or not 0 <= panel.clip < 1:
        raise option_error(name, "clip", "a fraction in [0, 1)", panel.clip)
    if panel.cmap not in colormaps:
        raise option_error(name, "cmap", "a matplotlib colour map name", panel.cmap)
    if not (isinstance(panel.legend, bool) or panel.legend in legend_locs):
        raise option_error(name, "legend", f"true, false or one of {', '.join(legend_locs)}", panel.legend)


def check_hold_truth(name: str, hold: str, trace) -> None:
    """With ``hold: truth``, the trace must have a true mixture of as many components as the fit."""
    if hold != "truth":
        return
    if trace.truth is None:
        raise InputError(f"panel {name!r}: option 'hold' is 'truth' but the trace has no true mixture; "
                         "use 'final' or 'current'")
    if trace.truth.n_components != trace.n_components:
        raise InputError(f"panel {name!r}: option 'hold' is 'truth' but the truth has "
                         f"{trace.truth.n_components} components and the fit {trace.n_components}")
