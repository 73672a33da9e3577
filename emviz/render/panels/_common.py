"""Helpers shared by the panels: labels, theme colours, legends and their corner, ranges, sub-Axes, the 1D normal
density."""

from __future__ import annotations

import numpy as np
from matplotlib import rcParams

from emviz.errors import InputError, did_you_mean
from emviz.render.panels._legend import LEGEND_MIN_POINTS, LegendFit, rows as _rows

__all__ = [
    "component_label", "feature_label", "foreground", "muted", "add_legend", "check_legend", "padded_range",
    "weighted_normal_pdfs", "matched_truth", "free_corner", "split_axes", "LegendFit", "LEGEND_MIN_POINTS",
]

#: Legend positions inside the axes a user may ask for (besides ``True``/``"outside"`` and ``False``).
_INSIDE_LOCS = ("upper right", "upper left", "lower left", "lower right", "right", "center left",
                "center right", "lower center", "upper center", "center")


def component_label(k: int) -> str:
    """The name shown for component ``k`` (0-based index, 1-based name as on slides)."""
    return f"component {k + 1}"


def feature_label(j: int, n_features: int) -> str:
    """The axis label of data feature ``j``."""
    return "x" if n_features == 1 else f"x{j}"


def foreground() -> str:
    """The theme's foreground colour, read when called so that the scene's ``rc_context`` applies."""
    return rcParams["text.color"]


def muted():
    """Colour for data drawn in no component's colour (the histogram), from the theme.

    emviz's themes set ``patch.facecolor`` to their muted grey. Outside them it is matplotlib's
    ``"C0"`` default, the same blue as component 1, so a neutral grey is used instead.
    """
    color = rcParams["patch.facecolor"]
    return "0.6" if color == "C0" else color


def check_legend(value, panel: str) -> None:
    """Raise :class:`InputError` unless ``value`` is a valid ``legend`` option."""
    if isinstance(value, bool) or value == "outside" or value in _INSIDE_LOCS:
        return
    raise InputError(f"panel {panel!r}: option 'legend' must be true, false, 'outside' or one of "
                     f"{', '.join(_INSIDE_LOCS)}; got {value!r}")


def add_legend(ax, handles, labels, where, *, prefer: str = "upper right", lines=(), points=(),
               margin: float = 3.0, sides=("right", "below"), **kwargs):
    """Add a legend at ``where`` (the ``legend`` option, or ``"auto"``); return it (None for none).

    ``True``/``"outside"``: right of the axes, the default of the point panels (the data may fill any
    corner over some frame); a location inside the axes: there, as asked. ``"auto"``: inside, in the
    first place where the legend covers none of ``lines`` and ``points``, which hold what the panel
    draws over the whole animation, ``prefer`` tried first (the rule:
    :class:`emviz.render.panels._legend.LegendFit`).

    Parameters
    ----------
    lines : list of array of shape (P, 2)
        Polylines in data coordinates (NaN rows break them), as drawn in any frame.
    points : list of array of shape (N, 2)
        Markers in data coordinates.
    margin : float
        Points of free space kept between the legend and the data (a marker's radius).
    sides : tuple of str
        Where an automatic legend may go when no place inside is free: ``"right"``, ``"below"``
        (an Axes with a colour bar on its right has only ``"below"``).
    kwargs
        Passed to :meth:`matplotlib.axes.Axes.legend` (``fontsize`` included).

    An automatic or outside legend gets its final place and font once, from the scene's layout
    (:func:`emviz.render.layout.fit_legends`), for the laid-out Axes; a figure not laid out by emviz
    keeps it where it was put first (``prefer``, or right of the axes).
    """
    if where is False or not handles:
        return None
    if where is True or where == "outside":
        return LegendFit(ax, handles, labels, "outside", kwargs).legend
    if where == "auto":
        data = [_rows(a) for a in lines], [_rows(a) for a in points]
        return LegendFit(ax, handles, labels, "auto", kwargs, prefer=prefer, data=data, margin=margin,
                         sides=sides).legend
    return ax.legend(handles, labels, loc=where, **kwargs)


