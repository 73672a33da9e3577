"""Choosing K: ``runs: {sweep: ...}`` makes one run per value, and the ``model_selection`` panel draws
every run's BIC, AIC and log-likelihood against the value it swept, each point moving as its run converges."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

import emviz
from emviz import InputError
from emviz.cli import main
from emviz.pipeline import fit, prepare
from emviz.render.scene import Scene
from emviz.selection import criteria, n_parameters, sweep_axis
from emviz.trace import Trace

MEANS = {1: [[-4.0], [0.0], [4.0]], 2: [[0.0, 0.0], [5.0, 1.0], [2.0, 5.0]],
         3: [[0.0, 0.0, 0.0], [5.0, 1.0, 0.0], [2.0, 5.0, 3.0]]}
PANEL = {1: "components", 2: {"ellipses": {"legend": False}}, 3: "cloud3d"}
STYLE = {"dpi": 30, "size": [8, 4]}


def sweep_traces(tmp_path, values, key="n_components", d=2, model=None):
    """Run name -> Trace of a config sweep, fitted by the pipeline (nothing rendered)."""
    config = {
        "data": {"mixture": {"means": MEANS[d], "stds": [0.7] * 3, "sizes": [40, 40, 40]}, "seed": 0},
        "model": {"init": "random_from_data", "max_iter": 40, "tol": 1e-3, **(model or {})},
        "runs": {"sweep": {key: values}},
        "record": {"resp_points": 60},
        "outputs": [{"path": "unused.png", "panels": ["curves"]}],
    }
    return fit(prepare(config, out=tmp_path), progress=False)


@pytest.fixture(scope="module")
def k_sweep(tmp_path_factory):
    return sweep_traces(tmp_path_factory.mktemp("k"), [1, 2, 3, 4])


def overlay_scene(traces, panels=None, **kwargs):
    scene = Scene([panels or PANEL[2]], traces, style=STYLE, overlay=["model_selection"], **kwargs)
    return scene, scene.cells[-1][0]


def sklearn_at(trace, kind: str) -> SkMixture:
    """scikit-learn's GaussianMixture holding a trace's last parameters, in its own covariance format."""
    cov = trace.covariances[-1]
    own = {"full": cov, "tied": cov[0], "diag": np.diagonal(cov, axis1=1, axis2=2).copy(),
           "spherical": np.diagonal(cov, axis1=1, axis2=2).mean(axis=1)}[kind]
    gm = SkMixture(trace.n_components, covariance_type=kind)
    gm.weights_, gm.means_, gm.covariances_ = trace.weights[-1], trace.means[-1], own
    gm.precisions_cholesky_ = _compute_precision_cholesky(own, kind)
    return gm


# ---------------------------------------------------------------------- the numbers
@pytest.mark.parametrize("kind", ["full", "diag", "spherical", "tied"])
def test_bic_and_aic_drawn_are_sklearns(tmp_path, kind):
    traces = sweep_traces(tmp_path, [1, 2, 3], model={"covariance_type": kind})
    scene, panel = overlay_scene(traces)
    with scene.style.context():
        scene.update(scene.trace.n_iter)
    assert panel.order == ["K=1", "K=2", "K=3"]
    final = panel.values(scene.trace.n_iter)
    X = traces["K=1"].X  # all 120 points, in order (fewer than record.show_points)
    for i, name in enumerate(panel.order):
        gm = sklearn_at(traces[name], kind)
        assert gm._n_parameters() == n_parameters(kind, i + 1, 2) == criteria(traces[name])["n_parameters"]
        np.testing.assert_allclose(final["bic"][i], gm.bic(X), rtol=1e-10)
        np.testing.assert_allclose(final["aic"][i], gm.aic(X), rtol=1e-10)
        np.testing.assert_allclose(final["loglik"][i], gm.score(X) * len(X), rtol=1e-10)
    # What is drawn: every run has stopped, so every point is filled; the log-likelihood at -2 x.
    bic, aic, ll = panel._series
    np.testing.assert_allclose(bic.filled.get_ydata(), final["bic"])
    np.testing.assert_allclose(aic.filled.get_ydata(), final["aic"])
    np.testing.assert_allclose(ll.filled.get_ydata(), -2.0 * final["loglik"])
    np.testing.assert_array_equal(bic.filled.get_xdata(), [1, 2, 3])
    assert len(bic.hollow.get_xdata()) == 0


def test_bic_of_sklearn_fitted_from_the_same_start(tmp_path):
    traces = sweep_traces(tmp_path, [2, 3], model={"tol": 0.0, "max_iter": 8})
    _, panel = overlay_scene(traces)
    final = panel.values(8)
    X = traces["K=2"].X
    for i, name in enumerate(panel.order):
        start = traces[name]
        gm = SkMixture(start.n_components, weights_init=start.weights[0], means_init=start.means[0],
                       precisions_init=np.linalg.inv(start.covariances[0]), tol=0.0, max_iter=8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(X)
        np.testing.assert_allclose(final["bic"][i], gm.bic(X), rtol=1e-8)
        np.testing.assert_allclose(final["aic"][i], gm.aic(X), rtol=1e-8)


def test_n_parameters_as_sklearn_counts_them():
    X = np.random.RandomState(0).randn(30, 3)
    for kind in ("full", "diag", "spherical", "tied"):
        for k in (1, 2, 4):
            gm = SkMixture(k, covariance_type=kind, max_iter=50).fit(X[:, :2])
            assert n_parameters(kind, k, 2) == gm._n_parameters()
    with pytest.raises(InputError, match="covariance_type"):
        n_parameters("fulll", 2, 2)


def test_the_minima_are_marked_and_named(k_sweep):
    scene, panel = overlay_scene(k_sweep)
    t = scene.trace.n_iter
    with scene.style.context():
        scene.update(t)
    final = panel.values(t)
    bic, aic, _ = panel._series
    best_bic, best_aic = int(np.argmin(final["bic"])), int(np.argmin(final["aic"]))
    assert panel.order[best_bic] == "K=3"  # three well-separated clusters
    assert (bic.star.get_xdata()[0], bic.star.get_ydata()[0]) == (best_bic + 1, final["bic"][best_bic])
    assert (aic.star.get_xdata()[0], aic.star.get_ydata()[0]) == (best_aic + 1, final["aic"][best_aic])
    assert panel._verdict.get_text() == f"lowest BIC: K=3 \u00b7 AIC: K={best_aic + 1}"
    assert _ is panel._series[2] and panel._series[2].star is None  # the log-likelihood's maximum is not marked


def test_each_point_moves_until_its_run_stopped_then_holds(k_sweep):
    scene, panel = overlay_scene(k_sweep)
    lasts = {name: k_sweep[name].n_iter for name in panel.order}
    assert len(set(lasts.values())) > 1, "the runs should stop at different iterations"
    bic_series = panel._series[0]
    bic = {name: criteria(k_sweep[name])["bic"] for name in panel.order}
    lo, hi = scene.axes[-1].get_ylim()
    off_scale = 0
    with scene.style.context():
        for t in range(scene.trace.n_iter + 1):
            scene.update(t)
            drawn = {kind: dict(zip(artist.get_xdata(), artist.get_ydata())) for kind, artist in
                     (("hollow", bic_series.hollow), ("filled", bic_series.filled), ("above", bic_series.above),
                      ("below", bic_series.below))}
            for x, name in enumerate(panel.order, start=1):
                expected = bic[name][min(t, lasts[name])]
                # Filled once the run has stopped; beyond the axis (a far start) a triangle on its edge.
                kind = "above" if expected > hi else "below" if expected < lo else \
                    "filled" if t >= lasts[name] else "hollow"
                off_scale += kind in ("above", "below")
                assert [k for k in drawn if x in drawn[k]] == [kind], (t, name)
                assert drawn[kind][x] == pytest.approx(np.clip(expected, lo, hi), rel=1e-12), (t, name)
            line_y = bic_series.line.get_ydata()
            np.testing.assert_allclose(line_y, np.clip([bic[n][min(t, lasts[n])] for n in panel.order], lo, hi))
    assert 0 < off_scale < len(panel.order) * (scene.trace.n_iter + 1) // 2
    # The axis holds every final value, with room: the final differences stay readable.
    final = [bic[n][-1] for n in panel.order]
    assert lo < min(final) and max(final) < hi and hi - lo < 3.2 * (max(final) - min(final))


def test_shorter_runs_hold_their_last_frame(k_sweep, tmp_path):
    """In the decoded GIF, a run's panel stops changing at its last iteration while longer runs go on."""
    layout = [2, 3]
    path = emviz.render(k_sweep, panels=[PANEL[2]], overlay=["model_selection"], path=tmp_path / "k.gif",
                        schedule="all", style=STYLE, layout=layout, hold_last=0, progress=False)
    scene, _ = overlay_scene(k_sweep, layout=layout)
    short = min(k_sweep, key=lambda name: k_sweep[name].n_iter if name != "K=1" else 10**9)
    t_short, t_max = k_sweep[short].n_iter, scene.trace.n_iter
    assert t_short < t_max
    ax = scene.axes[list(k_sweep).index(short)]
    height = scene.figure.bbox.height
    box = ax.get_window_extent()
    rows = slice(int(height - box.y1) + 2, int(height - box.y0) - 2)
    cols = slice(int(box.x0) + 2, int(box.x1) - 2)
    with Image.open(path) as im:
        assert im.n_frames == t_max + 1
        crops = []
        for t in range(t_max + 1):
            im.seek(t)
            crops.append(np.asarray(im.convert("RGB"))[rows, cols])
    assert not np.array_equal(crops[0], crops[t_short])  # it moved while it ran
    for t in range(t_short, t_max + 1):
        np.testing.assert_array_equal(crops[t], crops[t_short])
    # Its panel's artists hold the last iteration too (runs of fewer components keep their colours).
    panel = scene.cells[list(k_sweep).index(short)][0]
    with scene.style.context():
        scene.update(t_max)
    np.testing.assert_allclose(panel._artists["means"][0].get_xydata()[0], k_sweep[short].means[t_short, 0])


