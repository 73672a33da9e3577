"""Looks: themes (background, text, grid), component colours, figure size and resolution.

A :class:`Style` is applied with :meth:`Style.context` (a ``matplotlib.rc_context``) around everything
the renderer creates and draws. The context starts from matplotlib's own defaults rather than the
user's rcParams, so a frame looks the same on every machine whatever its ``matplotlibrc`` says, and
nothing is changed outside the context.

Component k has the same colour in every panel, frame, theme and output: colour k is the k-th entry
of one fixed sequence, whatever K is.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field
from typing import ClassVar

import matplotlib as mpl
import numpy as np
from matplotlib.colors import to_hex, to_rgb

from emviz.errors import InputError, did_you_mean
from emviz.render.layout import title_band_inches

__all__ = [
    "Style",
    "Theme",
    "THEMES",
    "make_style",
    "component_colors",
    "required_colors",
    "blend_colors",
    "CELL_SIZE",
]

#: Okabe & Ito's colour-blind-safe set (black left out: it is the text colour), most distinct first,
#: then Paul Tol's "muted" set for K > 7. Beyond these, hues are spread by the golden angle.
_FIXED_COLORS = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
    "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499",
)
_GOLDEN_ANGLE = 0.381966011250105  # fraction of a turn

#: rcParams that are about the session, not the looks; never set by a style (as in matplotlib.style).
_NOT_STYLE = frozenset({
    "interactive", "backend", "webagg.port", "webagg.address", "webagg.port_retries",
    "webagg.open_in_browser", "backend_fallback", "toolbar", "timezone", "figure.max_open_warning",
    "figure.raise_window", "savefig.directory", "tk.window_focus", "docstring.hardcopy", "date.epoch",
})

#: Inches of one panel cell when ``Style.size`` is not given: (width of a lone panel, width per
#: panel in a row of several, height per row). A lone panel gets a 16:9-ish slide shape.
CELL_SIZE = (6.4, 4.4, 3.4)
#: Inches per plot of a panel that draws several plots (one per component, say).
SUBPLOT_WIDTH = 3.2
#: Title font size relative to the base font size (matplotlib's ``figure.titlesize``).
TITLE_SCALE = 1.15
#: Default font size in points.
FONT_SIZE = 9.0
#: Inches of the title band of one line at the default font size (see :mod:`emviz.render.layout`).
TITLE_HEIGHT = title_band_inches(FONT_SIZE * TITLE_SCALE, 1)


@dataclass(frozen=True)
class Theme:
    """The fixed colours of a theme, as hex strings. All are opaque, so they appear exactly in frames."""

    background: str
    text: str
    edge: str
    grid: str
    #: For data drawn in no component's colour (histograms, unassigned points).
    muted: str

    def rc(self) -> dict:
        return {
            "figure.facecolor": self.background, "axes.facecolor": self.background,
            "savefig.facecolor": self.background, "savefig.edgecolor": self.background,
            "figure.edgecolor": self.background,
            "text.color": self.text, "axes.labelcolor": self.text, "axes.titlecolor": self.text,
            "xtick.color": self.edge, "ytick.color": self.edge,
            "xtick.labelcolor": self.text, "ytick.labelcolor": self.text,
            "axes.edgecolor": self.edge, "grid.color": self.grid, "grid.alpha": 1.0,
            "legend.facecolor": self.background, "legend.edgecolor": self.grid,
            "legend.labelcolor": self.text, "patch.facecolor": self.muted, "hatch.color": self.edge,
        }


THEMES: dict[str, Theme] = {
    "light": Theme(background="#ffffff", text="#1f2328", edge="#57606a", grid="#e4e7eb", muted="#9ea4ab"),
    "dark": Theme(background="#15181d", text="#e6e8eb", edge="#9aa1a9", grid="#2c3139", muted="#6b727b"),
}


def _base_rc(font_size: float) -> dict:
    """matplotlib's defaults (not the user's rcParams) with emviz's house settings on top."""
    rc = {k: v for k, v in mpl.rcParamsDefault.items() if k not in _NOT_STYLE}
    rc.update({
        "font.size": font_size,
        "axes.titlesize": font_size * 1.1,
        "axes.labelsize": font_size,
        "xtick.labelsize": font_size * 0.9,
        "ytick.labelsize": font_size * 0.9,
        "legend.fontsize": font_size * 0.85,
        "figure.titlesize": font_size * TITLE_SCALE,
        # Grid and ticks under the data: the animated artists are then above every static one except
        # the spines and legends, which keeps the blitted redraw per frame small.
        "axes.axisbelow": True,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": False,
        "legend.framealpha": 1.0,
        "legend.fancybox": False,
        "lines.linewidth": 1.6,
        "lines.solid_capstyle": "round",
        "axes.prop_cycle": mpl.cycler(color=list(_FIXED_COLORS)),
        # Same SVG ids in every run (reproducible files).
        "svg.hashsalt": "emviz",
        "image.cmap": "viridis",
    })
    return rc


