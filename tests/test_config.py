"""Config loading and validation: every kind of mistake is one line naming file:line, the key and the fix."""

import json
import os

import pytest

from emviz.config import Config, check_config, load_config, output_kind, read_yaml, schema
from emviz.errors import InputError

import fake_panels as fake_panels_module  # tests/fake_panels.py

# Line numbers matter in these tests: data is line 1, n_components line 4, outputs[0].path line 7.
BASE = """\
data:
  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [60, 40]}
model:
  n_components: 2
  max_iter: 5
outputs:
  - path: out.png
    panels: [_t1d]
"""

EXAMPLE = """\
data:                                  # exactly one of: mixture | file | dataset
  mixture: {means: [[-2.0], [2.0], [6.0]], stds: [2.0, 1.0, 3.0], sizes: [2000, 1000, 3000]}
  standardize: false
  seed: 0
model:
  n_components: 3
  covariance_type: full
  init: {means: [[9.9], [10.0], [10.1]], stds: [2.5, 2.5, 2.5], weights: [0.33, 0.33, 0.33]}
  max_iter: 1000
  tol: 0.0
  reg_covar: 1.0e-6
  dtype: float64
  device: auto
  seed: 0
record: {resp_points: 500, save: trace.npz}      # save is optional
frames: {schedule: {dense: 100, every: 10}, fps: 10, hold_last: 2.0, workers: auto}
style: {theme: light, dpi: 100, size: [12, 6]}
outputs:
  - path: em_gaussians_evolution.gif
    panels: [_t1d]
  - path: em_loglikelihood_evolution.gif
    panels: [{_t1d: {bins: 30}}]
  - path: key_iterations.png            # a still suffix + iterations: a small-multiples grid
    panels: [_t1d]
    iterations: [0, 10, 100, 1000]
"""


@pytest.fixture(autouse=True)
def fake_panels():
    fake_panels_module.register()
    yield
    fake_panels_module.unregister()


write = fake_panels_module.write


def fails(tmp_path, text, overrides=(), out=None) -> str:
    """The one-line message of loading + checking a config written to tmp_path/config.yaml."""
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        config = load_config(path, overrides)
        check_config(config, out=out or tmp_path / "out")
    message = str(info.value)
    assert "\n" not in message
    return message.replace(str(path), "config.yaml")


# ---------------------------------------------------------------------------------------------- valid
def test_the_issue_example_loads_with_its_values(tmp_path):
    config = load_config(write(tmp_path, EXAMPLE))
    assert config.model.n_components == 3 and config.model.tol == 0.0 and config.model.max_iter == 1000
    assert config.model.init.weights == [0.33, 0.33, 0.33]
    assert config.frames.schedule == {"dense": 100, "every": 10} and config.frames.workers == "auto"
    assert config.style.size == [12.0, 6.0] and config.record.save == "trace.npz"
    assert [o.path for o in config.outputs][-1] == "key_iterations.png"
    assert check_config(config, out=tmp_path / "out") == 1
    assert config.base_dir == tmp_path and config.source == str(tmp_path / "config.yaml")


def test_defaults(tmp_path):
    config = load_config(write(tmp_path, BASE))
    assert config.model.covariance_type == "full" and config.model.init == "kmeans"
    assert config.model.tol == 1e-3 and config.model.device == "auto" and config.model.algorithm == "em"
    assert config.frames.fps == 10.0 and config.frames.schedule is None and config.frames.workers == 1
    assert config.style.theme == "light" and config.record.save is None
    assert config.data.seed == 0 and config.data.standardize is False


def test_a_mapping_config_and_a_config_object(tmp_path):
    data, _ = read_yaml(BASE)
    config = load_config(data)
    assert config.source == "config" and config.path is None
    again = load_config(config, ["model.max_iter=7"])
    assert again.model.max_iter == 7 and config.model.max_iter == 5
    with pytest.raises(InputError, match=r"^config: model.n_components: must be >= 1 \(got 0\)$"):
        load_config({**data, "model": {"n_components": 0}})


def test_schema_is_json_and_forbids_unknown_keys():
    out = json.loads(json.dumps(schema()))
    assert set(out["properties"]) == {"data", "model", "record", "frames", "style", "runs", "outputs"}
    assert out["additionalProperties"] is False
    assert set(out["required"]) == {"data", "model"}
    model = out["$defs"]["ModelSection"]
    assert model["properties"]["n_components"]["minimum"] == 1


