"""The numbers a config is bounded by, each with the reason for its value."""

from __future__ import annotations

__all__ = ["INIT_NAMES", "MAX_EXPANDED_NODES", "MAX_TITLE_CHARS", "MAX_NAME_BYTES", "MAX_FRAME_PIXELS", "MAX_FPS",
           "MIN_MP4_FPS", "MAX_HOLD_SECONDS", "MEMORY_SHARE", "MAX_RUN_NAME"]

#: Named initialisations of :class:`emviz.em.GaussianMixture` (or give a mixture).
INIT_NAMES = ("kmeans++", "k-means++", "kmeans", "random", "random_from_data")
#: A document whose aliases expand to more nodes than this is refused ("billion laughs").
MAX_EXPANDED_NODES = 1_000_000

#: Longest name of a run: it heads the run's panels, follows its log-likelihood in the title line and
#: names its trace file; a sweep's generated names (``covariance_type=spherical``) fit too.
MAX_RUN_NAME = 40
#: Longest ``title`` of an output: more cannot fit above a frame (and a huge one breaks the font engine).
MAX_TITLE_CHARS = 200
#: Longest file or folder name an output may have. File systems allow 255 bytes; the hidden temporary
#: name beside it (``.<name>.<pid>-<n>.tmp<suffix>``) needs room for about 30 more.
MAX_NAME_BYTES = 200
#: Most pixels one frame (or one still, every cell of a grid together) may have: 2**26 is 64
#: megapixels, 256 MB as RGBA, already far beyond any screen. More makes matplotlib allocate
#: gigabytes (or fail, at 2**16 pixels a side) part-way through a render.
MAX_FRAME_PIXELS = 2**26
#: Highest frame rate: a GIF cannot show a frame for less than 20 ms (50 fps), and an MP4 repeats
#: frames to hold them (at 10^6 fps a held second is a million frames piped to ffmpeg).
MAX_FPS = 100.0
#: Lowest MP4 frame rate: ffmpeg's rate is a fraction with a denominator up to 1001.
MIN_MP4_FPS = 1 / 1001
#: Longest hold of the last frame, in seconds: more is a still, not an animation.
MAX_HOLD_SECONDS = 60.0
#: Share of the machine's memory that the recorded trace and the data may take, together.
MEMORY_SHARE = 0.5