def test_the_overlay_fills_the_rest_of_its_row(k_sweep):
    scene, _ = overlay_scene(k_sweep, layout=[2, 3])  # 4 runs + the overlay: 1 cell left beside it
    cells = [ax.get_subplotspec() for ax in scene.axes]
    assert [(s.rowspan, s.colspan) for s in cells[3:]] == [(range(1, 2), range(0, 1)), (range(1, 2), range(1, 3))]


# ---------------------------------------------------------------------- dimensions, stills, categories
@pytest.mark.parametrize("d", [1, 2, 3])
def test_a_still_of_a_sweep_in_every_dimension(tmp_path, capsys, d):
    means = ", ".join(str(m) for m in MEANS[d])
    panel = PANEL[d] if isinstance(PANEL[d], str) else "{ellipses: {legend: false}}"
    config = tmp_path / "c.yaml"
    config.write_text(f"""\
data: {{mixture: {{means: [{means}], stds: [0.7, 0.7, 0.7], sizes: [30, 30, 30]}}, seed: 0}}
model: {{init: random, max_iter: 15}}
runs: {{sweep: {{n_components: [1, 2, 3]}}}}
record: {{save: fit.npz, resp_points: 40}}
style: {{dpi: 30}}
outputs:
  - path: still.png
    panels: [{panel}]
    overlay: [model_selection]
    iterations: [3]
""")
    assert main(["render", str(config), "--out", str(tmp_path / "out"), "--quiet"]) == 0, capsys.readouterr().err
    with Image.open(tmp_path / "out" / "still.png") as im:
        assert im.size[0] > im.size[1] > 50
    traces = {f"K={k}": Trace.load(tmp_path / "out" / f"fit_k_{k}.npz") for k in (1, 2, 3)}
    assert all(t.meta["sweep"] == {"key": "n_components", "value": k} and t.meta["covariance_type"] == "full"
               for k, t in zip((1, 2, 3), traces.values()))
    scene, panel = overlay_scene(traces, panels=PANEL[d])
    assert [ax.get_title() for ax in scene.axes[:3]] == ["K=1", "K=2", "K=3"]  # 3D cells too
    with scene.style.context():
        scene.update(3)
    expected = [criteria(t)["bic"][min(3, t.n_iter)] for t in traces.values()]
    drawn = np.concatenate([panel._series[0].hollow.get_ydata(), panel._series[0].filled.get_ydata()])
    np.testing.assert_allclose(np.sort(drawn), np.sort(expected))


