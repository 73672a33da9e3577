"""emviz.animate / emviz.show in notebooks: the Animation's displays, its cached frames, its saves, and
the example notebook executed by a real kernel."""

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import emviz
from emviz.data import load_bundled
from emviz.errors import InputError
from emviz.render.schedule import parse_schedule
from emviz.writers.player import decode_frames

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "em_in_a_notebook.ipynb"
SMALL = dict(style={"dpi": 30, "size": [4, 3]}, progress=False)


@pytest.fixture(scope="module")
def anim():
    return emviz.animate(load_bundled("old_faithful"), n_components=2, panels=["ellipses"], init="random", seed=6,
                         max_iter=6, tol=0, **SMALL)


def test_import_emviz_stays_cheap():
    code = "import sys, emviz; print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'matplotlib', 'PIL'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert out.stdout.strip() == "[]"


def test_animate_takes_every_gaussian_mixture_and_render_keyword():
    fit = set(inspect.signature(emviz.GaussianMixture).parameters) - {"comm"}  # ranks: torchrun, not notebooks
    from emviz.render.api import render as render_function

    render = set(inspect.signature(render_function).parameters) - {"trace", "path"}
    mine = set(inspect.signature(emviz.animate).parameters)
    assert fit <= mine and render <= mine
    doc = emviz.animate.__doc__
    assert all(name in doc for name in fit | render)


def test_display_draws_once_and_holds_a_player_and_the_last_frame(anim):
    assert anim.data is None and anim.n_frames == 7 and "not drawn" in repr(anim)
    bundle = anim._repr_mimebundle_()
    data = anim.data
    assert set(bundle) == {"text/html", "image/png", "text/plain"}
    html = bundle["text/html"]
    assert 'class="emviz-player"' in html and 'data-frames="7"' in html and " id=" not in html
    assert html.count('type="range"') == 1 and 'class="emviz-play"' in html
    assert anim._repr_html_() == html and anim.data is data  # drawn once, kept
    from PIL import Image
    import io

    png = np.asarray(Image.open(io.BytesIO(anim._repr_png_())).convert("RGB"))
    last = list(decode_frames(data))[-1]
    np.testing.assert_array_equal(png, last)


def test_save_reuses_frames_and_writes_what_render_writes(anim, tmp_path):
    anim.draw()
    gif = anim.save(tmp_path / "a.gif")
    page = anim.save(tmp_path / "a.html")
    (tmp_path / "r").mkdir()
    ref_gif = emviz.render(anim.trace, panels=["ellipses"], path=tmp_path / "r" / "a.gif", **SMALL)
    ref_page = emviz.render(anim.trace, panels=["ellipses"], path=tmp_path / "r" / "a.html", **SMALL)
    assert gif.read_bytes() == ref_gif.read_bytes()
    assert page.read_bytes() == ref_page.read_bytes()
    still = anim.save(tmp_path / "last.png")
    assert still.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError, match="fsp: not a render option"):
        anim.save(tmp_path / "b.gif", fsp=3)


def test_show_checks_its_options_before_drawing(anim):
    shown = emviz.show(anim.trace, panels=["curves"], schedule={"dense": 2, "every": 2}, **SMALL)
    assert shown.iterations == [0, 1, 2, 4, 6] and shown.data is None
    with pytest.raises(InputError, match="sceduel: not a render option.*did you mean 'schedule'"):
        emviz.show(anim.trace, sceduel="all")
    with pytest.raises(InputError, match="fps"):
        emviz.show(anim.trace, panels=["ellipses"], fps=0)


def test_the_html_page_is_at_most_the_gif_size_and_a_half(tmp_path):
    # A 1D fit's components animation (the docs config's kind), smaller: 41 frames at dpi 40. Measured
    # 1.38 here (the fixed script and the poster weigh more on a small page); the docs config's is 1.20.
    ds = emviz.load_data({"mixture": {"means": [[-2.0], [2.0], [6.0]], "stds": [2.0, 1.0, 3.0],
                                      "sizes": [400, 200, 600]}, "seed": 0})
    trace = emviz.Recorder(emviz.GaussianMixture(3, max_iter=40, tol=0, seed=0), progress=False).run(ds.X, truth=ds.truth)
    options = dict(style={"dpi": 40, "size": [12, 6]}, progress=False)
    gif = emviz.render(trace, ["components"], tmp_path / "c.gif", **options).stat().st_size
    page = emviz.render(trace, ["components"], tmp_path / "c.html", **options).stat().st_size
    assert page <= 1.5 * gif, (page, gif)


def test_the_example_notebook_runs_and_shows_players(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:  # run it fresh, not the outputs stored with it
        if cell.cell_type == "code":
            cell.outputs = []
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    pages = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    n_iter, n_frames = map(int, re.search(r"(\d+) EM iterations, (\d+) frames", text).groups())
    assert len(pages) == 2 and all('class="emviz-player"' in p for p in pages)
    assert re.search(r'data-frames="(\d+)"', pages[0])[1] == str(n_frames)
    assert n_frames == len(parse_schedule(None).iterations(n_iter)) and n_iter > 5
    assert re.search(r'data-frames="(\d+)"', pages[1])[1] == str(len(parse_schedule({"dense": 5, "every": 5})
                                                                     .iterations(n_iter)))
    assert all("image/png" in o["data"] for o in outputs if "text/html" in o.get("data", {}))
    assert list(tmp_path.iterdir()) == []  # displaying writes no file
