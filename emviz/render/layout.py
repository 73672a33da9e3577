"""The figure's layout rule: a band across the top for the title, the panels laid out once below it.

The band is sized from the title's font and its number of lines, never from its current text, so the
frames' title can change (iteration, log-likelihood) while the layout stays frozen. Constrained layout
then places every Axes, its title, tick labels and colour bars inside the rest of the figure; a last
measurement shrinks that area if anything still reaches into the band or out of the figure (what the
layout engine cannot place exactly), so a title and a panel never overlap and nothing is cut off.
Legends that fit themselves (a panel's automatic or outside legend) are fitted to each layout before
it is measured: one that covers data or leaves the figure shrinks or moves, and the layout is redone.

Sizes here are in inches and points, not pixels: a still is also saved at other resolutions.
"""

from __future__ import annotations

import warnings

from emviz.errors import InputError

__all__ = ["LINE_SPACING", "PAD_ABOVE", "PAD_BELOW", "LAYOUT_PAD", "TITLE_WIDTH", "title_band_inches",
           "title_bottoms", "fit_title_font", "title_texts", "freeze_below_band", "fit_legends", "overflow",
           "drawn_axes"]

#: Distance between the bottoms of two title lines, in units of the title's font size (matplotlib's).
LINE_SPACING = 1.2
#: Free space above the first title line and below the last, in units of the title's font size. The
#: gap below is the larger one: it is what separates the title from the panels' own titles.
PAD_ABOVE = 0.3
PAD_BELOW = 0.6
#: Widest a title line may be, as a fraction of the figure's width; a wider one gets a smaller font.
TITLE_WIDTH = 0.96
#: Constrained layout's padding around each Axes (inches).
LAYOUT_PAD = {"h_pad": 0.04, "w_pad": 0.04}
#: Rounds of "measure, shrink the panels' area" after the layout, for what the layout misses (an
#: equal-aspect Axes moves by half of what its cell shrinks, so a few rounds may be needed).
_EXTRA_ROUNDS = 3
#: Passes over the figure's legends per layout: a legend that moved changes the others' Axes.
_LEGEND_PASSES = 3


def title_band_inches(font_points: float, n_lines: int) -> float:
    """Height in inches of the band that holds ``n_lines`` title lines at ``font_points`` (0 for none)."""
    if n_lines <= 0:
        return 0.0
    return font_points / 72.0 * (PAD_ABOVE + LINE_SPACING * n_lines + PAD_BELOW)


def title_bottoms(font_points: float, n_lines: int) -> list[float]:
    """Where each title line's bottom goes, in inches below the figure's top edge, first line first.

    A line is a text aligned at its bottom (``va="bottom"``); the last line's bottom is
    :data:`PAD_BELOW` above the band's lower edge.
    """
    em = font_points / 72.0
    band = title_band_inches(font_points, n_lines)
    return [band - em * (PAD_BELOW + LINE_SPACING * (n_lines - 1 - i)) for i in range(n_lines)]


def _title_font(points: float):
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties

    return FontProperties(size=points, weight=rcParams["figure.titleweight"])


def fit_title_font(figure, lines, font_points: float) -> float:
    """``font_points``, or less if the widest of ``lines`` would be wider than :data:`TITLE_WIDTH`
    of the figure (measured with the current rcParams' font)."""
    renderer = figure.canvas.get_renderer()
    room = TITLE_WIDTH * figure.bbox.width
    for _ in range(3):  # widths scale almost linearly with the size; hinting may need a second step
        prop = _title_font(font_points)
        widest = max((renderer.get_text_width_height_descent(line, prop, ismath=False)[0] for line in lines),
                     default=0.0)
        if widest <= room:
            break
        font_points *= room / widest
    return font_points


def title_texts(figure, lines, font_points: float) -> list:
    """One centred figure text per line of the title, in the band of :func:`title_band_inches`.

    Each text is aligned at its bottom (``va="bottom"``), so texts put on one line share its baseline.
    Positions are figure fractions: a still saved at another dpi keeps them.
    """
    from matplotlib import rcParams

    height = figure.get_size_inches()[1]
    prop = _title_font(font_points)
    return [figure.text(0.5, 1.0 - bottom / height, line, fontproperties=prop, color=rcParams["text.color"],
                        ha="center", va="bottom")
            for line, bottom in zip(lines, title_bottoms(font_points, len(lines)))]


