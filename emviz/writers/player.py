"""The animation player: frames stored as difference patches, and the HTML + script that plays them.

One implementation serves the ``.html`` output (:class:`~emviz.writers.html.HtmlWriter` wraps the
player in a page) and the inline display of :class:`emviz.notebook.Animation` (the same player as an
HTML fragment in a notebook cell).

Storage. Frames are reduced to one palette, exactly as the GIF writer reduces them (required colours
first, the rest from sample frames, nearest colour without dithering), so the page shows the GIF's
pixels. Frame 0 is stored whole; every later frame only as the box of pixels that changed since the
previous one, unchanged pixels in the box transparent, drawn over the previous frame. Each patch is a
lossless WebP (a palette PNG where Pillow has no WebP encoder): on the docs ``components`` animation
WebP patches take 0.9x the GIF's bytes where palette PNG patches take 1.2x, and RGB WebP patches without
the palette 2.5x. The
last frame is also stored whole, as the picture shown before the script runs (or where it never runs).

Player contract (what tests and users may rely on). The root element has class ``emviz-player`` and
the attributes ``data-frame`` (index of the frame shown), ``data-frames`` (count), ``data-iteration``
(EM iteration shown) and ``data-playing`` (``true``/``false``), kept current. It contains one
``input[type=range]``, a play button ``.emviz-play``, ``.emviz-prev``/``.emviz-next``, a speed
``select.emviz-speed`` (0.5x/1x/2x), a loop toggle ``.emviz-loop`` and ``.emviz-info`` (iteration and
log-likelihood). No element has an id: each script finds its own root (``document.currentScript``'s
previous sibling, else the first root with its key not yet started), so any number of players on one
page are independent, and keys (space, arrows) reach only the player that has focus.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["PlayerData", "PlayerEncoder", "player_fragment", "player_page", "decode_frames"]


def _js(value) -> str:
    # json.dumps makes a valid JS literal; escaping "</" keeps a string from closing the <script>.
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def _webp_available() -> bool:
    from PIL import features

    return bool(features.check("webp"))


@dataclass
class PlayerData:
    """Everything a player shows: the encoded frames and what each frame is.

    Attributes
    ----------
    width, height : int
        Frame size in pixels.
    patches : list of (x, y, mime, base64 str) or None
        Frame k drawn over frame k-1 at (x, y); None for a frame equal to the previous one. Frame 0 is
        whole, at (0, 0).
    poster : (mime, base64 str)
        The last frame, whole.
    durations : list of int
        Milliseconds each frame shows (the last one includes the hold).
    palette : array of shape (n, 3), dtype uint8
        The colours every frame is made of.
    iterations, log_likelihood, labels : list or None
        Per frame: EM iteration, its log-likelihood, a caption.
    """

    width: int
    height: int
    patches: list
    poster: tuple
    durations: list
    palette: np.ndarray
    iterations: list | None = None
    log_likelihood: list | None = None
    labels: list | None = None

    @property
    def n_frames(self) -> int:
        return len(self.patches)

    def payload(self) -> dict:
        """The JSON the script reads."""
        n = self.n_frames
        return {
            "width": self.width, "height": self.height,
            "frames": [None if p is None else [p[0], p[1], f"data:{p[2]};base64,{p[3]}"] for p in self.patches],
            "durations": self.durations,
            "iterations": self.iterations if self.iterations is not None else list(range(n)),
            "loglik": self.log_likelihood,
            "labels": self.labels,
        }


class PlayerEncoder:
    """Turns RGB frames, as they come, into :class:`PlayerData` (palette, difference patches).

    Parameters
    ----------
    required_colors, palette_frames, colors
        As for :class:`~emviz.writers.gif.GifWriter`: the same arguments choose the same palette.
    palette : array of shape (n, 3), optional
        Use this palette instead of choosing one.
    """

    def __init__(self, required_colors=(), palette_frames: Sequence[np.ndarray] = (), colors: int = 255,
                 palette: np.ndarray | None = None):
        from emviz.writers.gif import _check_colors

        self.required_colors = _check_colors(required_colors, "required_colors")
        self.colors = int(colors)
        self._palette_frames = list(palette_frames)
        self.palette = None if palette is None else np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
        self._map = None
        self._prev_rgb: np.ndarray | None = None
        self._prev_idx: np.ndarray | None = None
        self._rgba_table: np.ndarray | None = None
        self.patches: list = []
        self.durations: list[int] = []
        self._webp = _webp_available()

    def _set_palette(self, first: np.ndarray) -> None:
        from emviz.writers.gif import _PaletteMap, gif_palette

        if self.palette is None:
            self.palette = gif_palette(self.required_colors, self._palette_frames or [first], max_colors=self.colors)
        self._palette_frames = []
        transparent = len(self.palette)
        self._map = _PaletteMap(self.palette, sentinel=transparent)
        table = np.zeros((transparent + 1, 4), np.uint8)
        table[:transparent, :3] = self.palette
        table[:transparent, 3] = 255  # the extra index stays (0, 0, 0, 0): "unchanged"
        self._rgba_table = table

    def add(self, frame: np.ndarray, duration_ms: float) -> None:
        """Add one frame, array of shape (H, W, 3), dtype uint8, shown for ``duration_ms``."""
        from emviz.writers.gif import _changed_box

        if self._prev_idx is None:
            self._set_palette(frame)
            self._prev_idx = self._map(frame)
            self._prev_rgb = frame
            self.patches.append((0, 0, *self._encode(self._prev_idx)))
        else:
            self.patches.append(self._difference(frame, _changed_box))
            self._prev_rgb = frame
        self.durations.append(int(round(duration_ms)))

    def _difference(self, frame, changed_box):
        box = changed_box(frame, self._prev_rgb)
        if box is None:
            return None
        y0, y1, x0, x1 = box
        new = self._map(frame[y0:y1, x0:x1])
        old = self._prev_idx[y0:y1, x0:x1]  # a view: updating it keeps the composited frame current
        inner = changed_box(new, old)
        if inner is None:
            return None
        a, b, c, d = inner
        crop = new[a:b, c:d].copy()
        crop[crop == old[a:b, c:d]] = len(self.palette)
        old[...] = new
        return (x0 + c, y0 + a, *self._encode(crop))

    def _encode(self, indices: np.ndarray) -> tuple[str, str]:
        """(mime type, base64) of palette indices, the transparent index as alpha 0, losslessly."""
        from PIL import Image

        buf = io.BytesIO()
        if self._webp:
            # quality=0/method=1: libwebp's fast lossless setting, about 3x faster than its default and
            # 10% larger; it still finds the palette and codes the patch with it.
            Image.fromarray(self._rgba_table[indices], "RGBA").save(buf, format="WEBP", lossless=True, quality=0,
                                                                    method=1, exact=False)
            mime = "image/webp"
        else:
            im = Image.fromarray(np.ascontiguousarray(indices), "P")
            table = np.zeros((len(self.palette) + 1, 3), np.uint8)
            table[: len(self.palette)] = self.palette
            im.putpalette(table.tobytes())
            im.save(buf, format="PNG", transparency=len(self.palette), compress_level=9)
            mime = "image/png"
        data = buf.getvalue()
        return mime, base64.b64encode(data).decode("ascii")

    def finish(self, hold_last_ms: float = 0.0, *, iterations=None, log_likelihood=None, labels=None) -> PlayerData:
        """The player's data; ``hold_last_ms`` is added to the last frame's duration."""
        if self._prev_idx is None:
            raise ValueError("no frames were added to the player")
        durations = list(self.durations)
        durations[-1] += int(round(hold_last_ms))
        n = len(self.patches)
        for name, values in (("iterations", iterations), ("log_likelihood", log_likelihood), ("labels", labels)):
            if values is not None and len(values) != n:
                from emviz.errors import InputError

                raise InputError(f"{name}: {len(values)} {name} for {n} frames")
        height, width = self._prev_idx.shape
        return PlayerData(
            width=width, height=height, patches=list(self.patches), poster=self._encode(self._prev_idx),
            durations=durations, palette=self.palette.copy(),
            iterations=None if iterations is None else [int(t) for t in iterations],
            log_likelihood=None if log_likelihood is None else [float(v) for v in log_likelihood],
            labels=None if labels is None else [str(x) for x in labels],
        )


def decode_frames(data: PlayerData):
    """Yield the player's frames back as RGB arrays of shape (H, W, 3), dtype uint8 (palette colours)."""
    from PIL import Image

    canvas = np.zeros((data.height, data.width, 3), np.uint8)
    for patch in data.patches:
        if patch is not None:
            x, y, _, encoded = patch
            rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGBA"))
            h, w = rgba.shape[:2]
            region = canvas[y:y + h, x:x + w]
            opaque = rgba[..., 3] == 255
            region[opaque] = rgba[..., :3][opaque]
        yield canvas.copy()


