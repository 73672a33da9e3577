"""The title's band: a scene's title (and a still grid's headings) never overlaps an Axes, its title,
tick labels or a colour bar, in every gallery output and in every layout, and the layout holds still.

The gallery cases build each gallery config's own panels, styles, runs and overlays from its YAML,
with the data shrunk (tens of points) so that the fits and landscapes are quick.
"""

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib.transforms import Bbox

from emviz.config import load_config
from emviz.pipeline import fit, output_settings, prepare
from emviz.render.frames import SceneSpec
from emviz.render.layout import PAD_BELOW, drawn_axes, title_band_inches
from emviz.render.scene import grid_figure
from emviz.render.style import make_style

GALLERY = Path(__file__).resolve().parents[1] / "gallery"
STILLS = (".png", ".pdf", ".svg")
#: Least free space between a title and a panel, in units of the title's font size: not touching is
#: not enough, a title that sits on a panel's own title reads as one heading with it.
CLEARANCE_EM = 0.5


# ---------------------------------------------------------------------------------------------- checks
def title_texts(fig) -> list:
    """Every figure-level text shown: the scene's title lines and numbers, a grid's heading and its
    cells' "Iteration t" titles (panels draw only into their Axes)."""
    texts = list(fig.texts)
    for sub in fig.subfigs:
        if sub._suptitle is not None:
            texts.append(sub._suptitle)
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def cut_off(fig) -> list[str]:
    """Each drawn Axes whose tight box (legends included) reaches beyond the figure's edges."""
    renderer = fig.canvas.get_renderer()
    found = []
    for ax in drawn_axes(fig):
        tight = ax.get_tightbbox(renderer)
        if tight is not None and (tight.x0 < -0.5 or tight.y0 < -0.5 or tight.x1 > fig.bbox.x1 + 0.5
                                  or tight.y1 > fig.bbox.y1 + 0.5):
            found.append(f"Axes {ax.get_title() or ax.name!r} leaves the figure: {tight}")
    return found


def collisions(fig) -> list[str]:
    """Each title text whose box meets a drawn Axes' tight box (titles, ticks, colour bars included)
    or comes closer to it than :data:`CLEARANCE_EM`, or leaves the figure."""
    renderer = fig.canvas.get_renderer()
    boxes = [(ax, ax.get_tightbbox(renderer)) for ax in drawn_axes(fig)]
    found = []
    for text in title_texts(fig):
        box = text.get_window_extent(renderer)
        if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > fig.bbox.x1 + 0.5 or box.y1 > fig.bbox.y1 + 0.5:
            found.append(f"{text.get_text()!r} leaves the figure: {box}")
        clearance = CLEARANCE_EM * text.get_fontsize() * fig.dpi / 72
        for ax, tight in boxes:
            if tight is None:
                continue
            name = ax.get_title() or ax.get_label() or ax.name
            meet = Bbox.intersection(box, tight)
            if meet is not None and meet.width > 0 and meet.height > 0:
                found.append(f"{text.get_text()!r} overlaps Axes {name!r} by {meet.height:.1f} px")
            elif min(box.x1, tight.x1) > max(box.x0, tight.x0) and 0 <= box.y0 - tight.y1 < clearance:
                found.append(f"{text.get_text()!r} is {box.y0 - tight.y1:.1f} px above Axes {name!r}, "
                             f"less than {clearance:.1f} px")
    return found


def layout_state(fig) -> list:
    """Positions of every Axes and title text, to show that nothing moves between frames."""
    return [tuple(np.round(ax.get_position().bounds, 9)) for ax in fig.axes] + [
        tuple(np.round(t.get_position(), 9)) for t in fig.texts]


def check_scene(spec: SceneSpec, frames, edges: bool = True) -> None:
    """Build the scene, draw ``frames`` (first and last) and check the title and the frozen layout;
    with ``edges``, also that no Axes is cut off at the figure's edges."""
    scene = spec.build()
    states = []
    with spec.style.context():
        for t in frames:
            scene.update(t)
            scene.figure.draw_without_rendering()
            problems = collisions(scene.figure) + (cut_off(scene.figure) if edges else [])
            assert not problems, f"iteration {t}: " + "; ".join(problems)
            states.append(layout_state(scene.figure))
    assert all(state == states[0] for state in states), "the layout moved between frames"
    if spec.title is not False:
        assert title_texts(scene.figure), "no title drawn"


