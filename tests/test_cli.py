"""The command line: exit codes, one-line errors without tracebacks, and no files left behind."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from emviz.cli import main

import fake_panels as fake_panels_module  # tests/fake_panels.py

CONFIG = """\
data:
  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [90, 60]}
model:
  n_components: 2
  max_iter: 4
  tol: 0.0
outputs:
  - path: anim.gif
    panels: [_t1d]
"""


def _missing_pipeline_parts() -> str | None:
    try:
        import emviz.em  # noqa: F401
        import emviz.recorder  # noqa: F401
        import emviz.render.api  # noqa: F401
        import emviz.render.panels  # noqa: F401
    except ImportError as exc:
        return f"the fitter, recorder or render API is not importable yet ({exc})"
    return None


needs_pipeline = pytest.mark.skipif(_missing_pipeline_parts() is not None,
                                    reason=_missing_pipeline_parts() or "")


@pytest.fixture(autouse=True)
def fake_panels():
    fake_panels_module.register()
    yield
    fake_panels_module.unregister()


write = fake_panels_module.write


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def files_under(directory):
    return sorted(p.relative_to(directory) for p in directory.rglob("*")) if directory.exists() else []


def assert_one_line_error(code, err, needle):
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("emviz: error: ")
    assert needle in lines[0], lines[0]


# ---------------------------------------------------------------------------------------------- bad input: exit 2
def _data_file(tmp_path, name, content):
    if isinstance(content, np.ndarray):
        np.save(tmp_path / name, content, allow_pickle=True)
    else:
        (tmp_path / name).write_text(content)
    return CONFIG.replace("  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [90, 60]}", f"  file: {name}")


BAD_CONFIGS = {
    "unknown top-level key": (lambda p: CONFIG.replace("model:", "modle:"),
                              "config.yaml:3: modle: unknown key (did you mean 'model'?)"),
    "unknown nested key": (lambda p: CONFIG.replace("max_iter: 4", "max_iters: 4"),
                           "config.yaml:5: model.max_iters: unknown key (did you mean 'max_iter'?)"),
    "unknown output key": (lambda p: CONFIG.replace("panels: [_t1d]", "panel: [_t1d]"),
                           "config.yaml:9: outputs[0].panel: unknown key (did you mean 'panels'?)"),
    "wrong type": (lambda p: CONFIG.replace("n_components: 2", "n_components: two"),
                   "config.yaml:4: model.n_components: must be an integer (got 'two')"),
    "out of range": (lambda p: CONFIG.replace("n_components: 2", "n_components: 0"),
                     "config.yaml:4: model.n_components: must be >= 1 (got 0)"),
    "duplicate key": (lambda p: CONFIG.replace("tol: 0.0", "tol: 0.0\n  max_iter: 9"),
                      "config.yaml:7: duplicate key 'max_iter' (first given on line 5)"),
    "missing section": (lambda p: "\n".join(CONFIG.splitlines()[:2] + CONFIG.splitlines()[6:]),
                        "model: missing required section"),
    "panel for the wrong dimension": (lambda p: CONFIG.replace("[_t1d]", "[_t2d]"),
                                      "config.yaml:9: outputs[0].panels[0]: panel '_t2d' draws data of dimension 2; the data has D=1"),
    "unknown panel": (lambda p: CONFIG.replace("[_t1d]", "[_t1x]"),
                      "config.yaml:9: outputs[0].panels[0]: unknown panel '_t1x' (did you mean '_t1d'?)"),
    "unknown panel option": (lambda p: CONFIG.replace("[_t1d]", "[{_t1d: {bins: 3, colour: red}}]"),
                             "config.yaml:9: outputs[0].panels[0]: panel '_t1d': unknown option 'colour'"),
    "nonexistent data file": (lambda p: CONFIG.replace(
        "  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [90, 60]}", "  file: nowhere.csv"),
        "config.yaml:2: data.file: "),
    "csv not numeric": (lambda p: _data_file(p, "d.csv", "x\n1\n2\nabc\n4\n"),
                        "d.csv: line 4, column 1 ('x'): 'abc' is not a number"),
    "csv header only": (lambda p: _data_file(p, "d.csv", "x,y\n"), "d.csv: has a header row but no data rows"),
    "csv empty": (lambda p: _data_file(p, "d.csv", ""), "d.csv: file is empty"),
    "csv NaN": (lambda p: _data_file(p, "d.csv", "x\n1\nNaN\n3\n"),
                "d.csv: line 3, column 1 ('x'): NaN is not allowed; values must be finite"),
    "npy of objects": (lambda p: _data_file(p, "d.npy", np.array([None, {}], dtype=object)),
                       "d.npy: holds Python objects (dtype object); save a numeric array"),
    "unwritable output directory": (lambda p: ((p / "blocker").write_text(""), CONFIG.replace(
        "anim.gif", "../blocker/anim.gif"))[1], "outputs[0].path: cannot create directory"),
    "bad output suffix": (lambda p: CONFIG.replace("anim.gif", "anim.gfi"),
                          "config.yaml:8: outputs[0].path: cannot write '.gfi' files (did you mean '.gif'?)"),
    "a YAML list": (lambda p: "- data\n- model\n", "the config must be a mapping of sections"),
    "a YAML scalar": (lambda p: "just text\n", "the config must be a mapping of sections (data, model, outputs, ...), got a str"),
    "YAML syntax error": (lambda p: CONFIG.replace("max_iter: 4", "max_iter: [4"), "invalid YAML"),
    "python tag": (lambda p: CONFIG.replace("max_iter: 4", "max_iter: !!python/object/apply:os.getcwd []"),
                   "config.yaml:5: the tag !!python/object/apply:os.getcwd is not allowed"),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_bad_configs_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, case):
    make, needle = BAD_CONFIGS[case]
    config = write(tmp_path, make(tmp_path))
    before = files_under(tmp_path)
    code, out, err = cli(capsys, "render", config, "--out", tmp_path / "out")
    assert_one_line_error(code, err, needle)
    assert files_under(tmp_path) == before
    assert out == ""


@pytest.mark.parametrize("override, needle", [
    ("model.n_componets=3", "--set model.n_componets=3: model.n_componets: unknown key (did you mean 'n_components'?)"),
    ("outputs[2].path=x.gif", "--set outputs[2].path=x.gif: outputs has 1 item(s), there is no outputs[2]"),
    ("model.tol=small", "--set model.tol=small: model.tol: must be a number (got 'small')"),
    ("model.max_iter=-3", "--set model.max_iter=-3: model.max_iter: must be >= 1 (got -3)"),
])
def test_set_errors(tmp_path, capsys, override, needle):
    config = write(tmp_path, CONFIG)
    code, _, err = cli(capsys, "render", config, "--out", tmp_path / "out", "--set", override)
    assert_one_line_error(code, err, needle)
    assert not (tmp_path / "out").exists()


def test_an_output_that_would_overwrite_the_config(tmp_path, capsys):
    config = write(tmp_path, CONFIG.replace("anim.gif", "../plan"), name="plan")
    code, _, err = cli(capsys, "render", config, "--out", tmp_path / "out")
    assert_one_line_error(code, err, "would overwrite the config file")
    assert files_under(tmp_path) == [tmp_path.joinpath("plan").relative_to(tmp_path)]


def test_missing_config_file(tmp_path, capsys):
    code, _, err = cli(capsys, "validate", tmp_path / "nope.yaml")
    assert_one_line_error(code, err, "nope.yaml: config file not found")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_device_cuda_without_cuda_is_a_config_error(tmp_path, capsys):
    config = write(tmp_path, CONFIG)
    code, _, err = cli(capsys, "render", config, "--out", tmp_path / "out", "--device", "cuda")
    assert_one_line_error(code, err, "--device cuda: model.device: ")
    assert "no CUDA device" in err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------- usage, failures
def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["render"]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["render-trace", "t.npz", "--out", "x.gif"]) == 2  # --panels is required
    err = capsys.readouterr().err
    assert "usage: emviz" in err and "Traceback" not in err
    assert main(["--help"]) == 0


def test_an_unexpected_failure_exits_1_with_a_hint(tmp_path, capsys, monkeypatch):
    import emviz.pipeline

    def boom(*args, **kwargs):
        raise RuntimeError("the frobnicator\nbroke")

    monkeypatch.setattr(emviz.pipeline, "run", boom)
    monkeypatch.delenv("EMVIZ_DEBUG", raising=False)
    code, _, err = cli(capsys, "render", "c.yaml")
    assert code == 1
    assert err == ("emviz: error: RuntimeError: the frobnicator broke "
                   "(run with --traceback or EMVIZ_DEBUG=1 to see the traceback)\n")
    code, _, err = cli(capsys, "render", "c.yaml", "--traceback")
    assert code == 1 and "Traceback (most recent call last)" in err and "boom" in err
    monkeypatch.setenv("EMVIZ_DEBUG", "1")
    code, _, err = cli(capsys, "render", "c.yaml")
    assert code == 1 and "Traceback (most recent call last)" in err


def test_keyboard_interrupt_exits_130(capsys, monkeypatch):
    import emviz.pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(emviz.pipeline, "run", interrupted)
    code, _, err = cli(capsys, "render", "c.yaml")
    assert code == 130 and err == "emviz: interrupted\n"


def _python_m_emviz(*args, cwd):
    env = {**os.environ, "EMVIZ_DEBUG": "", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "emviz", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_python_m_emviz_prints_one_line_and_no_traceback(tmp_path):
    bad = write(tmp_path, CONFIG.replace("tol: 0.0", "tol: 0.0\n  colour: red"))
    result = _python_m_emviz("validate", bad, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"emviz: error: {bad}:7: model.colour: unknown key; allowed keys are " \
                            "n_components, covariance_type, init, max_iter, tol, reg_covar, dtype, device, seed, algorithm, " \
                            "chunk_size, init_sample\n"
    broken = write(tmp_path, "data: [1, 2\n", name="broken.yaml")
    result = _python_m_emviz("render", broken, "--out", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"emviz: error: {broken}:2: invalid YAML:") and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_python_m_emviz_schema_and_usage(tmp_path):
    result = _python_m_emviz("schema", cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "emviz config"
    result = _python_m_emviz("render", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_a_reader_that_closes_stdout_ends_the_command_quietly(tmp_path):
    # `emviz schema | head -c 3000` printed "emviz: error: BrokenPipeError ..." and exited 1.
    env = {**os.environ, "EMVIZ_DEBUG": ""}
    for command in ("schema", "panels"):
        proc = subprocess.Popen([sys.executable, "-m", "emviz", command], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=tmp_path, env=env)
        proc.stdout.close()  # before emviz has imported itself: its first write finds no reader
        err = proc.stderr.read()
        proc.stderr.close()
        assert proc.wait(timeout=120) == 141 and err == b""


def test_a_broken_pipe_elsewhere_is_a_failure(capsys, monkeypatch):
    # Only a closed stdout is quiet: ffmpeg's pipe breaking while an MP4 is written is a failure.
    import emviz.pipeline

    def ffmpeg_died(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(emviz.pipeline, "run", ffmpeg_died)
    monkeypatch.delenv("EMVIZ_DEBUG", raising=False)
    code, _, err = cli(capsys, "render", "c.yaml")
    assert code == 1 and err.startswith("emviz: error: BrokenPipeError: [Errno 32] Broken pipe (run with")


# ---------------------------------------------------------------------------------------------- commands
def test_validate_prints_ok_and_writes_nothing(tmp_path, capsys):
    config = write(tmp_path, CONFIG)
    code, out, err = cli(capsys, "validate", config, "--out", tmp_path / "out", "--set", "model.max_iter=3")
    assert code == 0, err
    assert out == f"{config}: OK (N=150, D=1, K=2, 1 output)\n"
    assert files_under(tmp_path) == [config.relative_to(tmp_path)]


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    config = write(tmp_path, CONFIG.replace("  tol: 0.0", "  tol: 0.0\nrecord: {save: t.npz}"))
    code, out, err = cli(capsys, "render", config, "--out", tmp_path / "out", "--dry-run")
    assert code == 0, err
    assert "N=150, D=1" in out and "K=2" in out
    assert str(tmp_path / "out" / "anim.gif") in out and str(tmp_path / "out" / "t.npz") in out
    assert not (tmp_path / "out").exists()


def test_schema_command(capsys):
    code, out, _ = cli(capsys, "schema")
    assert code == 0 and "outputs" in json.loads(out)["properties"]


def test_panels_command_lists_dims_and_options(capsys):
    code, out, _ = cli(capsys, "panels")
    assert code == 0
    assert "_t1d  (D=1)" in out and "    bins = 10" in out and "_t2d  (D=2)" in out


# ---------------------------------------------------------------------------------------------- end to end
E2E = """\
data:
  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [90, 60]}
  seed: 1