_STYLE = """<style>
.emviz-player { display: inline-block; max-width: 100%; font: 14px/1.4 system-ui, sans-serif; outline-offset: 2px; }
.emviz-player .emviz-screen canvas, .emviz-player .emviz-screen img { display: block; max-width: 100%; height: auto; }
.emviz-player .emviz-controls { display: flex; flex-wrap: wrap; align-items: center; gap: 0.4em; margin-top: 0.4em; }
.emviz-player .emviz-controls input[type=range] { flex: 1 1 10em; min-width: 6em; }
.emviz-player .emviz-controls button { min-width: 2.4em; }
.emviz-player .emviz-loop[aria-pressed=false] { opacity: 0.55; text-decoration: line-through; }
.emviz-player .emviz-info { flex: 1 0 100%; font-variant-numeric: tabular-nums; }
</style>
"""

_MARKUP = """<div class="emviz-player" tabindex="0" role="group" aria-label="{title}" data-emviz-key="{key}" \
data-frame="{last}" data-frames="{n}" data-iteration="{last_iteration}" data-playing="false" style="width: {width}px">
<div class="emviz-screen"><img class="emviz-poster" src="data:{poster_mime};base64,{poster}" width="{width}" \
height="{height}" alt="{title}"></div>
<div class="emviz-controls">
<button class="emviz-play" type="button" aria-label="play">&#9654;</button>
<button class="emviz-prev" type="button" aria-label="previous frame">&#9664;&#8739;</button>
<button class="emviz-next" type="button" aria-label="next frame">&#8739;&#9654;</button>
<input type="range" min="0" max="{last}" value="{last}" step="1" aria-label="frame">
<select class="emviz-speed" aria-label="speed"><option value="0.5">0.5x</option><option value="1" selected>1x</option>\
<option value="2">2x</option></select>
<button class="emviz-loop" type="button" aria-pressed="true" aria-label="loop">loop</button>
<span class="emviz-info" aria-live="off"></span>
</div>
</div>
"""

