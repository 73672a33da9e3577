"""The ``curves`` panel: per-iteration numbers of the whole run as lines, with a cursor at the shown iteration.

Every series is drawn over all iterations once (the static background); per frame only the cursor
moves: a vertical line and a marker on each series. Series with different units get their own strip,
stacked with a shared iteration axis, so that each is read on its own scale:

- ``loglik`` and ``elbo`` (nats, linear): the ELBO lies just below the log-likelihood.
- ``kl`` and ``delta`` (nats, log scale): the KL gap and the log-likelihood's change per iteration shrink
  by orders of magnitude as EM converges, and on a linear axis everything after the first few
  iterations would sit on zero. On one axis they also show EM's guarantee: the increase of the
  log-likelihood is at least the KL gap (``delta_t >= kl_t``).
- ``error`` (data units, linear): errors of the estimates against the true parameters.

The ELBO, KL and errors come from :mod:`emviz.metrics`; see there for exactly what they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.ticker import FuncFormatter, MaxNLocator

from emviz.errors import InputError
from emviz.render.panel import Panel, register_panel
from emviz.render.panels._common import (add_legend, check_choices, check_legend, foreground, free_corner, padded_range,
                                         split_axes)
from emviz.render.style import component_colors

__all__ = ["CurvesPanel", "SERIES", "series_colors"]

#: Series a user may show, in the order they are drawn and coloured.
SERIES = ("loglik", "elbo", "kl", "delta", "error")
_ERRORS = ("mean", "std", "weight")
#: The strip each series goes into, and the strips' order top to bottom.
_STRIP_OF = {"loglik": "nats", "elbo": "nats", "kl": "gap", "delta": "gap", "error": "error"}
_STRIPS = ("nats", "gap", "error")
#: The log-likelihood strip is the panel's main view: twice as tall as the others.
_STRIP_HEIGHT = {"nats": 2.0, "gap": 1.0, "error": 1.0}
_LABELS = {
    "loglik": "log-likelihood", "elbo": "ELBO", "kl": "KL(q \u2016 p)", "delta": "|\u0394 log-lik.|",
    "error:mean": "means", "error:std": "std. deviations", "error:weight": "weights",
}
_SINGLE_YLABEL = {"error:mean": "error of the means", "error:std": "error of the stds",
                  "error:weight": "error of the weights"}
#: Short: the lower strips are a third of the panel's height, and their log ticks (10^k) say the scale.
_STRIP_YLABEL = {"nats": "nats", "gap": "nats", "error": "error vs truth"}
#: Gap values below this many units in the last place of the log-likelihood are rounding noise: they are
#: not drawn (on a log axis they would be a jagged tail at 1e-13 that looks like a bug).
_ROUNDING_ULPS = 100
#: A colour must stand out this much from the background (WCAG contrast ratio) to draw a thin line.
_MIN_CONTRAST = 2.0
#: Series drawn in a colour of their own (the log-likelihood is drawn in the text colour).
_COLORED = ("elbo", "kl", "delta")
#: Axes fractions a legend of two or three short entries covers: about 45 % of the width, 40 % of the height.
_LEGEND_SIZE = (0.45, 0.4)
#: Points a legend keeps clear of the curves: the cursor's marker's radius and its ring.
_LEGEND_MARGIN = 4.5


def _luminance(color) -> float:
    rgb = np.asarray(to_rgb(color))
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def _contrast(a, b) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def series_colors(n_components: int, n: int, background) -> list[tuple[float, float, float]]:
    """``n`` colours for series: the fixed sequence after the components' colours, legible on ``background``.

    Taking them after the K component colours keeps a series from being read as a component (colour k
    means component k in every panel); colours too faint on the background (yellow on white) are skipped.
    """
    pool = component_colors(n_components + n + 8)[n_components:]
    legible = [c for c in pool if _contrast(c, background) >= _MIN_CONTRAST]
    return (legible + pool)[:n]


@register_panel("curves")
@dataclass
class CurvesPanel(Panel):
    """Log-likelihood (and ELBO, KL, change per iteration, error against the truth) per iteration, with a cursor.

    Parameters
    ----------
    show : list of str
        Series to draw: ``loglik`` (the log-likelihood), ``elbo``, ``kl`` (the KL gap between them),
        ``delta`` (``|log-likelihood_t - log-likelihood_{t-1}|``), ``error`` (needs the true mixture).
        Units that differ go into separate strips (see the module docstring).
    errors : list of str
        With ``error``: which errors, of ``mean`` (distance of the means), ``std`` (standard deviations),
        ``weight``; components are paired with the true ones by the Hungarian method.
    x_log : bool
        Iterations on a symmetric-log axis (linear from 0 to 1, logarithmic beyond), so that the early
        iterations, where most happens, get room on long runs.
    legend : bool or str
        For strips with several series. ``True``: inside, where no curve passes; in a frame too small
        for that, in a smaller font, or else beside or below the strip; ``"outside"``: right of the
        axes; a matplotlib location; ``False``: none. A strip with one series names it on its y axis
        instead.
    """

    summary: ClassVar[str] = "log-likelihood per iteration (and ELBO, KL, its change, errors) with a cursor"
    #: Under an output's ``overlay``, the scene sets ``runs`` (name -> Trace) and every run's series are
    #: drawn together, one colour per run.
    overlays_runs: ClassVar[bool] = True

    show: tuple[str, ...] = ("loglik",)
    errors: tuple[str, ...] | None = None  # None: ("mean",); given, it needs "error" in show
    x_log: bool = False
    legend: bool | str = True

    _trace: object = field(init=False, default=None, repr=False)
    _strips: list = field(init=False, default_factory=list, repr=False)
    runs: dict | None = field(init=False, default=None, repr=False)
    _n_iter: int = field(init=False, default=0, repr=False)

    def __post_init__(self):
        self.show = check_choices(self.show, "curves", "show", SERIES)
        if self.errors is not None and "error" not in self.show:
            raise InputError(f"panel 'curves': option 'errors' chooses the errors of the 'error' series, which "
                             f"show {list(self.show)} leaves out; add it: show: [{', '.join(self.show)}, error]")
        self.errors = check_choices(("mean",) if self.errors is None else self.errors, "curves", "errors", _ERRORS)
        if not isinstance(self.x_log, bool):
            raise InputError(f"panel 'curves': option 'x_log' must be true or false, got {self.x_log!r}")
        check_legend(self.legend, "curves")

    def check(self, trace_or_dims) -> None:
        """Also check that the trace has what the chosen series need (a truth, responsibilities)."""
        super().check(trace_or_dims)
        if isinstance(trace_or_dims, int):
            return
        trace = trace_or_dims
        if "error" in self.show:
            if trace.truth is None:
                raise InputError("panel 'curves': option 'show' includes 'error' but the trace has no true "
                                 "mixture to compare with")
            if trace.truth.n_components != trace.n_components:
                raise InputError(f"panel 'curves': option 'show' includes 'error' but the truth has "
                                 f"{trace.truth.n_components} components and the fit {trace.n_components}")
        if {"elbo", "kl"} & set(self.show) and len(trace.resp_index) == 0:
            raise InputError("panel 'curves': 'elbo' and 'kl' need recorded responsibilities; the trace has none")

    # ------------------------------------------------------------------ the numbers
    def series(self, trace) -> dict[str, np.ndarray]:
        """The values drawn, keyed like the legend (``loglik``, ``elbo``, ``error:mean``, ...), arrays of shape (T+1,).

        NaN where a value is undefined (``delta`` at t = 0).
        """
        from emviz import metrics

        out = {}
        ll = trace.log_likelihood
        if "loglik" in self.show:
            out["loglik"] = ll
        if {"elbo", "kl"} & set(self.show):
            elbo, kl = metrics.elbo_kl(trace)
            out.update({name: v for name, v in (("elbo", elbo), ("kl", kl)) if name in self.show})
        if "delta" in self.show:
            out["delta"] = np.concatenate([[np.nan], np.abs(np.diff(ll))])
        if "error" in self.show:
            errors = metrics.parameter_errors(trace)
            out.update({f"error:{name}": errors[name] for name in self.errors})
        # Draw order follows SERIES whatever order the user listed them in.
        return {key: out[key] for key in sorted(out, key=_series_rank)}

    def _rounding_floor(self, trace) -> float:
        """Nats below which a gap value is rounding noise of the recorded log-likelihood."""
        try:
            eps = np.finfo(np.dtype(str(trace.meta.get("dtype", "float64")))).eps
        except TypeError:
            eps = np.finfo(np.float64).eps
        return _ROUNDING_ULPS * float(eps) * max(1.0, float(np.max(np.abs(trace.log_likelihood))))

    # ------------------------------------------------------------------ drawing
    def setup(self, ax, trace, colors) -> list:
        runs = self.runs if self.runs and len(self.runs) > 1 else {None: trace}
        for run in runs.values():
            self.check(run)
        self._trace = trace
        self._n_iter = max(run.n_iter for run in runs.values())
        floor = max(self._rounding_floor(run) for run in runs.values())
        # Colours by a fixed list of every series, so a series has the same colour whichever others are shown.
        every = [*_COLORED, *(f"error:{e}" for e in _ERRORS)]
        palette = dict(zip(every, series_colors(len(colors), len(every), ax.get_facecolor())))
        palette["loglik"] = foreground()
        values = {}  # key -> y (T_run + 1,); keys are "series" or "run\x00series" when runs are overlaid
        for name, run in runs.items():
            run_color = None
            if name is not None:
                run_color = series_colors(len(colors), len(runs), ax.get_facecolor())[list(runs).index(name)]
            for key, y in self.series(run).items():
                full = key if name is None else f"{name}\x00{key}"
                values[full] = y
                if run_color is not None:
                    palette[full] = run_color
        groups = [s for s in _STRIPS if any(_STRIP_OF[_series_of(n).split(":")[0]] == s for n in values)]
        # Leave a sixth of each strip's slot for the tick labels between strips (an Axes placed by rectangle).
        subs = split_axes(ax, [_STRIP_HEIGHT[g] for g in groups], vertical=True, sharex=True, fill=5 / 6)
        self._strips = []
        for sub, group in zip(subs, groups):
            keys = [n for n in values if _STRIP_OF[_series_of(n).split(":")[0]] == group]
            data = {n: _masked_gap(values[n], floor) if group == "gap" else values[n] for n in keys}
            self._strips.append(self._setup_strip(sub, group, data, palette, trace))
        for strip in self._strips[:-1]:
            strip.ax.tick_params(labelbottom=False)
        if len(subs) > 1:
            # Tick labels of different widths (10^-6 against -3650) would otherwise stagger the y labels.
            ax.figure.align_ylabels(subs)
        self._strips[-1].ax.set_xlabel("iteration")
        return self.update(0)

    def _setup_strip(self, ax, group: str, data: dict, palette: dict, trace) -> "_Strip":
        fg = foreground()
        m, n = len(trace.resp_index), trace.n_samples
        handles = []
        for name, y in data.items():
            series = _series_of(name)
            dashed = series == "elbo"  # drawn over the log-likelihood it almost equals: dashes show both
            label = _LABELS[series] + (" (estimate)" if series in ("elbo", "kl") and m < n else "")
            if "\x00" in name:
                run = name.split("\x00")[0]
                label = run if series == "loglik" else f"{run}: {label}"
            handles.append(ax.plot(np.arange(len(y)), y, color=palette[name], lw=1.8, ls="--" if dashed else "-",
                                   label=label, gid=name)[0])
        strip = _Strip(ax=ax, group=group, data=data)
        # The cursor: a faint vertical line, and on each series a dot ringed in the background colour.
        strip.cursor = ax.axvline(0.0, color=fg, lw=1.0, alpha=0.45, zorder=3, animated=True)
        strip.markers = [ax.plot([], [], ls="", marker="o", ms=7, mfc=palette[name], mec=ax.get_facecolor(),
                                 mew=1.2, zorder=4, animated=True)[0] for name in data]
        self._limits(ax, group, data, self._n_iter)
        if len(data) == 1:
            (name,) = data
            ax.set_ylabel(_SINGLE_YLABEL.get(name, _LABELS[name]))
        else:
            ax.set_ylabel(_STRIP_YLABEL[group])
            # Inside, where no curve passes (the corner the curves leave free first); in a frame too
            # small for that, smaller or beside the strip (see add_legend).
            lines = [np.column_stack([np.arange(len(y)), y]) for y in data.values()]
            add_legend(ax, handles, [h.get_label() for h in handles], "auto" if self.legend is True else self.legend,
                       prefer=_free_corner(ax, data), lines=lines, margin=_LEGEND_MARGIN, fontsize="small")
        return strip

    def _limits(self, ax, group: str, data: dict, n_iter: int) -> None:
        if self.x_log:
            # symlog: 0 stays on the axis (log would drop the initialisation), linear up to 1, log beyond.
            ax.set_xscale("symlog", linthresh=1.0, linscale=0.5)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.set_xlim(0.0, max(n_iter, 1) * 1.05)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlim(*padded_range(0.0, float(max(n_iter, 1)), 0.02))
        finite = np.concatenate([y[np.isfinite(y)] for y in data.values()])
        if group == "gap":
            ax.set_yscale("log")
            lo, hi = (finite.min(), finite.max()) if finite.size else (1e-3, 1.0)
            hi = max(hi, lo * 10.0)  # at least one decade, so the axis gets labelled ticks
            pad = 0.05 * np.log10(hi / lo)
            ax.set_ylim(lo / 10**pad, hi * 10**pad)
        else:
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            if group == "nats":
                lo = _lower_limit_past_the_start(data, lo)
                # Plain numbers: an offset ("1e6" above the axis) hides the values people compare.
                ax.ticklabel_format(axis="y", style="plain", useOffset=False)
            ax.set_ylim(*padded_range(min(lo, 0.0) if group == "error" else lo, hi, 0.05))

    def update(self, t: int) -> list:
        t = range(self._n_iter + 1)[t]
        changed = []
        for strip in self._strips:
            strip.cursor.set_xdata([t, t])
            for marker, y in zip(strip.markers, strip.data.values()):
                tt = min(t, len(y) - 1)  # an overlaid run that stopped earlier rests at its last iteration
                marker.set_data([tt], [y[tt]])
            changed += [strip.cursor, *strip.markers]
        return changed

    def update_frame(self, frame) -> list:
        """A half-step: the cursor at ``frame.position``, halfway from t to t + 1 on an M-step frame (EM's
        move under way), each dot on its series' drawn line there."""
        changed = self.update(frame.t)
        if frame.position != frame.t:
            x = frame.position
            for strip in self._strips:
                strip.cursor.set_xdata([x, x])
                for marker, y in zip(strip.markers, strip.data.values()):
                    if x < len(y) - 1:  # else: the run stopped earlier and rests at its end
                        marker.set_data([x], [_on_line(strip.ax, y, x)])
        return changed


