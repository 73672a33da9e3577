"""Scenes and styles: layout, frozen positions, the title per frame, colours, small-multiples sizes."""

import matplotlib as mpl
import numpy as np
import pytest

from emviz.errors import InputError
from emviz.render.frames import FrameRenderer
from emviz.render.panel import Panel, register_panel
from emviz.render.scene import FIGURE_SPACE, Scene, grid_figure, grid_shape
from emviz.render.style import (
    THEMES, TITLE_HEIGHT, Style, blend_colors, component_colors, make_style, required_colors,
)
from emviz.trace import Trace

DPI = 50


@register_panel("test_scene_lines")
class SceneLines(Panel):
    """Horizontal lines at each component's mean, thick enough to leave pure-colour pixels."""

    summary = "test panel"

    def setup(self, ax, trace, colors):
        self._trace = trace
        self._x = np.linspace(0.0, 1.0, 20)
        ax.set_xlim(0, 1)
        ax.set_ylim(-3, 3)
        ax.set_xlabel("value")
        ax.set_ylabel("density")
        self._lines = [ax.plot([], [], color=c, lw=6)[0] for c in colors]
        return list(self._lines)

    def update(self, t):
        for k, line in enumerate(self._lines):
            line.set_data(self._x, np.full_like(self._x, self._trace.means[t, k, 0]))
        return list(self._lines)


@register_panel("test_scene_2d_only")
class Only2D(SceneLines):
    dims = (2,)


@register_panel("test_scene_split")
class SplitLines(SceneLines):
    """One plot per component, in the panel's cell (like the log-likelihood contours)."""

    def setup(self, ax, trace, colors):
        subs = ax.get_subplotspec().subgridspec(1, trace.n_components)
        ax.set_axis_off()
        self._subs = [ax.figure.add_subplot(subs[0, k]) for k in range(trace.n_components)]
        return super().setup(self._subs[0], trace, colors)


def make_trace(n_iter=6, k=3):
    t = np.arange(n_iter + 1)[:, None]
    means = (np.arange(k)[None, :] - 1.0 + 0.1 * t)[:, :, None]
    return Trace(
        weights=np.full((n_iter + 1, k), 1.0 / k), means=means, covariances=np.ones((n_iter + 1, k, 1, 1)),
        log_likelihood=-17112.88 - 1000.0 / (1 + np.arange(n_iter + 1)),
        resp_index=np.arange(4), resp=np.full((n_iter + 1, 4, k), 1.0 / k),
        X=np.linspace(-2, 2, 10)[:, None],
    )


SMALL = {"dpi": DPI, "size": (4.0, 2.4)}


def plain(text):
    return text.replace(FIGURE_SPACE, "")


def test_title_per_frame_and_padding():
    trace = make_trace(n_iter=12)
    scene = Scene(["test_scene_lines"], trace, SMALL)
    with scene.style.context():
        for t in (0, 3, 12):
            scene.update(t)
            ll = trace.log_likelihood[t]
            assert plain(scene.shown_title()) == f"Iteration {t}/12 \u00b7 log-likelihood {ll:.2f}"
            assert scene.shown_title() == scene.title_text(t)
    # Constant width: iteration and log-likelihood are padded to their widest.
    assert len({len(scene.title_text(t)) for t in range(13)}) == 1
    assert scene.title_text(3).startswith("\u2007Iteration 3/12 \u00b7 log-likelihood -")
    assert scene.title_text(12).startswith("Iteration 12/12 \u00b7 log-likelihood -")
    # Each number hugs its label: the padding is after it, never between the two.
    for t in range(13):
        assert f"log-likelihood {trace.log_likelihood[t]:.2f}" in scene.title_text(t)


def test_heading_and_no_title():
    trace = make_trace()
    scene = Scene(["test_scene_lines"], trace, SMALL, title="EM on 1D data")
    assert scene.shown_title().split("\n")[0] == "EM on 1D data"
    assert plain(scene.shown_title().split("\n")[1]).startswith("Iteration 6/6")
    two_lines = Scene(["test_scene_lines"], trace, SMALL, title="EM\non 1D data")
    assert two_lines.shown_title().split("\n")[:2] == ["EM", "on 1D data"]
    bare = Scene(["test_scene_lines"], trace, SMALL, title=False)
    assert bare.title_parts == [] and bare.shown_title() == ""
    with pytest.raises(InputError, match="title"):
        Scene(["test_scene_lines"], trace, SMALL, title=3)


