"""Half-steps: each iteration as its E-step frame (colours change, components hold) and M-step frame
(components move, colours hold), from the trace without refitting."""

import textwrap

import numpy as np
import pytest
from PIL import Image

import emviz
from emviz import GaussianMixture, InputError, Mixture, Recorder
from emviz.cli import main
from emviz.render.api import plan_animation
from emviz.render.frames import FrameRenderer, SceneSpec
from emviz.render.panel import Panel, register_panel
from emviz.render.scene import Scene, grid_figure
from emviz.render.steps import Frame, frame_label, half_step_frames, n_frames

STYLE = {"dpi": 30, "size": [8, 3]}
RNG = np.random.RandomState(0)
X2 = np.concatenate([RNG.randn(50, 2), RNG.randn(50, 2) * 0.7 + [4, 1]])
INIT2 = Mixture([0.5, 0.5], [[-1.0, 2.0], [3.0, -1.0]], [np.eye(2)] * 2)
X1 = np.concatenate([RNG.randn(40) - 2, RNG.randn(40) * 0.5 + 2])[:, None]
INIT1 = Mixture([0.5, 0.5], [[-0.5], [0.5]], [[[1.0]], [[1.0]]])


@pytest.fixture(scope="module")
def trace2():
    return Recorder(GaussianMixture(2, init=INIT2, tol=0, max_iter=4), progress=False).run(X2)


@pytest.fixture(scope="module")
def trace1():
    return Recorder(GaussianMixture(2, init=INIT1, tol=0, max_iter=4), progress=False).run(X1)


def halves(n_iter):
    return half_step_frames(range(n_iter + 1), n_iter)


def ellipse_state(panel):
    """Centre, width, height and angle of every ellipse, and every mean marker's position."""
    art = panel._artists
    shapes = [(*e.get_center(), e.get_width(), e.get_height(), e.get_angle()) for es in art["ellipses"] for e in es]
    return np.array(shapes + [tuple(m.get_xydata()[0]) + (0.0, 0.0, 0.0) for m in art["means"]])


# ------------------------------------------------------------------------------------------ the frame key
def test_frame_says_which_parameters_and_colours():
    assert (Frame(3).params, Frame(3).resp, Frame(3).position) == (3, 3, 3.0)
    assert (Frame(3, "E").params, Frame(3, "E").resp, Frame(3, "E").position) == (3, 3, 3.0)
    assert (Frame(3, "M").params, Frame(3, "M").resp, Frame(3, "M").position) == (4, 3, 3.5)
    # A run that stopped at 2 rests at its last E-step; one still running is left alone.
    assert Frame(3, "M").at_most(2) == Frame(2, "E") and Frame(2, "M").at_most(2) == Frame(2, "E")
    assert Frame(1, "M").at_most(2) == Frame(1, "M") and Frame(5).at_most(2) == Frame(2)
    assert [frame_label(f) for f in (Frame(3), Frame(3, "E"), Frame(3, "M"))] == [
        "Iteration 3", "Iteration 3 \u00b7 E-step", "Iteration 3 \u00b7 M-step"]
    with pytest.raises(ValueError, match="phase"):
        Frame(1, "X")


def test_frame_counts_the_last_iteration_has_no_m_step():
    assert half_step_frames([0, 2, 4], 4) == [Frame(0, "E"), Frame(0, "M"), Frame(2, "E"), Frame(2, "M"), Frame(4, "E")]
    assert n_frames(3, True) == 5 and n_frames(3, True, includes_last=False) == 6 and n_frames(3, False) == 3


def test_plan_frames_labels_and_log_likelihood(trace2):
    plan = plan_animation(trace2, ["ellipses"], schedule="all", half_steps=True, style=STYLE)
    assert len(plan.keys()) == 9 and plan.keys() == halves(4)
    assert plan.frames_at == [0, 0, 1, 1, 2, 2, 3, 3, 4]
    assert plan.labels()[:3] == ["Iteration 0 \u00b7 E-step", "Iteration 0 \u00b7 M-step", "Iteration 1 \u00b7 E-step"]
    ll = trace2.log_likelihood
    # The log-likelihood of the parameters shown: the M-step's are iteration t + 1's.
    assert plan.log_likelihood() == [float(v) for v in (ll[0], ll[1], ll[1], ll[2], ll[2], ll[3], ll[3], ll[4], ll[4])]
    # max_frames counts frames: 5 frames are 3 iterations (0, one between, T).
    thin = plan_animation(trace2, ["ellipses"], schedule={"every": 1, "max_frames": 5}, half_steps=True, style=STYLE)
    assert len(thin.keys()) == 5 and sorted(set(thin.frames_at)) == [0, 2, 4]
    whole = plan_animation(trace2, ["ellipses"], schedule="all", style=STYLE)
    assert whole.frames == () and whole.keys() == [Frame(t) for t in range(5)]