def test_a_categorical_sweep(tmp_path):
    traces = sweep_traces(tmp_path, ["full", "spherical", "diag"], key="covariance_type", model={"n_components": 3})
    assert list(traces) == ["covariance_type=full", "covariance_type=spherical", "covariance_type=diag"]
    scene, panel = overlay_scene(traces)
    ax = scene.axes[-1]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["full", "spherical", "diag"]
    assert list(ax.get_xticks()) == [0.0, 1.0, 2.0] and ax.get_xlabel() == "covariance type"
    assert panel._series[0].line is None  # categories have no order to draw a line along
    final = panel.values(scene.trace.n_iter)
    X = traces["covariance_type=full"].X
    for i, kind in enumerate(["full", "spherical", "diag"]):
        np.testing.assert_allclose(final["bic"][i], sklearn_at(traces[f"covariance_type={kind}"], kind).bic(X),
                                   rtol=1e-10)
    assert panel._verdict.get_text().startswith("lowest BIC: ")


def test_runs_without_sweep_meta_go_by_k_and_old_traces_still_load(k_sweep):
    # Traces recorded before the sweep and covariance_type keys existed: K from the trace, the
    # covariance type from the saved config, else the fitter's description.
    old = {}
    for name, trace in k_sweep.items():
        meta = {k: v for k, v in trace.meta.items() if k not in ("sweep", "covariance_type")}
        old[name] = Trace(**{f: getattr(trace, f) for f in ("weights", "means", "covariances", "log_likelihood",
                                                            "resp_index", "resp", "X")}, meta=meta)
    axis = sweep_axis(old)
    assert axis.key == "n_components" and axis.positions == {"K=1": 1.0, "K=2": 2.0, "K=3": 3.0, "K=4": 4.0}
    np.testing.assert_array_equal(criteria(old["K=2"])["bic"], criteria(k_sweep["K=2"])["bic"])
    bare = Trace(**{f: getattr(k_sweep["K=2"], f) for f in ("weights", "means", "covariances", "log_likelihood",
                                                            "resp_index", "resp", "X")}, meta={"n_samples": 120})
    with pytest.raises(InputError, match="panel 'model_selection': the trace does not say its covariance type"):
        Scene(["curves"], bare, overlay=["model_selection"])


