"""A scene: one or more panels laid out in one figure, with a title line that follows the iteration.

The layout is computed once and then frozen, so nothing moves between frames: a band at the top is
reserved for the title, sized by its font and number of lines (see :mod:`emviz.render.layout`), and
constrained layout places the panels below it. The figure is a bare :class:`matplotlib.figure.Figure`
on an Agg canvas: no pyplot, no global state; everything is created and drawn inside the style's
``rc_context``.

:func:`grid_figure` builds the small-multiples still: the scene's panels once per chosen iteration.

A scene shows whole iterations (``update(t)``) or, built with ``half_steps``, EM's two moves as
frames of their own (``update(Frame(t, "E"))``, see :mod:`emviz.render.steps`): its title then has
a slot that names the half, ``Iteration 3/40 · E-step · log-likelihood ...``, and each
log-likelihood is that of the parameters shown (on an M-step frame, iteration t + 1's).
"""

from __future__ import annotations

import copy
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from emviz.errors import InputError
from emviz.render.panel import PANELS, Panel, make_panel
from emviz.render.layout import fit_title_font, freeze_below_band, title_band_inches, title_texts
from emviz.render.schedule import check_iterations
from emviz.render.steps import PHASES, Frame, as_frame, frame_label, show_frame
from emviz.render.style import Style, component_colors, make_style

__all__ = ["Scene", "as_runs", "grid_figure", "resolve_panels", "resolve_layout", "grid_shape", "load_builtin_panels"]

#: U+2007 FIGURE SPACE is as wide as a digit: numbers padded with it keep the title's width constant,
#: so the centred title does not shift as iteration counts gain digits.
FIGURE_SPACE = "\u2007"
_MIDDOT = "\u00b7"


def load_builtin_panels() -> bool:
    """Import :mod:`emviz.render.panels`, which registers the built-in panels. False if it is absent."""
    try:
        import emviz.render.panels  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name not in ("emviz.render.panels",):
            raise
        return False
    return True


def resolve_panels(specs) -> list[Panel]:
    """Panels from names, ``{name: {options}}`` mappings or Panel objects (built-in panels loaded first)."""
    if isinstance(specs, (str, dict, Panel)):
        specs = [specs]
    specs = list(specs) if specs is not None else []
    if not specs:
        raise InputError("panels: at least one panel is needed")
    if any(not isinstance(s, Panel) for s in specs):
        have_builtins = load_builtin_panels()
        for spec in specs:
            name = spec if isinstance(spec, str) else next(iter(spec), None) if isinstance(spec, dict) else None
            if isinstance(name, str) and name not in PANELS and not have_builtins:
                raise InputError(
                    f"panels: unknown panel {name!r}: the built-in panels (emviz.render.panels) are not "
                    f"installed; registered panels: {', '.join(PANELS.names()) or '(none)'}"
                )
    return [make_panel(s) for s in specs]