@dataclass(eq=False)
class _Strip:
    """One Axes of the panel: its group, the values it draws and its cursor artists."""

    ax: object
    group: str
    data: dict
    cursor: object = None
    markers: list = field(default_factory=list)


def _on_line(ax, y: np.ndarray, x: float) -> float:
    """The value at ``x`` (between two iterations) on the line drawn through ``y``: the segment is
    straight on screen, so interpolate in the axes' scales (log, symlog) and map back."""
    i = int(np.floor(x))
    xs, ys = ax.xaxis.get_transform(), ax.yaxis.get_transform()
    (x0, x1, xx) = xs.transform(np.array([i, i + 1, x], dtype=np.float64))
    (y0, y1) = ys.transform(np.array([y[i], y[i + 1]], dtype=np.float64))
    s = (xx - x0) / (x1 - x0)
    return float(ys.inverted().transform(np.array([y0 + s * (y1 - y0)]))[0])


def _lower_limit_past_the_start(data: dict, lo: float) -> float:
    """The log-likelihood axis's lower limit, leaving out an initialisation far below the rest.

    A start on single points (k-means++) or far from the data has a log-likelihood orders of magnitude
    below every later one; on an axis that includes it, all later changes (and the differences between
    runs) are flat lines at the top. When iteration 0 lies far below the later values, the axis starts at the later values and the curve enters from below. "Far" is five times the later
    spread and a tenth of the log-likelihood's size: a first step of a few nats stays in view.
    """
    later = np.concatenate([y[1:][np.isfinite(y[1:])] for y in data.values()])
    if later.size == 0:
        return lo
    low = float(later.min())
    far = max(5.0 * float(later.max() - low), 0.1 * abs(low), 1e-12)
    return low if lo < low - far else lo