# ---------------------------------------------------------------------- the config and the command line
SWEEP = """\
data: {{mixture: {{means: [[0.0, 0.0], [5.0, 1.0]], stds: [0.7, 0.7], sizes: [30, 30]}}, seed: 0}}
model: {{max_iter: 5}}
runs:
  sweep: {{{sweep}}}
record: {{save: fit.npz}}
style: {{dpi: 25, size: [10, 3]}}
outputs:
  - path: k.gif
    panels: [ellipses]
    overlay: [model_selection]
"""


@pytest.mark.parametrize("sweep, message", [
    ("n_compnents: [1, 2]", "c.yaml:4: runs.sweep.n_compnents: unknown model key (did you mean 'n_components'?)"),
    ("n_components: [1, 0]", "c.yaml:4: runs.sweep.n_components[1]: must be >= 1 (got 0)"),
    ("n_components: []", "c.yaml:4: runs.sweep.n_components: is empty: give at least one value"),
    ("n_components: 3", "c.yaml:4: runs.sweep.n_components: must be a list of values to sweep (got 3)"),
    ("n_components: [2, 3, 2]", "c.yaml:4: runs.sweep.n_components[2]: 2 is also runs.sweep.n_components[0]"),
    ("covariance_type: [full, diagonal]", "c.yaml:4: runs.sweep.covariance_type[1]: must be one of full, diag, "
                                          "spherical, tied (got 'diagonal') (did you mean 'diag'?)"),
    ("n_components: [1, 2], tol: [0.1]", "c.yaml:4: runs.sweep: sweeps one model key at a time, got 2"),
    ("n_components: [1, 200]", "c.yaml:4: runs.sweep.n_components[1]: is 200, but the data has only 60 point(s)"),
    ("tol: [0.1, -1.0]", "c.yaml:4: runs.sweep.tol[1]: must be >= 0 (got -1.0)"),
])
def test_sweep_mistakes_exit_2_with_one_line(tmp_path, capsys, monkeypatch, sweep, message):
    def no_fit(*args, **kwargs):
        raise AssertionError("the mistake must be found before the fit")

    monkeypatch.setattr(emviz.Recorder, "run", no_fit)
    config = tmp_path / "c.yaml"
    text = SWEEP.format(sweep=sweep)
    if not sweep.startswith("n_components"):
        text = text.replace("model: {max_iter: 5}", "model: {n_components: 2, max_iter: 5}")
    config.write_text(text)
    assert main(["render", str(config), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("runs, message", [
    ("runs: [{name: a}, {sweep: {n_components: [1, 2]}}]",
     "runs[1]: a sweep is the whole runs section, runs: {sweep: {key: [values]}}; it does not combine with named runs"),
    ("runs: {sweep: {n_components: [1, 2]}, name: a}",
     "runs: a sweep is the whole runs section: 'name' does not go beside it (named runs and a sweep do not combine)"),
    ("runs: {swep: {n_components: [1, 2]}}", "runs.swep: unknown key (did you mean 'sweep'?)"),
    ("runs: [{nme: a}]", "runs[0].nme: unknown key (did you mean 'name'?); allowed keys are name, model"),
    ("runs: 3", "runs: must be a list of runs [{name, model}] or a sweep {sweep: {key: [values]}}"),
    ("runs: {sweep: {n_components: [1, 2]}}", None),
])
def test_sweeps_and_named_runs_do_not_combine(tmp_path, capsys, runs, message):
    config = tmp_path / "c.yaml"
    config.write_text(SWEEP.format(sweep="n_components: [1]").replace("runs:\n  sweep: {n_components: [1]}\n",
                                                                      runs + "\n")
                      .replace("model: {max_iter: 5}", "model: {n_components: 2, max_iter: 5}"))
    code = main(["validate", str(config), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0, err
        return
    assert code == 2 and f"c.yaml:3: {message}" in err and err.count("\n") == 1, err


def test_a_sweep_of_k_with_one_explicit_start_is_refused(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(SWEEP.format(sweep="n_components: [1, 2]").replace(
        "model: {max_iter: 5}", "model: {max_iter: 5, init: {means: [[0, 0], [5, 1]], stds: [1, 1]}}"))
    assert main(["validate", str(config), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert ("c.yaml:2: model.init.means: has 2 components, runs.sweep.n_components[0] is 1; a sweep of "
            "n_components needs a named init") in err


def test_dry_run_saved_traces_and_render_trace(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(SWEEP.format(sweep="n_components: [1, 2, 3]"))
    out = tmp_path / "out"
    assert main(["render", str(config), "--out", str(out), "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert "  model:   K swept, full covariances" in plan
    assert "  runs:    a sweep of n_components: 'K=1', 'K=2', 'K=3'\n" in plan
    assert all(f"  trace:   {out / f'fit_k_{k}.npz'}\n" in plan for k in (1, 2, 3))
    assert not out.exists()
    assert main(["render", str(config), "--out", str(out), "--quiet", "--only", "k"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fit_k_1.npz", "fit_k_2.npz", "fit_k_3.npz", "k.gif"]
    first = (out / "fit_k_2.npz").read_bytes()
    assert main(["render", str(config), "--out", str(out), "--quiet"]) == 0
    assert (out / "fit_k_2.npz").read_bytes() == first  # byte-deterministic, sweep meta included
    assert main(["render-trace", str(out / "fit_k_2.npz"), "--panels", "model_selection", "--panels", "ellipses",
                 "--out", str(tmp_path / "k2.png"), "--quiet"]) == 0
    with Image.open(tmp_path / "k2.png") as im:
        assert im.size[0] > 100
    assert main(["validate", str(config), "--out", str(out)]) == 0
    assert "K in {1, 2, 3}, 1 output)" in capsys.readouterr().out


def test_the_panel_is_listed_and_checks_its_options(capsys):
    assert main(["panels"]) == 0
    listing = capsys.readouterr().out
    assert "model_selection  (any D)  BIC, AIC and log-likelihood against the swept value (K)" in listing
    assert "    show = ('bic', 'aic', 'loglik')" in listing
    from emviz.render.panel import make_panel

    with pytest.raises(InputError, match=r"option 'show': unknown 'bci' \(did you mean 'bic'\?\)"):
        make_panel({"model_selection": {"show": ["bci"]}})
    with pytest.raises(InputError, match="option 'mark_minima' must be true or false"):
        make_panel({"model_selection": {"mark_minima": "yes"}})


def test_the_gallery_sweep_validates(tmp_path, capsys):
    config = Path(__file__).resolve().parents[1] / "gallery" / "choose_k.yaml"
    assert main(["validate", str(config), "--out", str(tmp_path)]) == 0, capsys.readouterr().err
    assert "N=600, D=2, K in {1, 2, 3, 4, 5, 6}, 1 output)" in capsys.readouterr().out


def test_set_reaches_into_a_sweep(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(SWEEP.format(sweep="n_components: [1, 2, 3]"))
    assert main(["validate", str(config), "--out", str(tmp_path), "--set", "runs.sweep.n_components=[2, 4]"]) == 0
    assert "K in {2, 4}" in capsys.readouterr().out
    assert main(["validate", str(config), "--out", str(tmp_path), "--set", "runs.sweep.n_components[1]=0"]) == 2
    assert capsys.readouterr().err == ("emviz: error: --set runs.sweep.n_components[1]=0: "
                                       "runs.sweep.n_components[1]: must be >= 1 (got 0)\n")


def test_blitted_frames_equal_full_redraws(k_sweep):
    """Every artist that moves is returned by setup and update: blitting draws what a full draw draws."""
    from emviz.render.frames import FrameRenderer

    def renderer(blit):
        return FrameRenderer(Scene(["curves"], k_sweep, style=STYLE, overlay=["model_selection"]), blit=blit)

    fast, full = renderer(None), renderer(False)
    assert fast.blit
    for t in (0, 2, 5, fast.scene.trace.n_iter):
        np.testing.assert_array_equal(fast.frame(t), full.frame(t))