def free_corner(fx, fy, legend_size) -> str:
    """The inside corner of an Axes with the fewest points under a legend placed there.

    Parameters
    ----------
    fx, fy : array of shape (P,)
        The points in axes fractions (0 to 1 inside the Axes).
    legend_size : (width, height)
        The legend's size in axes fractions.

    Returns
    -------
    str
        ``"upper right"``, ``"upper left"``, ``"lower right"`` or ``"lower left"``; ties go to the
        first in that order.
    """
    fx, fy = np.asarray(fx), np.asarray(fy)
    width, height = legend_size
    right, top, left, bottom = fx > 1 - width, fy > 1 - height, fx < width, fy < height
    counts = {
        "upper right": np.sum(right & top),
        "upper left": np.sum(left & top),
        "lower right": np.sum(right & bottom),
        "lower left": np.sum(left & bottom),
    }
    return min(counts, key=lambda loc: counts[loc])


def split_axes(ax, ratios, *, vertical: bool = False, sharex: bool = False, fill: float = 0.75) -> list:
    """Replace ``ax`` by a row (or, ``vertical``, a column) of Axes in the same place; ``ax`` is hidden.

    A panel that needs several Axes gets one from the scene. The new Axes come from ``subgridspec`` of
    its SubplotSpec, so layout engines treat them as ordinary subplots; an Axes placed by a rectangle is
    split by rectangle instead, each new Axes taking ``fill`` of its slot (the rest is room for a colour
    bar or the next one's labels). ``ax`` is kept but switched off and taken out of the layout, so a
    scene holding it can still use it (``draw_artist``) without it showing.

    Parameters
    ----------
    ax : Axes
    ratios : list of float
        Relative widths (heights when ``vertical``) of the new Axes; one entry: ``ax`` itself.
    vertical : bool
        A column, top to bottom, instead of a row.
    sharex : bool
        The new Axes share the first one's x axis.
    fill : float
        Fraction of each slot an Axes placed by rectangle takes.
    """
    n = len(ratios)
    if n == 1:
        return [ax]
    fig = ax.figure
    spec = ax.get_subplotspec()
    subs: list = []

    def shared():
        return subs[0] if sharex and subs else None

    if spec is not None:
        # Spacing is left to the layout engine.
        grid = spec.subgridspec(n, 1, height_ratios=ratios) if vertical else spec.subgridspec(1, n, width_ratios=ratios)
        for i in range(n):
            subs.append(fig.add_subplot(grid[i, 0] if vertical else grid[0, i], sharex=shared()))
    else:
        pos = ax.get_position()
        fracs = np.asarray(ratios, dtype=np.float64) / np.sum(ratios)
        start = np.concatenate([[0.0], np.cumsum(fracs)[:-1]])
        for s, f in zip(start, fracs):
            if vertical:  # top down
                height = f * pos.height
                rect = [pos.x0, pos.y1 - s * pos.height - height, pos.width, fill * height]
            else:
                rect = [pos.x0 + s * pos.width, pos.y0, fill * f * pos.width, pos.height]
            subs.append(fig.add_axes(rect, sharex=shared()))
    ax.set_axis_off()
    ax.set_in_layout(False)
    return subs


def matched_truth(trace):
    """The true mixture with its components reordered to match the fitted ones, or None.

    EM may converge with the components in another order than the truth (label switching); colouring
    true component k like fitted component k would then pair the wrong curves. The pairing minimises
    the total distance between the final fitted means and the true means (standardised per feature
    by the data's spread). When the truth has another number of components it cannot be paired and
    is returned as is; check ``truth.n_components == trace.n_components`` before colouring by index.
    """
    truth = trace.truth
    if truth is None or truth.n_components != trace.n_components:
        return truth
    from emviz.metrics import match_components

    scale = np.std(trace.X, axis=0) if len(trace.X) > 1 else np.ones(trace.n_features)
    order = match_components(trace.means[-1], truth.means, scale=np.where(scale > 0, scale, 1.0))
    if np.array_equal(order, np.arange(len(order))):
        return truth
    return type(truth)(truth.weights[order], truth.means[order], truth.covariances[order])