@dataclass(frozen=True)
class Style:
    """How frames look.

    Parameters
    ----------
    theme : {"light", "dark"}
    dpi : float
        Pixels per inch of the frames and raster stills.
    size : tuple of 2 floats, optional
        (width, height) in inches of one frame. Default: from the layout, see :data:`CELL_SIZE`.
    font_size : float
        Base font size in points; titles, ticks and legends scale with it.
    """

    theme: str = "light"
    dpi: float = 100.0
    size: tuple[float, float] | None = None
    font_size: float = FONT_SIZE
    _rc: dict = field(init=False, repr=False, compare=False)

    OPTIONS: ClassVar[tuple[str, ...]] = ("theme", "dpi", "size", "font_size")

    def __post_init__(self):
        if self.theme not in THEMES:
            raise InputError(
                f"style.theme: unknown theme {self.theme!r}{did_you_mean(self.theme, THEMES)}; "
                f"choose from {', '.join(THEMES)}"
            )
        object.__setattr__(self, "dpi", _positive(self.dpi, "style.dpi", upper=1200))
        object.__setattr__(self, "font_size", _positive(self.font_size, "style.font_size", upper=200))
        if self.size is not None:
            if isinstance(self.size, (str, bytes)) or np.ndim(self.size) != 1 or len(self.size) != 2:
                raise InputError(f"style.size: must be [width, height] in inches, got {self.size!r}")
            size = tuple(_positive(v, "style.size", upper=100) for v in self.size)
            object.__setattr__(self, "size", size)
        rc = _base_rc(self.font_size)
        rc.update(THEMES[self.theme].rc())
        rc.update({"figure.dpi": self.dpi, "savefig.dpi": self.dpi})
        object.__setattr__(self, "_rc", rc)

    @property
    def colors(self) -> Theme:
        """The theme's fixed colours."""
        return THEMES[self.theme]

    def context(self):
        """A ``matplotlib.rc_context`` applying this style; rcParams are restored on exit."""
        return mpl.rc_context(self._rc)

    @property
    def title_font_size(self) -> float:
        """Points of the scene's title (and of a still grid's headings)."""
        return self.font_size * TITLE_SCALE

    def title_band(self, lines: int) -> float:
        """Inches of the band reserved at the top for ``lines`` title lines (0 for no title)."""
        return title_band_inches(self.title_font_size, int(lines))

    def figure_size(self, rows: int, cols: int, title=True, col_units=None) -> tuple[float, float]:
        """Inches of a frame holding ``rows`` x ``cols`` panels: :attr:`size` if given, else from the cells.

        ``title`` is the number of title lines above the panels (True: one, False: none); their band
        is added to the cells' height. ``col_units`` is the number of plots in each column's widest
        panel (a panel may draw one plot per component); a column of n > 1 plots is
        ``n *`` :data:`SUBPLOT_WIDTH` wide.
        """
        if self.size is not None:
            return self.size
        units = [1] * cols if col_units is None else [max(1, int(u)) for u in col_units]
        if units == [1]:
            width = CELL_SIZE[0]
        else:
            width = sum(CELL_SIZE[1] if u == 1 else SUBPLOT_WIDTH * u for u in units)
        return width, CELL_SIZE[2] * rows + self.title_band(int(title))

    def to_dict(self) -> dict:
        return {"theme": self.theme, "dpi": self.dpi, "size": list(self.size) if self.size else None,
                "font_size": self.font_size}