model:
  n_components: 2
  max_iter: 4
  tol: 0.0
  init: kmeans
record: {resp_points: 50, save: trace.npz}
frames: {schedule: all, fps: 5, hold_last: 0.0}
style: {dpi: 40, size: [3, 2]}
outputs:
  - path: sub/anim.gif
    panels: [components]
  - path: grid.png
    panels: [components]
    iterations: [0, 4]
    style: {size: [6, 2]}
"""


@needs_pipeline
def test_render_end_to_end_is_reproducible(tmp_path, capsys):
    config = write(tmp_path, E2E)
    code, out, err = cli(capsys, "render", config, "--out", tmp_path / "a", "--quiet")
    assert code == 0, err
    assert out == ""
    assert {p.name for p in (tmp_path / "a").rglob("*")} == {"sub", "anim.gif", "grid.png", "trace.npz"}
    from emviz.trace import Trace

    trace = Trace.load(tmp_path / "a" / "trace.npz")
    assert trace.n_iter == 4 and trace.n_components == 2 and trace.truth is not None
    assert np.all(np.diff(trace.log_likelihood) >= -1e-9)
    code, out, err = cli(capsys, "render", config, "--out", tmp_path / "b")
    assert code == 0, err
    assert f"wrote {tmp_path / 'b' / 'sub' / 'anim.gif'}" in out
    assert Trace.load(tmp_path / "b" / "trace.npz") == trace
    for name in ("sub/anim.gif", "grid.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


@needs_pipeline
def test_render_trace_from_a_saved_trace(tmp_path, capsys):
    config = write(tmp_path, E2E)
    assert cli(capsys, "render", config, "--out", tmp_path, "--quiet", "--set",
               "outputs=[{path: x.png, panels: [components]}]")[0] == 0
    trace = tmp_path / "trace.npz"
    code, out, err = cli(capsys, "render-trace", trace, "--panels", "{components: {bins: 12}}",
                         "--out", tmp_path / "again" / "last.png", "--quiet")
    assert code == 0, err
    assert (tmp_path / "again" / "last.png").stat().st_size > 0
    code, _, err = cli(capsys, "render-trace", trace, "--panels", "_t2d", "--out", tmp_path / "new" / "x.gif")
    assert_one_line_error(code, err, "panel '_t2d' draws data of dimension 2; the data has D=1")
    code, _, err = cli(capsys, "render-trace", trace, "--panels", "components", "--out", tmp_path / "new" / "x.gif",
                       "--iterations", "[0, 99]")
    assert_one_line_error(code, err, "iteration 99 is beyond the trace")
    code, _, err = cli(capsys, "render-trace", tmp_path / "none.npz", "--panels", "components", "--out", tmp_path / "n.gif")
    assert_one_line_error(code, err, "none.npz: trace file not found")
    assert not (tmp_path / "new").exists() and not (tmp_path / "n.gif").exists()


@needs_pipeline
def test_interrupt_while_rendering_leaves_no_output(tmp_path, capsys, monkeypatch):
    import emviz.render.api

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(emviz.render.api, "render", interrupted)
    config = write(tmp_path, E2E.replace("record: {resp_points: 50, save: trace.npz}", "record: {resp_points: 50}"))
    code, _, err = cli(capsys, "render", config, "--out", tmp_path / "out", "--quiet")
    assert code == 130 and err == "emviz: interrupted\n"
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------- pipeline pieces
def test_output_settings_merge_output_keys_over_the_globals(tmp_path):
    from emviz.config import load_config
    from emviz.pipeline import output_settings

    text = CONFIG + """\
  - path: still.png
    panels: [_t1d]
    style: {theme: dark}
  - path: fast.mp4
    panels: [_t1d]
    frames: {fps: 30, schedule: [0, 2], colors: 64}
    layout: [1, 1]
    title: Fast
