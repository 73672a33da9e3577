"""The ``components`` panel: 1D data as a histogram with the weighted components and their mixture."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from emviz.errors import InputError
from emviz.render.panel import Panel, register_panel
from emviz.render.panels._common import (
    add_legend, check_legend, component_label, foreground, matched_truth, muted, weighted_normal_pdfs,
)
from emviz.render.panels._geometry import axis_label, view_limits

__all__ = ["ComponentsPanel"]

#: ``bins="auto"`` can ask for thousands of bins on large data; more than this reads as noise.
MAX_AUTO_BINS = 80
#: Frames whose curves are evaluated at once when searching the y range (bounds memory for long traces).
_FRAMES_PER_BLOCK = 256
#: The default y range shows the histogram and the truth in full, and every frame whose curves peak
#: below this many times their height. A frame above it (typically iteration 0 of a k-means++ start,
#: whose variances start near zero: peaks of 100s over a histogram of 0.3) would otherwise set one
#: fixed axis that flattens every other frame; it is clipped and its peak marked instead.
OUTLIER_RATIO = 3.0
#: The x range reaches this many standard deviations beyond the final and true means (where a
#: component's curve has fallen to 1 % of its peak), at most half the data's span beyond the data.
TAIL_STDS = 3.0
#: Room above the highest shown curve, as a fraction of it.
HEADROOM = 0.05
#: Draw order of the animated curves: the mixture (wider, so that it rims a component it coincides
#: with), the components over it, the marks of clipped peaks on top.
_Z_MIXTURE, _Z_COMPONENTS, _Z_MARKS = 2.0, 2.2, 3.0
_MIXTURE_LW = 3.0


def robust_top(peaks, floor: float) -> float:
    """The default top of the y axis: ``floor`` (histogram, truth) and the frames' peaks up to
    ``OUTLIER_RATIO * floor``, with :data:`HEADROOM`.

    Parameters
    ----------
    peaks : array of shape (F,)
        The highest curve value of each frame.
    floor : float
        Always shown in full: the histogram's highest bar, the truth's highest curve.
    """
    peaks = np.asarray(peaks, dtype=np.float64)
    floor = float(floor) if floor > 0 else float(peaks.max(initial=0.0)) or 1.0
    kept = peaks[peaks <= OUTLIER_RATIO * floor]
    return (1.0 + HEADROOM) * max(floor, float(kept.max(initial=0.0)))


@register_panel("components")
@dataclass
class ComponentsPanel(Panel):
    """Histogram of the data, each weighted component ``w_k N(x | mu_k, sigma_k)`` and their sum.

    Parameters
    ----------
    bins : int or str
        Histogram bins: a count, or a numpy rule (``"auto"``, ``"fd"``, ...) capped at 80 bins.
    show_truth : bool
        Draw the true weighted components and the true mixture (dashed) when the trace knows them.
    show_mixture : bool
        Draw the estimated (solid) and true (dashed) mixture densities.
    n_points : int
        Points of the x grid the curves are evaluated on.
    xlim : pair of float, optional
        Default: the data's range, widened to include every estimated and true mean and the tails
        of the final and true components (3 standard deviations, at most half the data's span).
    ylim : pair of float, optional
        Default: 0 to the highest histogram bar, true curve, or frame whose curves stay below 3 times
        those (:func:`robust_top`); the rare frame above (a component started with a near-zero
        variance) goes off the top, marked by a triangle at its peak.
    legend : bool or str
        ``True``/``"outside"``: right of the axes (below it, or smaller, when it is wider than the
        axes); a matplotlib location puts it inside; ``False``: none.
    """

    dims: ClassVar[tuple[int, ...]] = (1,)
    summary: ClassVar[str] = "1D histogram with the weighted components and the mixture density"

    bins: int | str = "auto"
    show_truth: bool = True
    show_mixture: bool = True
    n_points: int = 500
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    legend: bool | str = True

    _trace: object = field(init=False, default=None, repr=False)
    _x: np.ndarray = field(init=False, default=None, repr=False)
    _lines: list = field(init=False, default_factory=list, repr=False)
    _mixture_line: object = field(init=False, default=None, repr=False)
    _marks: object = field(init=False, default=None, repr=False)
    _colors: list = field(init=False, default_factory=list, repr=False)
    _top: float = field(init=False, default=None, repr=False)

    def __post_init__(self):
        if isinstance(self.bins, bool) or not (
            (isinstance(self.bins, int) and self.bins >= 1) or isinstance(self.bins, str)
        ):
            raise InputError(f"panel 'components': option 'bins' must be a positive count or a numpy rule, "
                             f"got {self.bins!r}")
        if isinstance(self.n_points, bool) or not isinstance(self.n_points, int) or self.n_points < 2:
            raise InputError(f"panel 'components': option 'n_points' must be an integer >= 2, got {self.n_points!r}")
        for name in ("xlim", "ylim"):
            value = getattr(self, name)
            if value is not None and (len(value) != 2 or not value[0] < value[1]):
                raise InputError(f"panel 'components': option {name!r} must be [low, high] with low < high, "
                                 f"got {value!r}")
        check_legend(self.legend, "components")

    # ------------------------------------------------------------------ geometry
    def bin_edges(self, x: np.ndarray) -> np.ndarray:
        """The histogram's bin edges for the data ``x`` (array of shape (S,))."""
        lo, hi = float(np.min(x)), float(np.max(x))
        if hi - lo <= 1e3 * np.finfo(np.float64).eps * max(abs(lo), abs(hi), 1.0):
            # (Nearly) one value: a rule such as 'auto' would ask for more bins than the range holds
            # floats; one bin of unit width (or the requested count over it) shows the spike.
            count = self.bins if isinstance(self.bins, int) else 1
            return np.linspace(lo - 0.5, hi + 0.5, count + 1)
        try:
            edges = np.histogram_bin_edges(x, bins=self.bins)
        except ValueError as exc:
            raise InputError(f"panel 'components': option 'bins': {exc}") from None
        if isinstance(self.bins, str) and len(edges) > MAX_AUTO_BINS + 1:
            edges = np.histogram_bin_edges(x, bins=MAX_AUTO_BINS)
        return edges

    def _x_range(self, trace) -> tuple[float, float]:
        if self.xlim is not None:
            return tuple(map(float, self.xlim))
        points = [trace.X[:, 0], trace.means[:, :, 0].ravel()]
        # The tails of the final (and true) components, TAIL_STDS out: a component near the data's edge
        # would otherwise be cut at the last data point. view_limits bounds the tails by the data's span.
        centres, spreads = [trace.means[-1, :, 0]], [trace.stds[-1, :, 0]]
        if trace.truth is not None and self.show_truth:
            points.append(trace.truth.means[:, 0])
            centres.append(trace.truth.means[:, 0])
            spreads.append(trace.truth.stds[:, 0])
        centres, spreads = np.concatenate(centres), TAIL_STDS * np.concatenate(spreads)
        ((lo, hi),) = view_limits(np.concatenate(points)[:, None], (centres - spreads)[:, None],
                                  (centres + spreads)[:, None], frac=0.02)
        return lo, hi

    def grid(self, t: int) -> np.ndarray:
        """The x values the curves of iteration ``t`` are drawn at, array of shape (P,).

        The fixed grid plus the means inside it: a component narrower than the grid's step would
        otherwise fall between grid points and vanish (or show a random fraction of its height).
        """
        means = self._trace.means[t, :, 0]
        inside = means[(means > self._x[0]) & (means < self._x[-1])]
        return np.unique(np.concatenate([self._x, inside])) if len(inside) else self._x

    def curves(self, t: int) -> np.ndarray:
        """The weighted components at iteration ``t`` on :meth:`grid`, array of shape (K, P)."""
        tr = self._trace
        return weighted_normal_pdfs(self.grid(t), tr.weights[t], tr.means[t, :, 0], tr.stds[t, :, 0])

    def frame_peaks(self, trace) -> np.ndarray:
        """The highest component (or mixture) value of each frame, on the grid and at the means; (T+1,)."""
        stds, means = trace.stds[:, :, 0], trace.means[:, :, 0]
        peaks = []
        for start in range(0, trace.n_iter + 1, _FRAMES_PER_BLOCK):
            block = slice(start, start + _FRAMES_PER_BLOCK)
            w, m, s = trace.weights[block], means[block], stds[block]
            on_grid = weighted_normal_pdfs(self._x, w, m, s)  # (B, K, P)
            # Each component at every mean of its frame: (B, K, K), [b, k, j] = w_k N(mu_j | mu_k, s_k).
            z = (m[:, None, :] - m[:, :, None]) / s[:, :, None]
            at_means = w[:, :, None] / (np.sqrt(2.0 * np.pi) * s[:, :, None]) * np.exp(-0.5 * z * z)
            if self.show_mixture:
                top = np.maximum(on_grid.sum(axis=1).max(axis=1), at_means.sum(axis=1).max(axis=1))
            else:
                top = np.maximum(on_grid.max(axis=(1, 2)), at_means.max(axis=(1, 2)))
            peaks.append(top)
        return np.concatenate(peaks)

    # ------------------------------------------------------------------ drawing
    def setup(self, ax, trace, colors) -> list:
        self.check(trace)
        self._trace = trace
        fg = foreground()
        self._x = np.linspace(*self._x_range(trace), self.n_points)
        heights, edges = np.histogram(trace.X[:, 0], bins=self.bin_edges(trace.X[:, 0]), density=True)
        # The theme's muted colour, half transparent: opaque it is too heavy for the dashed truth drawn
        # over it. The fill is flat, so it adds one colour to a GIF's palette.
        ax.stairs(heights, edges, fill=True, color=muted(), alpha=0.5, label="data")
        handles = [Patch(facecolor=muted(), alpha=0.5, label="data")]
        floor = float(heights.max(initial=0.0))
        truth = matched_truth(trace) if self.show_truth else None
        if truth is not None:
            paired = truth.n_components == trace.n_components
            floor = max(floor, self._draw_truth(ax, truth, colors if paired else None, fg))
        # Components above the mixture: where they are well separated each one *is* the mixture there,
        # and drawn below it only the mixture's colour would show.
        self._lines = [ax.plot([], [], color=colors[k], lw=2, zorder=_Z_COMPONENTS, animated=True)[0]
                       for k in range(trace.n_components)]
        handles += [Line2D([], [], color=colors[k], lw=2, label=component_label(k))
                    for k in range(trace.n_components)]
        self._mixture_line = None
        if self.show_mixture:
            self._mixture_line = ax.plot([], [], color=fg, lw=_MIXTURE_LW, zorder=_Z_MIXTURE, animated=True)[0]
            handles.append(Line2D([], [], color=fg, lw=_MIXTURE_LW, label="mixture"))
        if truth is not None:
            handles.append(Line2D([], [], color=fg, lw=2, ls="--", alpha=0.7, label="truth (dashed)"))
        ax.set_xlim(*self._x_range(trace))
        ylim = self.ylim if self.ylim is not None else (0.0, robust_top(self.frame_peaks(trace), floor))
        ax.set_ylim(*ylim)
        self._top = float(ylim[1])
        # Peaks above the fixed y range: a triangle on the top edge, in the curve's colour. Outside
        # the axes (clip_on=False) so that it shows whole; the scene restores the whole figure per frame.
        self._colors = [colors[k] for k in range(trace.n_components)] + [fg]
        self._marks = ax.scatter([], [], s=80, marker="^", edgecolors=fg, linewidths=0.8, clip_on=False,
                                 zorder=_Z_MARKS, animated=True)
        ax.set_xlabel(axis_label(trace, 0))  # the CSV column's name, else "x"
        ax.set_ylabel("density")
        add_legend(ax, handles, [h.get_label() for h in handles], self.legend)
        return self.update(0)

    def _draw_truth(self, ax, truth, colors, fg) -> float:
        """Draw the true components and mixture dashed; return their highest value.

        ``colors`` is None when the truth has another number of components than the fit: its
        components then cannot be paired with fitted ones and are drawn in the foreground colour.
        """
        pdfs = weighted_normal_pdfs(self._x, truth.weights, truth.means[:, 0], truth.stds[:, 0])
        for k, pdf in enumerate(pdfs):
            color = fg if colors is None else colors[k]
            ax.plot(self._x, pdf, color=color, lw=1.2 if colors is None else 2, ls="--", alpha=0.7, gid="truth")
        if self.show_mixture:
            ax.plot(self._x, pdfs.sum(axis=0), color=fg, lw=2.5, ls="--", alpha=0.7, gid="truth")
        return float(pdfs.sum(axis=0).max() if self.show_mixture else pdfs.max())

    def update(self, t: int) -> list:
        x, pdfs = self.grid(t), self.curves(t)
        for line, pdf in zip(self._lines, pdfs):
            line.set_data(x, pdf)
        curves = list(pdfs)
        if self._mixture_line is not None:
            curves.append(pdfs.sum(axis=0))
            self._mixture_line.set_data(x, curves[-1])
        self._mark_clipped(x, curves)
        lines = self._lines if self._mixture_line is None else [*self._lines, self._mixture_line]
        return [*lines, self._marks]

    def _mark_clipped(self, x: np.ndarray, curves: list) -> None:
        """Put a triangle at the peak of each curve that goes off the top; the mixture's only where no
        component's already marks it."""
        xs, colors = [], []
        for i, curve in enumerate(curves):
            if curve.max() <= self._top or (i == len(self._lines) and xs):
                continue
            xs.append(x[np.argmax(curve)])
            colors.append(self._colors[min(i, len(self._colors) - 1)])
        self._marks.set_offsets(np.column_stack([xs, np.full(len(xs), self._top)]) if xs else np.empty((0, 2)))
        if colors:
            self._marks.set_facecolors(colors)