def test_output_kinds():
    assert output_kind("a.gif") == output_kind("b.MP4") == output_kind("c.html") == "animation"
    assert output_kind("a.png") == output_kind("a.pdf") == output_kind("a.svg") == "still"
    assert output_kind("frames/") == output_kind("frames") == "folder"
    with pytest.raises(InputError, match=r"'\.gfi' files \(did you mean '\.gif'\?\)"):
        output_kind("a.gfi")


# ---------------------------------------------------------------------------------------------- YAML
@pytest.mark.parametrize("text, expected", [
    ("- a\n- b\n", "config.yaml: the config must be a mapping of sections (data, model, outputs, ...), got a list"),
    ("42\n", "config.yaml: the config must be a mapping of sections (data, model, outputs, ...), got a int"),
    ("# only a comment\n", "config.yaml: the config must be a mapping of sections (data, model, outputs, ...), got empty"),
])
def test_the_document_must_be_a_mapping(tmp_path, text, expected):
    assert fails(tmp_path, text) == expected


def test_yaml_syntax_error_gives_the_line(tmp_path):
    message = fails(tmp_path, BASE.replace("  max_iter: 5", "  max_iter: [5"))
    assert message.startswith("config.yaml:") and "invalid YAML" in message
    assert fails(tmp_path, "data:\n  seed: 1\n   bad: 2\n").startswith("config.yaml:3: invalid YAML:")


def test_duplicate_key_names_the_key_and_both_lines(tmp_path):
    text = BASE.replace("  max_iter: 5", "  max_iter: 5\n  n_components: 3")
    assert fails(tmp_path, text) == "config.yaml:6: duplicate key 'n_components' (first given on line 4)"


def test_duplicate_top_level_section(tmp_path):
    assert fails(tmp_path, BASE + "model: {n_components: 1}\n").startswith("config.yaml:9: duplicate key 'model'")


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['echo hi']", "!!python/name:os.system",
                                 "!custom 3"])
def test_python_and_custom_tags_are_refused(tmp_path, tag):
    message = fails(tmp_path, BASE.replace("max_iter: 5", f"max_iter: {tag}"))
    assert message.startswith("config.yaml:5: the tag ") and "is not allowed" in message