# The player script. It runs once per player and touches only its own root.
_SCRIPT = """(function (D) {
  var s = document.currentScript, root = s && s.previousElementSibling;
  if (!root || !root.classList || !root.classList.contains("emviz-player") || root.hasAttribute("data-emviz-ready")) {
    root = document.querySelector('.emviz-player[data-emviz-key="' + D.key + '"]:not([data-emviz-ready])');
  }
  if (!root) return;
  root.setAttribute("data-emviz-ready", "");
  function q(sel) { return root.querySelector(sel); }
  var N = D.frames.length, SNAP = 16, AHEAD = 8, KEEP = 64;
  var poster = q(".emviz-poster"), play = q(".emviz-play"), slider = q("input[type=range]");
  var speedBox = q(".emviz-speed"), loopBtn = q(".emviz-loop"), info = q(".emviz-info");
  var canvas = document.createElement("canvas");
  canvas.width = D.width; canvas.height = D.height; canvas.className = "emviz-canvas";
  var ctx = canvas.getContext("2d");
  var cache = new Map(), snaps = {}, cur = -1, token = 0, playing = false, timer = null, speed = 1, loop = true;
  // A decoded patch (a promise of an Image, or of null for an unchanged frame); the last KEEP kept.
  function image(k) {
    var p = cache.get(k);
    if (p) { cache.delete(k); cache.set(k, p); return p; }
    var f = D.frames[k];
    if (!f) { p = Promise.resolve(null); }
    else { var im = new Image(); im.src = f[2]; p = im.decode().then(function () { return im; }); }
    cache.set(k, p);
    if (cache.size > KEEP) cache.delete(cache.keys().next().value);
    return p;
  }
  function put(k, im) {
    if (im) ctx.drawImage(im, D.frames[k][0], D.frames[k][1]);
    if (k % SNAP === 0 && !snaps[k]) {  // a copy to start from when seeking back
      var c = document.createElement("canvas"); c.width = D.width; c.height = D.height;
      c.getContext("2d").drawImage(canvas, 0, 0); snaps[k] = c;
    }
  }
  function fmt(v) { return v === null || v === undefined ? "" : v.toFixed(2).replace("-", "\\u2212"); }
  function show(k) {
    cur = k;
    root.setAttribute("data-frame", String(k));
    root.setAttribute("data-iteration", String(D.iterations[k]));
    slider.value = String(k);
    var text = D.labels ? D.labels[k] : "iteration " + D.iterations[k];
    if (D.loglik) text += " \\u00b7 log-likelihood " + fmt(D.loglik[k]);
    info.textContent = text + " \\u00b7 frame " + (k + 1) + "/" + N;
  }
  // Draw frame k: from the frame shown or the nearest copy before k, then k's patches in order. Only
  // the latest request draws, so a fast slider never shows frames out of order.
  function go(k) {
    var my = ++token, base = -1, fromSnap = false;
    for (var j = k - k % SNAP; j >= 0; j -= SNAP) if (snaps[j]) { base = j; fromSnap = true; break; }
    if (cur >= 0 && cur <= k && cur >= base) { base = cur; fromSnap = false; }
    var need = [];
    for (var i = base + 1; i <= k; i++) need.push(image(i));
    for (var a = k + 1; a < Math.min(N, k + 1 + AHEAD); a++) image(a);
    return Promise.all(need).then(function (ims) {
      if (my !== token) return false;
      if (fromSnap) ctx.drawImage(snaps[base], 0, 0);
      for (var i = 0; i < ims.length; i++) put(base + 1 + i, ims[i]);
      show(k);
      return true;
    });
  }
  function wait() {
    clearTimeout(timer); timer = null;
    if (playing) timer = setTimeout(tick, D.durations[cur] / speed);
  }
  function tick() {
    timer = null;
    if (!playing) return;
    var k = cur + 1;
    if (k >= N) { if (!loop) { setPlaying(false); return; } k = 0; }
    go(k).then(function (ok) { if (ok && playing) wait(); });
  }
  function setPlaying(p) {
    playing = p;
    root.setAttribute("data-playing", p ? "true" : "false");
    play.innerHTML = p ? "&#10074;&#10074;" : "&#9654;";
    play.setAttribute("aria-label", p ? "pause" : "play");
    clearTimeout(timer); timer = null;
    if (p && cur === N - 1 && !loop) go(0).then(function (ok) { if (ok && playing) wait(); });
    else if (p) wait();
  }
  function seek(k) { if (playing) setPlaying(false); go(((k % N) + N) % N); }
  play.addEventListener("click", function () { setPlaying(!playing); });
  q(".emviz-prev").addEventListener("click", function () { seek(cur - 1); });
  q(".emviz-next").addEventListener("click", function () { seek(cur + 1); });
  slider.addEventListener("input", function () { seek(Number(slider.value)); });
  speedBox.addEventListener("change", function () { speed = Number(speedBox.value) || 1; if (playing) wait(); });
  loopBtn.addEventListener("click", function () { loop = !loop; loopBtn.setAttribute("aria-pressed", String(loop)); });
  root.addEventListener("keydown", function (e) {
    var t = e.target, tag = t.tagName;
    if (e.key === " ") {
      if (tag === "BUTTON" || tag === "SELECT") return;  // space clicks a focused button itself
      e.preventDefault(); setPlaying(!playing);
    } else if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      if (tag === "INPUT" || tag === "SELECT") return;  // the slider steps itself and says so by "input"
      e.preventDefault(); seek(cur + (e.key === "ArrowRight" ? 1 : -1));
    }
  });
  go(0).then(function () {
    poster.replaceWith(canvas);
    setPlaying(D.autoplay);
  });
})(/*DATA*/);
"""


def _key(payload_text: str) -> str:
    return hashlib.sha1(payload_text.encode("ascii", "backslashreplace")).hexdigest()[:16]


def player_fragment(data: PlayerData, title: str = "emviz animation", *, autoplay: bool = True) -> str:
    """The player as an HTML fragment (style, markup, script), self-contained; any number fit a page."""
    payload = data.payload()
    payload["autoplay"] = bool(autoplay)
    body = _js(payload)
    key = _key(body)
    payload["key"] = key
    body = _js(payload)
    last = data.n_frames - 1
    iterations = payload["iterations"]
    markup = _MARKUP.format(
        title=html.escape(title), key=key, last=last, n=data.n_frames, last_iteration=iterations[last],
        width=data.width, height=data.height, poster_mime=data.poster[0], poster=data.poster[1],
    )
    return _STYLE + markup + "<script>\n" + _SCRIPT.replace("/*DATA*/", body) + "</script>\n"


def player_page(data: PlayerData, title: str = "emviz animation") -> str:
    """A whole HTML page holding one player; it needs no network."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
        + player_fragment(data, title)
        + "</body>\n</html>\n"
    )