def freeze_below_band(figure, band_inches: float, what: str = "") -> None:
    """Lay ``figure``'s Axes out with constrained layout below a band of ``band_inches``, then freeze it.

    Constrained layout keeps each Axes' decorations (titles, tick labels, colour bars, legends) in the
    area below the band; what it cannot place exactly (a legend beside an equal-aspect 3D Axes, say)
    is measured afterwards, and the area shrinks on that side until every drawn Axes is inside it.
    Each layout is first offered to the legends that fit themselves (:func:`fit_legends`). Then the
    layout engine is switched off, so nothing moves when frames change the title or the panels'
    artists.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
        Using constrained layout.
    band_inches : float
        Height of the title band at the top; 0 lays out the whole figure.
    what : str
        Describes the layout in the error raised when it does not fit (``"3 panel(s) in a 1 x 3 layout"``).

    Raises
    ------
    InputError
        When the figure is too small for its Axes (constrained layout collapses them) even before
        anything is taken in from the edges.
    """
    width_px, height_px = figure.bbox.width, figure.bbox.height
    band_bottom_px = height_px - band_inches * figure.dpi
    area = (0.0, 0.0, 1.0, band_bottom_px / height_px)  # left, bottom, right, top in figure fractions
    laid_out = None  # the last area that the layout fitted in
    for _ in range(1 + _EXTRA_ROUNDS):
        fits = area[2] > area[0] and area[3] > area[1] and _lay_out(figure, area)
        if fits:
            _fit_legends(figure, area)
        if not fits:
            if laid_out is None:
                _too_small(figure, what)
            # Shrinking the area to take in what stuck out collapsed the layout: keep the last one
            # that fitted (in a figure this small, a legend may stick out; the panels still show).
            _lay_out(figure, laid_out)
            break
        laid_out = area
        over = overflow(figure, figure.canvas.get_renderer(), band_bottom_px)
        if max(over) <= 0:
            break
        # Shrink the area on each side by what stuck out, plus a pixel for rounding.
        shrink = [(o + 1.0) / size if o > 0 else 0.0 for o, size in zip(over, (width_px, height_px) * 2)]
        area = (area[0] + shrink[0], area[1] + shrink[1], area[2] - shrink[2], area[3] - shrink[3])
    figure.set_layout_engine("none")


def _lay_out(figure, area) -> bool:
    """Run constrained layout in ``area`` (left, bottom, right, top); False if it collapsed an Axes."""
    left, bottom, right, top = area
    figure.get_layout_engine().set(rect=(left, bottom, right - left, top - bottom), **LAYOUT_PAD)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.draw_without_rendering()
    return not any("collapsed" in str(w.message) for w in caught)


def fit_legends(figure, relayout) -> bool:
    """Let every legend that fits itself fit the figure as laid out now; True if one changed the layout.

    Such a legend carries a callable ``emviz_fit(renderer, relayout) -> bool`` (see
    :class:`emviz.render.panels._legend.LegendFit`). It may call ``relayout()``, which lays the figure
    out again and returns False if that collapsed an Axes; the legend then takes its change back and
    calls ``relayout()`` once more.
    """
    renderer = figure.canvas.get_renderer()
    changed = False
    for ax in figure.get_axes():
        fit = getattr(ax.get_legend(), "emviz_fit", None)
        if fit is not None:
            changed = bool(fit(renderer, relayout)) or changed
    return changed


def _fit_legends(figure, area) -> None:
    """:func:`fit_legends` in ``area`` until no legend changes the layout (one that moved changes the
    others' Axes)."""
    for _ in range(_LEGEND_PASSES):
        if not fit_legends(figure, lambda: _lay_out(figure, area)):
            break


def overflow(figure, renderer, band_bottom_px: float | None = None) -> tuple[float, float, float, float]:
    """Pixels by which the drawn Axes (with titles, labels, colour bars, legends) reach beyond the
    figure's left, bottom and right edges and above ``band_bottom_px`` (default: the top edge);
    0 or less on a side where none does."""
    top = figure.bbox.height if band_bottom_px is None else band_bottom_px
    worst = [float("-inf")] * 4
    for ax in drawn_axes(figure):
        box = ax.get_tightbbox(renderer)
        if box is not None:
            sides = (-box.x0, -box.y0, box.x1 - figure.bbox.width, box.y1 - top)
            worst = [max(w, s) for w, s in zip(worst, sides)]
    return tuple(worst)


def drawn_axes(figure) -> list:
    """The figure's Axes that draw anything: visible, and with their axis on or a visible artist.

    A panel that splits its Axes into several keeps the original one, switched off and empty, out
    of the layout; it draws nothing, so it can overlap nothing.
    """
    def draws(ax) -> bool:
        if not ax.get_visible():
            return False
        if ax.axison:
            return True
        hidden_with_axis = {ax.patch, ax.xaxis, ax.yaxis, *ax.spines.values()}  # not drawn when axis is off
        for child in ax.get_children():
            if child in hidden_with_axis or not child.get_visible():
                continue
            if hasattr(child, "get_text") and not child.get_text():
                continue  # an empty title
            return True
        return False

    return [ax for ax in figure.get_axes() if draws(ax)]


def _too_small(figure, what: str):
    from matplotlib import rcParams

    w_in, h_in = figure.get_size_inches()
    raise InputError(
        f"style.size: {w_in:g} x {h_in:g} inches is too small for {what or 'the panels'} "
        f"at font size {rcParams['font.size']:g}"
    )