def test_layout_row_by_default_and_grid_when_asked():
    trace = make_trace()
    row = Scene(["test_scene_lines", "test_scene_lines"], trace, {"dpi": DPI, "size": (6, 2.4)})
    (a, b) = [ax.get_position() for ax in row.axes]
    assert a.x1 < b.x0 and a.y0 == pytest.approx(b.y0)
    col = Scene(["test_scene_lines", "test_scene_lines"], trace, {"dpi": DPI, "size": (4, 4)}, layout=[2, 1])
    (a, b) = [ax.get_position() for ax in col.axes]
    assert a.y0 > b.y1 and a.x0 == pytest.approx(b.x0)
    with pytest.raises(InputError, match=r"layout: \[1, 1\] has 1 cells for 2 panels"):
        Scene(["test_scene_lines", "test_scene_lines"], trace, SMALL, layout=[1, 1])
    with pytest.raises(InputError, match="layout: rows must be a positive integer"):
        Scene(["test_scene_lines"], trace, SMALL, layout=[0, 1])


def test_layout_is_frozen_and_nothing_clips():
    trace = make_trace()
    scene = Scene(["test_scene_lines"], trace, {"dpi": DPI, "size": (2.6, 1.8)})
    before = scene.axes[0].get_position().frozen()
    renderer = FrameRenderer(scene, blit=False)
    for t in (0, 6, 2):
        renderer.frame(t)
        assert np.allclose(scene.axes[0].get_position().bounds, before.bounds)
    assert type(scene.figure.get_layout_engine()).__name__ == "PlaceHolderLayoutEngine"
    fig_box = scene.figure.bbox
    r = scene.canvas.get_renderer()
    texts = [scene.axes[0].xaxis.label, scene.axes[0].yaxis.label, *scene.title_parts]
    texts += scene.axes[0].get_xticklabels() + scene.axes[0].get_yticklabels()
    for text in texts:
        if text.get_visible() and text.get_text():
            box = text.get_window_extent(r)
            assert box.x0 >= -0.5 and box.y0 >= -0.5, text
            assert box.x1 <= fig_box.x1 + 0.5 and box.y1 <= fig_box.y1 + 0.5, text


def test_long_title_shrinks_to_fit():
    trace = make_trace()
    scene = Scene(["test_scene_lines"], trace, {"dpi": DPI, "size": (1.6, 1.6), "font_size": 9})
    r = scene.canvas.get_renderer()
    x0 = min(t.get_window_extent(r).x0 for t in scene.title_parts)
    assert x0 >= 0
    assert scene._suptitle.get_fontsize() < mpl.rcParamsDefault["font.size"] * 1.15


def test_too_small_is_an_input_error():
    with pytest.raises(InputError, match="style.size"):
        Scene(["test_scene_lines"] * 3, make_trace(), {"dpi": DPI, "size": (0.4, 0.3), "font_size": 12})


def test_panels_are_checked_against_the_dimension():
    with pytest.raises(InputError, match="D=1"):
        Scene(["test_scene_2d_only"], make_trace(), SMALL)
    with pytest.raises(InputError, match="unknown panel 'test_scene_linez'.*did you mean 'test_scene_lines'"):
        Scene(["test_scene_linez"], make_trace(), SMALL)
    with pytest.raises(InputError, match="at least one panel"):
        Scene([], make_trace(), SMALL)


def test_scene_leaves_global_rcparams_alone():
    before = dict(mpl.rcParams)
    Scene(["test_scene_lines"], make_trace(), {"dpi": DPI, "size": (3, 2), "theme": "dark"})
    after = dict(mpl.rcParams)
    assert {k for k in before if before[k] != after[k]} == set()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_component_and_background_colours_appear_exactly(theme):
    trace = make_trace()
    scene = Scene(["test_scene_lines"], trace, {"dpi": DPI, "size": (3, 2), "theme": theme})
    frame = FrameRenderer(scene).frame(3)
    pixels = {tuple(p) for p in frame.reshape(-1, 3)}
    required = required_colors(scene.style, trace.n_components)
    background = required[0]
    assert background == tuple(int(THEMES[theme].background[i:i + 2], 16) for i in (1, 3, 5))
    assert background in pixels
    for rgb in required[-3:]:
        assert rgb in pixels, rgb


def test_component_colors_are_fixed_and_exact():
    three, eight = component_colors(3), component_colors(8)
    assert three == eight[:3]
    assert len(set(component_colors(40))) == 40
    for rgb in component_colors(20):
        assert all(abs(c * 255 - round(c * 255)) < 1e-9 for c in rgb)
    assert required_colors("light", 2)[:2] == [(255, 255, 255), (31, 35, 40)]
    assert required_colors(Style(theme="dark"), 2)[-2:] == [(0, 114, 178), (213, 94, 0)]
    with pytest.raises(InputError, match="n_components"):
        component_colors(-1)