def _positive(value, name: str, upper: float) -> float:
    if isinstance(value, bool):
        raise InputError(f"{name}: must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}: must be a number, got {value!r}") from None
    if not np.isfinite(number) or number <= 0 or number > upper:
        raise InputError(f"{name}: must be > 0 and <= {upper:g}, got {value!r}")
    return number


def make_style(spec=None) -> Style:
    """A :class:`Style` from ``None`` (defaults), a theme name, a mapping of options, or a Style."""
    if spec is None:
        return Style()
    if isinstance(spec, Style):
        return spec
    if isinstance(spec, str):
        return Style(theme=spec)
    if not isinstance(spec, dict):
        raise InputError(f"style: must be a theme name or a mapping of options, got {type(spec).__name__}")
    for key in spec:
        if key not in Style.OPTIONS:
            raise InputError(
                f"style: unknown option {key!r}{did_you_mean(key, Style.OPTIONS)}; "
                f"options are {', '.join(Style.OPTIONS)}"
            )
    return Style(**spec)


def _color_hex(k: int) -> str:
    if k < len(_FIXED_COLORS):
        return _FIXED_COLORS[k]
    hue = ((k - len(_FIXED_COLORS)) * _GOLDEN_ANGLE + 0.07) % 1.0
    return to_hex(colorsys.hsv_to_rgb(hue, 0.65, 0.8))


def component_colors(n_components: int) -> list[tuple[float, float, float]]:
    """Colour of each component index, as RGB floats in [0, 1].

    Colour k is the same for every K (the first K entries of one fixed sequence), in every theme.

    Parameters
    ----------
    n_components : int
        K.

    Returns
    -------
    list of K tuples (r, g, b)
        Each channel is an exact multiple of 1/255, so the colour appears exactly in rendered frames.
    """
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)) or n_components < 0:
        raise InputError(f"n_components: must be a non-negative integer, got {n_components!r}")
    return [to_rgb(_color_hex(k)) for k in range(int(n_components))]


def _rgb255(color) -> tuple[int, int, int]:
    return tuple(int(round(c * 255)) for c in to_rgb(color))


def required_colors(style, n_components: int) -> list[tuple[int, int, int]]:
    """Exact RGB (0-255) colours a frame must reproduce: background, text, edges, grid, muted, components.

    This is what the GIF writer puts into its global palette before the sampled frames' colours.

    Returns
    -------
    list of (r, g, b) int tuples, without duplicates, in that order.
    """
    theme = make_style(style).colors
    fixed = [theme.background, theme.text, theme.edge, theme.grid, theme.muted]
    out: list[tuple[int, int, int]] = []
    for rgb in [_rgb255(c) for c in fixed] + [_rgb255(c) for c in component_colors(n_components)]:
        if rgb not in out:
            out.append(rgb)
    return out


def blend_colors(resp, colors) -> np.ndarray:
    """Mix the component colours of each point by its responsibilities.

    Parameters
    ----------
    resp : array of shape (M, K)
        Non-negative; rows are normalised to sum to 1 (an all-zero row gets equal weights).
    colors : sequence of K RGB colours
        Usually :func:`component_colors`.

    Returns
    -------
    array of shape (M, 3)
        RGB floats in [0, 1]; a point owned by one component gets exactly that component's colour.
    """
    resp = np.asarray(resp, dtype=np.float64)
    rgb = np.array([to_rgb(c) for c in colors], dtype=np.float64).reshape(-1, 3)
    if resp.ndim != 2 or resp.shape[1] != len(rgb):
        raise InputError(f"resp: expected shape (M, {len(rgb)}) to match {len(rgb)} colours, got {resp.shape}")
    if np.any(resp < 0) or not np.all(np.isfinite(resp)):
        raise InputError("resp: responsibilities must be finite and non-negative")
    total = resp.sum(axis=1, keepdims=True)
    weights = np.where(total > 0, resp / np.where(total > 0, total, 1.0), 1.0 / max(len(rgb), 1))
    return np.clip(weights @ rgb, 0.0, 1.0)