def check_grid(panels, trace, iterations, style, title=None) -> None:
    fig = grid_figure(panels, trace, iterations, style=style, title=title)
    with make_style(style).context():
        fig.draw_without_rendering()
        problems = collisions(fig) + cut_off(fig)
    assert not problems, "; ".join(problems)
    shown = [line for text in title_texts(fig) for line in text.get_text().split("\n")]
    assert sorted(shown) == sorted([f"Iteration {t}" for t in iterations] + (title.split("\n") if title else []))


# ---------------------------------------------------------------------------------------------- gallery
def tiny_data(raw: dict) -> list[str]:
    """Overrides that shrink a config's data to tens of points (a bundled dataset is small already)."""
    mixture = raw["data"].get("mixture") or {}
    overrides = ["record.resp_points=40"]
    if "sizes" in mixture:
        overrides.append(f"data.mixture.sizes={[max(15, s // 50) for s in mixture['sizes']]}")
    if "n_samples" in mixture:
        overrides.append("data.mixture.n_samples=240")
    return overrides


def gallery_outputs() -> list:
    cases = []
    for path in sorted(GALLERY.glob("*.yaml")):
        for i, output in enumerate(yaml.safe_load(path.read_text())["outputs"]):
            cases.append(pytest.param(path.name, i, id=f"{path.stem}-{output['path']}"))
    return cases


@lru_cache(maxsize=None)
def fitted(name: str, out: str):
    path = GALLERY / name
    plan = prepare(path, out=out, overrides=tiny_data(yaml.safe_load(path.read_text())))
    return plan, fit(plan, progress=False)


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("title_layout"))


def test_the_gallery_lists_configs():
    assert len(gallery_outputs()) >= 10  # every config of the gallery is covered below


@pytest.mark.parametrize("name, index", gallery_outputs())
def test_gallery_titles_collide_with_nothing(name, index, out_dir):
    """Each gallery output as the pipeline renders it (its panels, runs, overlay, style and layout)."""
    plan, traces = fitted(name, out_dir)
    output = plan.config.outputs[index]
    shown = {run: traces[run] for run in (output.runs or traces)}
    subject = next(iter(shown.values())) if list(shown) == [None] else shown
    settings = output_settings(plan.config, index)
    spec = SceneSpec.create(list(output.panels), subject, style=settings["style"], layout=settings["layout"],
                            title=settings["title"], overlay=list(output.overlay or []))
    T = spec.primary.n_iter
    iterations = [min(t, T) for t in settings.get("iterations", [])]
    if Path(output.path).suffix in STILLS and len(iterations) > 1:
        check_grid(list(spec.panels), spec.primary, iterations, spec.style,
                   title=spec.title if spec.title is not False else None)
    elif Path(output.path).suffix in STILLS:
        check_scene(spec, iterations or [T])
    else:
        check_scene(spec, [0, T])


# ---------------------------------------------------------------------------------------------- layouts
CLUSTERS_3D = {
    "data": {"mixture": {"means": [[0.0, 0.0, 0.0], [3.0, 0.0, 1.0], [0.0, 3.0, -1.0]],
                         "stds": [0.6, 0.8, 0.5], "sizes": [25, 25, 25]}, "seed": 0},
    "model": {"n_components": 3, "init": "random", "max_iter": 8, "tol": 0.0, "seed": 1},
    "runs": [{"name": "EM"}, {"name": "hard EM", "model": {"algorithm": "hard"}}],
    "record": {"resp_points": 30},
    "outputs": [{"path": "unused.gif", "panels": ["ellipses"]}],
}

#: Real panels, cheap settings (small landscape grids): every kind of Axes a panel draws (split
#: plots, colour bars, 3D).
PANELS = [
    "ellipses",
    {"curves": {"show": ["loglik", "elbo", "kl"]}},
    "responsibilities",
    {"loglik_contour": {"params": ["mean0", "std0"], "components": [0, 1], "grid": 12, "levels": 6}},
    {"cloud3d": {"mesh": [8, 5]}},
    {"loglik_surface": {"params": [[0, "mean0"], [1, "mean0"]], "grid": 12, "levels": 6, "rotate_degrees": 60}},
]


@pytest.fixture(scope="module")
def runs(out_dir):
    plan = prepare(load_config(CLUSTERS_3D), out=out_dir)
    return fit(plan, progress=False)


#: The quicker panels, taken in order for rows of 1..6 (split plots, colour bars and 3D are in the
#: other cases).
ROW = ["ellipses", PANELS[1], "responsibilities", "ellipses", "responsibilities", "ellipses"]


