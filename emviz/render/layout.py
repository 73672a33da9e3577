"""The figure's layout rule: a band across the top for the title, the panels laid out once below it.

The band is sized from the title's font and its number of lines, never from its current text, so the
frames' title can change (iteration, log-likelihood) while the layout stays frozen. Constrained layout
then places every Axes, its title, tick labels and colour bars inside the rest of the figure; a last
measurement lowers that area if anything still reaches into the band (an artist the layout engine
does not account for), so a title and a panel never overlap.

Sizes here are in inches and points, not pixels: a still is also saved at other resolutions.
"""

from __future__ import annotations

import warnings

from emviz.errors import InputError

__all__ = ["LINE_SPACING", "PAD_ABOVE", "PAD_BELOW", "LAYOUT_PAD", "TITLE_WIDTH", "title_band_inches",
           "title_bottoms", "fit_title_font", "title_texts", "freeze_below_band", "band_intrusion",
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
#: Rounds of "measure, lower the panels' area" after the layout, for artists the layout misses.
_EXTRA_ROUNDS = 2


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

    The figure must use constrained layout. Afterwards its layout engine is switched off, so nothing
    moves when the frames change the title or the panels' artists.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    band_inches : float
        Height of the title band at the top; 0 lays out the whole figure.
    what : str
        Describes the layout in the error raised when it does not fit (``"3 panel(s) in a 1 x 3 layout"``).

    Raises
    ------
    InputError
        When the figure is too small for its Axes (constrained layout collapses them).
    """
    height_px = figure.bbox.height
    band_bottom = 1.0 - band_inches / figure.get_size_inches()[1]  # figure fraction
    top = band_bottom
    engine = figure.get_layout_engine()
    for _ in range(1 + _EXTRA_ROUNDS):
        if top <= 0:
            _too_small(figure, what)
        engine.set(rect=(0.0, 0.0, 1.0, top), **LAYOUT_PAD)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            figure.draw_without_rendering()
        if any("collapsed" in str(w.message) for w in caught):
            _too_small(figure, what)
        if band_inches <= 0:
            break
        # Lower the panels' area by what still reaches into the band, plus a pixel for rounding.
        over = band_intrusion(figure, figure.canvas.get_renderer(), band_bottom * height_px)
        if over <= 0:
            break
        top -= (over + 1.0) / height_px
    figure.set_layout_engine("none")


def band_intrusion(figure, renderer, band_bottom_px: float) -> float:
    """Pixels by which the highest drawn Axes (with its titles, labels, colour bars) reaches above
    ``band_bottom_px``; 0 or less when none does."""
    over = float("-inf")
    for ax in drawn_axes(figure):
        box = ax.get_tightbbox(renderer)
        if box is not None:
            over = max(over, box.y1 - band_bottom_px)
    return over


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