# ------------------------------------------------------------------------------------------ titles
def test_title_names_the_half_and_keeps_its_length(trace2):
    s = Scene(["ellipses"], trace2, style=STYLE, half_steps=True)
    ll = trace2.log_likelihood
    shown = {}
    with s.style.context():
        for frame in (Frame(2, "E"), Frame(2, "M"), Frame(4, "E")):
            s.update(frame)
            shown[frame] = s.shown_title()
            assert shown[frame] == s.title_text(frame)
    clean = {f: " ".join(t.replace("\u2007", " ").split()) for f, t in shown.items()}
    assert clean[Frame(2, "E")] == f"Iteration 2/4 \u00b7 E-step \u00b7 log-likelihood {ll[2]:.2f}"
    assert clean[Frame(2, "M")] == f"Iteration 2/4 \u00b7 M-step \u00b7 log-likelihood {ll[3]:.2f}"
    assert clean[Frame(4, "E")] == f"Iteration 4/4 \u00b7 E-step \u00b7 log-likelihood {ll[4]:.2f}"
    assert len({len(t) for t in shown.values()}) == 1  # padded to one length: the line does not shift
    # The half's text starts at the same place whichever half it names.
    with s.style.context():
        s.update(Frame(1, "E"))
        x_e = s.title_parts[1].get_position()[0]
        s.update(Frame(1, "M"))
        assert s.title_parts[1].get_position()[0] == x_e and s.title_parts[1].get_text() == "M-step"


def test_half_step_frames_need_a_half_step_scene_and_stop_at_the_last(trace2):
    plain = Scene(["ellipses"], trace2, style=STYLE)
    with plain.style.context(), pytest.raises(InputError, match="half_steps=True"):
        plain.update(Frame(1, "M"))
    s = Scene(["ellipses"], trace2, style=STYLE, half_steps=True)
    with s.style.context(), pytest.raises(InputError, match="no M-step follows it"):
        s.update(Frame(4, "M"))


# ------------------------------------------------------------------------------------------ what holds
def test_m_step_keeps_the_colours_and_e_step_keeps_the_components(trace2):
    s = Scene(["ellipses", "responsibilities"], trace2, style=STYLE, half_steps=True)
    ell, resp = s.panels
    state = {}
    with s.style.context():
        for frame in halves(4):
            s.update(frame)
            state[frame] = (ellipse_state(ell), ell._artists["points"].get_facecolors().copy(),
                            resp._artists[0].get_facecolors().copy())
    for t in range(4):
        e, m = state[Frame(t, "E")], state[Frame(t, "M")]
        np.testing.assert_array_equal(m[1], e[1])  # M(t): the colours of E(t) ...
        np.testing.assert_array_equal(m[2], e[2])
        assert not np.allclose(m[0], e[0])  # ... while the components move
        np.testing.assert_allclose(m[0][:, :2][-2:], trace2.means[t + 1])  # to iteration t + 1's means
        if t > 0:
            before = state[Frame(t - 1, "M")]
            np.testing.assert_array_equal(e[0], before[0])  # E(t): the components of M(t - 1) ...
            assert not np.allclose(e[1], before[1])  # ... while the points are recoloured
            assert not np.allclose(e[2], before[2])
    np.testing.assert_array_equal(state[Frame(4, "E")][0], state[Frame(3, "M")][0])


def test_e_step_frame_is_the_whole_iteration_and_pixels_hold(trace1, trace2):
    """Without a title line the E-step frame is the whole iteration's frame, pixel for pixel; a panel
    of parameters only (components) holds through the E-step, one of colours only through the M-step."""
    plain = FrameRenderer(Scene(["components"], trace1, style=STYLE, title=False))
    comp = FrameRenderer(Scene(["components"], trace1, style=STYLE, title=False, half_steps=True))
    frames = {f: comp.frame(f) for f in halves(4)}
    for t in range(5):
        np.testing.assert_array_equal(frames[Frame(t, "E")], plain.frame(t))
    for t in range(1, 5):
        np.testing.assert_array_equal(frames[Frame(t, "E")], frames[Frame(t - 1, "M")])  # defaults to params
        assert not np.array_equal(frames[Frame(t - 1, "M")], frames[Frame(t - 1, "E")])
    resp = FrameRenderer(Scene(["responsibilities"], trace2, style=STYLE, title=False, half_steps=True))
    frames = {f: resp.frame(f) for f in halves(4)}
    for t in range(4):
        np.testing.assert_array_equal(frames[Frame(t, "M")], frames[Frame(t, "E")])
        assert not np.array_equal(frames[Frame(t + 1, "E")], frames[Frame(t, "M")])


