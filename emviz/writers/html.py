"""HTML: one self-contained page (no network) that plays the frames, with play/pause and a slider."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from emviz.errors import InputError
from emviz.writers.base import WRITERS, FrameWriter

__all__ = ["HtmlWriter"]


def _encode_image(frame: np.ndarray, fmt: str) -> bytes:
    """Encode a frame losslessly as ``"PNG"`` or ``"WEBP"``."""
    from PIL import Image

    buf = io.BytesIO()
    if fmt == "WEBP":
        # Lossless WebP at its fastest setting: about 2.5x smaller than PNG on rendered plots, and faster.
        Image.fromarray(frame).save(buf, format="WEBP", lossless=True, quality=0, method=1)
    else:
        Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


def _smaller_image_format(frame: np.ndarray) -> str:
    """``"WEBP"`` if this Pillow can write it and it is smaller for ``frame`` than PNG, else ``"PNG"``."""
    from PIL import features

    if not features.check("webp"):
        return "PNG"
    return "WEBP" if len(_encode_image(frame, "WEBP")) < len(_encode_image(frame, "PNG")) else "PNG"


def _js(value) -> str:
    # json.dumps makes a valid JS literal; escaping "</" keeps a label from closing the <script>.
    return json.dumps(value).replace("</", "<\\/")


_HTML_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em; }}
.emviz-player img {{ max-width: 100%; height: auto; display: block; }}
.emviz-controls {{ display: flex; align-items: center; gap: 0.75em; margin-top: 0.5em; max-width: {width}px; }}
.emviz-controls input[type=range] {{ flex: 1; }}
.emviz-counter {{ font-variant-numeric: tabular-nums; white-space: nowrap; }}
</style>
</head>
<body>
<div class="emviz-player">
<img id="emviz-frame" width="{width}" height="{height}" alt="{title}">
<div class="emviz-controls">
<button id="emviz-play" type="button">Pause</button>
<input id="emviz-slider" type="range" min="0" max="0" value="0" step="1" aria-label="iteration">
<span id="emviz-counter" class="emviz-counter"></span>
</div>
</div>
<script>
const FRAMES = [
"""

_HTML_PLAYER = """(function () {
  const img = document.getElementById("emviz-frame");
  const play = document.getElementById("emviz-play");
  const slider = document.getElementById("emviz-slider");
  const counter = document.getElementById("emviz-counter");
  let i = 0, playing = true, timer = null;
  slider.max = FRAMES.length - 1;
  function show(k) {
    i = k;
    img.src = FRAMES[k];
    slider.value = k;
    const label = LABELS && LABELS[k] ? LABELS[k] + " \\u00b7 " : "";
    counter.textContent = label + "frame " + (k + 1) + " / " + FRAMES.length;
  }
  function schedule() {
    clearTimeout(timer);
    if (playing) timer = setTimeout(function () { show((i + 1) % FRAMES.length); schedule(); }, DURATIONS[i]);
  }
  function toggle() { playing = !playing; play.textContent = playing ? "Pause" : "Play"; schedule(); }
  play.addEventListener("click", toggle);
  slider.addEventListener("input", function () { show(Number(slider.value)); schedule(); });
  document.addEventListener("keydown", function (e) {
    if (e.target === slider) return;
    if (e.key === " ") { e.preventDefault(); toggle(); }
    else if (e.key === "ArrowRight") { show((i + 1) % FRAMES.length); schedule(); }
    else if (e.key === "ArrowLeft") { show((i + FRAMES.length - 1) % FRAMES.length); schedule(); }
  });
  show(0);
  schedule();
})();
</script>
</body>
</html>
"""


@WRITERS.register("html")
class HtmlWriter(FrameWriter):
    """One self-contained HTML page (no network) that plays the frames, with play/pause and a slider.

    Frames are embedded as base64 images as they arrive (lossless WebP, or PNG where that is smaller
    or Pillow cannot write WebP); the page loops and shows each frame for its
    own duration. ``labels`` (one per frame, e.g. ``"iteration 12"``) appear beside the frame counter.
    Space toggles playing, the arrow keys step.
    """

    name = "html"
    options = ("labels",)

    def __init__(self, path, *, fps=10.0, hold_last_ms=0, labels=None):
        super().__init__(path, fps=fps, hold_last_ms=hold_last_ms)
        self.labels = None if labels is None else [str(x) for x in labels]
        self._durations: list[int] = []
        self._fp = None

    def _open(self, tmp: Path) -> None:
        self._fp = open(tmp, "w", encoding="utf-8", newline="\n")

    def _write(self, frame: np.ndarray, duration_ms: float) -> None:
        if self.labels is not None and len(self._durations) >= len(self.labels):
            raise InputError(f"labels: only {len(self.labels)} labels for more frames of {str(self.path)!r}")
        if not self._durations:
            # Chosen once from the first frame, so that every frame of a page has the same format.
            self._format = _smaller_image_format(frame)
            title = html.escape(self.path.stem)
            self._fp.write(_HTML_HEAD.format(title=title, width=frame.shape[1], height=frame.shape[0]))
        data = base64.b64encode(_encode_image(frame, self._format)).decode("ascii")
        self._fp.write(f'"data:image/{self._format.lower()};base64,{data}",\n')
        self._durations.append(int(round(duration_ms)))

    def _close(self) -> None:
        if self.labels is not None and len(self.labels) != len(self._durations):
            raise InputError(
                f"labels: {len(self.labels)} labels for {len(self._durations)} frames of {str(self.path)!r}"
            )
        self._fp.write("];\n")
        self._fp.write(f"const DURATIONS = {_js(self._durations)};\n")
        self._fp.write(f"const LABELS = {_js(self.labels)};\n")
        self._fp.write(_HTML_PLAYER)
        self._fp.close()

    def _cleanup(self) -> None:
        if self._fp is not None:
            self._fp.close()