def padded_range(lo: float, hi: float, frac: float = 0.05) -> tuple[float, float]:
    """``(lo, hi)`` widened by ``frac`` of the span on each side (by 0.5 when the span is zero)."""
    span = hi - lo
    pad = frac * span if span > 0 else 0.5
    return lo - pad, hi + pad


def weighted_normal_pdfs(x, weights, means, stds) -> np.ndarray:
    """``w_k · N(x | mu_k, sigma_k)`` on a grid, for every leading index.

    Parameters
    ----------
    x : array of shape (P,)
    weights, means, stds : array of shape (..., K)

    Returns
    -------
    array of shape (..., K, P)
    """
    x = np.asarray(x, dtype=np.float64)
    weights, means, stds = (np.asarray(a, dtype=np.float64)[..., None] for a in (weights, means, stds))
    z = (x - means) / stds
    return weights / (np.sqrt(2.0 * np.pi) * stds) * np.exp(-0.5 * z * z)


def param_axis_values(trace, param, points: np.ndarray, n: int) -> np.ndarray:
    """Grid values of one parameter axis of a landscape: a range from the data that always encloses
    ``points`` (the path, and the truth when known); ``n`` values.

    Means span the data's range on that feature, standard deviations reach from near 0 (but clear of
    it, where a collapsing component sends the log-likelihood to -inf) to above the path, and
    weights span (0, 1).
    """
    points = np.asarray(points, dtype=np.float64)
    if param.kind == "mean":
        column = trace.X[:, param.feature]
        lo, hi = padded_range(min(column.min(), points.min()), max(column.max(), points.max()), 0.03)
    elif param.kind == "std":
        hi = 1.15 * float(points.max())
        lo = min(0.02 * hi, 0.9 * float(points.min()))
    else:
        lo, hi = max(0.0, min(0.01, points.min())), min(1.0, max(0.99, points.max()))
    return np.linspace(lo, hi, n)


def responsibility_rgba(resp_t: np.ndarray, colors, alpha: float) -> np.ndarray:
    """RGBA of points coloured by responsibility: ``resp_t @ colors`` blended, with ``alpha``; (M, 4)."""
    from emviz.render.style import blend_colors

    rgb = blend_colors(resp_t, colors)
    return np.column_stack([rgb, np.full(len(rgb), alpha)])


def check_features(value, n: int, panel: str) -> tuple[int, ...]:
    """``value`` as a tuple of ``n`` different non-negative feature indices, or :class:`InputError`."""
    features = tuple(value) if isinstance(value, (list, tuple)) else ()
    if len(features) != n or len(set(features)) != n or not all(
        isinstance(j, (int, np.integer)) and not isinstance(j, bool) and j >= 0 for j in features
    ):
        raise InputError(f"panel {panel!r}: option 'features' must be {n} different feature indices "
                         f"(0-based), got {value!r}")
    return tuple(int(j) for j in features)


def check_fraction(value, option: str, panel: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise InputError(f"panel {panel!r}: option {option!r} must be in (0, 1], got {value!r}")


def check_choices(value, panel: str, option: str, choices) -> tuple[str, ...]:
    """``value`` as a tuple of distinct names from ``choices`` (a single name is accepted), or InputError
    naming the panel and option."""
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items or not all(isinstance(v, str) for v in items):
        raise InputError(f"panel {panel!r}: option {option!r} must be a list of names from "
                         f"{', '.join(choices)}, got {value!r}")
    for item in items:
        if item not in choices:
            raise InputError(f"panel {panel!r}: option {option!r}: unknown {item!r}{did_you_mean(item, choices)}; "
                             f"choose from {', '.join(choices)}")
    if len(set(items)) != len(items):
        raise InputError(f"panel {panel!r}: option {option!r} lists a name twice: {list(items)}")
    return tuple(items)