def test_curves_cursor_sits_between_t_and_t_plus_1_on_the_m_step(trace2):
    s = Scene([{"curves": {"show": ["loglik", "delta"]}}], trace2, style=STYLE, half_steps=True)
    curves = s.panels[0]
    nats, gap = curves._strips
    ll = trace2.log_likelihood
    delta = np.abs(np.diff(ll))
    with s.style.context():
        s.update(Frame(2, "M"))
        assert list(nats.cursor.get_xdata()) == [2.5, 2.5] and list(gap.cursor.get_xdata()) == [2.5, 2.5]
        x, y = nats.markers[0].get_xydata()[0]
        assert x == 2.5 and y == pytest.approx((ll[2] + ll[3]) / 2, rel=1e-12)  # on the straight segment
        x, y = gap.markers[0].get_xydata()[0]  # a log axis: on the drawn segment, the geometric mean
        assert x == 2.5 and y == pytest.approx(np.sqrt(delta[1] * delta[2]), rel=1e-9)
        s.update(Frame(3, "E"))
        assert list(nats.cursor.get_xdata()) == [3, 3] and tuple(nats.markers[0].get_xydata()[0]) == (3, ll[3])


def test_cloud3d_and_the_landscape_paths_follow_the_halves(trace2):
    X3 = np.column_stack([X2, X2[:, 0] - X2[:, 1]])
    init3 = Mixture([0.5, 0.5], [[-1.0, 2.0, 0.0], [3.0, -1.0, 1.0]], [np.eye(3)] * 2)
    trace3 = Recorder(GaussianMixture(2, init=init3, tol=0, max_iter=4), progress=False).run(X3)
    cloud = Scene([{"cloud3d": {"rotate_degrees": 40}}], trace3, style=STYLE, half_steps=True)
    panel = cloud.panels[0]
    with cloud.style.context():
        cloud.update(Frame(1, "E"))
        e_colors = panel._artists["points"].get_facecolor().copy()
        cloud.update(Frame(1, "M"))
        np.testing.assert_array_equal(panel._artists["points"].get_facecolor(), e_colors)  # colours hold
        np.testing.assert_allclose(panel._artists["means"][0].get_data_3d(), trace3.means[2, 0][:, None])  # moved
        assert panel._artists["points"].axes.azim == pytest.approx(panel.azimuth(1.5))  # the camera keeps turning
    spec = SceneSpec.create([{"loglik_contour": {"grid": 8}}, {"loglik_surface": {"grid": 5, "rotate_degrees": 40}}],
                            trace2, style=STYLE, half_steps=True)
    s = spec.build()
    contour, surface = s.panels
    with s.style.context():
        s.update(Frame(2, "M"))  # the path up to iteration 3's parameters
        view = contour._views[0]
        np.testing.assert_array_equal(view.path_line.get_xdata(), view.path[0][:4])
        np.testing.assert_array_equal(view.current.get_xdata(), [view.path[0][3]])
        xs, ys, _ = surface._art["path"].get_data_3d()
        assert len(xs) == 4 and surface._art["ax"].azim == pytest.approx(surface.azimuth(2.5))


class Params(Panel):
    """A panel that knows nothing of half-steps: it records the iterations it is asked for."""

    summary = "test panel"

    def setup(self, ax, trace, colors):
        self.asked = []
        self._line = ax.plot([0, 1], [0, 1], color=colors[0])[0]
        return [self._line]

    def update(self, t):
        self.asked.append(t)
        return [self._line]


register_panel("test_half_steps_params")(Params)


def test_a_panel_without_half_steps_shows_the_parameters_of_the_frame(trace2):
    s = Scene(["test_half_steps_params"], trace2, style=STYLE, half_steps=True)
    panel = s.panels[0]
    with s.style.context():
        for frame in halves(4):
            s.update(frame)
    assert panel.asked == [0, 1, 1, 2, 2, 3, 3, 4, 4]  # E(t) -> update(t), M(t) -> update(t + 1)


