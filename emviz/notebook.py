"""Animations in a notebook: :func:`animate` (fit + record + render) and :func:`show` (a trace).

Both return an :class:`Animation`, which a notebook displays inline as the player of
:mod:`emviz.writers.player` (the same player as the ``.html`` output), with the last frame as a PNG
beside it for viewers that run no scripts. Frames are drawn once, on first display (a progress bar
shows), and kept on the object as the player's patches; :meth:`Animation.save` writes any output that
:func:`emviz.render` writes, from those frames for ``.html`` and ``.gif``. Displaying writes no file.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from emviz.errors import InputError

__all__ = ["Animation", "animate", "show"]

#: The render options an Animation takes, with :func:`emviz.render`'s defaults.
RENDER_OPTIONS = dict(fps=10.0, schedule=None, hold_last=2.0, style=None, workers=1, layout=None, title=None,
                      iterations=None, overlay=None, colors=128, max_bytes=5_000_000, progress=True, half_steps=False)
_PLAN_OPTIONS = ("fps", "schedule", "hold_last", "style", "layout", "title", "iterations", "overlay", "half_steps")


class Animation:
    """A trace, its panels and render options, shown inline in a notebook and saved to any output.

    Parameters
    ----------
    trace : Trace, path of a saved trace, or mapping of run names to those
    panels : list of str, mapping or Panel
    **options
        :func:`emviz.render`'s keywords (``fps``, ``schedule``, ``hold_last``, ``style``, ``workers``,
        ``layout``, ``title``, ``iterations``, ``overlay``, ``colors``, ``max_bytes``, ``progress``,
        ``half_steps``). They are checked here, before anything is drawn.

    Attributes
    ----------
    trace : Trace or dict
    data : PlayerData or None
        The drawn frames (None until first displayed or saved as ``.html``/``.gif``).
    """

    def __init__(self, trace, panels=("components",), **options):
        from emviz._recent import note_animation
        from emviz.render.api import _load_traces, plan_animation

        unknown = sorted(set(options) - set(RENDER_OPTIONS))
        if unknown:
            from emviz.errors import did_you_mean

            raise InputError(f"{unknown[0]}: not a render option{did_you_mean(unknown[0], list(RENDER_OPTIONS))}; "
                             f"choose from {', '.join(RENDER_OPTIONS)}")
        self.trace = _load_traces(trace)
        self.panels = panels
        self.options = {**RENDER_OPTIONS, **options}
        self._plan = plan_animation(self.trace, panels, **{k: self.options[k] for k in _PLAN_OPTIONS})
        self.data = None
        self._saved_images: list[Path] = []
        note_animation(self)

    @property
    def n_frames(self) -> int:
        """Number of frames (one per scheduled iteration; with half-steps two, the last one)."""
        return len(self._plan.frames_at)

    @property
    def iterations(self) -> list[int]:
        """The EM iteration of each frame (with half-steps each twice, E-step then M-step, the last once)."""
        return list(self._plan.frames_at)

    def __repr__(self) -> str:
        state = "drawn" if self.data is not None else "not drawn yet"
        return f"<emviz.Animation: {self.n_frames} frames of iterations 0..{self._plan.frames_at[-1]}, {state}>"

    # -- drawing -------------------------------------------------------------------------------------

    def draw(self):
        """Draw the frames (once; later calls return the kept ones) and return the player's data."""
        if self.data is None:
            from emviz.render.api import draw_frames
            from emviz.writers.player import PlayerEncoder

            plan, opts = self._plan, self.options

            def open_sink(palette_frames, required):
                encoder = PlayerEncoder(required, palette_frames, colors=opts["colors"])
                return _PlayerSink(encoder, plan)

            self.data = draw_frames(plan, open_sink, palette=True, workers=opts["workers"],
                                    progress=opts["progress"], desc="emviz")
        return self.data

    def to_html(self, autoplay: bool = True) -> str:
        """The player as an HTML fragment (self-contained, works offline)."""
        from emviz.writers.player import player_fragment

        title = self.options["title"] if isinstance(self.options["title"], str) else "emviz animation"
        return player_fragment(self.draw(), title, autoplay=autoplay)

    def to_png(self) -> bytes:
        """The last frame as PNG bytes."""
        from PIL import Image

        poster = base64.b64decode(self.draw().poster[1])
        buf = io.BytesIO()
        Image.open(io.BytesIO(poster)).convert("RGB").save(buf, format="PNG", optimize=True)
        return buf.getvalue()

    # -- notebook display ----------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_png_(self) -> bytes:
        return self.to_png()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        # One call gives the player and, for viewers that run no scripts (GitHub's), the last frame.
        return {"text/html": self.to_html(), "image/png": self.to_png(), "text/plain": repr(self)}

    # -- files ---------------------------------------------------------------------------------------

    def save(self, path, **overrides) -> Path:
        """Write ``path`` as :func:`emviz.render` would with this animation's options (``overrides`` win).

        ``.html`` and ``.gif`` reuse the frames already drawn (drawing them first for ``.html``); the
        other outputs (``.mp4``, a PNG folder, a still) are rendered from the trace.
        """
        from emviz._recent import note_file
        from emviz.render.api import render

        unknown = sorted(set(overrides) - set(RENDER_OPTIONS))
        if unknown:
            raise InputError(f"{unknown[0]}: not a render option; choose from {', '.join(RENDER_OPTIONS)}")
        path = Path(path)
        suffix = path.suffix.lower()
        options = {**self.options, **overrides}
        # Options that do not change the pixels (progress, workers, the size warning) keep the frames.
        reuse = all(options[k] == self.options[k] for k in overrides if k not in ("progress", "workers", "max_bytes"))
        if reuse and (suffix == ".html" or (suffix == ".gif" and self.data is not None)):
            written = self._write_from_frames(path, suffix)
            note_file(written)
        else:
            written = render(self.trace, panels=self.panels, path=path, **options)
        if written.suffix.lower() in (".gif", ".png", ".svg"):
            self._saved_images.append(written)
        return written

    def _write_from_frames(self, path: Path, suffix: str) -> Path:
        from emviz.writers import open_writer
        from emviz.writers.player import decode_frames

        data, plan = self.draw(), self._plan
        writer = open_writer(path, fps=plan.fps, hold_last_ms=0, loop=0, palette=data.palette,
                             max_bytes=self.options["max_bytes"], iterations=data.iterations,
                             log_likelihood=data.log_likelihood, labels=data.labels)
        with writer:
            for frame, duration in zip(decode_frames(data), data.durations):
                writer.grab_frame(frame, duration)
        return Path(writer.path)


