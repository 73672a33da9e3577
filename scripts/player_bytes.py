"""Bytes of the HTML player against the GIF of the same frames, for the docs config's `components` animation.

Fits gallery/docs_1d.yaml (1000 EM iterations), writes its first output (the `components` GIF, 191
frames) and the same frames as an HTML page with the same options, and prints both sizes, their ratio
and what the page stores its frames as. Run: ``python scripts/player_bytes.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="folder to keep the files in (default: a temporary one)")
    args = parser.parse_args(argv)
    import emviz
    from emviz.config import load_config

    config_path = ROOT / "gallery" / "docs_1d.yaml"
    config = load_config(config_path)
    first = config.outputs[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        started = time.perf_counter()
        [gif] = emviz.run(config_path, out=out, only=[first.path], overrides=["record.save=trace.npz"], progress=False)
        fitted = time.perf_counter() - started
        frames = config.frames
        options = dict(fps=frames.fps, schedule=frames.schedule, hold_last=frames.hold_last,
                       style={"theme": config.style.theme, "dpi": config.style.dpi, "size": list(config.style.size)},
                       progress=False)
        started = time.perf_counter()
        page = emviz.render(out / "trace.npz", panels=list(first.panels), path=out / "components.html", **options)
        drawn = time.perf_counter() - started
        text = page.read_text()
        kinds = collections.Counter(re.findall(r',"data:(image/[a-z]+);base64,', text))
        n = int(re.search(r'data-frames="(\d+)"', text)[1])
        gif_bytes, page_bytes = gif.stat().st_size, page.stat().st_size
        print(f"docs config {config_path.name}, output {first.path}: {n} frames")
        print(f"  GIF  {gif_bytes:>10,d} bytes  (fit + GIF {fitted:.1f} s)")
        print(f"  HTML {page_bytes:>10,d} bytes  (frames + page {drawn:.1f} s)")
        print(f"  ratio page / GIF = {page_bytes / gif_bytes:.3f}  (the issue's limit: 1.5)")
        print(f"  frames stored as: {dict(kinds)} difference patches over the previous frame, GIF palette, "
              "base64; plus the last frame whole as the poster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
