"""emviz.sphinx_gallery.scraper: a two-example sphinx-gallery site embeds each example's animation."""

import re
import subprocess
import sys
import textwrap

import pytest

CONF = """
import emviz.sphinx_gallery

project = "emviz gallery test"
extensions = ["sphinx_gallery.gen_gallery"]
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "image_scrapers": (emviz.sphinx_gallery.scraper,),
    "download_all_examples": False,
    "show_memory": False,
    "plot_gallery": "True",
}
html_theme = "basic"
"""

ANIMATE = '''
"""
EM with emviz.animate
=====================
"""
import numpy as np
import emviz

X = np.random.default_rng(0).normal(size=(120, 2)) + np.repeat([[0, 0], [4, 4]], 60, axis=0)
emviz.animate(X, n_components=2, panels=["ellipses"], max_iter=4, tol=0,
              style={"dpi": 30, "size": [3, 3]}, progress=False)
'''

RENDER = '''
"""
EM with emviz.render
====================
"""
import numpy as np
import emviz

X = np.random.default_rng(1).normal(size=(100, 1))
trace = emviz.Recorder(emviz.GaussianMixture(2, max_iter=3, tol=0), progress=False).run(X)
emviz.render(trace, panels=["components"], path="components.gif", style={"dpi": 30, "size": [3, 2]},
             progress=False)
'''


def test_each_gallery_page_embeds_its_animation(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("sphinx_gallery")
    src = tmp_path / "src"
    (src / "examples").mkdir(parents=True)
    (src / "conf.py").write_text(CONF)
    (src / "index.rst").write_text("Test\n====\n\n.. toctree::\n\n   auto_examples/index\n")
    (src / "examples" / "README.rst").write_text("Gallery\n=======\n")
    (src / "examples" / "plot_animate.py").write_text(textwrap.dedent(ANIMATE))
    (src / "examples" / "plot_render.py").write_text(textwrap.dedent(RENDER))
    result = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", str(src), str(tmp_path / "html")],
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("plot_animate", "plot_render"):
        page = (tmp_path / "html" / "auto_examples" / f"{name}.html").read_text()
        images = re.findall(r'<img[^>]+src="([^"]+\.gif)"', page)
        assert images == [f"../_images/sphx_glr_{name}_001.gif"], images
        gif = tmp_path / "html" / "_images" / f"sphx_glr_{name}_001.gif"
        assert gif.read_bytes()[:6] == b"GIF89a"
        from PIL import Image

        with Image.open(gif) as im:
            assert im.n_frames == 5 if name == "plot_animate" else im.n_frames == 4