class _PlayerSink:
    """A writer-shaped sink (``grab_frame``/``finish``/``abort``) that keeps the frames as player patches."""

    def __init__(self, encoder, plan):
        self.encoder, self.plan = encoder, plan
        self._pending = None

    def grab_frame(self, frame) -> None:
        if self._pending is not None:
            self.encoder.add(self._pending, 1000.0 / self.plan.fps)
        self._pending = frame

    def finish(self):
        self.encoder.add(self._pending, 1000.0 / self.plan.fps)
        return self.encoder.finish(self.plan.hold_last_ms, iterations=self.plan.frames_at,
                                   log_likelihood=self.plan.log_likelihood(), labels=self.plan.labels())

    def abort(self) -> None:
        self._pending = None


def show(trace, panels=("components",), **options) -> Animation:
    """An :class:`Animation` of a trace; in a notebook it displays inline (the player).

    Parameters
    ----------
    trace : Trace, path of a saved trace (``.npz``), or mapping of run names to those
    panels : list of str, mapping or Panel
    **options
        :func:`emviz.render`'s options: ``fps``, ``schedule``, ``hold_last``, ``style``, ``workers``,
        ``layout``, ``title``, ``iterations``, ``overlay``, ``colors``, ``max_bytes``, ``progress``,
        ``half_steps``.

    Examples
    --------
    >>> emviz.show(trace, panels=["components"], schedule={"dense": 50, "every": 5})  # doctest: +SKIP
    """
    return Animation(trace, panels, **options)