frames: {schedule: {every: 2}, fps: 4, workers: auto, max_bytes: null}
style: {dpi: 50, size: [4, 3]}
"""
    config = load_config(write(tmp_path, text))
    anim, still, fast = (output_settings(config, i) for i in range(3))
    assert anim == {"fps": 4.0, "hold_last": 2.0, "style": {"theme": "light", "dpi": 50.0, "size": [4.0, 3.0],
                                                              "font_size": 9.0},
                    "workers": "auto", "layout": None, "title": None, "max_bytes": None, "colors": 128, "half_steps": False,
                    "schedule": {"every": 2}}
    assert "schedule" not in still and still["style"]["theme"] == "dark" and still["style"]["dpi"] == 50.0
    assert fast["fps"] == 30.0 and fast["schedule"] == [0, 2] and fast["layout"] == [1, 1] and fast["title"] == "Fast"
    assert fast["colors"] == 64 and fast["hold_last"] == 2.0 and fast["max_bytes"] is None


def test_iterations_beyond_an_early_convergence_are_drawn_as_the_last(tmp_path, capsys):
    from emviz.pipeline import _clip_to_trace

    out = _clip_to_trace({"iterations": [0, 10, 100]}, 12, tmp_path / "a.png", quiet=False)
    assert out == {"iterations": [0, 10, 12]}
    assert "EM stopped at iteration 12; iteration(s) 100 drawn as 12" in capsys.readouterr().err
    assert _clip_to_trace({"schedule": [0, 50]}, 7, tmp_path, quiet=True) == {"schedule": [0, 7]}
    assert _clip_to_trace({"schedule": {"iterations": [3, 9], "max_frames": 4}}, 5, tmp_path, quiet=True) == {
        "schedule": {"iterations": [3, 5], "max_frames": 4}}
    assert _clip_to_trace({"schedule": {"every": 3}}, 5, tmp_path, quiet=True) == {"schedule": {"every": 3}}
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------------------------- --only, dry-run lengths
TWO_OUTPUTS = CONFIG + """\
  - path: still.png
    panels: [_t1d]
    iterations: [0, 2, 4]
