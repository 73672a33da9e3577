"""Animated GIF: one global palette for the whole animation, frame differences, exact durations."""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from emviz.errors import InputError
from emviz.writers.base import DEFAULT_MAX_BYTES, WRITERS, FrameWriter, caller_stacklevel

__all__ = ["GifWriter", "gif_palette"]


def _check_colors(colors: Iterable, what: str) -> list[tuple[int, int, int]]:
    """Validate RGB tuples of ints in 0..255 and drop repeats, keeping the first occurrence's order."""
    out: list[tuple[int, int, int]] = []
    for i, c in enumerate(colors):
        try:
            rgb = tuple(int(v) for v in c)
            ok = len(rgb) == 3 and all(0 <= v <= 255 and v == w for v, w in zip(rgb, c))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"{what}[{i}]: expected an RGB tuple of three integers 0-255, got {c!r}")
        if rgb not in out:
            out.append(rgb)
    return out


def gif_palette(
    required_colors: Sequence[tuple[int, int, int]] = (),
    sample_frames: Sequence[np.ndarray] = (),
    max_colors: int = 255,
) -> np.ndarray:
    """Choose one palette for a whole animation.

    Parameters
    ----------
    required_colors : sequence of (r, g, b) ints 0-255
        Put first, exactly, in the given order (repeats dropped).
    sample_frames : sequence of arrays of shape (H, W, 3), dtype uint8
        The rest of the palette comes from these: their exact colours when there are about 256 or fewer
        (the rarest dropped if they do not fit), else a median cut (Pillow's, without dithering).
    max_colors : int, default 255
        Palette size; 255 leaves one of a GIF's 256 indices for transparency.

    Returns
    -------
    array of shape (n, 3), dtype uint8
        Distinct colours, ``n <= max_colors``, the required ones first.
    """
    from PIL import Image

    required = _check_colors(required_colors, "required_colors")
    if len(required) > max_colors:
        raise InputError(
            f"required_colors: {len(required)} distinct colours do not fit a {max_colors}-colour GIF palette"
        )
    budget = max_colors - len(required)
    frames = [np.asarray(f, dtype=np.uint8).reshape(-1, 3) for f in sample_frames]
    if not frames or budget == 0:
        return np.array(required, dtype=np.uint8).reshape(-1, 3)
    pixels = np.concatenate(frames)
    # Median cut cost grows with the pixel count; a regular subsample of a few megapixels loses nothing.
    pixels = pixels[:: max(1, len(pixels) // 2_000_000)]
    montage = Image.fromarray(np.ascontiguousarray(pixels[None]))
    exact = montage.getcolors(maxcolors=256 + len(required))
    if exact is not None:
        # Few colours (flat line art): keep them all exactly, the most frequent first.
        candidates = [c for _, c in sorted(exact, key=lambda nc: (-nc[0], nc[1]))]
    else:
        quant = montage.quantize(colors=budget, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        flat = quant.getpalette()
        counts = quant.getcolors(maxcolors=256)
        candidates = [tuple(flat[3 * i : 3 * i + 3]) for _, i in sorted(counts, key=lambda nc: (-nc[0], nc[1]))]
    extra = [c for c in dict.fromkeys(map(tuple, candidates)) if c not in required]
    return np.array(required + extra[:budget], dtype=np.uint8).reshape(-1, 3)


class _PaletteMap:
    """Exact-first nearest-colour mapping of RGB pixels to palette indices, memoised in a 2**24 table.

    A pixel equal to a palette colour always maps to that index (Pillow's quantize shares one cache
    cell among 4x4x4 neighbouring colours and can map a palette colour to its neighbour). Unknown colours
    get the nearest palette entry by squared RGB distance, the lowest index on ties: deterministic.
    """

    def __init__(self, palette: np.ndarray, sentinel: int):
        self.palette = palette.astype(np.int32)
        self.sentinel = sentinel  # the transparent index: never a mapping result, so it marks "not yet known"
        self._table = np.full(1 << 24, sentinel, dtype=np.uint8)  # 16 MiB, independent of the frame count

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        """Map an array of shape (h, w, 3) uint8 to indices of shape (h, w) uint8."""
        keys = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
        idx = np.take(self._table, keys)
        missing = idx == self.sentinel
        if missing.any():
            new = np.unique(keys[missing])
            self._learn(new)
            idx[missing] = np.take(self._table, keys[missing])
        return idx

    def _learn(self, keys: np.ndarray) -> None:
        for start in range(0, len(keys), 4096):  # chunks bound the (n, palette) distance matrix
            k = keys[start : start + 4096]
            rgb = np.stack([(k >> 16) & 255, (k >> 8) & 255, k & 255], axis=1).astype(np.int32)
            d = ((rgb[:, None, :] - self.palette[None, :, :]) ** 2).sum(axis=2)
            self._table[k] = np.argmin(d, axis=1).astype(np.uint8)


def _changed_box(a: np.ndarray, b: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box (top, bottom, left, right), half-open, of pixels that differ between two images."""
    h = a.shape[0]
    # Comparing (h, w*c) rows is several times faster than reducing over a length-3 last axis.
    ne = a.reshape(h, -1) != b.reshape(h, -1)
    rows = np.flatnonzero(ne.any(axis=1))
    if rows.size == 0:
        return None
    channels = 1 if a.ndim == 2 else a.shape[2]
    cols = np.flatnonzero(ne[rows[0] : rows[-1] + 1].any(axis=0)) // channels
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _gif_centiseconds(duration_ms: float) -> int:
    # Browsers replace delays under 20 ms by 100 ms, so 20 ms is the shortest delay that means what it says.
    return int(min(max(np.floor(duration_ms / 10.0 + 0.5), 2), 0xFFFF))


def _gif_image_blocks(indices: np.ndarray, left: int, top: int) -> bytes:
    """Image descriptor + LZW data of one frame, encoded by Pillow's C encoder (no local colour table)."""
    from PIL import GifImagePlugin, Image

    im = Image.fromarray(np.ascontiguousarray(indices))  # mode "L": the encoder only needs the index bytes
    data = b"".join(GifImagePlugin.getdata(im, offset=(left, top)))
    if data[:1] != b",":  # getdata writes a graphic control block only if asked to; we write our own
        raise RuntimeError("unexpected output from PIL.GifImagePlugin.getdata")
    return data


@WRITERS.register("gif")
class GifWriter(FrameWriter):
    """Streaming animated GIF: one global palette, no dithering, frame differences, exact durations.

    Parameters
    ----------
    path, fps, hold_last_ms
        See :class:`FrameWriter`.
    loop : int or None, default 0
        NETSCAPE2.0 loop count; 0 loops forever, None plays once.
    required_colors : sequence of (r, g, b) ints 0-255
        Colours the palette contains exactly (see :func:`gif_palette`).
    palette_frames : sequence of arrays of shape (H, W, 3), dtype uint8
        Sample frames for the rest of the palette; default the first grabbed frame.
    max_bytes : int or None, default 5_000_000
        Warn after finishing if the file is larger.
    palette : array of shape (n, 3), dtype uint8, optional
        Use this palette (at most 255 colours) instead of choosing one: frames already made of its
        colours (an HTML player's, decoded) then map onto it exactly.

    Notes
    -----
    Each frame after the first is cropped to the box of pixels whose palette index changed, with
    unchanged pixels inside the box transparent, and is drawn over the previous one (disposal 1, "do
    not dispose"). An unchanged frame is kept as a 1x1 transparent frame so that the decoded frame count
    equals the number of grabbed frames. Durations are stored in 10 ms units, at least 20 ms.
    """

    name = "gif"
    options = ("loop", "required_colors", "palette_frames", "max_bytes", "colors", "palette")

    def __init__(
        self,
        path,
        *,
        fps=10.0,
        hold_last_ms=0,
        loop=0,
        required_colors=(),
        palette_frames=(),
        max_bytes=DEFAULT_MAX_BYTES,
        colors=255,
        palette=None,
    ):
        super().__init__(path, fps=fps, hold_last_ms=hold_last_ms)
        if isinstance(colors, bool) or not isinstance(colors, (int, np.integer)) or not 8 <= colors <= 255:
            raise InputError(f"colors: must be an integer from 8 to 255, got {colors!r}")
        self.colors = int(colors)
        if loop is not None and not (isinstance(loop, (int, np.integer)) and 0 <= loop <= 0xFFFF):
            raise InputError(f"loop: must be an integer 0-65535 (0 = forever) or None (play once), got {loop!r}")
        self.loop = loop
        self.required_colors = _check_colors(required_colors, "required_colors")
        self.max_bytes = max_bytes
        self.palette: np.ndarray | None = None
        self._fixed_palette = None
        if palette is not None:
            fixed = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
            if not 1 <= len(fixed) <= 255:
                raise InputError(f"palette: must hold 1-255 colours, got {len(fixed)}")
            self._fixed_palette = fixed
        self._palette_frames = list(palette_frames)
        self._fp = None
        self._map: _PaletteMap | None = None
        self._prev_rgb: np.ndarray | None = None
        self._prev_idx: np.ndarray | None = None

    @property
    def transparent_index(self) -> int:
        """Index reserved for "unchanged" pixels: the one after the palette's colours."""
        return len(self.palette)

    def _open(self, tmp: Path) -> None:
        self._fp = open(tmp, "wb")
        if self._fixed_palette is not None:
            self.palette = self._fixed_palette
            self._map = _PaletteMap(self.palette, sentinel=self.transparent_index)
        elif self._palette_frames:
            self._set_palette(self._palette_frames)
        self._palette_frames = []  # the samples are not needed any more: do not keep them alive

    def _set_palette(self, frames) -> None:
        self.palette = gif_palette(self.required_colors, frames, max_colors=self.colors)
        self._map = _PaletteMap(self.palette, sentinel=self.transparent_index)

    def _write(self, frame: np.ndarray, duration_ms: float) -> None:
        if self._prev_idx is None:
            if self.palette is None:
                self._set_palette([frame])
            self._fp.write(self._header(frame.shape[1], frame.shape[0]))
            indices = self._map(frame)
            block = _gif_image_blocks(indices, 0, 0)
            self._fp.write(self._control(duration_ms, transparent=False) + block)
            self._prev_rgb, self._prev_idx = frame, indices
            return
        self._fp.write(self._control(duration_ms, transparent=True) + self._difference_blocks(frame))
        self._prev_rgb = frame  # the base class hands over a fresh copy per frame: no copy needed

    def _difference_blocks(self, frame: np.ndarray) -> bytes:
        """Encode the part of ``frame`` that changed since the previous one, over it."""
        t = self.transparent_index
        box = _changed_box(frame, self._prev_rgb)
        if box is not None:
            # Only pixels whose RGB changed need mapping; the box then narrows to changed indices.
            y0, y1, x0, x1 = box
            new = self._map(frame[y0:y1, x0:x1])
            old = self._prev_idx[y0:y1, x0:x1]  # a view: updating it keeps the composited image current
            inner = _changed_box(new, old)
            if inner is not None:
                a, b, c, d = inner
                crop = new[a:b, c:d]
                same = crop == old[a:b, c:d]
                old[...] = new
                crop[same] = t
                return _gif_image_blocks(crop, x0 + c, y0 + a)
        # Nothing changed: still a frame (1x1, transparent), so decoders count every grabbed frame.
        return _gif_image_blocks(np.full((1, 1), t, np.uint8), 0, 0)

    def _header(self, width: int, height: int) -> bytes:
        n = len(self.palette) + 1  # + the transparent index
        bits = max(1, int(np.ceil(np.log2(n))))
        table = np.zeros((1 << bits, 3), np.uint8)
        table[: len(self.palette)] = self.palette
        # Global colour table flag, 8-bit colour resolution, table size 2**bits; background index 0.
        packed = 0x80 | 0x70 | (bits - 1)
        out = b"GIF89a" + struct.pack("<HHBBB", width, height, packed, 0, 0) + table.tobytes()
        if self.loop is not None:
            out += b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", self.loop) + b"\x00"
        return out

    def _control(self, duration_ms: float, *, transparent: bool) -> bytes:
        """Graphic control extension: disposal 1 (leave the frame in place), delay, transparency."""
        packed = (1 << 2) | int(transparent)
        t = self.transparent_index if transparent else 0
        return b"!\xf9\x04" + struct.pack("<BHB", packed, _gif_centiseconds(duration_ms), t) + b"\x00"

    def _close(self) -> None:
        self._fp.write(b";")
        self._fp.close()

    def _cleanup(self) -> None:
        if self._fp is not None:
            self._fp.close()

    def _after_commit(self) -> None:
        size = self.path.stat().st_size
        if self.max_bytes is not None and size > self.max_bytes:
            warnings.warn(
                f"{str(self.path)!r} is {size / 1e6:.1f} MB, more than {self.max_bytes / 1e6:.1f} MB "
                "(GitHub stops showing larger README images). To make it smaller: fewer frames (a sparser "
                "schedule, e.g. every k-th iteration after the first few), a smaller figure or lower dpi, "
                "or a lower fps.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
