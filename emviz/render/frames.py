"""The frame loop: RGB frames of a scene for a list of iterations, blitted, optionally in worker processes.

Blitting. The static background is drawn once and copied; per frame it is restored and only the
artists that can differ are drawn on top, then the Agg buffer is read. To be pixel-identical to a full
redraw, "the artists that can differ" are, in each Axes, the animated artists *and every static artist
that a full draw would paint after the first animated one* (same z-order sort as ``Axes.draw``):
spines and legends above a line, for example. Such an overlay is copied from a pre-drawn background
when no animated artist touched its pixels this frame, and drawn again otherwise (see
:class:`FrameRenderer`). Scenes with a panel that is not ``blittable`` (a moving landscape) or with a
3D Axes are fully redrawn per frame.

Workers. Frames depend only on their iteration (or half-step, :class:`emviz.render.steps.Frame`), so
the list is cut into contiguous chunks rendered by worker processes, each of which builds its own
scene once from a picklable :class:`SceneSpec`. Workers are started with the ``spawn`` method: a fresh interpreter that inherits no torch thread pools
or locks (forking after torch has started its threads can deadlock) and behaves the same on Linux,
macOS and Windows. It imports numpy, matplotlib and emviz's render layer, not torch: the landscape
panels' grids are computed once, in the parent (``prepare``), and travel in the spec; a landscape held
at the shown iteration is evaluated per frame with numpy. Chunks come back in order, a bounded number
in flight, and are yielded as soon as they are next in line: memory stays bounded.

Encoding. :func:`write_frames` hands frames to a writer in a second thread through a short queue, so
encoding overlaps drawing.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from operator import attrgetter

import numpy as np
from matplotlib.axes import Axes
from matplotlib.text import Text

from emviz.errors import InputError
from emviz.render.scene import Scene, as_runs, resolve_layout, resolve_panels
from emviz.render.steps import Frame
from emviz.render.style import Style, make_style

__all__ = ["SceneSpec", "FrameRenderer", "iter_frames", "resolve_workers", "write_frames", "progress_bar",
           "START_METHOD"]

#: How worker processes are started (see the module docstring).
START_METHOD = "spawn"
#: Below this many frames per worker, starting processes costs more than it saves ("auto" only):
#: for frames fully redrawn (tens of ms each), and for blitted ones (a few ms each).
MIN_FRAMES_PER_WORKER = 24
MIN_BLIT_FRAMES_PER_WORKER = 400
#: Upper bound on the bytes of frames in one chunk, and on frames per chunk.
CHUNK_BYTES = 16 * 2**20
CHUNK_FRAMES = 16


@dataclass(frozen=True)
class SceneSpec:
    """Everything needed to build a :class:`Scene`, picklable so that worker processes can rebuild it.

    Panels are resolved and checked in the parent, and a panel with a ``prepare(trace)`` method gets to
    precompute there (a log-likelihood landscape, say) and carry the result to every worker and every
    cell of a still grid in its pickled (or copied) state, instead of each computing it again in
    ``setup``.
    """

    panels: tuple
    trace: object  # a Trace, or a mapping run name -> Trace
    style: Style = field(default_factory=Style)
    layout: tuple | None = None
    title: str | bool | None = None
    overlay: tuple = ()
    #: The scene shows half-step frames (its title has a slot for "E-step" / "M-step").
    half_steps: bool = False

    @classmethod
    def create(cls, panels, trace, style=None, layout=None, title=None, overlay=None, half_steps=False):
        """Resolve and check the panels against the trace(s), then run each panel's ``prepare(trace)``.

        ``prepare`` runs for a single trace; with several runs only on panels that keep their results
        per trace (``prepares_runs = True``: each run's copy of the panel must find its own): once per
        run, and on an overlay panel once, with ``runs`` set, for the trace the scene gives it.
        """
        runs = as_runs(trace)
        resolved = resolve_panels(panels)
        extra = resolve_panels(overlay) if overlay else []
        for panel in resolved:
            for run in runs.values():
                panel.check(run)
        for panel in extra:
            if not getattr(panel, "overlays_runs", False):
                raise InputError(f"overlay: panel {panel.name!r} draws one run; it cannot overlay several")
            for run in runs.values():
                panel.check(run)
        resolve_layout(layout, len(resolved) * len(runs) + len(extra))
        _prepare(resolved, extra, runs)
        layout = tuple(layout) if layout is not None else None
        return cls(panels=tuple(resolved), trace=trace, style=make_style(style), layout=layout, title=title,
                   overlay=tuple(extra), half_steps=bool(half_steps))

    @property
    def primary(self):
        """The longest run's trace (the one trace, when there is one): it sets T."""
        return max(as_runs(self.trace).values(), key=lambda run: run.n_iter)

    def build(self) -> Scene:
        return Scene(list(self.panels), self.trace, self.style, self.layout, self.title, overlay=list(self.overlay),
                     half_steps=self.half_steps)

    @property
    def blittable(self) -> bool:
        return all(p.blittable and p.projection != "3d" for p in self.panels)

    def frame_bytes(self) -> int:
        """Approximate size of one RGB frame in bytes (for chunk sizing)."""
        n_cells = len(self.panels) * len(as_runs(self.trace)) + len(self.overlay)
        rows, cols = resolve_layout(self.layout, n_cells)
        w, h = self.style.figure_size(rows, cols, title=self.title is not False)
        return int(w * self.style.dpi) * int(h * self.style.dpi) * 3


def _prepare(panels: list, overlays: list, runs: dict) -> None:
    """Run the panels' ``prepare`` hooks as :meth:`SceneSpec.create` describes."""
    for panel in panels:
        prepare = getattr(panel, "prepare", None)
        if callable(prepare) and (len(runs) == 1 or getattr(panel, "prepares_runs", False)):
            for run in runs.values():
                prepare(run)
    longest = max(runs.values(), key=lambda run: run.n_iter)
    for panel in overlays:
        prepare = getattr(panel, "prepare", None)
        if callable(prepare) and getattr(panel, "prepares_runs", False):
            panel.runs = dict(runs)  # as the scene sets it on its copy of the panel
            prepare(longest)


def _draw_order(parent) -> list:
    """Children of an Axes or Figure in the order its ``draw`` paints them (patch excluded)."""
    children = [c for c in parent.get_children() if c is not parent.patch]
    if isinstance(parent, Axes):  # as Axes.draw: no spines without frame, no axes when switched off
        left_out = []
        if not (parent.axison and parent.get_frame_on()):
            left_out += list(parent.spines.values())
        if not parent.axison:
            left_out += [getattr(parent, name) for name in ("xaxis", "yaxis", "zaxis") if hasattr(parent, name)]
        children = [c for c in children if all(c is not a for a in left_out)]
    return sorted(children, key=attrgetter("zorder"))


def _blit_plan(figure, animated: list) -> list:
    """The artists to draw per frame, in full-draw order: animated ones plus the static overlays above them.

    Assumes the panels' Axes do not overlap one another (true of grid layouts).
    """
    dynamic = {id(a) for a in animated}
    plan: list = []
    figure_level_started = False
    for child in _draw_order(figure):
        if isinstance(child, Axes):
            plan.extend(_axes_plan(child, dynamic))
            figure_level_started = figure_level_started or any(id(a) in dynamic for a in plan)
        elif id(child) not in dynamic and not _paints(child):
            continue
        elif id(child) in dynamic or figure_level_started:
            plan.append(child)
            figure_level_started = True
    return plan


def _axes_plan(ax, dynamic: set) -> list:
    order = _draw_order(ax)
    first = next((i for i, a in enumerate(order) if id(a) in dynamic), None)
    if first is None:
        return []
    return [a for a in order[first:] if id(a) in dynamic or _paints(a)]


def _paints(artist) -> bool:
    """False for static artists that draw nothing (hidden ones, the empty titles every Axes has)."""
    if not artist.get_visible():
        return False
    return not (isinstance(artist, Text) and not artist.get_text())


class _Overlay:
    """A static artist drawn above animated ones, and the pixels it paints (for the cache below)."""

    __slots__ = ("artist", "rows", "cols")

    def __init__(self, artist, rows: slice | None = None, cols: slice | None = None):
        self.artist = artist
        self.rows = rows
        self.cols = cols

    @property
    def cached(self) -> bool:
        return self.rows is not None


def _painted_box(before: np.ndarray, after: np.ndarray, extent, pad: int) -> tuple[int, int, int, int]:
    """Rows/cols box (r0, r1, c0, c1) covering an artist's window extent and every pixel it changed."""
    height, width = before.shape[:2]
    boxes = []
    changed = np.any(before != after, axis=2)
    if changed.any():
        rows, cols = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(axis=0))[0]
        boxes.append((rows[0], rows[-1] + 1, cols[0], cols[-1] + 1))
    if extent is not None and np.all(np.isfinite(extent.extents)) and extent.width >= 0 and extent.height >= 0:
        x0, y0, x1, y1 = extent.extents
        boxes.append((height - int(np.ceil(y1)), height - int(np.floor(y0)), int(np.floor(x0)), int(np.ceil(x1))))
    if not boxes:
        return (0, 0, 0, 0)
    r0, r1, c0, c1 = (min(b[0] for b in boxes), max(b[1] for b in boxes),
                      min(b[2] for b in boxes), max(b[3] for b in boxes))
    return (max(r0 - pad, 0), min(r1 + pad, height), max(c0 - pad, 0), min(c1 + pad, width))