def _series_of(key: str) -> str:
    """The series of a value key (``"loglik"`` or, overlaid, ``"run\\x00loglik"``)."""
    return key.split("\x00")[-1]


def _series_rank(key: str) -> tuple[int, int]:
    name, _, sub = key.partition(":")
    return SERIES.index(name), _ERRORS.index(sub) if sub else 0


def _masked_gap(y: np.ndarray, floor: float) -> np.ndarray:
    """``y`` with values at or below the rounding floor set to NaN (not drawn on the log axis)."""
    return np.where(y > floor, y, np.nan)


def _densified(points: np.ndarray, per_segment: int = 16) -> np.ndarray:
    """Points along the polyline through ``points`` (P, 2), so that a steep segment with no vertex in a
    corner still counts there (a run of ten iterations rises in one or two segments)."""
    if len(points) < 2:
        return points
    s = np.linspace(0.0, len(points) - 1.0, (len(points) - 1) * per_segment + 1)
    idx = np.arange(len(points))
    return np.column_stack([np.interp(s, idx, points[:, 0]), np.interp(s, idx, points[:, 1])])


def _free_corner(ax, data: dict) -> str:
    """The corner of ``ax`` with the fewest curve points under a legend-sized box (axes fraction)."""
    to_axes = ax.transData + ax.transAxes.inverted()
    points = []
    for y in data.values():
        t = np.arange(len(y), dtype=np.float64)
        ok = np.isfinite(y)
        if ok.any():
            points.append(_densified(to_axes.transform(np.column_stack([t[ok], y[ok]]))))
    if not points:
        return "upper right"
    fx, fy = np.concatenate(points).T
    return free_corner(fx, fy, _LEGEND_SIZE)