def resolve_layout(layout, n_panels: int) -> tuple[int, int]:
    """(rows, cols) for ``n_panels``: one row by default, or ``layout = [rows, cols]``."""
    if layout is None:
        return 1, n_panels
    if isinstance(layout, (str, bytes)) or not hasattr(layout, "__len__") or len(layout) != 2:
        raise InputError(f"layout: must be [rows, cols], got {layout!r}")
    rows, cols = layout
    for name, v in (("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"layout: {name} must be a positive integer, got {v!r}")
    if rows * cols < n_panels:
        raise InputError(f"layout: [{rows}, {cols}] has {rows * cols} cells for {n_panels} panels")
    return int(rows), int(cols)


def grid_shape(n_cells: int, n_panels: int, halves: bool = False) -> tuple[int, int]:
    """(rows, cols) of a small-multiples grid of ``n_cells`` iterations for slides.

    A one-panel scene fills rows of up to 3 cells (4 from 10 cells on), wider than tall; a scene of
    several panels is already a row, so each iteration gets its own row. With ``halves`` (half-step
    cells, E and M of each iteration in turn) a one-panel scene has two columns: each row is one
    iteration's E-step and M-step.
    """
    if n_panels > 1:
        return n_cells, 1
    if halves:
        cols = min(2, n_cells)
        return math.ceil(n_cells / cols), cols
    cols = n_cells if n_cells <= 3 else 2 if n_cells == 4 else 3 if n_cells <= 9 else 4
    return math.ceil(n_cells / cols), cols


class Scene:
    """Panels drawn into one figure, and the per-frame title.

    Parameters
    ----------
    panels : list of str, mapping or Panel
        Panel specs (see :func:`emviz.render.panel.make_panel`). Panel objects are copied, so one spec
        can serve several scenes.
    trace : Trace
    style : Style, mapping or str, optional
    layout : [rows, cols], optional
        Default: the panels in one row.
    title : str or False, optional
        A heading shown above the iteration line; ``False`` hides the title line altogether.
    half_steps : bool
        Show half-step frames (:class:`~emviz.render.steps.Frame` with a phase): the title gets a
        slot for "E-step" / "M-step".

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    canvas : FigureCanvasAgg
    animated : list of Artist
        Every artist that changes per frame (the panels' and the title).
    """

    def __init__(self, panels, trace, style=None, layout=None, title=None, overlay=None, half_steps=False):
        self.half_steps = bool(half_steps)
        self.runs = as_runs(trace)
        # The longest run sets T; a run that stopped earlier rests at its last iteration.
        self.trace = max(self.runs.values(), key=lambda run: run.n_iter)
        self.style: Style = make_style(style)
        resolved = resolve_panels(panels)
        self.cells = _cells(resolved, overlay, self.runs)
        #: Index of the first overlay cell (the per-run cells come first).
        self._first_overlay = len(resolved) * len(self.runs)
        self.panels = [panel for panel, _, _ in self.cells]
        for panel, run, _ in self.cells:
            panel.check(run)
        self.rows, self.cols = resolve_layout(layout, len(self.panels))
        self.heading = _check_title(title)
        self.colors = component_colors(max(run.n_components for run in self.runs.values()))
        self._ll_widest = max((_format_ll(v) for run in self.runs.values() for v in run.log_likelihood), key=len)
        with self.style.context():
            self._build()

    # ------------------------------------------------------------------ construction
    def _build(self) -> None:
        lines = self._title_lines()
        size = self.style.figure_size(self.rows, self.cols, title=len(lines))  # final size after set-up
        # Constrained layout from the start: panels' colour bars then take their room the way it expects.
        self.figure = Figure(figsize=size, dpi=self.style.dpi, layout="constrained")
        self.canvas = FigureCanvasAgg(self.figure)
        self.axes = []
        self._panel_artists: list[list] = []
        grid = self.figure.add_gridspec(self.rows, self.cols)
        col_units = [1] * self.cols
        for i, (panel, run, name) in enumerate(self.cells):
            row, col = divmod(i, self.cols)
            span = self._span(i)
            ax = self.figure.add_subplot(grid[row, col:col + span], projection=panel.projection)
            before = set(self.figure.axes)
            # Component k has one colour in every run; a run of fewer components gets the first K of them
            # (the overlays, drawing every run, get them all).
            colors = self.colors if i >= self._first_overlay else self.colors[:run.n_components]
            artists = panel.setup(ax, run, colors)
            # A 3D Axes says axison False (it draws its own axes) but shows its title like any other.
            if name is not None and (ax.axison or panel.projection == "3d") and not ax.get_title():
                ax.set_title(name)
            self.axes.append(ax)
            self._panel_artists.append(_check_artists(artists, panel, "setup"))
            if span == 1:  # a panel spanning columns has their room already
                col_units[col] = max(col_units[col], _plot_count(self.figure, ax, before))
        if len(self.runs) > 1:
            _share_limits(self.cells, self.axes)
        # Only now is it known how many plots each panel drew: size the figure and its columns for them.
        self.figure.set_size_inches(self.style.figure_size(self.rows, self.cols, len(lines), col_units))
        grid.set_width_ratios(col_units)
        # The title's font first (shrunk if its widest line is wider than the figure), then its band:
        # sized by that font and the number of lines, not by any frame's text, so the layout holds
        # for every frame.
        font = fit_title_font(self.figure, lines, self.style.title_font_size)
        freeze_below_band(self.figure, title_band_inches(font, len(lines)),
                          what=f"{len(self.panels)} panel(s) in a {self.rows} x {self.cols} layout")
        self._suptitle = None
        self.title_parts: list = []
        if lines:
            self._add_title(lines, font)

    def _span(self, i: int) -> int:
        """Columns cell ``i`` takes: one, but an overlay that is the last cell fills the rest of its row
        (``layout: [2, 4]`` for six runs and one overlay: the overlay is two cells wide, no cell is empty)."""
        if i != len(self.cells) - 1 or i < self._first_overlay:
            return 1
        return self.cols - i % self.cols

    def _title_lines(self) -> list[str]:
        """The title's lines with blanks for the numbers (heading lines, then the template); none if hidden."""
        return [] if self.heading is False else self._title_template().split("\n")

    def _add_title(self, lines: list[str], font: float) -> None:
        """Draw the title in its band: the heading, the line's words, and its numbers as separate texts.

        Each piece of the iteration line gets a slot as wide as its widest value ever shown; the words
        are static (background), and per frame only the numbers are redrawn: the iteration group
        right-aligned in its slot, each log-likelihood left-aligned, so no number drifts from its label
        and the words never move. Every text is one line aligned at its bottom (one baseline).
        """
        fig = self.figure
        *heading, template = title_texts(fig, lines, font)
        self._heading_texts = heading
        # The line's font and baseline: the scene's title line, hence ``_suptitle`` (kept for callers
        # that read its font size). Its text is placed piece by piece below.
        self._suptitle = self._template_text = template
        renderer = self.canvas.get_renderer()
        prop = template.get_fontproperties()

        def width(text: str) -> float:
            return renderer.get_text_width_height_descent(text, prop, ismath=False)[0] if text else 0.0

        slots = self._widest_pieces()
        widths = [width(slot) for slot in slots]
        if self.half_steps:  # the half's slot: as wide as the wider of its words in this font
            widths[3] = max(width(f"{phase}-step") for phase in PHASES)
        x = (fig.bbox.width - sum(widths)) / 2  # centred, as the heading lines are
        y = template.get_position()[1]
        template.set_text("")
        pieces = self._title_pieces(self.trace.n_iter)
        for i, (slot_width, piece) in enumerate(zip(widths, pieces)):
            right = i == 1
            if i % 2 == 0 and not piece:
                continue
            text = fig.text((x + slot_width if right else x) / fig.bbox.width, y, piece, fontproperties=prop,
                            color=template.get_color(), ha="right" if right else "left", va="bottom")
            if i % 2 == 1:
                self.title_parts.append(text)
            x += slot_width

    def _widest_pieces(self) -> list[str]:
        """The iteration line's pieces at their widest: what sizes each slot (fixed for the scene)."""
        if getattr(self, "_slots", None) is None:
            pieces = self._title_pieces(self.trace.n_iter)
            first = self._first_value
            pieces[first::2] = [self._ll_widest] * len(pieces[first::2])
            if self.half_steps:
                pieces[3] = "M-step"  # as many characters as "E-step"
            self._slots = pieces
        return list(self._slots)

    def _padded(self, pieces: list[str]) -> str:
        """The pieces padded to their slots' lengths with U+2007 FIGURE SPACE: one constant-length line."""
        slots = self._widest_pieces()
        return "".join(p if i % 2 == 0 else p.rjust(len(slots[i]), FIGURE_SPACE) if i == 1
                       else p.ljust(len(slots[i]), FIGURE_SPACE) for i, p in enumerate(pieces))

    def _title_template(self) -> str:
        line = "".join(self._widest_pieces())
        return f"{self.heading}\n{line}" if self.heading else line

    # ------------------------------------------------------------------ per frame
    @property
    def blittable(self) -> bool:
        """Whether every panel's static parts stay put, so frames can be blitted.

        3D Axes never are: they order their artists by depth, not by z-order, when drawing.
        """
        return all(p.blittable and p.projection != "3d" for p in self.panels)

    @property
    def animated(self) -> list:
        """Every artist that changes per frame: the panels' and the title's numbers."""
        return [a for artists in self._panel_artists for a in artists] + list(self.title_parts)

    @property
    def _first_value(self) -> int:
        """Index of the first log-likelihood among the title's pieces (after the half's slot, if any)."""
        return 5 if self.half_steps else 3

    def _title_pieces(self, t) -> list[str]:
        """The iteration line in pieces, words and numbers alternating: ``""``, ``Iteration t/T``,
        (with half-steps `` · `` and ``E-step``/``M-step``), `` · log-likelihood ``, its value (with
        several runs each run's name and value follow). Each value is the log-likelihood of the
        parameters shown: on an M-step frame those of iteration t + 1."""
        frame = as_frame(t)
        n_iter = self.trace.n_iter
        pieces = ["", f"Iteration {frame.t}/{n_iter}"]
        if self.half_steps:
            pieces += [f" {_MIDDOT} ", frame.step_name]
        for name, run in self.runs.items():
            pieces.append(f" {_MIDDOT} " + ("log-likelihood " if name is None else f"{name} "))
            pieces.append(_format_ll(run.log_likelihood[frame.at_most(run.n_iter).params]))
        return pieces

    def title_text(self, t) -> str:
        """The title at iteration (or :class:`~emviz.render.steps.Frame`) ``t``: ``Iteration t/T ·
        log-likelihood -17112.88`` (after the heading), padded with U+2007 FIGURE SPACE to a constant
        length (before the iteration, after each value)."""
        line = self._padded(self._title_pieces(t))
        return f"{self.heading}\n{line}" if self.heading else line

    def shown_title(self) -> str:
        """The title as the figure shows it now (padded as :meth:`title_text` pads it)."""
        if self._suptitle is None:
            return ""
        heading = [text.get_text() for text in self._heading_texts]
        pieces = self._title_pieces(self.trace.n_iter)
        pieces[1::2] = [part.get_text() for part in self.title_parts]
        return "\n".join([*heading, self._padded(pieces)])

    def update(self, t) -> list:
        """Show iteration ``t`` (an int, or a half-step :class:`~emviz.render.steps.Frame`): update
        every panel and the title; return the changed artists.

        A run that stopped earlier rests at its last iteration (:meth:`Frame.at_most`). Call inside
        ``self.style.context()`` (the frame renderers do).
        """
        frame = self.check_frame(t)
        changed = []
        for panel, run, _ in self.cells:
            changed.extend(_check_artists(show_frame(panel, frame.at_most(run.n_iter)), panel, "update"))
        if self.title_parts:
            pieces = self._title_pieces(frame)
            for text, piece in zip(self.title_parts, pieces[1::2]):
                text.set_text(piece)
            changed.extend(self.title_parts)
        return changed


    def check_frame(self, t) -> Frame:
        """``t`` as a :class:`~emviz.render.steps.Frame` this scene can show, or InputError."""
        n_iter = self.trace.n_iter
        if not isinstance(t, Frame) and not 0 <= t <= n_iter:
            raise InputError(f"iteration {t} is beyond the trace, which has iterations 0..{n_iter}")
        frame = as_frame(t)
        if frame.phase is not None and not self.half_steps:
            raise InputError(f"{frame_label(frame)}: a half-step frame needs a scene built with half_steps=True")
        if frame.t > n_iter:
            raise InputError(f"iteration {frame.t} is beyond the trace, which has iterations 0..{n_iter}")
        if frame.params > n_iter:
            raise InputError(f"{frame_label(frame)}: iteration {n_iter} is the last; no M-step follows it")
        return frame


def as_runs(trace) -> dict:
    """Run name -> Trace: a mapping of runs as it is, one trace as ``{None: trace}``."""
    from emviz.trace import Trace

    if isinstance(trace, Trace):
        return {None: trace}
    if not isinstance(trace, dict) or not trace:
        raise InputError(f"trace: expected a Trace or a mapping of run names to traces, got {type(trace).__name__}")
    for name, run in trace.items():
        if not isinstance(run, Trace):
            raise InputError(f"trace: run {name!r} is a {type(run).__name__}, not a Trace")
    dims = {run.n_features for run in trace.values()}
    if len(dims) > 1:
        raise InputError(f"trace: runs shown together must fit data of one dimension, got D = {sorted(dims)}")
    return dict(trace)


def _cells(panels: list, overlay, runs: dict) -> list[tuple]:
    """(panel, trace, run name) of every Axes: the panels once per run, then the overlay panels once.

    Panels are deep copies sharing the traces: set-up stores artists on a panel, and a spec's panels
    serve many scenes (workers, grid cells); the traces are read-only and may be large.
    """
    memo = {id(run): run for run in runs.values()}
    cells = [(copy.deepcopy(panel, dict(memo)), run, name) for name, run in runs.items() for panel in panels]
    longest = max(runs.values(), key=lambda run: run.n_iter)
    for panel in resolve_panels(overlay) if overlay else []:
        if not getattr(panel, "overlays_runs", False):
            raise InputError(f"overlay: panel {panel.name!r} draws one run; it cannot overlay several")
        panel = copy.deepcopy(panel, dict(memo))
        panel.runs = dict(runs)
        cells.append((panel, longest, None))
    return cells


def _share_limits(cells: list, axes: list) -> None:
    """Give the same panel of every run the same 2D axis limits (the union), so runs compare by eye."""
    groups: dict[int, list] = {}
    per_run = {}
    for (panel, run, name), ax in zip(cells, axes):
        if name is None or panel.projection is not None or not ax.axison:
            continue
        index = per_run.setdefault(name, 0)
        per_run[name] = index + 1
        groups.setdefault(index, []).append(ax)
    for group in groups.values():
        if len(group) < 2:
            continue
        xs = [ax.get_xlim() for ax in group]
        ys = [ax.get_ylim() for ax in group]
        x = (min(lo for lo, _ in xs), max(hi for _, hi in xs))
        y = (min(lo for lo, _ in ys), max(hi for _, hi in ys))
        for ax in group:
            ax.set_xlim(*x)
            ax.set_ylim(*y)


def _plot_count(figure, ax, before: set) -> int:
    """Plots a panel drew: its Axes if shown, plus the Axes it added (colour bars not counted)."""
    shown = [ax] if ax.axison and ax.get_visible() else []
    added = [a for a in figure.axes if a not in before and a.get_label() != "<colorbar>" and a.get_visible()]
    return max(1, len(shown) + len(added))


def _format_ll(value) -> str:
    return f"{float(value):.2f}"


def _check_title(title):
    if title is None or title is False:
        return title
    if not isinstance(title, str):
        raise InputError(f"title: must be a string or false, got {type(title).__name__}")
    return title.strip() or None


def _check_artists(artists, panel, method: str) -> list:
    from matplotlib.artist import Artist

    artists = list(artists or [])
    for a in artists:
        if not isinstance(a, Artist):
            raise TypeError(f"panel {panel.name!r}: {method}() must return matplotlib artists, got {type(a).__name__}")
    return artists


def grid_figure(panels, trace, iterations, style=None, title=None) -> Figure:
    """Small multiples for slides: the scene's panels at each of ``iterations``, titled "Iteration t".

    ``iterations`` may hold half-step :class:`~emviz.render.steps.Frame` values (titled "Iteration t ·
    E-step"); a one-panel grid of them has two columns, each row one iteration's E-step and M-step.

    ``style.size`` is the whole figure's size, as for every output: the r x c cells share it. Without
    it each cell gets the automatic size of one frame of the same panels, so the grid measures
    ``c * width`` by ``r * height`` (plus the heading's band when ``title`` is given).

    Returns
    -------
    matplotlib.figure.Figure
        On an Agg canvas, laid out below the heading's band and frozen (draw or save it inside
        ``style.context()``).
    """
    style = make_style(style)
    base = resolve_panels(panels)
    for panel in base:
        panel.check(trace)
    heading = _check_title(title)
    heading_lines = heading.split("\n") if heading else []
    frames = _grid_frames(list(iterations), trace.n_iter)
    rows, cols = grid_shape(len(frames), len(base), halves=any(f.phase is not None for f in frames))
    colors = component_colors(trace.n_components)
    with style.context():
        fig = Figure(dpi=style.dpi, layout="constrained")
        FigureCanvasAgg(fig)
        cells = np.asarray(fig.subfigures(rows, cols, squeeze=False)).ravel()
        units = [1] * len(base)
        grids = []
        for frame, cell in zip(frames, cells):
            # A cell's title is its subfigure's: constrained layout keeps it clear of the cell's panels.
            cell.suptitle(frame_label(frame))
            grids.append(cell.add_gridspec(1, len(base)))
            for j, spec in enumerate(base):
                panel = copy.deepcopy(spec, {id(trace): trace})
                ax = cell.add_subplot(grids[-1][0, j], projection=panel.projection)
                before = set(fig.axes)
                panel.setup(ax, trace, colors)
                show_frame(panel, frame)
                units[j] = max(units[j], _plot_count(fig, ax, before))
        if style.size is not None:
            fig.set_size_inches(*style.size)
        else:
            cell_w, cell_h = style.figure_size(1, len(base), title=True, col_units=units)
            fig.set_size_inches(cols * cell_w, rows * cell_h + style.title_band(len(heading_lines)))
        for grid in grids:
            grid.set_width_ratios(units)
        font = fit_title_font(fig, heading_lines, style.title_font_size)
        freeze_below_band(fig, title_band_inches(font, len(heading_lines)),
                          what=f"{len(frames)} cell(s) of {len(base)} panel(s) in a {rows} x {cols} grid")
        title_texts(fig, heading_lines, font)
    return fig


def _grid_frames(items: list, n_iter: int) -> list[Frame]:
    """A grid's cells as frames: iterations checked against the trace, half-steps with an M-step after them."""
    check_iterations([item.t if isinstance(item, Frame) else item for item in items], n_iter)
    frames = [as_frame(item) for item in items]
    for i, frame in enumerate(frames):
        if frame.params > n_iter:
            raise InputError(f"iterations[{i}]: iteration {n_iter} is the last; no M-step follows it")
    return frames
