"""MP4: H.264 through the ffmpeg binary that the imageio-ffmpeg wheel ships, fed frames through a pipe."""

from __future__ import annotations

import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import numpy as np

from emviz.errors import InputError
from emviz.writers.base import WRITERS, FrameWriter

__all__ = ["Mp4Writer"]


def _ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise RuntimeError("MP4 output needs the imageio-ffmpeg package: pip install imageio-ffmpeg") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


@WRITERS.register("mp4")
class Mp4Writer(FrameWriter):
    """H.264 MP4 through the ffmpeg binary shipped by imageio-ffmpeg, fed frames through a pipe.

    Frames are padded (by repeating the last row or column) to an even width and height, which
    yuv420p requires. The video runs at ``fps``; a frame's duration is approximated by repeating it,
    rounding the running total so that errors do not accumulate, and every frame shows at least once.
    Bit-exact flags and no metadata make the same frames give the same bytes.
    """

    name = "mp4"
    #: x264 quality (lower is better); 18-20 keeps thin lines and small text clean.
    crf: ClassVar[int] = 18

    def __init__(self, path, *, fps=10.0, hold_last_ms=0):
        super().__init__(path, fps=fps, hold_last_ms=hold_last_ms)
        self._proc: subprocess.Popen | None = None
        self._stderr = None
        self._tmp: Path | None = None
        self._elapsed_ms = 0.0
        self._emitted = 0

    def _open(self, tmp: Path) -> None:
        self._exe = _ffmpeg_exe()  # fail before any frame is rendered when ffmpeg is missing
        self._tmp = tmp

    def _start(self, height: int, width: int) -> None:
        rate = Fraction(self.fps).limit_denominator(1001)  # 29.97 -> 2997/100, exactly what was asked
        if rate <= 0:  # ffmpeg refuses a zero frame rate with a page of its own words
            raise InputError(f"fps: {self.fps:g} is too low for an MP4; it needs at least 1/1001 frames per second")
        cmd = [
            self._exe, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width + width % 2}x{height + height % 2}",
            "-r", str(rate), "-i", "-", "-an",
            "-c:v", "libx264", "-preset", "medium", "-crf", str(self.crf), "-pix_fmt", "yuv420p",
            "-r", str(rate), "-movflags", "+faststart", "-map_metadata", "-1",
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-f", "mp4", str(self._tmp),
        ]  # fmt: skip
        # ffmpeg's messages go to a file, not a pipe nobody reads, which could fill up and block it.
        self._stderr = tempfile.TemporaryFile()
        # A session of its own keeps Ctrl-C from killing ffmpeg mid-frame: the KeyboardInterrupt reaches
        # Python, and abort() stops ffmpeg and removes the partial video.
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr, start_new_session=True
        )

    def _write(self, frame: np.ndarray, duration_ms: float) -> None:
        h, w = frame.shape[:2]
        if self._proc is None:
            self._start(h, w)
        if h % 2 or w % 2:
            frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        self._elapsed_ms += duration_ms
        total = int(np.floor(self._elapsed_ms * float(self.fps) / 1000.0 + 0.5))
        repeats = max(1, total - self._emitted)
        data = np.ascontiguousarray(frame).tobytes()
        try:
            for _ in range(repeats):
                self._proc.stdin.write(data)
        except (BrokenPipeError, OSError):
            self._proc.wait()
            message = f"ffmpeg stopped while writing {str(self.path)!r}: {self._ffmpeg_error()}"
            raise RuntimeError(message) from None
        self._emitted += repeats

    def _ffmpeg_error(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return text[-2000:] or f"exit status {self._proc.returncode}"

    def _close(self) -> None:
        self._proc.stdin.close()
        if self._proc.wait() != 0:
            raise RuntimeError(f"ffmpeg failed to write {str(self.path)!r}: {self._ffmpeg_error()}")
        self._stderr.close()

    def _cleanup(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()  # an aborted video is thrown away: no need to let ffmpeg finish it
            self._proc.wait()
        if self._stderr is not None:
            self._stderr.close()