frames: {schedule: all, fps: 5, hold_last: 1.0}
"""


def test_dry_run_says_frames_and_seconds_per_output(tmp_path, capsys):
    code, out, err = cli(capsys, "render", write(tmp_path, TWO_OUTPUTS), "--out", tmp_path / "out", "--dry-run")
    assert code == 0, err
    assert "anim.gif  [animation: _t1d; schedule all, 5 fps; 5 frames, 2.0 s]" in out
    assert "still.png  [still: _t1d; iterations [0, 2, 4]; 3 cells]" in out


RUNS_PLAN = CONFIG.replace("    panels: [_t1d]\n", """\
    panels: [components]
    overlay: [curves]
  - path: grid.pdf
    panels: [components]
    runs: [hard EM]
    frames: {schedule: {log: 3}}
  - path: last.png
    panels: [components]
  - path: frames
    panels: [components]
    frames: {schedule: [0, 2]}
runs:
  - name: EM
  - {name: hard EM, model: {algorithm: hard, seed: 3}}
""")


def test_dry_run_names_runs_overlays_and_what_each_still_draws(tmp_path, capsys):
    code, out, err = cli(capsys, "render", write(tmp_path, RUNS_PLAN), "--out", tmp_path / "out", "--dry-run")
    assert code == 0, err
    assert "  runs:    'EM', 'hard EM' (seed 3, algorithm hard)\n" in out
    assert "anim.gif  [animation: components + overlay curves; schedule" in out
    # A still's schedule makes a grid (it said "1 cell" before); a still without one shows the last iteration.
    assert "grid.pdf  [still: components of run 'hard EM'; schedule {'log': 3}; 3 cells]" in out
    assert "last.png  [still: components; iteration 4 (the last)]" in out
    # A folder of PNGs keeps no durations: no fps or seconds.
    assert "frames  [folder: components; schedule [0, 2]; 3 frames]" in out
    assert not (tmp_path / "out").exists()


@needs_pipeline
def test_only_writes_the_named_output(tmp_path, capsys):
    config = write(tmp_path, TWO_OUTPUTS.replace("_t1d", "components"))
    code, out, err = cli(capsys, "render", config, "--out", tmp_path / "out", "--only", "still", "--quiet")
    assert code == 0, err
    assert files_under(tmp_path / "out") == [__import__("pathlib").Path("still.png")]
    code, out, err = cli(capsys, "render", config, "--out", tmp_path / "out2", "--only", "anim.gif", "--only",
                         "still.png", "--dry-run")
    assert code == 0 and "anim.gif" in out and "still.png" in out


def test_run_takes_one_override_and_one_output_as_strings(tmp_path, capsys):
    # A string was iterated as characters: "--set m: expected KEY.PATH=VALUE", "--only .: no output".
    from emviz.pipeline import run

    targets = run(write(tmp_path, TWO_OUTPUTS), out=tmp_path / "out", overrides="model.max_iter=7", only="still",
                  dry_run=True)
    assert targets == [tmp_path / "out" / "still.png"]
    assert "max_iter=7" in capsys.readouterr().out


def test_only_an_unknown_output_is_one_line(tmp_path, capsys):
    code, out, err = cli(capsys, "render", write(tmp_path, TWO_OUTPUTS), "--out", tmp_path / "out", "--only", "anim.gf")
    assert code == 2 and len(err.splitlines()) == 1
    assert "--only anim.gf: no output of" in err and "(did you mean 'anim.gif'?)" in err
    assert not (tmp_path / "out").exists()


@needs_pipeline
def test_render_trace_takes_the_saved_style_and_dpi_size_flags(tmp_path, capsys):
    from PIL import Image

    text = CONFIG.replace("outputs:\n  - path: anim.gif\n    panels: [_t1d]\n", "record: {save: t.npz}\n") + \
        "style: {theme: dark, dpi: 40, size: [5, 4]}\n"
    code, _, err = cli(capsys, "render", write(tmp_path, text), "--out", tmp_path, "--quiet")
    assert code == 0, err
    trace = tmp_path / "t.npz"
    code, _, err = cli(capsys, "render-trace", trace, "--panels", "components", "--out", tmp_path / "a.png", "--quiet")
    assert code == 0, err
    saved = Image.open(tmp_path / "a.png").convert("RGB")
    assert saved.size == (200, 160) and sum(saved.getpixel((1, 1))) < 150  # dark, 5 x 4 in at 40 dpi
    code, _, err = cli(capsys, "render-trace", trace, "--panels", "components", "--out", tmp_path / "b.png",
                       "--dpi", "20", "--size", "6", "3", "--theme", "light", "--quiet")
    assert code == 0, err
    given = Image.open(tmp_path / "b.png").convert("RGB")
    assert given.size == (120, 60) and given.getpixel((1, 1)) == (255, 255, 255)
