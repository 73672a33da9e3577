"""The ``ellipses`` panel: 2D data with each component's covariance ellipses, its mean and the mean's path.

The shown points are a static grey background; the recorded points are drawn over them in the
responsibility-weighted blend of the component colours. Each component gets its covariance ellipses at
a few standard deviations, its mean and the path its mean took so far; the true mixture, when known,
is drawn dashed. Optionally the mixture density is shown behind everything, as an image or contours.

Data with D > 2 are drawn on two chosen features: the ellipses are those of the 2 x 2 marginal
covariances and the density is that of the marginal mixture (same weights, marginal components).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from matplotlib import colormaps, patheffects
from matplotlib.colors import LinearSegmentedColormap, PowerNorm, to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse

from emviz.errors import InputError
from emviz.mixture import Mixture
from emviz.render.panel import Panel, register_panel
from emviz.render.panels._geometry import (
    auto_point_size, axis_label, check_dims, check_point_size, ellipse_geometry, grid_density, marginal_mixture,
    subsample, view_limits,
)
from emviz.render.panels._common import (
    add_legend, check_features, check_fraction, check_legend, component_label, foreground, matched_truth, muted,
    responsibility_rgba,
)

__all__ = ["EllipsesPanel"]

_BACKGROUNDS = ("none", "density", "contour")
_LANDSCAPES = ("current", "final", "truth")
_ASPECTS = ("equal", "auto")
#: With ``aspect="equal"``, features whose spans differ more than this factor (unstandardised data in
#: mixed units) are drawn as with ``"auto"``: equal units would squash the plot into a sliver.
MAX_EQUAL_RATIO = 5.0
#: The density image's colour scale is ``(density / peak) ** DENSITY_GAMMA``: a square root keeps the
#: broad components of early frames visible on the scale that the peaked last frames set.
DENSITY_GAMMA = 0.5
#: Grid values evaluated at once when searching the density's peak over all frames (bounds memory).
_DENSITY_BLOCK = 2_000_000
#: Z-orders, bottom to top: the blitted redraw per frame starts at the lowest animated artist.
_Z_BACKGROUND, _Z_DATA, _Z_POINTS, _Z_TRUTH, _Z_ELLIPSES, _Z_PATH, _Z_MEANS = 0.5, 1.0, 2.0, 2.5, 3.0, 3.5, 4.0


# ---------------------------------------------------------------------- the panel
@register_panel("ellipses")
@dataclass
class EllipsesPanel(Panel):
    """Points coloured by responsibility, each component's covariance ellipses, mean and path.

    Parameters
    ----------
    features : pair of int
        The two data features drawn on x and y (0-based); D > 2 shows the marginals on them.
    levels : sequence of float
        Ellipses at these many standard deviations (Mahalanobis radii), the first drawn boldest.
    show_truth : bool
        Draw the true ellipses dashed and the true means as x markers when the trace knows them.
    show_path : bool
        Draw the path each mean took up to the shown iteration.
    background : {"none", "density", "contour"}
        The mixture density behind the data: none, an image with a colour scale fixed over all
        frames, or contour lines at fixed levels.
    landscape : {"current", "final", "truth"}
        Whose density the background shows: the shown iteration's (redrawn per frame, so the panel is
        then not blittable), the last iteration's, or the true mixture's.
    grid : int
        Grid points per axis of the density background.
    n_levels : int
        Contour lines of ``background="contour"``, geometrically spaced down from the highest density.
    cmap : str, optional
        Colour map of ``background="density"``. Default: a ramp from the theme's background towards
        its text colour, which leaves the component colours the only hues in the frame.
    point_size : float, optional
        Marker area (points²) of the points. Default: from the number of points (30 down to 3).
    alpha : float
        Opacity of the responsibility-coloured points (the grey background uses 60 % of it).
    max_points : int
        At most this many shown points in the grey background (an evenly spread, fixed subset).
    aspect : {"equal", "auto"}
        ``equal``: one unit is as long on x as on y, so ellipses keep their true shape; when the two
        features' spans differ more than 5-fold (mixed units) the panel falls back to ``auto``.
    xlim, ylim : pair of float, optional
        Default: the data, means and true means, plus the ellipses up to half the data's span beyond.
    legend : bool or str
        ``True``/``"outside"``: right of the axes (below it, or smaller, when it is wider than the
        axes); a matplotlib location puts it inside; ``False``: none.
    """

    dims: ClassVar[tuple[int, ...]] = tuple(range(2, 65))
    summary: ClassVar[str] = "2D points coloured by responsibility, covariance ellipses, means and their paths"

    features: tuple[int, int] = (0, 1)
    levels: tuple[float, ...] = (1.0, 2.0)
    show_truth: bool = True
    show_path: bool = True
    background: str = "none"
    landscape: str = "current"
    grid: int = 120
    n_levels: int = 8
    cmap: str | None = None
    point_size: float | None = None
    alpha: float = 0.8
    max_points: int = 5000
    aspect: str = "equal"
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    legend: bool | str = True

    _trace: object = field(init=False, default=None, repr=False)
    _colors: list = field(init=False, default=None, repr=False)
    _geo: dict = field(init=False, default=None, repr=False)
    _artists: dict = field(init=False, default=None, repr=False)
    _land: dict = field(init=False, default=None, repr=False)

    def __post_init__(self):
        self._check_options()
        # A landscape that follows the iteration repaints the whole background every frame.
        self.blittable = not (self.background != "none" and self.landscape == "current")

    def _check_options(self) -> None:
        def bad(option, must, value):
            return InputError(f"panel 'ellipses': option {option!r} must be {must}, got {value!r}")

        self.features = check_features(self.features, 2, "ellipses")
        levels = tuple(self.levels) if isinstance(self.levels, (list, tuple)) else ()
        if not levels or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in levels):
            raise bad("levels", "a non-empty list of positive numbers (standard deviations)", self.levels)
        self.levels = tuple(float(v) for v in levels)
        for option in ("show_truth", "show_path"):
            if not isinstance(getattr(self, option), bool):
                raise bad(option, "true or false", getattr(self, option))
        for option, choices in (("background", _BACKGROUNDS), ("landscape", _LANDSCAPES), ("aspect", _ASPECTS)):
            if getattr(self, option) not in choices:
                raise bad(option, f"one of {', '.join(choices)}", getattr(self, option))
        for option, low in (("grid", 10), ("n_levels", 1), ("max_points", 1)):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise bad(option, f"an integer >= {low}", value)
        if self.cmap is not None and self.cmap not in colormaps:
            raise bad("cmap", "a matplotlib colour map name", self.cmap)
        check_point_size(self.point_size, "ellipses")
        check_fraction(self.alpha, "alpha", "ellipses")
        for option in ("xlim", "ylim"):
            value = getattr(self, option)
            if value is not None and (not isinstance(value, (list, tuple)) or len(value) != 2
                                      or not value[0] < value[1]):
                raise bad(option, "[low, high] with low < high", value)
        check_legend(self.legend, "ellipses")

    def check(self, trace_or_dims) -> None:
        """Also check ``features`` against D and that ``landscape: truth`` has a truth to show."""
        check_dims(self, trace_or_dims)
        if (not isinstance(trace_or_dims, int) and self.background != "none" and self.landscape == "truth"
                and trace_or_dims.truth is None):
            raise InputError("panel 'ellipses': option 'landscape' is 'truth' but the trace has no true "
                             "mixture; use 'current' or 'final'")

    # ------------------------------------------------------------------ geometry
    def _geometry(self, trace) -> dict:
        """Marginal means and ellipse shapes of every iteration, computed once for all frames."""
        idx = np.asarray(self.features)
        covs = trace.covariances[:, :, idx][:, :, :, idx]  # (T+1, K, 2, 2)
        width, height, angle = ellipse_geometry(covs, self.levels)
        # Half-extents of the outermost ellipse's bounding box: level * sqrt(diagonal).
        half = max(self.levels) * np.sqrt(np.diagonal(covs, axis1=2, axis2=3))
        return {"means": trace.means[:, :, idx], "covs": covs, "width": width, "height": height,
                "angle": angle, "half": half}

    def _limits(self, trace, truth, points: np.ndarray) -> list:
        means = self._geo["means"].reshape(-1, 2)
        half = self._geo["half"].reshape(-1, 2)
        inside = [points, means]
        lo, hi = [means - half], [means + half]
        if truth is not None:
            t_means = truth.means
            t_half = max(self.levels) * np.sqrt(np.diagonal(truth.covariances, axis1=1, axis2=2))
            inside.append(t_means)
            lo.append(t_means - t_half)
            hi.append(t_means + t_half)
        limits = view_limits(np.concatenate(inside), np.concatenate(lo), np.concatenate(hi))
        for a, option in enumerate((self.xlim, self.ylim)):
            if option is not None:
                limits[a] = (float(option[0]), float(option[1]))
        return limits

    def density(self, t: int | None = None, mixture: Mixture | None = None) -> np.ndarray:
        """The background's mixture density on its grid, array of shape (grid, grid) (rows follow y).

        ``t`` picks the iteration's mixture (marginal on ``features``); ``mixture`` a given 2D one.
        """
        if mixture is not None:
            params = (mixture.weights[None], mixture.means[None], mixture.covariances[None])
        else:
            params = (self._trace.weights[t][None], self._geo["means"][t][None], self._geo["covs"][t][None])
        return grid_density(*params, self._land["points"])[0].reshape(self._land["shape"])

    def _peak_density(self) -> float:
        """The highest density on the grid over all frames, evaluated in blocks of frames (bounded memory)."""
        weights, means, covs = self._trace.weights, self._geo["means"], self._geo["covs"]
        points = self._land["points"]
        block = max(1, _DENSITY_BLOCK // (weights.shape[1] * len(points)))
        return max(float(grid_density(weights[s:s + block], means[s:s + block], covs[s:s + block], points).max())
                   for s in range(0, len(weights), block))

    # ------------------------------------------------------------------ drawing
    def setup(self, ax, trace, colors) -> list:
        self.check(trace)
        self._trace = trace
        self._geo = self._geometry(trace)
        colors = [tuple(to_rgb(c)) for c in colors]
        truth = matched_truth(trace) if self.show_truth else None
        truth = None if truth is None else marginal_mixture(truth, self.features)
        a, b = self.features
        shown = trace.X[subsample(len(trace.X), self.max_points)][:, [a, b]]
        (x0, x1), (y0, y1) = self._limits(trace, truth, trace.X[:, [a, b]])
        self._artists = {"image": None, "contour": None}
        if self.background != "none":
            self._setup_background(ax, trace, (x0, x1, y0, y1))
        size = self.point_size or auto_point_size(len(shown))
        ax.scatter(shown[:, 0], shown[:, 1], s=size, color=muted(), alpha=0.6 * self.alpha, edgecolors="none",
                   zorder=_Z_DATA, gid="data")
        resp_pts = trace.resp_X[:, [a, b]]
        self._colors = colors
        self._artists["points"] = ax.scatter(resp_pts[:, 0], resp_pts[:, 1], s=size, edgecolors="none",
                                             zorder=_Z_POINTS, animated=True)
        paired = truth is not None and truth.n_components == trace.n_components
        if truth is not None:
            self._draw_truth(ax, truth, colors if paired else None)
        self._setup_components(ax, trace, colors)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        if self.aspect == "equal" and _comparable(x1 - x0, y1 - y0):
            # "box": the limits stay exactly as set, so a density image fills the axes.
            ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel(axis_label(trace, a))
        ax.set_ylabel(axis_label(trace, b))
        self._add_legend(ax, trace, colors, truth is not None, size)
        return self.update(0)

    def _setup_components(self, ax, trace, colors) -> None:
        fg = foreground()
        # A halo in the background colour keeps a line readable over points of its own colour (a fitted
        # component sits on the points it owns, which are drawn in its colour).
        halo = [patheffects.withStroke(linewidth=4.0, foreground=ax.get_facecolor())]
        ellipses, paths, means = [], [], []
        for k in range(trace.n_components):
            ellipses.append([
                ax.add_patch(Ellipse((0.0, 0.0), 1.0, 1.0, fill=False, edgecolor=colors[k],
                                     lw=2.2 if i == 0 else 1.3, alpha=1.0 if i == 0 else 0.75,
                                     path_effects=halo, zorder=_Z_ELLIPSES, animated=True))
                for i in range(len(self.levels))
            ])
            if self.show_path:
                paths.append(ax.plot([], [], color=colors[k], lw=1.3, alpha=0.9, path_effects=halo,
                                     zorder=_Z_PATH, animated=True)[0])
            # A ring in the text colour keeps the mean visible over points of its own colour.
            means.append(ax.plot([], [], ls="", marker="o", ms=10, mfc=colors[k], mec=fg, mew=1.6,
                                 zorder=_Z_MEANS, animated=True)[0])
        self._artists.update(ellipses=ellipses, paths=paths, means=means)

    def _draw_truth(self, ax, truth: Mixture, colors) -> None:
        """True ellipses dashed and true means as x; in the foreground colour when they cannot be paired."""
        fg = foreground()
        width, height, angle = ellipse_geometry(truth.covariances, self.levels)
        for k in range(truth.n_components):
            color = fg if colors is None else colors[k]
            for i in range(len(self.levels)):
                ax.add_patch(Ellipse(tuple(truth.means[k]), width[k, i], height[k, i], angle=angle[k],
                                     fill=False, edgecolor=color, ls="--", lw=1.4 if i == 0 else 1.0,
                                     alpha=0.9 if i == 0 else 0.6, zorder=_Z_TRUTH, gid="truth"))
        ax.plot(truth.means[:, 0], truth.means[:, 1], ls="", marker="x", ms=9, mew=2.0, color=fg,
                zorder=_Z_TRUTH, gid="truth")

    def _setup_background(self, ax, trace, extent) -> None:
        """The density grid, its fixed colour scale (or contour levels) and its first picture."""
        # Samples at pixel centres: the image spans exactly the axes, each value where imshow puts it.
        xs, ys = (lo + (np.arange(self.grid) + 0.5) * (hi - lo) / self.grid
                  for lo, hi in (extent[:2], extent[2:]))
        xx, yy = np.meshgrid(xs, ys)
        self._land = {"extent": extent, "xs": xs, "ys": ys, "points": np.column_stack([xx.ravel(), yy.ravel()]),
                      "shape": xx.shape, "t": None}
        if self.landscape == "current":
            # The highest density over all frames: one colour scale for the whole animation.
            peak = self._peak_density()
            first = None
        else:
            mixture = None if self.landscape == "final" else marginal_mixture(trace.truth, self.features)
            first = self.density(trace.n_iter, mixture)
            peak = float(first.max())
        self._land["peak"] = peak if peak > 0 else 1.0
        if first is not None:
            self._draw_landscape(ax, first)

    def _draw_landscape(self, ax, Z: np.ndarray) -> None:
        """Draw ``Z`` (a density grid) as the background; not animated: a landscape that changes per frame
        makes the panel non-blittable, so the scene redraws it in full."""
        land = self._land
        peak = land["peak"]
        if self.background == "density":
            cmap = colormaps[self.cmap] if self.cmap else _theme_ramp(ax)
            # aspect="auto": imshow must not impose its own aspect (the panel sets it).
            self._artists["image"] = ax.imshow(
                Z, origin="lower", extent=land["extent"],
                cmap=cmap, norm=PowerNorm(DENSITY_GAMMA, 0.0, peak), interpolation="bilinear", aspect="auto",
                zorder=_Z_BACKGROUND)
        else:
            # Geometric levels: a Gaussian's density falls exponentially, so rings at constant ratios
            # are roughly evenly spaced in standard deviations, and broad early components get rings too.
            levels = peak * np.geomspace(1e-3, 1.0, self.n_levels + 1)[:-1]
            self._artists["contour"] = ax.contour(
                land["xs"], land["ys"], Z, levels=levels, colors=[foreground()], linewidths=0.8, alpha=0.45,
                zorder=_Z_BACKGROUND)

    def _add_legend(self, ax, trace, colors, with_truth: bool, size: float) -> None:
        handles = [Line2D([], [], ls="", marker="o", ms=max(np.sqrt(size), 5.0), mfc=muted(), mec="none",
                          label="data")]
        handles += [Line2D([], [], color=colors[k], lw=2.2, marker="o", ms=7, mec=foreground(), mew=1.2,
                           label=component_label(k)) for k in range(trace.n_components)]
        if with_truth:
            handles.append(Line2D([], [], color=foreground(), lw=1.4, ls="--", marker="x", ms=7, mew=1.8,
                                  label="truth"))
        add_legend(ax, handles, [h.get_label() for h in handles], self.legend)

    def update(self, t: int) -> list:
        t = range(self._trace.n_iter + 1)[t]
        return self._show(t, t)

    def update_frame(self, frame) -> list:
        """A half-step: ``frame.params``' ellipses, means and paths over points in ``frame.resp``'s colours."""
        return self._show(frame.params, frame.resp)

    def _show(self, t: int, t_resp: int) -> list:
        """Iteration ``t``'s components (and current landscape) over points coloured as at ``t_resp``."""
        geo, art = self._geo, self._artists
        changed = [art["points"]]
        art["points"].set_facecolors(self.point_colors(t_resp))
        for k, ellipses in enumerate(art["ellipses"]):
            centre = tuple(geo["means"][t, k])
            for i, ellipse in enumerate(ellipses):
                ellipse.set_center(centre)
                ellipse.set_width(geo["width"][t, k, i])
                ellipse.set_height(geo["height"][t, k, i])
                ellipse.set_angle(geo["angle"][t, k])
            changed += ellipses
        for k, path in enumerate(art["paths"]):
            path.set_data(geo["means"][: t + 1, k, 0], geo["means"][: t + 1, k, 1])
        for k, mean in enumerate(art["means"]):
            mean.set_data([geo["means"][t, k, 0]], [geo["means"][t, k, 1]])
        changed += art["paths"] + art["means"]
        if self.background != "none" and self.landscape == "current":
            changed.append(self._show_landscape(t))
        return changed

    def point_colors(self, t: int) -> np.ndarray:
        """RGBA of the recorded points at iteration ``t``: ``resp[t] @ colors``, the panel's alpha; (M, 4)."""
        return responsibility_rgba(self._trace.resp[t], self._colors, self.alpha)

    def _show_landscape(self, t: int):
        """Repaint a ``current`` landscape for iteration ``t``; return its artist."""
        land, art = self._land, self._artists
        if land["t"] != t:
            Z = self.density(t)
            if self.background == "density" and art["image"] is not None:
                art["image"].set_data(Z)
            else:
                ax = art["points"].axes
                if art["contour"] is not None:
                    art["contour"].remove()  # contour sets cannot change their lines in place
                self._draw_landscape(ax, Z)
            land["t"] = t
        return art["image"] if self.background == "density" else art["contour"]


def _comparable(span_x: float, span_y: float) -> bool:
    ratio = span_x / span_y if span_y > 0 else np.inf
    return 1.0 / MAX_EQUAL_RATIO <= ratio <= MAX_EQUAL_RATIO


def _theme_ramp(ax):
    """A colour map from the axes' background towards the theme's text colour (at most 70 % of the way).

    Stopping short of the text colour keeps dense regions light enough for the ellipses and the
    responsibility colours to read over them, in the light and the dark theme alike.
    """
    bg = np.asarray(to_rgb(ax.get_facecolor()))
    fg = np.asarray(to_rgb(foreground()))
    return LinearSegmentedColormap.from_list("emviz_density", [bg, bg + 0.7 * (fg - bg)])