# ------------------------------------------------------------------------------------------ frames
def test_blitted_half_steps_equal_full_redraws(trace2):
    panels = ["ellipses", {"curves": {"show": ["loglik", "delta"]}}]
    blitted = FrameRenderer(Scene(panels, trace2, style=STYLE, half_steps=True))
    full = FrameRenderer(Scene(panels, trace2, style=STYLE, half_steps=True), blit=False)
    assert blitted.blit and not full.blit
    for frame in halves(4):
        np.testing.assert_array_equal(blitted.frame(frame), full.frame(frame), err_msg=frame_label(frame))


def test_same_bytes_twice_with_one_and_two_workers(trace2, tmp_path):
    """Drawn in this process, then by two worker processes (chunks of Frames sent to each): one file."""
    paths = [emviz.render(trace2, ["ellipses"], tmp_path / f"{workers}.gif", schedule="all", half_steps=True,
                          style=STYLE, workers=workers, progress=False) for workers in (1, 2)]
    assert paths[0].read_bytes() == paths[1].read_bytes()
    with Image.open(paths[0]) as im:
        assert im.n_frames == 9


@pytest.fixture(scope="module")
def runs():
    em = Recorder(GaussianMixture(2, init=INIT2, tol=0, max_iter=4), progress=False).run(X2)
    hard = Recorder(GaussianMixture(2, init=INIT2, tol=0, max_iter=2, algorithm="hard"), progress=False).run(X2)
    return {"EM": em, "hard EM": hard}


def test_runs_side_by_side_a_shorter_run_rests_at_its_last_e_step(runs):
    plan = plan_animation(runs, ["ellipses"], overlay=["curves"], schedule="all", half_steps=True,
                          style={"dpi": 30, "size": [9, 3]})
    assert len(plan.keys()) == 9 and plan.log_likelihood() is None
    s = plan.spec.build()
    em, hard, curves = s.panels
    with s.style.context():
        s.update(Frame(1, "M"))  # both runs under way: iteration 2's components, iteration 1's colours
        np.testing.assert_allclose(ellipse_state(hard)[-2:, :2], runs["hard EM"].means[2])
        np.testing.assert_array_equal(hard._artists["points"].get_facecolors(), hard.point_colors(1))
        s.update(Frame(3, "M"))  # the hard run stopped at 2: it rests at E(2)
        np.testing.assert_allclose(ellipse_state(hard)[-2:, :2], runs["hard EM"].means[2])
        np.testing.assert_array_equal(hard._artists["points"].get_facecolors(), hard.point_colors(2))
        np.testing.assert_allclose(ellipse_state(em)[-2:, :2], runs["EM"].means[4])
        np.testing.assert_array_equal(em._artists["points"].get_facecolors(), em.point_colors(3))
        (nats,) = curves._strips
        assert list(nats.cursor.get_xdata()) == [3.5, 3.5]
        ends = [tuple(m.get_xydata()[0]) for m in nats.markers]
        assert ends[1] == (2, runs["hard EM"].log_likelihood[2])  # the stopped run's dot rests at its end
        title = " ".join(s.shown_title().replace("\u2007", " ").split())
    assert title == (f"Iteration 3/4 \u00b7 M-step \u00b7 EM {runs['EM'].log_likelihood[4]:.2f} \u00b7 "
                     f"hard EM {runs['hard EM'].log_likelihood[2]:.2f}")


# ------------------------------------------------------------------------------------------ outputs
def test_still_grid_shows_both_halves_of_each_iteration(trace2, tmp_path):
    fig = grid_figure(["ellipses"], trace2, half_step_frames([1, 4], 4), style=STYLE)
    titles = [sub._suptitle.get_text() if sub._suptitle else None for sub in fig.subfigs]
    assert titles == ["Iteration 1 \u00b7 E-step", "Iteration 1 \u00b7 M-step", "Iteration 4 \u00b7 E-step", None]
    (x0, y0), (x1, y1), (x2, y2) = [(sub.bbox_relative.x0, sub.bbox_relative.y0) for sub in fig.subfigs[:3]]
    assert y0 == y1 > y2 and x0 == x2 < x1  # one row per iteration: its E-step beside its M-step
    path = emviz.render(trace2, ["ellipses"], tmp_path / "grid.png", iterations=[1, 4], half_steps=True,
                        style={"dpi": 30}, progress=False)
    whole = emviz.render(trace2, ["ellipses"], tmp_path / "whole.png", iterations=[1, 4], style={"dpi": 30},
                         progress=False)
    assert Image.open(path).size[1] == Image.open(whole).size[1] * 2 and Image.open(path).size[0] == \
        Image.open(whole).size[0]
    with pytest.raises(InputError, match="small-multiples grid .*half_steps"):
        emviz.render({"a": trace2, "b": trace2}, ["ellipses"], tmp_path / "x.png", iterations=[1], half_steps=True,
                     progress=False)


