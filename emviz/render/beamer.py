"""Beamer slides: an animation's frames as vector PDF pages (or PNGs) and a ``.tex`` snippet that
animates them with the LaTeX ``animate`` package (see :mod:`emviz.writers.beamer`).

Vector where the panels allow. Each frame's figure is saved as a PDF page, so lines and text stay
sharp at any zoom, except in two cases where vector frames would be slow to show and large (each
frame is a whole page of its own in the slide's PDF), and each frame is a PNG at the style's dpi
instead, drawn as the other animations draw theirs (blitted, in ``workers`` processes):

- a 3D panel (``cloud3d``, ``loglik_surface``): thousands of depth-sorted polygons and points;
- more than :data:`MAX_VECTOR_MARKERS` scatter markers in a frame (a large point cloud).

Images inside a panel (a density background) stay images inside the PDF page either way. Vector
frames are drawn one after the other in this process.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.collections import PathCollection

from emviz.render.frames import progress_bar

__all__ = ["MAX_VECTOR_MARKERS", "raster_reason", "render_beamer"]

#: Most scatter markers a vector frame may draw: about where a PDF page of markers outgrows a PNG
#: of the same frame (each marker is a few dozen bytes of page content).
MAX_VECTOR_MARKERS = 2000


def raster_reason(scene) -> str | None:
    """Why the scene's frames are PNG rather than vector PDF (see the module docstring), or None."""
    if any(getattr(ax, "name", "") == "3d" for ax in scene.figure.axes):
        return "a 3D panel"
    markers = sum(len(c.get_offsets()) for c in scene.figure.findobj(PathCollection))
    if markers > MAX_VECTOR_MARKERS:
        return f"{markers} markers per frame (more than {MAX_VECTOR_MARKERS})"
    return None


def render_beamer(plan, path: Path, *, workers=1, progress=True) -> Path:
    """Write the animation ``plan`` (an :class:`emviz.render.api.AnimationPlan`) as the beamer snippet
    ``path`` (``.tex``) with its frames in the folder beside it; return ``path``."""
    from emviz.render.api import draw_frames
    from emviz.writers.beamer import BeamerWriter

    spec, frames_at = plan.spec, plan.keys()  # what each frame shows (half-steps: two per iteration)
    writer = BeamerWriter(path, fps=plan.fps, hold_last_ms=plan.hold_last_ms)
    scene = spec.build()
    with spec.style.context():
        scene.update(frames_at[0])
        raster = raster_reason(scene) is not None
    if raster:
        del scene
        return Path(draw_frames(plan, lambda palette_frames, required: writer, palette=False, workers=workers,
                                progress=progress, desc=path.name))
    with progress_bar(len(frames_at), path.name, progress) as bar, spec.style.context():
        try:
            for t in frames_at:
                changed = scene.update(t)
                # A saved figure leaves out figure-level artists flagged animated (for blitting):
                # draw them all, as a full redraw does.
                for artist in [*changed, *scene.animated]:
                    if artist.get_animated():
                        artist.set_animated(False)
                writer.grab_figure(scene.figure)
                bar.update(1)
        except BaseException:
            writer.abort()
            raise
        return writer.finish()
