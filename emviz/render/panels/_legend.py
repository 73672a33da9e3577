"""Legends that fit themselves into a laid-out figure: the rule for legends in small figures.

A panel adds its legend with :func:`emviz.render.panels._common.add_legend`; an automatic or outside
legend is a :class:`LegendFit`, which the scene's layout calls once the figure is laid out and before
it is frozen (:func:`emviz.render.layout.fit_legends`). The legend's place, font and columns are then
decided once, from what the panel draws over the whole animation, and hold for every frame.
"""

from __future__ import annotations

import numpy as np
from matplotlib import rcParams

__all__ = ["LEGEND_MIN_POINTS", "LEGEND_MIN_SCALE", "LegendFit", "rows", "segments_meet_box"]

#: The smallest font a legend shrinks to: this many points, or its own font times the scale if that is
#: larger (a large ``font_size`` keeps a readable legend). Below it, a legend moves instead.
LEGEND_MIN_POINTS = 5.0
LEGEND_MIN_SCALE = 0.7
#: Each step down from a legend's font to the floor multiplies it by this.
_SHRINK_STEP = 0.9
#: Places inside its Axes an automatic legend tries after the preferred one: corners, then edges' middles.
_AUTO_LOCS = ("upper right", "upper left", "lower right", "lower left", "upper center", "lower center",
              "center right", "center left")
_OUTSIDE = ("right", "below")
#: Points between a legend below its Axes and the Axes' tick labels and label; the legend follows a
#: change of their height by more than the slack only (each move costs a layout).
_BELOW_PAD = 3.0
_BELOW_SLACK = 1.0


