"""The frame loop: blitted frames equal full redraws, workers give identical frames, frames stream, render()."""

import numpy as np
import pytest

from emviz.errors import InputError
from emviz.render.frames import FrameRenderer, SceneSpec, _Overlay, iter_frames, resolve_workers, write_frames
from emviz.render.panel import Panel, register_panel
from emviz.render.scene import Scene
from emviz.render.style import component_colors, required_colors
from emviz.trace import Trace

DPI = 40
STYLE = {"dpi": DPI, "size": (4.0, 2.5)}


@register_panel("test_frames_sweep")
class Sweep(Panel):
    """Horizontal lines sweeping up through a legend in the upper right: frames with and without overlap."""

    summary = "test panel"
    legend: bool = True

    def setup(self, ax, trace, colors):
        self._trace = trace
        self._x = np.linspace(0.0, 1.0, 30)
        ax.set_xlim(0, 1)
        ax.set_ylim(-3, 3)
        ax.grid(True)
        ax.set_xlabel("x")
        self._lines = [ax.plot([], [], color=c, lw=6, label=f"component {k + 1}")[0] for k, c in enumerate(colors)]
        if self.legend:
            ax.legend(loc="upper right")
        ax.text(0.02, 0.05, "static note", transform=ax.transAxes)
        return list(self._lines)

    def update(self, t):
        for k, line in enumerate(self._lines):
            line.set_data(self._x, np.full_like(self._x, self._trace.means[t, k, 0]))
        return list(self._lines)


@register_panel("test_frames_unblittable")
class Unblittable(Sweep):
    blittable = False


@register_panel("test_frames_rogue")
class Rogue(Sweep):
    """Returns an artist from update() that setup() did not declare."""

    def update(self, t):
        return super().update(t) + [self._lines[0].axes.patch]


@register_panel("test_frames_nested")
class Nested(Sweep):
    """Animates a text inside an offset box: not drawable alone, so frames are fully redrawn."""

    def setup(self, ax, trace, colors):
        from matplotlib.offsetbox import AnchoredText

        lines = super().setup(ax, trace, colors)
        box = AnchoredText("t=0", loc="lower right")
        ax.add_artist(box)
        self._label = box.txt._text
        return lines + [self._label]

    def update(self, t):
        self._label.set_text(f"t={t}")
        return super().update(t) + [self._label]


@register_panel("test_frames_3d")
class Lines3D(Panel):
    projection = "3d"
    summary = "test panel"

    def setup(self, ax, trace, colors):
        self._trace = trace
        self._line = ax.plot([0, 1], [0, 1], [0, 0], color=colors[0])[0]
        return [self._line]

    def update(self, t):
        self._line.set_data_3d([0, 1], [0, 1], [0, self._trace.means[t, 0, 0]])
        return [self._line]


def make_trace(n_iter=8, k=2):
    t = np.arange(n_iter + 1)[:, None]
    means = (-2.6 + 5.4 * t / n_iter + 0.2 * np.arange(k)[None, :])[:, :, None]
    return Trace(
        weights=np.full((n_iter + 1, k), 1.0 / k), means=means, covariances=np.ones((n_iter + 1, k, 1, 1)),
        log_likelihood=-500.0 + np.arange(n_iter + 1) * 1.25,
        resp_index=np.arange(3), resp=np.full((n_iter + 1, 3, k), 1.0 / k), X=np.linspace(-1, 1, 6)[:, None],
    )


class FakeWriter:
    def __init__(self):
        self.frames = []

    def grab_frame(self, frame, duration_ms=None):
        self.frames.append(frame.copy())


def test_blitted_frames_equal_full_redraws():
    trace = make_trace()
    panels = ["test_frames_sweep", {"test_frames_sweep": {"legend": False}}]
    blitted = FrameRenderer(Scene(panels, trace, {"dpi": DPI, "size": (6, 2.5)}, title="heading"))
    full = FrameRenderer(Scene(panels, trace, {"dpi": DPI, "size": (6, 2.5)}, title="heading"), blit=False)
    assert blitted.blit and not full.blit
    overlays = [item for item in blitted._plan if isinstance(item, _Overlay)]
    assert any(o.cached for o in overlays), "the legend should be cached"
    crossed = 0
    for t in range(trace.n_iter + 1):
        a, b = blitted.frame(t), full.frame(t)
        assert a.shape == b.shape == (100, 240, 3) and a.dtype == np.uint8
        np.testing.assert_array_equal(a, b, err_msg=f"iteration {t}")
        crossed += any(o.cached and not np.array_equal(a[o.rows, o.cols], blitted._dressed[o.rows, o.cols, :3])
                       for o in overlays)
    assert crossed > 0, "some frames should draw a line across the legend"
    # Out of order and repeated: frames depend on the iteration only.
    np.testing.assert_array_equal(blitted.frame(3), full.frame(3))


def test_unblittable_scene_is_fully_redrawn():
    trace = make_trace()
    renderer = FrameRenderer(Scene(["test_frames_unblittable"], trace, STYLE))
    assert not renderer.blit
    reference = FrameRenderer(Scene(["test_frames_sweep"], trace, STYLE), blit=False)
    np.testing.assert_array_equal(renderer.frame(5), reference.frame(5))