def test_png_folder_html_and_player_carry_the_halves(trace2, tmp_path):
    folder = emviz.render(trace2, ["responsibilities"], tmp_path / "frames", schedule="all", half_steps=True,
                          style=STYLE, progress=False)
    assert len(list(folder.glob("frame_*.png"))) == 9
    anim = emviz.show(trace2, ["responsibilities"], schedule=[0, 2], half_steps=True, style=STYLE, progress=False)
    assert anim.n_frames == 5 and anim.iterations == [0, 0, 2, 2, 4]
    data = anim.draw()
    assert data.labels == ["Iteration 0 \u00b7 E-step", "Iteration 0 \u00b7 M-step", "Iteration 2 \u00b7 E-step",
                           "Iteration 2 \u00b7 M-step", "Iteration 4 \u00b7 E-step"]
    assert data.log_likelihood[1] == pytest.approx(trace2.log_likelihood[1])


def config_text(tmp_path):
    text = textwrap.dedent("""\
        data:
          mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [30, 20]}
        model: {n_components: 2, max_iter: 3, tol: 0.0}
        frames: {schedule: all, fps: 5, hold_last: 1.0}
        style: {dpi: 30, size: [3, 2]}
        outputs:
          - path: halves.gif
            panels: [components]
            frames: {half_steps: true}
          - path: whole.gif
            panels: [components]
        """)
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def gif_frames(path):
    with Image.open(path) as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
    return durations


def test_cli_renders_half_steps_gif_with_the_held_last_frame(tmp_path, capsys):
    config = config_text(tmp_path)  # the output's frames key turns half-steps on, the other output keeps whole ones
    assert main(["render", str(config), "--out", str(tmp_path / "out"), "--quiet"]) == 0, capsys.readouterr().err
    halves_ms, whole_ms = gif_frames(tmp_path / "out" / "halves.gif"), gif_frames(tmp_path / "out" / "whole.gif")
    assert len(halves_ms) == 7 and len(whole_ms) == 4  # iterations 0..3: 2 * 4 - 1 half-steps
    assert halves_ms == [200] * 6 + [1200] and whole_ms == [200] * 3 + [1200]


def test_render_trace_takes_half_steps(trace2, tmp_path, capsys):
    trace2.save(tmp_path / "t.npz")
    argv = ["render-trace", str(tmp_path / "t.npz"), "--panels", "responsibilities", "--schedule", "[0, 2]",
            "--dpi", "30", "--quiet", "--out"]
    assert main([*argv, str(tmp_path / "halves.gif"), "--half-steps"]) == 0, capsys.readouterr().err
    assert main([*argv, str(tmp_path / "whole.gif")]) == 0
    assert [len(gif_frames(tmp_path / name)) for name in ("halves.gif", "whole.gif")] == [5, 3]


def test_dry_run_counts_and_the_global_key(tmp_path, capsys):
    config = config_text(tmp_path)
    assert main(["render", str(config), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "halves.gif  [animation: components; schedule all, half-steps, 5 fps; 7 frames, 2.4 s]" in out
    assert "whole.gif  [animation: components; schedule all, 5 fps; 4 frames, 1.8 s]" in out
    assert main(["render", str(config), "--out", str(tmp_path / "out"), "--dry-run",
                 "--set", "frames.half_steps=true", "--set", "outputs[0].frames.half_steps=false"]) == 0
    out = capsys.readouterr().out
    assert "halves.gif  [animation: components; schedule all, 5 fps; 4 frames" in out
    assert "whole.gif  [animation: components; schedule all, half-steps, 5 fps; 7 frames" in out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where, value, needle", [
    ("frames: {schedule: all, fps: 5, hold_last: 1.0, half_steps: 3}", None, "c.yaml:4: frames.half_steps: must be true or false (got 3)"),
    (None, "    frames: {half_steps: sometimes}", "c.yaml:9: outputs[0].frames.half_steps: must be true or false"),
])
def test_bad_half_steps_is_one_line_exit_2(tmp_path, capsys, where, value, needle):
    config = config_text(tmp_path)
    text = config.read_text()
    if where is not None:
        text = text.replace("frames: {schedule: all, fps: 5, hold_last: 1.0}", where)
    else:
        text = text.replace("    frames: {half_steps: true}", value)
    config.write_text(text)
    code = main(["render", str(config), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.splitlines() == [err.strip()] and err.startswith("emviz: error: ") and needle in err, err
    assert not (tmp_path / "out").exists()