def _overlap(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


class FrameRenderer:
    """Draws frames of one scene, blitting when every panel allows it.

    Static overlays (a legend above a line) are what makes an exact blit slow: they must be redrawn over
    the animated artists every frame. Each overlay whose pixels touch no other overlay's is cached
    instead: when, at its turn in the draw order, its box of the buffer still equals the background
    (no animated artist drew there), the box is copied from a background that has the overlays drawn
    (exactly what drawing it would give); otherwise it is drawn. Either way the frame is the full draw's.

    Parameters
    ----------
    scene : Scene
    blit : bool, optional
        Force the full-redraw path with ``False`` (the reference the blitted frames are tested against).
    """

    #: Pixels added around each overlay's box (antialiasing reaches one pixel beyond a path).
    PAD = 2

    def __init__(self, scene: Scene, blit: bool | None = None):
        self.scene = scene
        self.blit = scene.blittable if blit is None else bool(blit) and scene.blittable
        self._background = None
        self._plan: list = []
        self._known: set = set()
        if self.blit:
            with scene.style.context():
                self._prepare_background()

    def _prepare_background(self) -> None:
        scene = self.scene
        scene.update(0)  # later updates change data only, never the set of artists
        dynamic = {id(a) for a in scene.animated}
        self._known = dynamic
        plan = _blit_plan(scene.figure, scene.animated)
        if not dynamic <= {id(a) for a in plan}:
            # An animated artist that is not a direct child of an Axes or the figure (inside a
            # legend, an offset box, ...) cannot be drawn alone in draw order: redraw frames fully.
            self.blit = False
            return
        for artist in plan:
            artist.set_animated(True)
        scene.canvas.draw()
        self._background = scene.canvas.copy_from_bbox(scene.figure.bbox)
        self._bare = self._buffer().copy()
        self._plan = self._cache_overlays(plan, dynamic)
        self._dressed = self._buffer().copy()

    def _buffer(self) -> np.ndarray:
        """The canvas's RGBA pixels, array of shape (H, W, 4), a writable view."""
        return np.asarray(self.scene.canvas.buffer_rgba())

    def _cache_overlays(self, plan: list, dynamic: set) -> list:
        """Wrap the overlays of ``plan``; find each one's box; leave the buffer with all overlays drawn."""
        canvas, figure = self.scene.canvas, self.scene.figure
        renderer = canvas.get_renderer()
        items, boxes = [], []
        for artist in plan:
            if id(artist) in dynamic:
                items.append(artist)
                continue
            canvas.restore_region(self._background)
            figure.draw_artist(artist)
            try:
                extent = artist.get_window_extent(renderer)
            except Exception:  # an artist without extents is simply always redrawn
                extent = None
            boxes.append(_painted_box(self._bare, self._buffer(), extent, self.PAD))
            items.append(_Overlay(artist))
        overlays = [o for o in items if isinstance(o, _Overlay)]
        for i, overlay in enumerate(overlays):
            alone = all(not _overlap(boxes[i], b) for j, b in enumerate(boxes) if j != i)
            if alone and extent_ok(boxes[i]):
                overlay.rows, overlay.cols = slice(*boxes[i][:2]), slice(*boxes[i][2:])
        canvas.restore_region(self._background)
        for overlay in overlays:
            figure.draw_artist(overlay.artist)
        return items

    def frame(self, t) -> np.ndarray:
        """The frame at iteration (or :class:`~emviz.render.steps.Frame`) ``t``, array (H, W, 3), uint8."""
        with self.scene.style.context():
            return self._frame(t)

    def frames(self, iterations: Iterable) -> Iterator[np.ndarray]:
        """Frames of several iterations (or Frames) under one style context, entered once (restored when
        the generator finishes or is closed)."""
        with self.scene.style.context():
            for t in iterations:
                yield self._frame(t)

    def _frame(self, t) -> np.ndarray:
        scene = self.scene
        changed = scene.update(t)
        if self.blit:
            unknown = [a for a in changed if id(a) not in self._known]
            if unknown:
                raise RuntimeError(
                    f"a panel's update() returned {unknown[0]!r}, which its setup() did not return; "
                    "blitting needs every animated artist from setup()"
                )
            scene.canvas.restore_region(self._background)
            buffer = self._buffer()
            for item in self._plan:
                if not isinstance(item, _Overlay):
                    scene.figure.draw_artist(item)
                elif item.cached and np.array_equal(buffer[item.rows, item.cols], self._bare[item.rows, item.cols]):
                    buffer[item.rows, item.cols] = self._dressed[item.rows, item.cols]
                else:
                    scene.figure.draw_artist(item.artist)
        else:
            # Panels may flag their artists animated (for blitting); a full draw must include them.
            for artist in [*changed, *scene.animated]:
                if artist.get_animated():
                    artist.set_animated(False)
            scene.canvas.draw()
        return _rgb(self._buffer())


_RGB = np.array([0, 1, 2])


def _rgb(rgba: np.ndarray) -> np.ndarray:
    """A new RGB array from an RGBA one (``take`` gathers 3 of 4 bytes about twice as fast as slicing)."""
    height, width = rgba.shape[:2]
    return np.take(rgba.reshape(-1, 4), _RGB, axis=1).reshape(height, width, 3)


def extent_ok(box) -> bool:
    """A box worth caching: not empty."""
    return box[1] > box[0] and box[3] > box[2]


# ---------------------------------------------------------------------- workers
_WORKER_STATE: dict = {}


def _worker_init(spec: SceneSpec) -> None:
    _WORKER_STATE.clear()
    _WORKER_STATE["spec"] = spec


def _worker_render(iterations: list) -> np.ndarray:
    """Render one chunk in a worker; the scene is built on the first chunk (errors reach the parent)."""
    renderer = _WORKER_STATE.get("renderer")
    if renderer is None:
        renderer = FrameRenderer(_WORKER_STATE["spec"].build())
        _WORKER_STATE["renderer"] = renderer
    return np.stack(list(renderer.frames(iterations)))


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_workers(workers, n_frames: int, blittable: bool = True) -> int:
    """Number of processes for ``n_frames``: an int (capped by the frames) or ``"auto"``.

    ``"auto"`` is the number of CPUs this process may use, capped so that each worker has enough
    frames to repay its start (a fresh interpreter, its imports and the panels' set-up, a second or
    more): :data:`MIN_FRAMES_PER_WORKER` fully redrawn frames, or :data:`MIN_BLIT_FRAMES_PER_WORKER`
    blitted ones, which cost only milliseconds each. 1 means rendering in this process.
    """
    if workers == "auto":
        per_worker = MIN_BLIT_FRAMES_PER_WORKER if blittable else MIN_FRAMES_PER_WORKER
        return max(1, min(_available_cpus(), n_frames // per_worker))
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"workers: must be a positive integer or \"auto\", got {workers!r}")
    return max(1, min(int(workers), n_frames))


def _chunks(iterations: list, n_workers: int, frame_bytes: int) -> list[list]:
    size = max(1, min(CHUNK_FRAMES, CHUNK_BYTES // max(frame_bytes, 1),
                      -(-len(iterations) // (4 * n_workers))))
    return [iterations[i:i + size] for i in range(0, len(iterations), size)]


def iter_frames(spec: SceneSpec, iterations: Iterable, *, workers=1) -> Iterator[np.ndarray]:
    """Yield the frame of each iteration (an int, or a half-step :class:`~emviz.render.steps.Frame`
    for a spec built with ``half_steps``), in order, as arrays of shape (H, W, 3), uint8.

    With ``workers`` > 1, chunks are rendered in spawned processes, at most two per worker in flight.
    Closing the generator early cancels what is pending and stops the workers.
    """
    iterations = [t if isinstance(t, Frame) else int(t) for t in iterations]
    n_workers = resolve_workers(workers, len(iterations), blittable=spec.blittable)
    if n_workers == 1:
        # One style context for the whole sequence (entering rc_context costs ~1 ms a frame); it is
        # restored when the generator finishes or is closed.
        yield from FrameRenderer(spec.build()).frames(iterations)
        return
    chunks = deque(_chunks(iterations, n_workers, spec.frame_bytes()))
    context = multiprocessing.get_context(START_METHOD)
    pool = ProcessPoolExecutor(n_workers, mp_context=context, initializer=_worker_init, initargs=(spec,))
    pending: deque = deque()
    try:
        while chunks or pending:
            while chunks and len(pending) < 2 * n_workers:
                pending.append(pool.submit(_worker_render, chunks.popleft()))
            yield from pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def progress_bar(total: int | None, desc: str | None = None, enabled: bool = True):
    """The tqdm bar emviz shows on stderr (a no-op bar when not ``enabled``)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", file=sys.stderr, disable=not enabled, dynamic_ncols=True)


def write_frames(frames: Iterable[np.ndarray], writer, *, total: int | None = None, progress=True,
                 desc: str | None = None, background: bool = True, bar=None) -> int:
    """Hand frames to ``writer.grab_frame`` in order as they come, with a tqdm bar on stderr; return the count.

    With ``background`` the writer runs in a second thread fed through a short queue, so encoding
    (numpy and Pillow's LZW encoder, which release the GIL) overlaps with drawing the next frames; at
    most :data:`QUEUE_FRAMES` frames wait, so memory stays bounded. The bar counts encoded frames, so
    it covers drawing and encoding. Pass ``bar`` to advance a bar the caller opened (and closes).
    """
    if bar is None:
        with progress_bar(total, desc, progress) as own:
            return write_frames(frames, writer, background=background, bar=own)
    if background:
        return _write_in_background(frames, writer, bar)
    count = 0
    for frame in frames:
        writer.grab_frame(frame)
        count += 1
        bar.update(1)
    return count


#: Frames drawn ahead of the encoder in :func:`write_frames`.
QUEUE_FRAMES = 4
_DONE = object()


def _write_in_background(frames, writer, bar) -> int:
    pending: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
    failed: list[BaseException] = []
    stop = threading.Event()

    def encode():
        while True:
            item = pending.get()
            if item is _DONE:
                return
            if failed or stop.is_set():
                continue  # keep draining so the drawing side never blocks on a full queue
            try:
                writer.grab_frame(item)
                bar.update(1)
            except BaseException as exc:  # re-raised in the caller's thread
                failed.append(exc)

    thread = threading.Thread(target=encode, name="emviz-writer", daemon=True)
    thread.start()
    count = 0
    try:
        for frame in frames:
            if failed:
                break
            pending.put(frame)
            count += 1
    except BaseException:
        stop.set()
        raise
    finally:
        pending.put(_DONE)
        thread.join()
    if failed:
        raise failed[0]
    return count