def test_nested_animated_artist_falls_back_to_full_redraws():
    trace = make_trace()
    renderer = FrameRenderer(Scene(["test_frames_nested"], trace, STYLE))
    reference = FrameRenderer(Scene(["test_frames_nested"], trace, STYLE), blit=False)
    assert not renderer.blit
    for t in (2, 7):
        np.testing.assert_array_equal(renderer.frame(t), reference.frame(t))


def test_3d_panels_are_fully_redrawn():
    trace = make_trace()
    renderer = FrameRenderer(Scene(["test_frames_3d"], trace, STYLE))
    assert not renderer.blit and not renderer.scene.blittable
    assert renderer.frame(0).shape == renderer.frame(8).shape == (100, 160, 3)
    assert not np.array_equal(renderer.frame(0), renderer.frame(8))


def test_one_panel_object_serves_many_scenes():
    from dataclasses import dataclass, field

    @register_panel("test_frames_appending")
    @dataclass
    class Appending(Sweep):
        _made: list = field(default_factory=list)

        def setup(self, ax, trace, colors):
            self._made.append(ax)
            return super().setup(ax, trace, colors)

    panel = Appending()
    trace = make_trace()
    scenes = [Scene([panel], trace, STYLE) for _ in range(2)]
    assert [len(s.panels[0]._made) for s in scenes] == [1, 1]
    assert panel._made == [] and scenes[0].panels[0]._trace is trace


def test_undeclared_animated_artist_is_a_clear_error():
    renderer = FrameRenderer(Scene(["test_frames_rogue"], make_trace(), STYLE))
    with pytest.raises(RuntimeError, match="setup\\(\\) did not return"):
        renderer.frame(1)


def test_one_and_two_workers_give_identical_frames():
    trace = make_trace(n_iter=7)
    spec = SceneSpec.create(["test_frames_sweep"], trace, style=STYLE)
    its = list(range(8))
    one = list(iter_frames(spec, its, workers=1))
    two = list(iter_frames(spec, its, workers=2))
    assert len(one) == len(two) == 8
    for t, (a, b) in enumerate(zip(one, two)):
        np.testing.assert_array_equal(a, b, err_msg=f"iteration {t}")


def test_frames_stream_lazily_in_order():
    trace = make_trace()
    spec = SceneSpec.create(["test_frames_sweep"], trace, style=STYLE)
    stream = iter_frames(spec, [8, 0, 4], workers=1)
    first = next(stream)
    renderer = FrameRenderer(spec.build())
    np.testing.assert_array_equal(first, renderer.frame(8))
    rest = list(stream)
    np.testing.assert_array_equal(rest[0], renderer.frame(0))
    np.testing.assert_array_equal(rest[1], renderer.frame(4))


def test_write_frames_feeds_the_writer_with_a_progress_bar(capsys):
    trace = make_trace()
    spec = SceneSpec.create(["test_frames_sweep"], trace, style=STYLE)
    writer = FakeWriter()
    count = write_frames(iter_frames(spec, range(4)), writer, total=4, progress=True, desc="x.gif")
    assert count == 4 and len(writer.frames) == 4
    assert "x.gif" in capsys.readouterr().err
    write_frames(iter_frames(spec, range(2)), FakeWriter(), total=2, progress=False)
    assert capsys.readouterr().err == ""


def test_resolve_workers():
    assert resolve_workers(1, 100) == 1
    assert resolve_workers(4, 3) == 3
    assert resolve_workers("auto", 5) == 1
    assert resolve_workers("auto", 300, blittable=True) == 1
    cpus = resolve_workers("auto", 10_000)
    assert cpus >= 1 and resolve_workers("auto", 48, blittable=False) == min(2, cpus)
    for bad in (0, -1, "many", 1.5, True):
        with pytest.raises(InputError, match="workers"):
            resolve_workers(bad, 10)


def test_scene_spec_checks_and_prepares_panels():
    calls = []

    @register_panel("test_frames_prepared")
    class Prepared(Sweep):
        def prepare(self, trace):
            calls.append(trace.n_iter)

    SceneSpec.create(["test_frames_prepared"], make_trace())
    assert calls == [8]
    with pytest.raises(InputError, match="layout"):
        SceneSpec.create(["test_frames_sweep"] * 2, make_trace(), layout=[1, 1])


# ---------------------------------------------------------------------- render() with a fake writer
@pytest.fixture
def fake_open_writer(monkeypatch):
    writers = pytest.importorskip("emviz.writers")
    made = []

    class Recording(FakeWriter):
        def __init__(self, path, **options):
            super().__init__()
            self.path, self.options = path, options
            self.finished = self.aborted = False
            made.append(self)

        def finish(self):
            self.finished = True
            return self.path

        def abort(self):
            self.aborted = True

    monkeypatch.setattr(writers, "open_writer", lambda path, **kw: Recording(path, **kw))
    return made