def test_blend_colors():
    colors = component_colors(3)
    resp = np.array([[1, 0, 0], [0, 0, 1], [0.5, 0.5, 0], [0, 0, 0]], dtype=float)
    out = blend_colors(resp, colors)
    assert out.shape == (4, 3)
    assert np.allclose(out[0], colors[0]) and np.allclose(out[1], colors[2])
    assert np.allclose(out[2], (np.array(colors[0]) + colors[1]) / 2)
    assert np.allclose(out[3], np.mean(colors, axis=0))
    with pytest.raises(InputError, match=r"resp: expected shape \(M, 3\)"):
        blend_colors(np.ones((2, 2)), colors)
    with pytest.raises(InputError, match="non-negative"):
        blend_colors(-np.ones((1, 3)), colors)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"theme": "drak"}, r"style.theme: unknown theme 'drak' \(did you mean 'dark'\?\)"),
        ({"dip": 50}, r"style: unknown option 'dip' \(did you mean 'dpi'\?\)"),
        ({"dpi": 0}, r"style.dpi: must be > 0"),
        ({"size": [3]}, r"style.size: must be \[width, height\]"),
        ({"size": [3, -1]}, r"style.size: must be > 0"),
        (5, r"style: must be a theme name or a mapping"),
    ],
)
def test_bad_styles(spec, message):
    with pytest.raises(InputError, match=message):
        make_style(spec)


def test_style_sizes():
    style = make_style({"dpi": 50})
    assert style.figure_size(1, 1) == (6.4, 3.4 + TITLE_HEIGHT)
    assert style.figure_size(1, 3, title=False) == (3 * 4.4, 3.4)
    assert make_style({"size": [3, 2]}).figure_size(2, 2) == (3.0, 2.0)
    assert style.figure_size(1, 2, title=False, col_units=[1, 3]) == (4.4 + 3 * 3.2, 3.4)


def test_panels_drawing_several_plots_get_room():
    trace = make_trace()
    one = Scene(["test_scene_split"], trace, {"dpi": 40})
    assert one.figure.get_size_inches() == pytest.approx((3 * 3.2, 3.4 + TITLE_HEIGHT))
    two = Scene(["test_scene_lines", "test_scene_split"], trace, {"dpi": 40})
    assert two.figure.get_size_inches() == pytest.approx((4.4 + 3 * 3.2, 3.4 + TITLE_HEIGHT))
    left, right = two.axes[0].get_position(), two.figure.axes[-1].get_position()
    assert left.width > right.width  # the split cell is wider, its three plots each narrower
    fixed = Scene(["test_scene_split"], trace, {"dpi": 40, "size": (5, 2)})
    assert tuple(fixed.figure.get_size_inches()) == (5, 2)
    grid = grid_figure(["test_scene_split"], trace, [0, 6], style={"dpi": 40})
    assert grid.get_size_inches() == pytest.approx((2 * 3 * 3.2, 3.4 + TITLE_HEIGHT))


def test_grid_shape_suits_slides():
    assert [grid_shape(n, 1) for n in (1, 2, 3, 4, 5, 6, 9, 10)] == [
        (1, 1), (1, 2), (1, 3), (2, 2), (2, 3), (2, 3), (3, 3), (3, 4)]
    assert grid_shape(3, 2) == (3, 1)


def test_grid_figure_size_and_titles():
    """style.size is the whole figure's size, a grid's as any output's; without it cells add up."""
    trace = make_trace()
    style = {"dpi": DPI, "size": (4.0, 3.2)}
    fig = grid_figure(["test_scene_lines"], trace, [0, 2, 4, 6], style=style)
    assert fig.canvas.get_width_height() == (4 * DPI, int(3.2 * DPI))
    titles = [sf._suptitle.get_text() for sf in fig.subfigs]
    assert titles == ["Iteration 0", "Iteration 2", "Iteration 4", "Iteration 6"]
    # The cells fill the figure: each subfigure's panel spans most of its cell.
    renderer = fig.canvas.get_renderer()
    for sub in fig.subfigs:
        box, cell = sub.axes[0].get_tightbbox(renderer), sub.bbox
        assert box.width > 0.8 * cell.width and box.height > 0.7 * cell.height
    two = grid_figure(["test_scene_lines", "test_scene_lines"], trace, [1, 5], style=style, title="EM")
    assert two.canvas.get_width_height() == (4 * DPI, int(3.2 * DPI))
    assert len(two.subfigs) == 2 and len(two.subfigs[0].axes) == 2
    auto = grid_figure(["test_scene_lines"], trace, [0, 6], style={"dpi": DPI})
    one = grid_figure(["test_scene_lines"], trace, [6], style={"dpi": DPI})
    assert auto.get_size_inches()[0] == pytest.approx(2 * one.get_size_inches()[0])