def test_alias_bombs_are_refused_but_merges_work(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdef", "bcdefg"))
    assert "expands to more than" in fails(tmp_path, bomb)
    merged = BASE.replace("model:\n", "model:\n  <<: {seed: 4, max_iter: 9}\n")
    assert load_config(write(tmp_path, merged)).model.seed == 4


# ---------------------------------------------------------------------------------------------- structure
@pytest.mark.parametrize("old, new, expected", [
    ("model:", "modle:", "config.yaml:3: modle: unknown key (did you mean 'model'?); allowed keys are data, model, record, frames, style, runs, outputs"),
    ("  max_iter: 5", "  max_iters: 5", "config.yaml:5: model.max_iters: unknown key (did you mean 'max_iter'?)"),
    ("{means:", "{meanz:", "config.yaml:2: data.mixture.meanz: unknown key (did you mean 'means'?)"),
    ("  - path: out.png", "  - pth: out.png\n    path: out.png", "config.yaml:7: outputs[0].pth: unknown key (did you mean 'path'?)"),
    ("  max_iter: 5", "  max_iter: 5\n  init: {means: [[0.0], [1.0]], stdz: [1.0, 1.0]}",
     "config.yaml:6: model.init.stdz: unknown key (did you mean 'stds'?)"),
])
def test_unknown_keys_at_every_level_say_did_you_mean(tmp_path, old, new, expected):
    assert fails(tmp_path, BASE.replace(old, new)).startswith(expected)


@pytest.mark.parametrize("old, new, expected", [
    ("n_components: 2", "n_components: 0", "config.yaml:4: model.n_components: must be >= 1 (got 0)"),
    ("n_components: 2", "n_components: two", "config.yaml:4: model.n_components: must be an integer (got 'two')"),
    ("n_components: 2", "n_components: 2.5", "config.yaml:4: model.n_components: must be an integer (got 2.5)"),
    ("n_components: 2", "n_components: true", "config.yaml:4: model.n_components: must be an integer (got true)"),
    ("max_iter: 5", "max_iter: 5\n  tol: -1.0", "config.yaml:6: model.tol: must be >= 0 (got -1.0)"),
    ("max_iter: 5", "max_iter: 5\n  tol: .nan", "config.yaml:6: model.tol: must be a finite number (got nan)"),
    ("max_iter: 5", "max_iter: 5\n  covariance_type: fulll",
     "config.yaml:6: model.covariance_type: must be one of full, diag, spherical, tied (got 'fulll') (did you mean 'full'?)"),
    ("max_iter: 5", "max_iter: 5\n  device: gpu", "config.yaml:6: model.device: must be auto, cpu, cuda or cuda:N (got 'gpu')"),
    ("max_iter: 5", "max_iter: 5\n  init: kmeanspp",
     "config.yaml:6: model.init: unknown initialisation 'kmeanspp' (did you mean 'kmeans'?); choose from kmeans++, "),
    ("max_iter: 5", "max_iter: 5\n  init: 3", "config.yaml:6: model.init: must be a name or a mapping"),
    ("max_iter: 5", "max_iter: 5\n  seed: -1", "config.yaml:6: model.seed: must be >= 0 (got -1)"),
    ("model:", "frames: {workers: 0}\nmodel:", "config.yaml:3: frames.workers: must be an integer >= 1 or 'auto' (got 0)"),
    ("model:", "frames: {fps: 0}\nmodel:", "config.yaml:3: frames.fps: must be > 0 (got 0)"),
    ("model:", "style: {theme: dusk}\nmodel:", "config.yaml:3: style.theme: must be one of light, dark (got 'dusk')"),
    ("model:", "style: {theme: ligth}\nmodel:", "config.yaml:3: style.theme: must be one of light, dark (got 'ligth') (did you mean 'light'?)"),
    ("model:", "style: {size: [4]}\nmodel:", "config.yaml:3: style.size: must have at least 2 items (got 1)"),
    ("model:", "record: {resp_points: many}\nmodel:", "config.yaml:3: record.resp_points: must be an integer (got 'many')"),
    ("model:", "record: [1]\nmodel:", "config.yaml:3: record: must be a mapping (got [1])"),
    ("panels: [_t1d]", "panels: []", "config.yaml:8: outputs[0].panels: must have at least 1 item (got 0)"),
    ("panels: [_t1d]", "panels: [[1]]", "config.yaml:8: outputs[0].panels[0]: a panel is a name or {name: {option: value}} (got [1])"),
])
def test_wrong_values_and_types(tmp_path, old, new, expected):
    assert fails(tmp_path, BASE.replace(old, new)).startswith(expected)


def test_two_problems_are_both_told(tmp_path):
    text = BASE.replace("n_components: 2", "n_components: 0").replace("max_iter: 5", "max_iter: 0")
    assert fails(tmp_path, text) == ("config.yaml:4: model.n_components: must be >= 1 (got 0); "
                                     "also config.yaml:5: model.max_iter: must be >= 1 (got 0)")


def test_several_problems_report_the_first_and_count_the_rest(tmp_path):
    text = BASE.replace("n_components: 2", "n_components: 0").replace("max_iter: 5", "max_iter: 0")
    text = text.replace("max_iter: 0", "max_iter: 0\n  tol: -1")
    assert fails(tmp_path, text) == "config.yaml:4: model.n_components: must be >= 1 (got 0) (and 2 more problems)"


@pytest.mark.parametrize("section", ["data", "model"])
def test_missing_section(tmp_path, section):
    lines = BASE.splitlines(keepends=True)
    start = 0 if section == "data" else 2
    text = "".join(lines[:start] + lines[start + (2 if section == "data" else 3):])
    assert fails(tmp_path, text).endswith(f"{section}: missing required section")


def test_missing_key(tmp_path):
    assert fails(tmp_path, BASE.replace("  n_components: 2\n", "")) == "config.yaml:3: model.n_components: missing required key"


@pytest.mark.parametrize("old, new, expected", [
    ("  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [60, 40]}", "  seed: 1",
     "config.yaml:1: data: give exactly one of mixture, file, dataset (got none)"),
    ("  mixture:", "  dataset: iris\n  mixture:", "config.yaml:1: data: give exactly one of mixture, file, dataset (got mixture, dataset)"),
    ("stds: [1.0, 0.5]", "stds: [1.0, 0.5], covariances: [[[1.0]], [[1.0]]]", "config.yaml:2: data.mixture: give exactly one of stds, covariances"),
    ("stds: [1.0, 0.5]", "stds: [1.0, 0.5, 2.0]", "config.yaml:2: data.mixture.stds: expected shape (2,) or (2, 1), got (3, 1)"),
    ("stds: [1.0, 0.5]", "stds: [[1.0], 0.5]", "config.yaml:2: data.mixture.stds: must be a list of K numbers or K lists of D numbers"),
    ("sizes: [60, 40]", "sizes: [60]", "config.yaml:2: data.mixture.sizes: expected 2 non-negative integers"),
    ("sizes: [60, 40]", "sizes: [60, -4]", "config.yaml:2: data.mixture.sizes[1]: must be >= 0 (got -4)"),
    ("  mixture:", "  dataset: iriss\n  mixture:", "config.yaml:2: data.dataset: must be one of old_faithful, iris (got 'iriss') (did you mean 'iris'?)"),
])
def test_data_section_errors(tmp_path, old, new, expected):
    assert fails(tmp_path, BASE.replace(old, new)).startswith(expected)


def test_mixture_covariance_errors_point_at_the_matrix(tmp_path):
    text = """\
        data:
          mixture:
            means: [[-2.0], [2.0]]
            covariances:
              - [[1.0]]
              - [[-1.0]]
            sizes: [60, 40]
        model: {n_components: 2}
        outputs: [{path: a.png, panels: [_t1d]}]
    """
    assert fails(tmp_path, text) == "config.yaml:6: data.mixture.covariances[1]: is not positive definite"


# ---------------------------------------------------------------------------------------------- cross-checks
@pytest.mark.parametrize("init, expected", [
    ("{means: [[0.0], [1.0], [2.0]], stds: [1.0, 1.0, 1.0]}", "config.yaml:6: model.init.means: has 3 components, model.n_components is 2"),
    ("{means: [[0.0, 0.0], [1.0, 1.0]], stds: [1.0, 1.0]}", "config.yaml:6: model.init.means: has 2 feature(s), the data has D=1"),
    ("{means: [[0.0], [1.0]], stds: [1.0]}", "config.yaml:6: model.init.stds: expected shape (2,) or (2, 1), got (1, 1)"),
    ("{means: [[0.0], [1.0]], stds: [1.0, 1.0], weights: [0.5, 0.7]}", "config.yaml:6: model.init.weights: must sum to 1"),
    ("{means: [[0.0], [1.0]]}", "config.yaml:6: model.init: give exactly one of stds, covariances"),
])
def test_init_is_checked_against_the_model_and_the_data(tmp_path, init, expected):
    assert fails(tmp_path, BASE.replace("max_iter: 5", f"max_iter: 5\n  init: {init}")).startswith(expected)


def test_panel_unknown_option_and_wrong_dimension(tmp_path):
    assert fails(tmp_path, BASE.replace("[_t1d]", "[_t1e]")).startswith(
        "config.yaml:8: outputs[0].panels[0]: unknown panel '_t1e' (did you mean '_t1d'?); choose from ")
    assert fails(tmp_path, BASE.replace("[_t1d]", "[{_t1d: {binz: 3}}]")) == (
        "config.yaml:8: outputs[0].panels[0]: panel '_t1d': unknown option 'binz' (did you mean 'bins'?); options are bins")
    assert fails(tmp_path, BASE.replace("[_t1d]", "[_t1d, _t2d]")) == (
        "config.yaml:8: outputs[0].panels[1]: panel '_t2d' draws data of dimension 2; the data has D=1")


def test_panel_dimension_from_a_dataset_and_columns(tmp_path):
    text = BASE.replace("  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [60, 40]}",
                        "  dataset: iris\n  columns: [petal_length, petal_width]")
    assert "panel '_t1d' draws data of dimension 1; the data has D=2" in fails(tmp_path, text)
    assert check_config(load_config(write(tmp_path, text.replace("_t1d", "_t2d"))), out=tmp_path) == 2


def test_panel_dimension_from_a_csv_header(tmp_path):
    (tmp_path / "pts.csv").write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9\n")
    text = BASE.replace("  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [60, 40]}",
                        "  file: pts.csv\n  columns: [c]")
    assert check_config(load_config(write(tmp_path, text)), out=tmp_path / "o") == 1


@pytest.mark.parametrize("old, new, expected", [
    ("iterations: [0, 10, 100, 1000]", "iterations: [0, 10, 1001]",
     "config.yaml:25: outputs[2].iterations[2]: iteration 1001 is beyond model.max_iter (1000)"),
    ("schedule: {dense: 100, every: 10}", "schedule: [0, 5, 2000]",
     "config.yaml:16: frames.schedule[2]: iteration 2000 is beyond model.max_iter (1000)"),
    ("schedule: {dense: 100, every: 10}", "schedule: {dense: 100, evry: 10}",
     "config.yaml:16: frames.schedule: unknown key 'evry' (did you mean 'every'?)"),
    ("schedule: {dense: 100, every: 10}", "schedule: {every: 0}", "config.yaml:16: frames.schedule.every: must be >= 1, got 0"),
    ("schedule: {dense: 100, every: 10}", "schedule: 7", "config.yaml:16: frames.schedule: must be 'all', a list of iterations or a mapping"),
    ("iterations: [0, 10, 100, 1000]", "iterations: [0, 10]\n    frames: {schedule: all}",
     "config.yaml:25: outputs[2].iterations: give iterations or frames.schedule, not both"),
    ("iterations: [0, 10, 100, 1000]", "frames: {schedule: all}",
     "config.yaml:25: outputs[2].frames.schedule: a still grid has at most 36 cells"),
    ("path: key_iterations.png", "path: key_iterations.jpg",
     "config.yaml:23: outputs[2].path: cannot write '.jpg' files (did you mean '.png'?); use .gif, .mp4, .html, .tex, .png, .pdf, .svg or a folder"),
    ("path: key_iterations.png", "path: em_gaussians_evolution.gif",
     "config.yaml:23: outputs[2].path: 'em_gaussians_evolution.gif' is also the path of outputs[0]"),
    ("save: trace.npz", "save: trace.json", "config.yaml:15: record.save: a trace is saved as .npz (got 'trace.json')"),
    ("panels: [_t1d]\n  - path: em_log", "panels: [_t1d]\n    layout: [1, 0]\n  - path: em_log",
     "config.yaml:21: outputs[0].layout[1]: must be >= 1 (got 0)"),
])
def test_output_checks(tmp_path, old, new, expected):
    assert old in EXAMPLE
    assert fails(tmp_path, EXAMPLE.replace(old, new, 1)).startswith(expected)


def test_nothing_to_do(tmp_path):
    assert fails(tmp_path, BASE.replace("outputs:", "other:").split("other:")[0]) == (
        "config.yaml:1: outputs: nothing to do: give at least one output (or record.save)")


def test_fewer_points_than_components(tmp_path):
    text = BASE.replace("sizes: [60, 40]", "sizes: [1, 1]").replace("n_components: 2", "n_components: 3")
    text = text.replace("max_iter: 5", "max_iter: 5\n  init: kmeans")
    assert fails(tmp_path, text) == ("config.yaml:4: model.n_components: is 3, but the data has only 2 point(s); "
                                     "EM needs at least one point per component")


# ---------------------------------------------------------------------------------------------- locations
def test_an_output_may_not_overwrite_the_config(tmp_path):
    # A YAML name is no output suffix ...
    assert fails(tmp_path, BASE, ["outputs[0].path=config.yaml"], out=tmp_path).startswith(
        "--set outputs[0].path=config.yaml: outputs[0].path: cannot write '.yaml' files")
    # ... but a config without a suffix could be replaced by a folder output of the same name.
    path = write(tmp_path, BASE, name="plan")
    config = load_config(path, ["outputs[0].path=../plan"])
    with pytest.raises(InputError) as info:
        check_config(config, out=tmp_path / "out")
    assert str(info.value) == (f"--set outputs[0].path=../plan: outputs[0].path: {tmp_path / 'out' / '..' / 'plan'} "
                               "would overwrite the config file")


def test_an_output_may_not_overwrite_the_data_file(tmp_path, monkeypatch):
    import emviz.config

    (tmp_path / "pts.csv").write_text("a\n1\n2\n3\n")
    text = BASE.replace("  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [60, 40]}", "  file: pts.csv")
    # No output suffix is a data suffix today; check the rule itself in case that ever changes.
    monkeypatch.setitem(emviz.config.OUTPUT_KINDS, ".csv", "still")
    assert fails(tmp_path, text, ["outputs[0].path=pts.csv"], out=tmp_path) == (
        f"--set outputs[0].path=pts.csv: outputs[0].path: {tmp_path / 'pts.csv'} would overwrite the data file")


def test_unwritable_output_directory(tmp_path):
    (tmp_path / "blocker").write_text("a file, not a directory")
    message = fails(tmp_path, BASE.replace("out.png", "blocker/sub/out.png"), out=tmp_path)
    assert message == f"config.yaml:7: outputs[0].path: cannot create directory {tmp_path / 'blocker' / 'sub'}: " \
                      f"{tmp_path / 'blocker'} is a file"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_output_directory(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert "permission denied" in fails(tmp_path, BASE, out=locked)
    finally:
        locked.chmod(0o700)


def test_missing_data_file_points_at_the_config_line(tmp_path):
    text = BASE.replace("  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [60, 40]}", "  file: nowhere.csv")
    assert fails(tmp_path, text) == f"config.yaml:2: data.file: {tmp_path / 'nowhere.csv'}: file not found"
    text = text.replace("file: nowhere.csv", "file: pts.csv\n  columns: [bb]")
    (tmp_path / "pts.csv").write_text("a,b\n1,2\n")
    assert fails(tmp_path, text).startswith("config.yaml:3: data.columns: 'bb' is not a column of")


def test_bad_csv_content_names_the_data_file(tmp_path):
    (tmp_path / "pts.csv").write_text("a\n1\nx\n")
    text = BASE.replace("  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [60, 40]}", "  file: pts.csv")
    assert fails(tmp_path, text) == f"{tmp_path / 'pts.csv'}: line 3, column 1 ('a'): 'x' is not a number"


# ---------------------------------------------------------------------------------------------- --set
def test_overrides_apply_in_order_and_parse_yaml(tmp_path):
    path = write(tmp_path, BASE)
    config = load_config(path, ["model.max_iter=50", "model.tol=0", "frames.schedule={every: 5}",
                                "outputs.0.panels=[{_t1d: {bins: 3}}]", "style.size=[4, 3]", "model.max_iter=60",
                                "record.save=t.npz"])
    assert config.model.max_iter == 60 and config.model.tol == 0.0
    assert config.frames.schedule == {"every": 5} and config.outputs[0].panels == [{"_t1d": {"bins": 3}}]
    assert config.style.size == [4.0, 3.0] and config.record.save == "t.npz"


@pytest.mark.parametrize("override, expected", [
    ("model.n_component=3", "--set model.n_component=3: model.n_component: unknown key (did you mean 'n_components'?)"),
    ("modle.seed=3", "--set modle.seed=3: modle: unknown key (did you mean 'model'?)"),
    ("outputs[3].path=a.gif", "--set outputs[3].path=a.gif: outputs has 1 item(s), there is no outputs[3]"),
    ("model.n_components=abc", "--set model.n_components=abc: model.n_components: must be an integer (got 'abc')"),
    ("model.n_components=0", "--set model.n_components=0: model.n_components: must be >= 1 (got 0)"),
    ("model.max_iter", "--set model.max_iter: expected KEY.PATH=VALUE"),
    ("model.seed=[1", "--set model.seed=[1: the value is not valid YAML"),
    ("model.seed=!!python/object:os.system 1", "--set model.seed=!!python/object:os.system 1: the value is not valid YAML"),
    ("model=3", "--set model=3: model: must be a mapping (got 3)"),
])
def test_override_errors(tmp_path, override, expected):
    assert fails(tmp_path, BASE, [override]).startswith(expected)


def test_an_override_label_names_its_origin(tmp_path):
    with pytest.raises(InputError, match=r"^--device gpu: model.device: must be auto, cpu, cuda or cuda:N"):
        load_config(write(tmp_path, BASE), [("model.device=gpu", "--device gpu")])


def test_config_is_a_pydantic_model_that_dumps_to_json(tmp_path):
    config = load_config(write(tmp_path, EXAMPLE))
    assert isinstance(config, Config)
    dumped = config.model_dump(mode="json")
    json.dumps(dumped)
    assert dumped["model"]["init"]["stds"] == [2.5, 2.5, 2.5]


@pytest.mark.parametrize("key, value, section", [
    ("fps", "30", "frames"), ("schedule", "all", "frames"), ("hold_last", "1", "frames"), ("dpi", "50", "style"),
    ("theme", "dark", "style"),
])
def test_an_output_overrides_a_section_under_its_name(tmp_path, key, value, section):
    text = BASE.replace("    panels: [_t1d]", f"    panels: [_t1d]\n    {key}: {value}")
    assert fails(tmp_path, text) == (f"config.yaml:7: outputs[0]: {key} goes under {section}, as at the top level: "
                                     f"{section}: {{{key}: {value if key != 'theme' and key != 'schedule' else repr(value)}}}")
    nested = BASE.replace("    panels: [_t1d]", f"    panels: [_t1d]\n    {section}: {{{key}: {value}}}")
    config = load_config(write(tmp_path, nested))
    assert getattr(getattr(config.outputs[0], section), key) is not None
