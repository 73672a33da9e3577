"""The ``model_selection`` panel: BIC, AIC and the log-likelihood of each run against the value it swept (K).

It answers "which K?" for a config's ``runs: {sweep: {n_components: [1, ..., 6]}}``, drawn as an
output's ``overlay`` (it sees every run; under ``panels`` it draws one run, one point). The numbers
come from :mod:`emviz.selection` (scikit-learn's ``bic`` and ``aic``).

One Axes, one scale: BIC and AIC are ``-2 log L`` plus a penalty, so the log-likelihood is drawn at
``-2 x log-likelihood`` on the criteria's axis (the gap between it and a criterion is that criterion's
penalty, growing with K) and read on its own axis on the right (``log L = -y / 2``). Two scales tied
this way keep every series as tall as the criteria, where two free axes could make any two curves
cross anywhere. Per frame each
run shows its values at the shown iteration: hollow points while it is still fitting, filled once it
has stopped (a run that stopped earlier holds its last values), a line through them when the swept
values are numbers, a star on the lowest BIC and the lowest AIC, and a line above the axes naming
them. The log-likelihood's maximum is not marked: it grows with K (more components never fit worse),
so it would only point at the largest K. Values far beyond the final ones (a start far from the
data) sit on the axis edge as triangles, so that the final differences, often a few percent, stay
readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from matplotlib import rcParams
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedFormatter, FixedLocator, MaxNLocator

from emviz.errors import InputError
from emviz.render.panel import Panel, register_panel
from emviz.render.panels._common import add_legend, check_choices, check_legend, foreground, padded_range
from emviz.render.panels.curves import series_colors
from emviz.selection import criteria, sweep_axis

__all__ = ["ModelSelectionPanel", "SERIES"]

#: Series a user may show, in the order they are drawn.
SERIES = ("bic", "aic", "loglik")
_LABELS = {"bic": "BIC", "aic": "AIC", "loglik": "log-likelihood"}
_MARKERS = {"bic": "o", "aic": "s", "loglik": "D"}
#: Values may reach this many spans of the final values beyond them before they sit on the axis edge.
_REACH = 1.0


@dataclass(eq=False)
class _Series:
    """The artists of one series and its values: (runs, T+1) per run in x order."""

    key: str
    values: list
    line: object = None
    hollow: object = None
    filled: object = None
    above: object = None
    below: object = None
    star: object = None

    def artists(self) -> list:
        return [a for a in (self.line, self.hollow, self.filled, self.above, self.below, self.star) if a is not None]


@register_panel("model_selection")
@dataclass
class ModelSelectionPanel(Panel):
    """BIC, AIC and the log-likelihood of every run against its swept value, each point moving as its run converges.

    Parameters
    ----------
    show : list of str
        Series to draw, of ``bic``, ``aic`` and ``loglik`` (drawn as ``-2 x log-likelihood`` beside a
        criterion, with the log-likelihood's own axis on the right).
    mark_minima : bool
        A star on the lowest BIC and the lowest AIC, and a line above the axes naming them.
    legend : bool or str
        ``True``/``"outside"``: in a row above the axes, under the line naming the minima; a matplotlib
        location puts it inside; ``False``: none.
    """

    summary: ClassVar[str] = ("BIC, AIC and log-likelihood against the swept value (K), each run's point "
                              "moving as it converges")
    #: Under an output's ``overlay`` the scene sets ``runs`` (name -> Trace): one point per run.
    overlays_runs: ClassVar[bool] = True

    show: tuple[str, ...] = SERIES
    mark_minima: bool = True
    legend: bool | str = True

    runs: dict | None = field(init=False, default=None, repr=False)
    _axis: object = field(init=False, default=None, repr=False)
    _names: list = field(init=False, default_factory=list, repr=False)
    _xs: np.ndarray = field(init=False, default=None, repr=False)
    _last: np.ndarray = field(init=False, default=None, repr=False)
    _series: list = field(init=False, default_factory=list, repr=False)
    _limits: tuple = field(init=False, default=None, repr=False)
    _verdict: object = field(init=False, default=None, repr=False)
    _scale: float = field(init=False, default=1.0, repr=False)
    _right: object = field(init=False, default=None, repr=False)

    def __post_init__(self):
        items = check_choices(self.show, "model_selection", "show", SERIES)
        self.show = tuple(s for s in SERIES if s in items)
        if not isinstance(self.mark_minima, bool):
            raise InputError(f"panel 'model_selection': option 'mark_minima' must be true or false, "
                             f"got {self.mark_minima!r}")
        check_legend(self.legend, "model_selection")

    def check(self, trace_or_dims) -> None:
        """Also check that the trace says what BIC and AIC need (its covariance type)."""
        super().check(trace_or_dims)
        if not isinstance(trace_or_dims, int):
            try:
                criteria(trace_or_dims)
            except InputError as exc:
                raise InputError(f"panel 'model_selection': {exc}") from None

    # ------------------------------------------------------------------ the numbers
    def values(self, t: int) -> dict[str, np.ndarray]:
        """Each shown series at iteration ``t`` (a run that stopped earlier: its last), one value per run
        in x order (:attr:`order`); ``loglik`` is the log-likelihood itself, not the drawn ``-2 x``."""
        out = self._drawn(t)
        if "loglik" in out:
            out["loglik"] = out["loglik"] / self._scale
        return out

    @property
    def order(self) -> list:
        """The runs' names left to right."""
        return list(self._names)

    # ------------------------------------------------------------------ drawing
    def setup(self, ax, trace, colors) -> list:
        runs = self.runs if self.runs and len(self.runs) > 1 else {None: trace}
        for run in runs.values():
            self.check(run)
        self._axis = axis = sweep_axis(runs)
        self._names = axis.order()
        self._xs = np.array([axis.positions[name] for name in self._names])
        self._last = np.array([runs[name].n_iter for name in self._names])
        numbers = {name: criteria(runs[name]) for name in self._names}
        # -2 log L shares the criteria's axis; shown alone, the log-likelihood is drawn as it is.
        self._scale = -2.0 if {"bic", "aic"} & set(self.show) else 1.0
        self._series = [_Series(key, [numbers[name][key] * (self._scale if key == "loglik" else 1.0)
                                      for name in self._names]) for key in self.show]
        bic_aic = series_colors(len(colors), 2, ax.get_facecolor())
        palette = {"bic": bic_aic[0], "aic": bic_aic[1], "loglik": foreground()}
        self._limits = self._y_limits()
        for series in self._series:
            self._setup_series(ax, series, palette[series.key])
        self._axes_dressing(ax)
        self._add_legend(ax, palette)
        return self.update(0)

    def _y_limits(self) -> tuple[float, float]:
        """Fixed for every frame: the final values, and the way there up to :data:`_REACH` of their span."""
        final = np.concatenate([[v[-1] for v in s.values] for s in self._series])
        every = np.concatenate([np.concatenate(s.values) for s in self._series])
        lo_f, hi_f = float(final.min()), float(final.max())
        span = hi_f - lo_f if hi_f > lo_f else max(0.01 * abs(hi_f), 1.0)
        lo = max(float(every.min()), lo_f - _REACH * span)
        hi = min(float(every.max()), hi_f + _REACH * span)
        return padded_range(min(lo, lo_f), max(hi, hi_f), 0.07)

    def _setup_series(self, ax, series: _Series, color) -> None:
        face, marker = ax.get_facecolor(), _MARKERS[series.key]
        # The log-likelihood is the quieter reference the criteria stand on: thinner, dashed, smaller points.
        quiet = series.key == "loglik" and self._scale != 1.0
        common = dict(ls="", marker=marker, ms=5 if quiet else 7, zorder=4, animated=True)
        if self._axis.numeric:  # categories (covariance types) have no order to draw a line along
            series.line = ax.plot([], [], color=color, lw=1.2 if quiet else 1.8, ls="--" if quiet else "-",
                                  zorder=3, animated=True)[0]
        series.hollow = ax.plot([], [], mfc=face, mec=color, mew=1.6, **common)[0]
        series.filled = ax.plot([], [], mfc=color, mec=face, mew=1.0, **common)[0]
        series.above = ax.plot([], [], ls="", marker="^", ms=8, color=color, zorder=4, animated=True)[0]
        series.below = ax.plot([], [], ls="", marker="v", ms=8, color=color, zorder=4, animated=True)[0]
        if self.mark_minima and series.key != "loglik":
            series.star = ax.plot([], [], ls="", marker="*", ms=17, mfc=color, mec=foreground(), mew=1.0,
                                  zorder=5, animated=True)[0]

    def _axes_dressing(self, ax) -> None:
        axis, xs = self._axis, self._xs
        step = float(np.min(np.diff(np.sort(xs)))) if len(xs) > 1 else 1.0
        ax.set_xlim(xs.min() - 0.5 * step, xs.max() + 0.5 * step)
        ax.set_xticks(xs, [axis.ticks[name] for name in self._names])
        ax.set_xlabel(axis.label)
        ax.set_ylim(*self._limits)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        # Plain numbers: an offset ("+4e3" above the axis) hides the values people compare.
        ax.ticklabel_format(axis="y", style="plain", useOffset=False)
        criteria_shown = [_LABELS[k] for k in ("bic", "aic") if k in self.show]
        ax.set_ylabel(f"{', '.join(criteria_shown)} (lower is better)" if criteria_shown else "log-likelihood")
        self._right = None
        if "loglik" in self.show and self._scale != 1.0:
            self._right = self._right_axis(ax)
        if self.mark_minima and criteria_shown:
            # Laid out with its widest text, so the layout holds whichever run is named.
            widest = max((axis.choice(name) for name in self._names), key=len)
            self._verdict = ax.set_title(self._verdict_text({k: widest for k in ("bic", "aic")}), fontsize="medium",
                                         animated=True)

    def _right_axis(self, ax):
        """The log-likelihood's own axis on the right (``-y / 2`` of the left one), with ticks fixed at
        set-up: the same labels in every frame, whatever a locator would make of the final layout."""
        right = ax.secondary_yaxis("right", functions=(lambda y: y / -2.0, lambda ll: -2.0 * ll))
        lo, hi = sorted(v / self._scale for v in self._limits)
        ticks = [v for v in MaxNLocator(nbins=5).tick_values(lo, hi) if lo <= v <= hi]
        step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
        decimals = max(0, -int(np.floor(np.log10(step)))) if step < 1 else 0
        labels = [f"{v:.{decimals}f}".replace("-", "\u2212") for v in ticks]
        right.yaxis.set_major_locator(FixedLocator(ticks))
        right.yaxis.set_major_formatter(FixedFormatter(labels))
        right.set_ylabel("log-likelihood")
        return right

    def _verdict_text(self, best: dict) -> str:
        parts = [f"{_LABELS[k]}: {best[k]}" for k in ("bic", "aic") if k in self.show]
        return "lowest " + " \u00b7 ".join(parts)

    def _add_legend(self, ax, palette) -> None:
        face = ax.get_facecolor()
        quiet = self._scale != 1.0
        handles = [Line2D([], [], color=palette[s.key], lw=(1.2 if quiet and s.key == "loglik" else 1.8)
                          if self._axis.numeric else 0, ls="--" if quiet and s.key == "loglik" else "-",
                          marker=_MARKERS[s.key], ms=6, mfc=palette[s.key], mec=face,
                          label=_LABELS[s.key] + (" (right axis)" if s.key == "loglik" and self._right else ""))
                   for s in self._series]
        if any(s.star is not None for s in self._series):
            handles.append(Line2D([], [], ls="", marker="*", ms=11, mfc=foreground(), mec=foreground(),
                                  label="lowest"))
        labels = [h.get_label() for h in handles]
        if self.legend is True or self.legend == "outside":
            self._legend_above(ax, handles, labels)
        else:
            add_legend(ax, handles, labels, self.legend, fontsize="small")

    def _legend_above(self, ax, handles, labels) -> None:
        """The legend in a row above the axes (two rows when one is wider than the axes), under the
        verdict line: the points reach every corner of the axes over the frames, and beside the axes
        it would widen its column, and so every panel above and below it."""
        renderer = ax.figure.canvas.get_renderer()
        # Before the layout the Axes is a little wider than it will be: a row must fit with room to spare.
        room = 0.9 * ax.get_position().width * ax.figure.bbox.width
        for ncols in (len(handles), -(-len(handles) // 2)):
            legend = ax.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=ncols,
                               borderaxespad=0.2, frameon=False, fontsize="small", columnspacing=1.2,
                               handlelength=1.8)
            if legend.get_window_extent(renderer).width <= room:
                break
        if self._verdict is not None:
            # The verdict above the legend: the title's pad grows by the legend's height.
            height = legend.get_window_extent(renderer).height * 72.0 / ax.figure.dpi
            ax.set_title(self._verdict.get_text(), pad=rcParams["axes.titlepad"] + height, fontsize="medium")

    def update(self, t: int) -> list:
        t = range(int(self._last.max()) + 1)[t]
        done = t >= self._last  # a run that has stopped holds its last values
        lo, hi = self._limits
        changed, best = [], {}
        for series, (key, ys) in zip(self._series, self._drawn(t).items()):
            shown = np.clip(ys, lo, hi)
            over, under = ys > hi, ys < lo
            inside = ~(over | under)
            if series.line is not None:
                series.line.set_data(self._xs, shown)  # runs are in x order
            series.hollow.set_data(self._xs[inside & ~done], shown[inside & ~done])
            series.filled.set_data(self._xs[inside & done], shown[inside & done])
            series.above.set_data(self._xs[over], shown[over])
            series.below.set_data(self._xs[under], shown[under])
            if series.star is not None:
                i = int(np.argmin(ys))
                series.star.set_data([self._xs[i]], [shown[i]])
                best[key] = self._axis.choice(self._names[i])
            changed += series.artists()
        if self._verdict is not None:
            self._verdict.set_text(self._verdict_text(best))
            changed.append(self._verdict)
        return changed

    def _drawn(self, t: int) -> dict[str, np.ndarray]:
        """The values as drawn at ``t`` (``loglik`` as ``-2 x`` beside a criterion)."""
        idx = np.minimum(t, self._last)
        return {s.key: np.array([v[i] for v, i in zip(s.values, idx)], dtype=np.float64) for s in self._series}