def test_render_animation_hands_frames_palette_and_colours_to_the_writer(fake_open_writer, tmp_path):
    from emviz.render import render

    trace = make_trace(n_iter=30)
    out = render(trace, ["test_frames_sweep"], tmp_path / "a.gif", schedule={"dense": 3, "every": 10},
                 style=STYLE, fps=5, hold_last=1.5, progress=False)
    (writer,) = fake_open_writer
    assert out == tmp_path / "a.gif" and writer.finished
    assert len(writer.frames) == 7  # 0 1 2 3 10 20 30
    assert writer.options["fps"] == 5.0 and writer.options["hold_last_ms"] == 1500
    assert writer.options["labels"] == [f"Iteration {t}" for t in (0, 1, 2, 3, 10, 20, 30)]
    assert len(writer.options["palette_frames"]) == 6
    assert writer.options["required_colors"] == required_colors(STYLE, 2)
    pixels = {tuple(p) for p in writer.frames[3].reshape(-1, 3)}
    for rgb in required_colors(STYLE, 2)[-2:]:
        assert rgb in pixels


def test_render_aborts_the_writer_on_failure(fake_open_writer, tmp_path, monkeypatch):
    from emviz.render import render

    def boom(self, frame, duration_ms=None):
        raise KeyError("disk full")

    monkeypatch.setattr(FakeWriter, "grab_frame", boom)
    with pytest.raises(KeyError):
        render(make_trace(), ["test_frames_sweep"], tmp_path / "a.mp4", style=STYLE, progress=False)
    assert fake_open_writer[0].aborted and not fake_open_writer[0].finished


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"path": "a.jpg"}, r"path: 'a.jpg' has an unsupported suffix '.jpg'"),
        ({"schedule": "all", "iterations": [1]}, "give one of them"),
        ({"schedule": [99]}, r"iteration 99 is beyond the trace.*0\.\.8"),
        ({"path": "a.png", "iterations": [9]}, r"iterations\[0\]: iteration 9 is beyond"),
        ({"fps": 0}, "fps: must be > 0"),
        ({"hold_last": -1}, "hold_last"),
        ({"panels": ["nope_panel"]}, "unknown panel 'nope_panel'"),
        ({"trace": 3}, "trace: expected a Trace"),
    ],
)
def test_render_input_errors(kwargs, message, tmp_path):
    from emviz.render import render

    kwargs = {"trace": make_trace(), "panels": ["test_frames_sweep"], "path": "a.gif", "style": STYLE,
              "progress": False, **kwargs}
    kwargs["path"] = tmp_path / kwargs["path"]
    with pytest.raises(InputError, match=message):
        render(**kwargs)


# ---------------------------------------------------------------------- render() with the real writers
def test_render_gif_decodes_to_the_scheduled_frames(tmp_path):
    pytest.importorskip("emviz.writers")
    from PIL import Image

    from emviz.render import render

    trace = make_trace(n_iter=8)
    path = render(trace, ["test_frames_sweep"], tmp_path / "a.gif", schedule={"every": 4}, style=STYLE,
                  fps=10, hold_last=0.5, progress=False)
    with Image.open(path) as gif:
        assert gif.n_frames == 3 and gif.size == (160, 100)
        durations, colours = [], set()
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
            colours |= {c for _, c in gif.convert("RGB").getcolors(1 << 16)}
    assert durations == [100, 100, 600]
    for rgb in component_colors(2):
        assert tuple(round(c * 255) for c in rgb) in colours


def test_render_gif_bytes_are_the_same_every_time_and_with_workers(tmp_path):
    pytest.importorskip("emviz.writers")
    from emviz.render import render

    trace = make_trace(n_iter=9)
    kwargs = dict(schedule="all", style=STYLE, progress=False)
    one = render(trace, ["test_frames_sweep"], tmp_path / "one.gif", workers=1, **kwargs).read_bytes()
    again = render(trace, ["test_frames_sweep"], tmp_path / "again.gif", workers=1, **kwargs).read_bytes()
    two = render(trace, ["test_frames_sweep"], tmp_path / "two.gif", workers=2, **kwargs).read_bytes()
    assert one == again == two


def test_render_stills(tmp_path):
    pytest.importorskip("emviz.writers")
    from PIL import Image

    from emviz.render import render

    trace = make_trace()
    style = {"dpi": DPI, "size": (2.0, 1.5)}
    one = render(trace, ["test_frames_sweep"], tmp_path / "one.png", style=style, iterations=[3])
    with Image.open(one) as im:
        assert im.size == (80, 60)
    # style.size is the whole grid's: here 3 x 2 cells of 2 x 1.5 inches.
    grid = render(trace, ["test_frames_sweep"], tmp_path / "grid.png", style={**style, "size": (6.0, 3.0)},
                  iterations=[0, 2, 4, 6, 8])
    with Image.open(grid) as im:
        assert im.size == (3 * 80, 2 * 60)
    pdf = render(trace, ["test_frames_sweep"], tmp_path / "last.pdf", style=style)
    assert pdf.read_bytes().startswith(b"%PDF")