def animate(X, n_components=1, *, panels=("components",), covariance_type="full", init="kmeans", reg_covar=1e-6,
            tol=1e-3, max_iter=100, dtype="float64", device="auto", seed=0, algorithm="em", kernel="auto",
            chunk_size="auto", init_sample=1_000_000, resp_points=2000, show_points=20000, fps=10.0, schedule=None, hold_last=2.0, style=None, workers=1,
            layout=None, title=None, iterations=None, overlay=None, colors=128, max_bytes=5_000_000,
            progress=True, half_steps=False) -> Animation:
    """Fit a Gaussian mixture to ``X`` by EM, record every iteration, and return the :class:`Animation`.

    In a notebook the result displays inline as a player; ``.save(path)`` writes a GIF, MP4, HTML page,
    PNG folder or still. The fit runs now; frames are drawn on first display.

    Parameters
    ----------
    X : array of shape (N, D), or a Dataset
        The data. A :class:`~emviz.data.Dataset` (``emviz.data.load_bundled("old_faithful")``) brings
        its labels and, for a sampled mixture, the truth the panels draw dashed.
    n_components : int
        Number of mixture components K.
    panels : list of str, mapping or Panel
        The panels side by side, e.g. ``["ellipses", "curves"]``.

    covariance_type, init, reg_covar, tol, max_iter, dtype, device, seed, algorithm, kernel, chunk_size, init_sample
        The fit, as :class:`emviz.GaussianMixture` takes them (scikit-learn's ``GaussianMixture``
        names): ``covariance_type`` full | diag | spherical | tied; ``init`` kmeans | kmeans++ | random
        | random_from_data or an explicit :class:`~emviz.Mixture`; ``tol`` the convergence threshold
        on the mean log-likelihood (0 runs ``max_iter`` iterations); ``device`` auto | cpu | cuda;
        ``algorithm`` em | hard; ``chunk_size`` auto | rows per chunk of exact chunked EM;
        ``init_sample`` the most points the start is computed from. ``seed`` also seeds the choice of
        recorded points.
    resp_points, show_points : int
        The recording, as :class:`emviz.Recorder` takes it: points whose responsibilities are kept,
        points kept for drawing.

    fps, schedule, hold_last, style, workers, layout, title, iterations, overlay, colors, max_bytes, half_steps
        The rendering, as :func:`emviz.render` takes them: ``fps`` frames per second; ``schedule``
        which iterations become frames (``"all"``, a list, ``{"dense": n, "every": k}``,
        ``{"log": n}``; default every iteration to 100, then every 10th); ``hold_last`` seconds on the
        last frame; ``style`` a theme name or ``{"theme", "dpi", "size", "font_size"}``; ``workers``
        processes drawing frames; ``layout`` ``[rows, cols]``; ``title`` a heading or False;
        ``iterations`` an explicit schedule; ``overlay`` panels drawn with every run; ``colors`` the
        palette size (8-255) of the player and the GIF; ``max_bytes`` a GIF size to warn above;
        ``half_steps`` each iteration as two frames, its E-step (points recoloured) and its M-step
        (components moved).
    progress : bool
        Progress bars (fit, then frames) on stderr.

    Returns
    -------
    Animation

    Examples
    --------
    >>> anim = emviz.animate(X, n_components=3, panels=["ellipses", "curves"], max_iter=100)  # doctest: +SKIP
    >>> anim                      # the player, inline          # doctest: +SKIP
    >>> anim.save("em.gif")       # or .mp4 / .html / a still  # doctest: +SKIP
    """
    from emviz.em.gmm import GaussianMixture
    from emviz.recorder import Recorder

    render_options = dict(fps=fps, schedule=schedule, hold_last=hold_last, style=style, workers=workers,
                          layout=layout, title=title, iterations=iterations, overlay=overlay, colors=colors,
                          max_bytes=max_bytes, progress=progress, half_steps=half_steps)
    fitter = GaussianMixture(n_components=n_components, covariance_type=covariance_type, init=init,
                             reg_covar=reg_covar, tol=tol, max_iter=max_iter, dtype=dtype, device=device, seed=seed,
                             algorithm=algorithm, kernel=kernel, chunk_size=chunk_size, init_sample=init_sample)
    truth = labels = None
    if hasattr(X, "X") and hasattr(X, "truth"):  # a Dataset
        X, truth, labels = X.X, X.truth, X.labels
    trace = Recorder(fitter, resp_points=resp_points, show_points=show_points, progress=progress, seed=seed).run(
        X, truth=truth, labels=labels)
    return Animation(trace, panels, **render_options)