class LegendFit:
    """A legend that fits itself into the laid-out figure: the rule for legends in small figures.

    Made by :func:`add_legend`. The scene's layout calls it after laying the figure out, before it
    freezes the layout (:func:`emviz.render.layout.fit_legends`), so a legend's place and font are
    decided once, from the data of every frame, and hold for the whole animation.

    - ``auto``: the first place inside the Axes, ``prefer`` first, then the corners, then the edges'
      middles, where the legend lies inside the Axes and covers none of the data (with ``margin``
      around it). With none free at its font, the same at smaller fonts down to the floor
      (:data:`LEGEND_MIN_POINTS`, :data:`LEGEND_MIN_SCALE`); with none free then either, out of the
      Axes at its own font, on the side (of ``sides``) where it takes the smaller share of the Axes:
      its width of their width on the right, its height of their height below (where its entries
      take as many columns as fit the Axes' width).
    - ``outside``, and an automatic legend moved out: a legend larger than its Axes on its side (wider
      on the right, taller below), or than the figure, shrinks towards the floor. (One that reaches
      out of the figure is the layout's to mend: it shrinks the panels' area.)
    - When the layout collapses with the legend outside, it goes back inside, at the floor font,
      where it covers the least data, and stays there.
    """

    def __init__(self, ax, handles, labels, mode: str, kwargs: dict, *, prefer: str = "upper right",
                 data=((), ()), margin: float = 3.0, sides=_OUTSIDE):
        from matplotlib.font_manager import FontProperties

        self.ax, self.handles, self.labels, self.mode = ax, list(handles), list(labels), mode
        self.kwargs = dict(kwargs)
        font = FontProperties(size=self.kwargs.pop("fontsize", rcParams["legend.fontsize"])).get_size_in_points()
        self.base = float(font)
        self.floor = min(self.base, max(LEGEND_MIN_POINTS, LEGEND_MIN_SCALE * self.base))
        self.lines, self.points = data
        self.margin, self.sides = float(margin), tuple(sides)
        self.locs = (prefer, *(loc for loc in _AUTO_LOCS if loc != prefer))
        self.where = prefer if mode == "auto" else "right"
        self.fontsize, self.ncols, self.below_points = self.base, 1, 0.0
        self.settled = False  # back inside after a collapsed layout: no more changes
        self._sided = False  # the side outside has been chosen
        self._least = (np.inf, prefer)  # the inside place covering the least data seen at the floor
        self._columns_for = {}  # (Axes' width in pixels, font) -> columns that fit below it
        self.legend, self._built = None, None
        self._build()

    # ------------------------------------------------------------------ the legend
    def _state(self) -> tuple:
        return self.where, self.fontsize, self.ncols, self.below_points

    def _build(self, where=None, fontsize=None, ncols=None):
        """The legend with these settings (the others as they are), recreated if they changed."""
        self.where = self.where if where is None else where
        self.fontsize = self.fontsize if fontsize is None else fontsize
        self.ncols = self.ncols if ncols is None else ncols
        if self.legend is not None and self._built == self._state():
            return self.legend
        kw = dict(self.kwargs, fontsize=self.fontsize)
        if self.ncols != 1:
            kw["ncols"] = self.ncols
        if self.where == "right":
            kw.update(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
        elif self.where == "below":
            from matplotlib.transforms import offset_copy

            shifted = offset_copy(self.ax.transAxes, fig=self.ax.figure, y=-self.below_points, units="points")
            kw.update(loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=shifted, borderaxespad=0.0)
        else:
            kw["loc"] = self.where
        self.legend = self.ax.legend(self.handles, self.labels, **kw)
        self.legend.emviz_fit = self
        self._built = self._state()
        return self.legend

    def _move(self, loc: str) -> None:
        if hasattr(self.legend, "set_loc"):  # matplotlib >= 3.8
            self.legend.set_loc(loc)
            self.where = loc
            self._built = self._state()
        else:
            self._build(where=loc)

    # ------------------------------------------------------------------ fitting
    def __call__(self, renderer, relayout) -> bool:
        """Fit the legend to the figure as laid out now; True if it changed the layout.

        ``relayout()`` lays the figure out again (for a legend moved out of its Axes, or resized
        there) and returns False if that collapsed an Axes.
        """
        if self.settled:
            return False
        if self.mode == "auto" and self.where not in _OUTSIDE:
            if self._inside(renderer):
                return False
            self._move_out(renderer)
            if not relayout():
                self._settle_inside(relayout)
                return True
            self._fit_outside(renderer, relayout)
            return True
        return self._fit_outside(renderer, relayout)

    def _fonts(self):
        font = self.base
        while font > self.floor:
            yield font
            font *= _SHRINK_STEP
        yield self.floor

    def _inside(self, renderer) -> bool:
        """Put the legend in the first free place inside the Axes at the largest font that has one."""
        box = self.ax.get_window_extent(renderer)
        starts, ends, points = self._display()
        for font in self._fonts():
            self._build(where=self.locs[0], fontsize=font, ncols=1)
            for loc in self.locs:
                self._move(loc)
                legend = self.legend.get_window_extent(renderer)
                if not (legend.x0 >= box.x0 - 0.5 and legend.y0 >= box.y0 - 0.5 and legend.x1 <= box.x1 + 0.5
                        and legend.y1 <= box.y1 + 0.5):
                    continue
                covered = self._covered(legend, box, starts, ends, points, renderer)
                if covered == 0:
                    return True
                if font == self.floor and covered < self._least[0]:
                    self._least = (covered, loc)
        return False

    def _display(self):
        """The data in display coordinates now: segments' starts and ends, and points."""
        to = self.ax.transData.transform
        lines = [to(xy) for xy in self.lines if len(xy) > 1]
        starts = np.concatenate([xy[:-1] for xy in lines]) if lines else np.empty((0, 2))
        ends = np.concatenate([xy[1:] for xy in lines]) if lines else np.empty((0, 2))
        points = [to(xy) for xy in self.points if len(xy)]
        return starts, ends, np.concatenate(points) if points else np.empty((0, 2))

    def _covered(self, legend, box, starts, ends, points, renderer) -> int:
        """Segments and points under the legend's box widened by the margin (within the Axes' box)."""
        pad = renderer.points_to_pixels(self.margin)
        x0, y0 = max(legend.x0 - pad, box.x0), max(legend.y0 - pad, box.y0)
        x1, y1 = min(legend.x1 + pad, box.x1), min(legend.y1 + pad, box.y1)
        inside = ((points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1))
        return int(np.sum(inside) + np.sum(segments_meet_box(starts, ends, (x0, y0, x1, y1))))

    def _move_out(self, renderer) -> None:
        """Out of the Axes at the legend's own font, on the side where it takes the smaller share."""
        self._sided = True
        box = self.ax.get_window_extent(renderer)
        share = {}
        for side in self.sides:
            self._build(where=side, fontsize=self.base, ncols=self._columns(renderer) if side == "below" else 1)
            legend = self.legend.get_window_extent(renderer)
            share[side] = legend.width / box.width if side == "right" else legend.height / box.height
        side = min(self.sides, key=lambda s: share[s])
        if side != self.where:
            self._build(where=side, ncols=self._columns(renderer) if side == "below" else 1)

    def _columns(self, renderer) -> int:
        """Below the Axes: the room under the tick labels, and the most columns that fit its width."""
        ax = self.ax
        box = ax.get_window_extent(renderer)
        axis = ax.xaxis.get_tightbbox(renderer)
        under = max(0.0, box.y0 - axis.y0) if axis is not None else 0.0
        below = under * 72.0 / ax.figure.dpi + _BELOW_PAD
        if abs(below - self.below_points) > _BELOW_SLACK:
            self.below_points = round(below, 1)
        key = (round(box.width), self.fontsize)
        if key not in self._columns_for:
            for n in range(len(self.handles), 0, -1):
                self._build(where="below", ncols=n)
                if n == 1 or self.legend.get_window_extent(renderer).width <= box.width:
                    break
            self._columns_for[key] = n
        return self._columns_for[key]

    def _fit_outside(self, renderer, relayout) -> bool:
        """Mend a legend outside its Axes that outgrows the Axes or the figure; True if it changed.

        First (once) the other side, if the legend takes a smaller share of the Axes there; then a
        smaller font, down to the floor.
        """
        changed = False
        for _ in range(4):
            before = self._state()
            legend = self.legend.get_window_extent(renderer)
            box, room = self.ax.get_window_extent(renderer), self.ax.figure.bbox
            # Reaching out of the figure is the layout's to mend (it shrinks the panels' area): only a
            # legend larger than its Axes on its side, or than the figure, moves or shrinks.
            if self.where == "right":
                fits = (box.width / legend.width, room.height / legend.height)
            else:
                fits = (box.height / legend.height, room.width / legend.width)
            scale = min(1.0, *fits)
            choose_side = scale < 0.999 and not self._sided and len(self.sides) > 1
            if choose_side:
                self._move_out(renderer)
            elif scale < 0.999 and self.fontsize > self.floor:
                self._build(fontsize=max(self.floor, self.fontsize * scale))
            if self.where == "below":
                self._build(ncols=self._columns(renderer))
            if self._state() == before:
                if choose_side:
                    continue  # it stays on its side: shrink next
                break
            changed = True
            if not relayout():
                self._restore(before)
                relayout()
                self.settled = True
                break
        return changed

    def _restore(self, state) -> None:
        self.below_points = state[3]
        self._build(*state[:3])

    def _settle_inside(self, relayout) -> None:
        """Back inside, for good: at the floor font, where the legend covers the least data."""
        self._build(where=self._least[1], fontsize=self.floor, ncols=1)
        self.settled = True
        relayout()


def segments_meet_box(starts, ends, box) -> np.ndarray:
    """Whether each segment from ``starts[i]`` to ``ends[i]`` (arrays of shape (S, 2)) meets the box
    ``(x0, y0, x1, y1)`` (Liang-Barsky clipping); a segment with a non-finite end meets nothing."""
    starts, ends = np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64)
    d = ends - starts
    lo, hi = np.zeros(len(d)), np.ones(len(d))
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis, (a, b) in enumerate(((box[0], box[2]), (box[1], box[3]))):
            p, v = starts[:, axis], d[:, axis]
            flat = v == 0
            ta, tb = (a - p) / v, (b - p) / v
            inside = (p >= a) & (p <= b)
            lo = np.maximum(lo, np.where(flat, np.where(inside, -np.inf, np.inf), np.minimum(ta, tb)))
            hi = np.minimum(hi, np.where(flat, np.where(inside, np.inf, -np.inf), np.maximum(ta, tb)))
    return lo <= hi


def rows(a) -> np.ndarray:
    """``a`` as float rows of shape (N, 2)."""
    return np.asarray(a, dtype=np.float64).reshape(-1, 2)