@pytest.mark.parametrize("n", range(1, 7))
def test_one_to_six_panels_in_a_row(runs, n):
    title = "EM on three clusters\nfrom a random start" if n % 2 == 0 else None  # two lines, or one
    spec = SceneSpec.create(ROW[:n], runs["EM"], style={"dpi": 40}, title=title)
    check_scene(spec, [0, spec.primary.n_iter])


@pytest.mark.parametrize("panels, style", [
    (["ellipses"], {"size": [4, 3], "dpi": 50}),
    (["ellipses", PANELS[1]], {"size": [4, 3], "dpi": 50}),
    ([PANELS[4]], {"size": [4, 3], "dpi": 50, "font_size": 12}),
    ([PANELS[3]], {"dpi": 50, "font_size": 16}),  # before the band, the title overlapped the plots' titles here
    (["ellipses", PANELS[1]], {"size": [9, 3], "dpi": 200}),
], ids=["ellipses-small", "ellipses+curves-small", "cloud3d-small-font12", "contours-font16", "two-dpi200"])
def test_small_and_large_sizes(runs, panels, style):
    """The title's band holds at any size; the edges are not checked here: in a 4 x 3 inch frame the
    curves' legend is wider than its plot, and a turning 3D Axes' labels move beyond the layout's."""
    spec = SceneSpec.create(panels, runs["EM"], style=style, title="Heading")
    check_scene(spec, [0, spec.primary.n_iter], edges=False)


def test_a_layout_of_two_rows(runs):
    """Split plots with colour bars and a 3D Axes in the top row, next to the band."""
    spec = SceneSpec.create([PANELS[3], PANELS[4], PANELS[5], "ellipses"], runs["EM"], style={"dpi": 40},
                            layout=[2, 2])
    check_scene(spec, [0, spec.primary.n_iter])


@pytest.mark.parametrize("overlay", [None, [PANELS[3]]], ids=["side-by-side", "contour-overlay"])
def test_runs_side_by_side_and_overlaid(runs, overlay):
    spec = SceneSpec.create(["ellipses"], runs, style={"dpi": 40, "size": [12, 4]}, overlay=overlay)
    check_scene(spec, [0, spec.primary.n_iter])


@pytest.mark.parametrize("panels, iterations, title", [
    ([PANELS[4]], [0, 4, 8], "3D"),
    (["ellipses", PANELS[1]], [0, 3, 8], "Two panels\nper row"),
], ids=["cloud3d", "two-panels"])  # the gallery has two grids of one 2D panel without a heading
def test_still_grids(runs, panels, iterations, title):
    check_grid(panels, runs["EM"], iterations, {"dpi": 40}, title=title)


def test_the_band_is_sized_by_the_font_not_the_text(runs):
    """The band holds the title's lines at its font whatever the numbers; more lines, a taller band."""
    style = make_style({"dpi": 50})
    one, two = style.figure_size(1, 1, title=1), style.figure_size(1, 1, title=2)
    assert two[1] - one[1] == pytest.approx(title_band_inches(style.title_font_size, 2)
                                            - title_band_inches(style.title_font_size, 1))
    assert style.figure_size(1, 1, title=False)[1] < one[1]
    assert make_style({"font_size": 18}).title_band(1) == pytest.approx(2 * make_style({"font_size": 9}).title_band(1))
    # The last line's bottom sits PAD_BELOW ems above the panels' area, whose top is below it.
    spec = SceneSpec.create(["ellipses"], runs["EM"], style={"dpi": 50, "size": [5, 4]})
    scene = spec.build()
    with spec.style.context():
        scene.figure.draw_without_rendering()
        r = scene.canvas.get_renderer()
        lowest = min(t.get_window_extent(r).y0 for t in title_texts(scene.figure))
        band_bottom = scene.figure.bbox.height - title_band_inches(style.title_font_size, 1) * 50
        assert lowest == pytest.approx(band_bottom + PAD_BELOW * style.title_font_size / 72 * 50, abs=0.6)
        assert max(ax.get_tightbbox(r).y1 for ax in drawn_axes(scene.figure)) <= band_bottom + 0.5


def test_drawn_axes_leave_out_only_empty_switched_off_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    shown, empty, drawn_off, hidden = (fig.add_subplot(2, 2, i) for i in range(1, 5))
    empty.set_axis_off()
    drawn_off.set_axis_off()
    drawn_off.plot([0, 1], [0, 1])
    hidden.set_visible(False)
    assert drawn_axes(fig) == [shown, drawn_off]
