"""A catalogue of bad inputs: every one exits 2 with one line, no traceback, and writes nothing.

Each case builds its inputs (config, data file, trace file, arguments) under a fresh temporary
folder, runs the command line, and checks the contract of the README: exit code 2, exactly one line
on stderr, ``emviz: error: ...``, naming the key, file or argument and the problem (the case's
``needle``), no traceback, and no file created, changed or removed anywhere under the folder (the
``--out`` directory included: it is absent or exactly as before). Most cases run in-process through
:func:`emviz.cli.main`; the cases in ``SUBPROCESS`` also run as ``python -m emviz`` to prove that no
traceback reaches stderr from a real process.

The catalogue holds 121 bad inputs (``test_catalogue_size`` keeps this count honest), in groups:

- YAML and the document (13): syntax error, a list, a scalar, an empty file, duplicate keys, Python
  tags that would run a command or import a name (refused, and nothing runs), an alias bomb,
  nesting too deep, a key that is not a name, not UTF-8, a missing config, a config that is a folder.
- Unknown keys at every level, with "did you mean" (12): top level, data.mixture, model, model.init,
  record, frames, style, outputs[0], runs[0].model, a schedule mapping, and a key of the other
  section (a frames key under style, a style key under an output's frames: they say where they go).
- Wrong types (6) and bad counts (7): words for numbers, a misspelt choice, a mapping for a list,
  a string for a bool; zero or negative K, max_iter, sizes, resp_points, fps, and K larger than N.
- Mixture and init parameters (9): means/stds/sizes of mismatched lengths, covariances not symmetric
  or not positive definite, weights whose sum is off 1 by more than 0.01 (data and init), init of the
  wrong dimension or with the wrong number of components, an std of zero.
- Data files (15): missing, empty, not numeric, NaN, Inf, values too large to square, one column
  where the panel needs two, a CSV separated by semicolons, a header-only CSV, ragged rows, not
  UTF-8, an unsupported suffix, a folder, a pickled object array (loaded without pickle: the payload
  never runs), a NUL in the name.
- Panels and schedules (8): a panel for the wrong dimension, an unknown panel, an unknown option, a
  bad option value, a component index beyond K, a schedule beyond max_iter, a zero step, still
  iterations beyond max_iter.
- Outputs (19): an unknown suffix, a directory that cannot be created (under a regular file), an
  output that would overwrite the config, a folder output over the config's or the data's folder or a
  user's folder, two outputs at one path, an output inside another, the trace inside a folder output,
  a trace not ``.npz``, a NUL or an over-long name, frames too large for memory, a trace or data too
  large for memory, a frame rate too high (or too low for an MP4), a last frame held too long, a
  title too long.
- Runs and devices (7): duplicate run names, an output naming an unknown run, an overlay of a panel
  that draws one run, a still grid with an overlay, a bad model change in a run, ``device: cuda``
  without CUDA, an unknown device.
- ``--set`` overrides (8): an unknown path (did you mean), a badly typed value, no ``=``, an empty
  path segment, an index beyond the list, a style key under frames and a frames key on an output
  (each with the --set to write), a Python tag in the value.
- Trace files and ``render-trace`` (17): missing, truncated, not a trace, a ``.npy`` instead of an
  ``.npz``, from a future schema version, an object array (the pickle payload never runs), NaN
  parameters, a covariance that is not positive definite, weights that do not sum to 1, a panel for
  the wrong dimension, an output folder over the trace's folder, a title too long, iterations beyond
  the trace, a size of zero, a negative dpi, a bad schedule (each named by its flag), an unknown suffix.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from emviz.cli import main

# Lines: data 1, mixture 2, model 3, n_components 4, max_iter 5, tol 6, frames 7, style 8, outputs 9,
# path 10, panels 11.
BASE = """\
data:
  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [30, 20]}
model:
  n_components: 2
  max_iter: 3
  tol: 0.0
frames: {schedule: all, fps: 5, hold_last: 0.0}
style: {dpi: 30, size: [3, 2]}
outputs:
  - path: anim.gif
    panels: [components]
"""
MIXTURE = "  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [30, 20]}"


# ---------------------------------------------------------------------------------------------- building inputs
def edit(*pairs: str, text: str = BASE) -> str:
    """BASE with each (old, new) pair replaced once; every old text must be there."""
    for old, new in zip(pairs[::2], pairs[1::2]):
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def config(d: Path, text: str = BASE, name: str = "config.yaml") -> Path:
    path = d / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def data_file(d: Path, name: str, content) -> str:
    """Write a data file beside the config; return BASE reading it instead of sampling a mixture."""
    path = d / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, np.ndarray):
        np.save(path, content, allow_pickle=True)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return edit(MIXTURE, f"  file: {name}")


def touch(path: Path, text: str = "x") -> Path:
    """A small file at ``path`` (its folders made): something in the way, or a user's file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def render(d: Path, text: str = BASE, *extra, name: str = "config.yaml") -> list:
    return ["render", config(d, text, name), "--out", d / "out", "--quiet", *extra]


class _RunsACommand:
    """Unpickling this calls ``os.system``: a pickled payload that proves it was never unpickled."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def pickled_payload(d: Path) -> np.ndarray:
    return np.array([_RunsACommand(f"touch {d / 'PWNED'}"), 1.0], dtype=object)


@pytest.fixture(scope="module")
def good_trace(tmp_path_factory) -> bytes:
    """The bytes of a small valid trace (D=1, K=2, T=3), fitted once for the trace cases."""
    d = tmp_path_factory.mktemp("trace")
    text = edit("outputs:\n  - path: anim.gif\n    panels: [components]\n", "record: {save: t.npz}\n")
    assert main([str(a) for a in render(d, text)]) == 0
    return (d / "out" / "t.npz").read_bytes()


def trace_file(d: Path, good: bytes, change=None, raw: bytes | None = None) -> Path:
    """A trace file under d/in: the good one, changed by ``change(arrays)``, or ``raw`` bytes."""
    path = d / "in" / "t.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(good if raw is None else raw)
    if change is not None:
        with np.load(path) as npz:
            arrays = dict(npz)
        change(arrays)
        np.savez(path, **arrays)
    return path


def render_trace(d: Path, trace: Path, *extra, panels: str = "components") -> list:
    return ["render-trace", trace, "--panels", panels, "--out", d / "out" / "x.gif", "--quiet", *extra]


def _set(arrays, name, index, value):
    arrays[name][index] = value


# ---------------------------------------------------------------------------------------------- the catalogue
# id -> (build(d, good_trace) -> argv, needle). Needles name the key/file/argument and the problem.
C = "config.yaml"
CASES = {
    # -- YAML and the document
    "yaml syntax error": (lambda d, g: render(d, edit("max_iter: 3", "max_iter: [3")), f"{C}:6: invalid YAML"),
    "yaml is a list": (lambda d, g: render(d, "- data\n- model\n"),
                       "the config must be a mapping of sections (data, model, outputs, ...), got a list"),
    "yaml is a scalar": (lambda d, g: render(d, "just some text\n"), "must be a mapping of sections (data, model, outputs, ...), got a str"),
    "yaml is empty": (lambda d, g: render(d, "# nothing here\n"), "must be a mapping of sections (data, model, outputs, ...), got empty"),
    "duplicate key": (lambda d, g: render(d, edit("tol: 0.0", "tol: 0.0\n  max_iter: 9")),
                      f"{C}:7: duplicate key 'max_iter' (first given on line 5)"),
    "python tag that runs a command": (
        lambda d, g: render(d, edit("max_iter: 3", f"max_iter: !!python/object/apply:os.system [\"touch {d / 'PWNED'}\"]")),
        f"{C}:5: the tag !!python/object/apply:os.system is not allowed"),
    "python tag that imports a name": (lambda d, g: render(d, edit("max_iter: 3", "max_iter: !!python/name:os.system")),
                                       f"{C}:5: the tag !!python/name:os.system is not allowed"),
    "alias bomb": (lambda d, g: render(d, "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdef", "bcdefg"))),
        "the document expands to more than 1000000 values (aliases?)"),
    "nested too deeply": (lambda d, g: render(d, "data: " + "[" * 3000 + "]" * 3000 + "\n"),
                          f"{C}: the document is nested too deeply"),
    "key that is not a name": (lambda d, g: render(d, edit("  max_iter: 3", "  max_iter: 3\n  3: x")),
                               f"{C}:3: model: the key 3 is not a name"),
    "config not utf-8": (lambda d, g: ["validate", (config(d), (d / "in" / C).write_bytes(b"model: caf\xe9\n"))[0]],
                         f"{C}: is not a UTF-8 text file"),
    "config missing": (lambda d, g: ["render", d / "in" / "nowhere.yaml", "--out", d / "out"], "nowhere.yaml: config file not found"),
    "config is a folder": (lambda d, g: ["render", touch(d / "in" / "x").parent, "--out", d / "out"], "in: is not a file"),
    # -- unknown keys at every level
    "unknown key: top level": (lambda d, g: render(d, edit("model:", "modle:")), f"{C}:3: modle: unknown key (did you mean 'model'?)"),
    "unknown key: data.mixture": (lambda d, g: render(d, edit("{means:", "{meens:")),
                                  f"{C}:2: data.mixture.meens: unknown key (did you mean 'means'?)"),
    "unknown key: model": (lambda d, g: render(d, edit("max_iter: 3", "max_iters: 3")),
                           f"{C}:5: model.max_iters: unknown key (did you mean 'max_iter'?)"),
    "unknown key: model.init": (lambda d, g: render(d, edit("tol: 0.0", "tol: 0.0\n  init: {means: [[0], [1]], sdts: [1, 1]}")),
                                f"{C}:7: model.init.sdts: unknown key (did you mean 'stds'?)"),
    "unknown key: record": (lambda d, g: render(d, BASE + "record: {resp_point: 5}\n"),
                            f"{C}:12: record.resp_point: unknown key (did you mean 'resp_points'?)"),
    "unknown key: frames": (lambda d, g: render(d, edit("fps: 5", "fsp: 5")), f"{C}:7: frames.fsp: unknown key (did you mean 'fps'?)"),
    "unknown key: style": (lambda d, g: render(d, edit("dpi: 30", "dip: 30")), f"{C}:8: style.dip: unknown key (did you mean 'dpi'?)"),
    "unknown key: outputs[0]": (lambda d, g: render(d, edit("panels: [components]", "panel: [components]")),
                                f"{C}:11: outputs[0].panel: unknown key (did you mean 'panels'?)"),
    "unknown key: runs[0].model": (lambda d, g: render(d, BASE + "runs: [{name: a, model: {n_compnents: 3}}]\n"),
                                   f"{C}:12: runs[0].model.n_compnents: unknown key (did you mean 'n_components'?)"),
    "unknown key: schedule": (lambda d, g: render(d, edit("schedule: all", "schedule: {dense: 2, evry: 2}")),
                              f"{C}:7: frames.schedule: unknown key 'evry' (did you mean 'every'?)"),
    # A key of the other section says where it goes, not just "unknown key".
    "frames key under style": (lambda d, g: render(d, edit("size: [3, 2]}", "size: [3, 2], fps: 4}")),
                               f"{C}:8: style: fps is a frames key: write it under frames, frames: {{fps: 4}}"),
    "style key under an output's frames": (lambda d, g: render(d, edit("panels: [components]",
                                                                       "panels: [components]\n    frames: {dpi: 40}")),
                                           f"{C}:12: outputs[0].frames: dpi is a style key: write it under style, "
                                           "style: {dpi: 40}"),
    # -- wrong types
    "integer written as a word": (lambda d, g: render(d, edit("n_components: 2", "n_components: two")),
                                  f"{C}:4: model.n_components: must be an integer (got 'two')"),
    "number written as a word": (lambda d, g: render(d, edit("tol: 0.0", "tol: small")), f"{C}:6: model.tol: must be a number (got 'small')"),
    "misspelt choice": (lambda d, g: render(d, edit("tol: 0.0", "tol: 0.0\n  covariance_type: ful")),
                        f"{C}:7: model.covariance_type: must be one of full, diag, spherical, tied (got 'ful') (did you mean 'full'?)"),
    "mapping for a list": (lambda d, g: render(d, edit("outputs:\n  - path: anim.gif\n    panels: [components]\n",
                                                       "outputs: {path: anim.gif, panels: [components]}\n")),
                           f"{C}:9: outputs: must be a list"),
    "string for a bool": (lambda d, g: render(d, edit(MIXTURE, MIXTURE + "\n  standardize: 'yes'")),
                          f"{C}:3: data.standardize: must be true or false (got 'yes')"),
    "string for a float": (lambda d, g: render(d, edit("fps: 5", "fps: fast")), f"{C}:7: frames.fps: must be a number (got 'fast')"),
    # -- counts
    "zero components": (lambda d, g: render(d, edit("n_components: 2", "n_components: 0")), f"{C}:4: model.n_components: must be >= 1 (got 0)"),
    "negative max_iter": (lambda d, g: render(d, edit("max_iter: 3", "max_iter: -1")), f"{C}:5: model.max_iter: must be >= 1 (got -1)"),
    "chunk_size zero": (lambda d, g: render(d, edit("tol: 0.0", "tol: 0.0\n  chunk_size: 0")),
                        f"{C}:7: model.chunk_size: must be auto or an integer >= 1 (rows per chunk), got 0"),
    "negative size": (lambda d, g: render(d, edit("sizes: [30, 20]", "sizes: [-5, 20]")), f"{C}:2: data.mixture.sizes[0]: must be >= 0 (got -5)"),
    "all sizes zero": (lambda d, g: render(d, edit("sizes: [30, 20]", "sizes: [0, 0]")),
                       f"{C}:2: data.mixture.sizes: at least one size must be positive"),
    "zero resp_points": (lambda d, g: render(d, BASE + "record: {resp_points: 0}\n"), f"{C}:12: record.resp_points: must be >= 1 (got 0)"),
    "zero fps": (lambda d, g: render(d, edit("fps: 5", "fps: 0")), f"{C}:7: frames.fps: must be > 0 (got 0)"),
    "K larger than N": (lambda d, g: render(d, edit("sizes: [30, 20]", "sizes: [1, 1]", "n_components: 2", "n_components: 3")),
                        f"{C}:4: model.n_components: is 3, but the data has only 2 point(s)"),
    # -- mixture and init parameters
    "means and stds of different lengths": (lambda d, g: render(d, edit("stds: [1.0, 0.5]", "stds: [1.0]")),
                                            f"{C}:2: data.mixture.stds: expected shape (2,) or (2, 1), got (1, 1)"),
    "means and sizes of different lengths": (lambda d, g: render(d, edit("sizes: [30, 20]", "sizes: [30, 20, 10]")),
                                             f"{C}:2: data.mixture.sizes: expected 2 non-negative integers (one per mean)"),
    "covariance not symmetric": (lambda d, g: render(d, edit("means: [[-2.0], [2.0]], stds: [1.0, 0.5]",
                                                             "means: [[0, 0], [3, 3]], covariances: [[[1, 0.5], [0, 1]], [[1, 0], [0, 1]]]",
                                                             "[components]", "[ellipses]")),
                                 f"{C}:2: data.mixture.covariances[0]: is not symmetric"),
    "covariance not positive definite": (lambda d, g: render(d, edit("means: [[-2.0], [2.0]], stds: [1.0, 0.5]",
                                                                     "means: [[0, 0], [3, 3]], covariances: [[[1, 2], [2, 1]], [[1, 0], [0, 1]]]",
                                                                     "[components]", "[ellipses]")),
                                         f"{C}:2: data.mixture.covariances[0]: is not positive definite"),
    "zero std": (lambda d, g: render(d, edit("stds: [1.0, 0.5]", "stds: [0.0, 0.5]")), f"{C}:2: data.mixture.stds: must be positive and finite"),
    "data weights off 1 by more than 0.01": (lambda d, g: render(d, edit("sizes: [30, 20]}", "n_samples: 50, weights: [0.5, 0.52]}")),
                                             f"{C}:2: data.mixture.weights: must sum to 1 (within 0.01), they sum to 1.02"),
    "init weights off 1 by more than 0.01": (lambda d, g: render(d, edit("tol: 0.0", "tol: 0.0\n  init: {means: [[0], [1]], stds: [1, 1], weights: [0.3, 0.68]}")),
                                             f"{C}:7: model.init.weights: must sum to 1 (within 0.01), they sum to 0.98"),
    "init of the wrong dimension": (lambda d, g: render(d, edit("tol: 0.0", "tol: 0.0\n  init: {means: [[0, 0], [1, 1]], stds: [1, 1]}")),
                                    f"{C}:7: model.init.means: has 2 feature(s), the data has D=1"),
    "init with the wrong number of components": (lambda d, g: render(d, edit("tol: 0.0", "tol: 0.0\n  init: {means: [[0], [1], [2]], stds: [1, 1, 1]}")),
                                                 f"{C}:7: model.init.means: has 3 components, model.n_components is 2"),
    # -- data files
    "data file missing": (lambda d, g: render(d, edit(MIXTURE, "  file: nowhere.csv")), f"{C}:2: data.file: "),
    "data file empty": (lambda d, g: render(d, data_file(d, "d.csv", "")), "d.csv: file is empty"),
    "data file not numeric": (lambda d, g: render(d, data_file(d, "d.csv", "x\n1\n2\nabc\n")),
                              "d.csv: line 4, column 1 ('x'): 'abc' is not a number"),
    "data file with NaN": (lambda d, g: render(d, data_file(d, "d.csv", "x\n1\nNaN\n3\n")),
                           "d.csv: line 3, column 1 ('x'): NaN is not allowed; values must be finite"),
    "data file with Inf": (lambda d, g: render(d, data_file(d, "d.npy", np.array([1.0, np.inf, 2.0]))),
                           "d.npy: element [1, 0] is inf; values must be finite"),
    "data values too large to square": (lambda d, g: render(d, data_file(d, "d.csv", "1e300\n-1e300\n0\n2\n")),
                                        f"{C}:2: data.file: d.csv: data row 1, column 'x0': 1e+300 is too large"),
    "one column where the panel needs two": (lambda d, g: render(d, edit("[components]", "[ellipses]",
                                                                         text=data_file(d, "d.csv", "1\n2\n3\n4\n"))),
                                             f"{C}:11: outputs[0].panels[0]: panel 'ellipses' draws data of dimension 2 to 64; the data has D=1"),
    "csv separated by semicolons": (lambda d, g: render(d, data_file(d, "d.csv", "a;b\n1,5;2\n3;4\n")),
                                    "d.csv: line 1 is separated by ';', not commas; emviz reads comma-separated values"),
    "csv with only a header row": (lambda d, g: render(d, data_file(d, "d.csv", "a,b\n")), "d.csv: has a header row but no data rows"),
    "csv with a short row": (lambda d, g: render(d, data_file(d, "d.csv", "1,2\n3\n4,5\n")), "d.csv: line 2: has 1 fields, expected 2"),
    "csv not utf-8": (lambda d, g: render(d, data_file(d, "d.csv", "caf\xe9\n1\n".encode("latin-1"))), "d.csv: is not a UTF-8 text file"),
    "data file of an unsupported type": (lambda d, g: render(d, data_file(d, "d.txt", "1\n2\n")),
                                         f"{C}:2: data.file: {{d}}/in/d.txt: unsupported file type '.txt'; use .csv or .npy"),
    "data file is a folder": (lambda d, g: render(d, ((d / "in" / "d.csv").mkdir(parents=True), edit(MIXTURE, "  file: d.csv"))[1]),
                              f"{C}:2: data.file: {{d}}/in/d.csv: is not a file"),
    "npy holding pickled objects": (lambda d, g: render(d, data_file(d, "d.npy", pickled_payload(d))),
                                    "d.npy: holds Python objects (dtype object); save a numeric array"),
    "NUL in the data file name": (lambda d, g: render(d, edit(MIXTURE, '  file: "d\\0.csv"')),
                                  f"{C}:2: data.file: '{{d}}/in/d\\x00.csv': a file name cannot contain a NUL character"),
    # -- panels and schedules
    "panel for the wrong dimension": (lambda d, g: render(d, edit("[components]", "[cloud3d]")),
                                      f"{C}:11: outputs[0].panels[0]: panel 'cloud3d' draws data of dimension 3"),
    "unknown panel": (lambda d, g: render(d, edit("[components]", "[componets]")),
                      f"{C}:11: outputs[0].panels[0]: unknown panel 'componets' (did you mean 'components'?)"),
    "unknown panel option": (lambda d, g: render(d, edit("[components]", "[{components: {binz: 3}}]")),
                             f"{C}:11: outputs[0].panels[0]: panel 'components': unknown option 'binz' (did you mean 'bins'?)"),
    "bad panel option value": (lambda d, g: render(d, edit("[components]", "[{components: {bins: -3}}]")),
                               f"{C}:11: outputs[0].panels[0]: panel 'components': option 'bins' must be a positive count"),
    "component index beyond K": (lambda d, g: render(d, edit("[components]", "[{loglik_contour: {params: [[5, mean], [0, mean]]}}]")),
                                 f"{C}:11: outputs[0].panels[0]: panel 'loglik_contour': option 'components': [5] not among the components 0..1"),
    "schedule beyond max_iter": (lambda d, g: render(d, edit("schedule: all", "schedule: [0, 9]")),
                                 f"{C}:7: frames.schedule[1]: iteration 9 is beyond model.max_iter (3)"),
    "schedule step of zero": (lambda d, g: render(d, edit("schedule: all", "schedule: {every: 0}")), f"{C}:7: frames.schedule.every: must be >= 1"),
    "still iterations beyond max_iter": (lambda d, g: render(d, edit("anim.gif", "still.png", "panels: [components]",
                                                                     "panels: [components]\n    iterations: [0, 7]")),
                                         f"{C}:12: outputs[0].iterations[1]: iteration 7 is beyond model.max_iter (3)"),
    # -- outputs
    "output suffix emviz cannot write": (lambda d, g: render(d, edit("anim.gif", "anim.jpg")),
                                         f"{C}:10: outputs[0].path: cannot write '.jpg' files (did you mean '.png'?)"),
    "output directory under a regular file": (lambda d, g: (touch(d / "out" / "blocker"), render(d, edit("anim.gif", "blocker/sub/anim.gif")))[1],
                                              f"{C}:10: outputs[0].path: cannot create directory {{d}}/out/blocker/sub: {{d}}/out/blocker is a file"),
    "output that would overwrite the config": (lambda d, g: ["render", config(d, edit("anim.gif", "plan"), name="plan"), "--out", d / "in"],
                                               "plan:10: outputs[0].path: {d}/in/plan would overwrite the config file"),
    "folder output over the config's folder": (lambda d, g: ["render", config(d, edit("anim.gif", "in")), "--out", d],
                                               f"{C}:10: outputs[0].path: {{d}}/in holds the config file, which a folder output would delete"),
    "folder output over the data's folder": (lambda d, g: (touch(d / "in" / "pts" / "d.csv", "1\n2\n3\n4\n"), [
        "render", config(d, edit(MIXTURE, "  file: pts/d.csv", "anim.gif", "pts")), "--out", d / "in"])[1],
                                             f"{C}:10: outputs[0].path: {{d}}/in/pts holds the data file, which a folder output would delete"),
    "folder output over a folder of other files": (lambda d, g: (touch(d / "out" / "notes" / "a.tex"), render(d, edit("anim.gif", "notes")))[1],
                                                   f"{C}:10: outputs[0].path: {{d}}/out/notes already exists and holds more than emviz frames (a.tex)"),
    "two outputs at one path": (lambda d, g: render(d, BASE + "  - path: ./anim.gif\n    panels: [components]\n"),
                                f"{C}:12: outputs[1].path: './anim.gif' is also the path of outputs[0]"),
    "output inside another output": (lambda d, g: render(d, BASE + "  - path: anim.gif/x.png\n    panels: [components]\n"),
                                     f"{C}:12: outputs[1].path: {{d}}/out/anim.gif/x.png would be inside outputs[0].path"),
    "trace inside a folder output": (lambda d, g: render(d, edit("anim.gif", "frames") + "record: {save: frames/t.npz}\n"),
                                     f"{C}:12: record.save: {{d}}/out/frames/t.npz would be inside outputs[0].path"),
    "trace not saved as .npz": (lambda d, g: render(d, BASE + "record: {save: t.pkl}\n"), f"{C}:12: record.save: a trace is saved as .npz (got 't.pkl')"),
    "NUL in an output name": (lambda d, g: render(d, edit("anim.gif", '"an\\0im.gif"')), f"{C}:10: outputs[0].path: 'an\\x00im.gif' contains a NUL character"),
    "output name too long": (lambda d, g: render(d, edit("anim.gif", "a" * 300 + ".gif")),
                             f"{C}:10: outputs[0].path: the name aaaaaaaaaaaaaaaaaaaa... is 304 characters long; at most 200 fit"),
    "frames too large for memory": (lambda d, g: render(d, edit("dpi: 30, size: [3, 2]", "dpi: 1200, size: [100, 100]")),
                                    f"{C}:8: style: 100 x 100 inches at 1200 dpi is 14,400 megapixels for outputs[0]"),
    "trace too large for memory": (lambda d, g: render(d, edit("max_iter: 3", "max_iter: 100000000000", "schedule: all", "schedule: {every: 1000000000}")),
                                   f"{C}:5: model.max_iter: recording up to 100000000000 iterations"),
    "frame rate too high": (lambda d, g: render(d, edit("fps: 5", "fps: 1.0e6")), f"{C}:7: frames.fps: must be <= 100 (got 1000000.0)"),
    "MP4 frame rate too low": (lambda d, g: render(d, edit("anim.gif", "anim.mp4", "fps: 5", "fps: 1.0e-6")),
                               f"{C}:7: frames.fps: is 1e-06; an MP4 needs at least 1/1001 frames per second"),
    "last frame held too long": (lambda d, g: render(d, edit("hold_last: 0.0", "hold_last: 1.0e9")),
                                 f"{C}:7: frames.hold_last: must be <= 60 (got 1000000000.0)"),
    "data too large for memory": (lambda d, g: render(d, edit("sizes: [30, 20]", "sizes: [100000000000, 20]")),
                                  f"{C}:2: data.mixture: fitting 100000000020 points of dimension 1 needs about"),
    "title too long": (lambda d, g: render(d, edit("panels: [components]", "panels: [components]\n    title: " + "x" * 300)),
                       f"{C}:12: outputs[0].title: must have at most 200 characters (got 300)"),
    # -- runs and devices
    "duplicate run names": (lambda d, g: render(d, BASE + "runs: [{name: a}, {name: a}]\n"), f"{C}:12: runs[1].name: 'a' is the name of an earlier run too"),
    "output naming an unknown run": (lambda d, g: render(d, edit("panels: [components]", "panels: [components]\n    runs: [hrad]")
                                                         + "runs: [{name: em}, {name: hard, model: {algorithm: hard}}]\n"),
                                     f"{C}:12: outputs[0].runs[0]: no run named 'hrad' (did you mean 'hard'?); the runs are 'em', 'hard'"),
    "overlay of a panel that draws one run": (lambda d, g: render(d, edit("panels: [components]", "panels: [components]\n    overlay: [components]")
                                                                  + "runs: [{name: a}, {name: b}]\n"),
                                              f"{C}:12: outputs[0].overlay[0]: panel 'components' draws one run; it cannot overlay several"),
    "still grid with an overlay": (lambda d, g: render(d, edit("anim.gif", "grid.png", "panels: [components]",
                                                               "panels: [components]\n    iterations: [0, 3]\n"
                                                               "    overlay: [curves]")),
                                   f"{C}:13: outputs[0].overlay: a small-multiples grid (2 iterations) draws no overlay"),
    "bad model change in a run": (lambda d, g: render(d, BASE + "runs: [{name: a, model: {n_components: 0}}]\n"),
                                  f"{C}:12: runs[0].model.n_components: must be >= 1 (got 0)"),
    "device cuda without CUDA": (lambda d, g: render(d, BASE, "--device", "cuda"),
                                 "--device cuda: model.device: 'cuda' asked for, but this machine has no CUDA device"),
    "unknown device": (lambda d, g: render(d, edit("tol: 0.0", "tol: 0.0\n  device: tpu")), f"{C}:7: model.device: must be auto, cpu, cuda or cuda:N (got 'tpu')"),
    # -- --set overrides
    "--set unknown path": (lambda d, g: render(d, BASE, "--set", "model.n_componets=3"),
                           "--set model.n_componets=3: model.n_componets: unknown key (did you mean 'n_components'?)"),
    "--set badly typed value": (lambda d, g: render(d, BASE, "--set", "model.max_iter=abc"),
                                "--set model.max_iter=abc: model.max_iter: must be an integer (got 'abc')"),
    "--set without =": (lambda d, g: render(d, BASE, "--set", "model.max_iter"), "--set model.max_iter: expected KEY.PATH=VALUE"),
    "--set empty path segment": (lambda d, g: render(d, BASE, "--set", "model..max_iter=3"), "--set model..max_iter=3: 'model..max_iter' is not a key path"),
    "--set index beyond the list": (lambda d, g: render(d, BASE, "--set", "outputs[3].path=x.gif"),
                                    "--set outputs[3].path=x.gif: outputs has 1 item(s), there is no outputs[3]"),
    "--set a style key under frames": (lambda d, g: render(d, BASE, "--set", "frames.theme=dark"),
                                       "--set frames.theme=dark: frames.theme: theme is a style key; write --set style.theme=dark"),
    "--set a frames key on an output": (lambda d, g: render(d, BASE, "--set", "outputs[0].fps=3"),
                                        "--set outputs[0].fps=3: outputs[0].fps: fps is a frames key; "
                                        "write --set outputs[0].frames.fps=3"),
    "--set python tag": (lambda d, g: render(d, BASE, "--set", f"model.max_iter=!!python/object/apply:os.system ['touch {d / 'PWNED'}']"),
                         "the tag !!python/object/apply:os.system is not allowed"),
    # -- trace files (render-trace)
    "trace missing": (lambda d, g: render_trace(d, d / "in" / "none.npz"), "none.npz: trace file not found"),
    "trace truncated": (lambda d, g: render_trace(d, trace_file(d, g, raw=g[: len(g) // 2])), "t.npz: not a readable emviz trace"),
    "trace is not a trace": (lambda d, g: render_trace(d, trace_file(d, g, raw=b"hello, not a trace")),
                             "t.npz: not a readable emviz trace (not an .npz archive)"),
    "trace is an .npy": (lambda d, g: render_trace(d, trace_file(d, g, raw=b"\x93NUMPY\x01\x00" + b" " * 40)),
                         "t.npz: not a readable emviz trace (not an .npz archive)"),
    "trace from a future schema version": (lambda d, g: render_trace(d, trace_file(d, g, lambda a: a.update(schema_version=np.array(99)))),
                                           "t.npz: trace schema version 99 is newer than this emviz supports (1); upgrade emviz"),
    "trace with an object array": (lambda d, g: render_trace(d, trace_file(d, g, lambda a: a.update(means=pickled_payload(d)))),
                                   "t.npz: not a readable emviz trace (it holds Python objects, which emviz never unpickles)"),
    "trace with NaN parameters": (lambda d, g: render_trace(d, trace_file(d, g, lambda a: _set(a, "means", (1, 0, 0), np.nan))),
                                  "t.npz: trace: means[1, 0, 0] is nan; values must be finite"),
    "trace covariance not positive definite": (lambda d, g: render_trace(d, trace_file(d, g, lambda a: _set(a, "covariances", (2, 1, 0, 0), -1.0))),
                                               "t.npz: trace: covariances[2][1] is not positive definite"),
    "trace weights not summing to 1": (lambda d, g: render_trace(d, trace_file(d, g, lambda a: _set(a, "weights", (1, 0), 0.9))),
                                       "t.npz: trace: weights[1] are"),
    "render-trace panel for the wrong dimension": (lambda d, g: render_trace(d, trace_file(d, g), panels="ellipses"),
                                                   "--panels ellipses: panel 'ellipses' draws data of dimension 2 to 64; the data has D=1"),
    "render-trace folder over the trace's folder": (
        lambda d, g: ["render-trace", trace_file(d, g), "--panels", "components", "--out", d / "in", "--quiet"],
        "{d}/in holds the trace file, which a folder output would delete"),
    "render-trace title too long": (lambda d, g: render_trace(d, trace_file(d, g), "--title", "x" * 300),
                                    "error: --title: title: at most 200 characters fit above a frame (got 300)"),
    "render-trace iterations beyond the trace": (lambda d, g: render_trace(d, trace_file(d, g), "--iterations", "[0, 99]"),
                                                 "error: --iterations [0, 99]: iterations[1]: iteration 99 is beyond "
                                                 "the trace, which has iterations 0..3"),
    # A flag's problem is named by the flag typed, not the render argument it becomes.
    "render-trace size of zero": (lambda d, g: render_trace(d, trace_file(d, g), "--size", "0", "3"),
                                  "error: --size 0 3: style.size: must be > 0 and <= 100, got 0.0"),
    "render-trace negative dpi": (lambda d, g: render_trace(d, trace_file(d, g), "--dpi", "-5"),
                                  "error: --dpi -5: style.dpi: must be > 0 and <= 1200, got -5.0"),
    "render-trace bad schedule": (lambda d, g: render_trace(d, trace_file(d, g), "--schedule", "{every: 0}"),
                                  "error: --schedule {every: 0}: schedule.every: must be >= 1, got 0"),
    "render-trace unknown suffix": (lambda d, g: ["render-trace", trace_file(d, g), "--panels", "components",
                                                  "--out", d / "out" / "x.jpeg", "--quiet"],
                                    "error: {d}/out/x.jpeg: cannot write '.jpeg' files (did you mean '.png'?)"),
}

#: Also run as ``python -m emviz`` (a real process: no traceback may reach stderr).
SUBPROCESS = ["python tag that runs a command", "unknown key: model", "npy holding pickled objects", "trace truncated",
              "--set badly typed value"]

_CUDA = None


def _has_cuda() -> bool:
    global _CUDA
    if _CUDA is None:
        import torch

        _CUDA = torch.cuda.is_available()
    return _CUDA


def test_catalogue_size():
    assert len(CASES) == 122
    assert set(SUBPROCESS) <= set(CASES)


def snapshot(d: Path) -> dict:
    """Every path under ``d`` with its bytes (None for folders): nothing may appear, change or vanish."""
    return {p.relative_to(d): (None if p.is_dir() else p.read_bytes()) for p in sorted(d.rglob("*"))}


def build(case: str, d: Path, good: bytes) -> tuple[list[str], str]:
    if case == "device cuda without CUDA" and _has_cuda():
        pytest.skip("this machine has CUDA")
    make, needle = CASES[case]
    argv = [str(a) for a in make(d, good)]
    return argv, needle.replace("{d}", str(d))


def check_refused(code, out: str, err: str, needle: str, before: dict, d: Path) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("emviz: error: "), lines[0]
    assert needle in lines[0], lines[0]
    assert out == ""
    assert snapshot(d) == before  # nothing written, changed or removed: --out is absent or as it was
    assert not (d / "PWNED").exists()  # no pickle or YAML payload ran


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, capsys, good_trace):
    argv, needle = build(case, tmp_path, good_trace)
    before = snapshot(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    check_refused(code, out, err, needle, before, tmp_path)


@pytest.mark.parametrize("case", SUBPROCESS)
def test_bad_input_through_python_m_emviz(case, tmp_path, good_trace):
    argv, needle = build(case, tmp_path, good_trace)
    before = snapshot(tmp_path)
    env = {**os.environ, "EMVIZ_DEBUG": "", "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([sys.executable, "-m", "emviz", *argv], capture_output=True, text=True, cwd=tmp_path,
                            env=env, timeout=120)
    check_refused(result.returncode, result.stdout, result.stderr, needle, before, tmp_path)


# ---------------------------------------------------------------------------------------------- safety rules
def test_no_pickle_on_any_load_path():
    """Traces, .npy data and configs are read with allow_pickle=False and a safe YAML loader; nothing
    in the package unpickles, evaluates or imports a value it read."""
    root = Path(__file__).resolve().parent.parent / "emviz"
    offenders = []
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for needle in ("allow_pickle=True", "import pickle", "pickle.load", "yaml.load(", "yaml.unsafe_load",
                       "yaml.full_load", "FullLoader", "UnsafeLoader", "eval(", "exec(", "__import__(",
                       "importlib.import_module(spec", "import_module(value"):
            if needle in text:
                offenders.append(f"{path.relative_to(root)}: {needle}")
    assert offenders == []


def test_data_paths_are_relative_to_the_config_and_outputs_to_out(tmp_path, monkeypatch, capsys):
    """Run from an unrelated working directory: the data is found beside the config, and the outputs
    land under --out, nowhere else."""
    touch(tmp_path / "project" / "in" / "pts.csv", "x\n" + "\n".join(map(str, np.linspace(-3, 3, 40))) + "\n")
    cfg = config(tmp_path / "project", edit(MIXTURE, "  file: pts.csv", "anim.gif", "sub/s.png"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code = main(["render", str(cfg), "--out", "rendered", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert sorted(str(p.relative_to(elsewhere)) for p in elsewhere.rglob("*")) == ["rendered", "rendered/sub",
                                                                                  "rendered/sub/s.png"]


def test_warnings_are_one_line_each_and_never_beside_an_error(tmp_path, capsys):
    text = edit("hold_last: 0.0}", "hold_last: 0.0, max_bytes: 10}")  # any GIF is "too large"
    code = main([str(a) for a in render(tmp_path, text)])
    err = capsys.readouterr().err
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("emviz: warning: ") and "anim.gif' is 0.0 MB" in lines[0], err
    code = main([str(a) for a in render(tmp_path, edit("max_bytes: 10}", "max_bytes: 10}\nbogus: 1", text=text))])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "bogus: unknown key" in err


# ---------------------------------------------------------------------------------------------- found elsewhere
# Valid inputs that used to crash or blame the user in the render and EM code: the catalogue found
# them; they are fixed and stay as regression tests.
def test_contour_levels_of_a_nearly_flat_landscape_increase():
    from emviz.render.panels.loglik_contour import contour_levels

    # A component no point belongs to barely moves the log-likelihood: the grid is flat to a few ulps.
    Z = -1000.0 - 1e-12 * np.linspace(0.0, 1.0, 25).reshape(5, 5)
    levels = contour_levels(Z, n_levels=6)
    assert np.all(np.diff(levels) > 0), levels


def test_loglik_contour_with_an_empty_component_renders(tmp_path, capsys):
    text = edit(MIXTURE, "  mixture: {means: [[2.0]], stds: [1.0], n_samples: 4}",
                "n_components: 2", "n_components: 4\n  init: {means: [[0.0], [-2.0], [0.0], [0.0]], stds: [1.0, 0.5, 1.0, 1.0]}",
                "max_iter: 3", "max_iter: 1\n  reg_covar: 0.001", "[components]", "[{loglik_contour: {grid: 10, levels: 6}}]",
                "size: [3, 2]", "size: [12, 3]")
    code = main([str(a) for a in render(tmp_path, text)])
    assert code == 0, capsys.readouterr().err


def test_components_on_data_with_a_tiny_range_renders(tmp_path, capsys):
    text = data_file(tmp_path, "d.csv", "1\n1.0000000000000002\n1\n1.0000000000000002\n")
    code = main([str(a) for a in render(tmp_path, text)])
    assert code == 0, capsys.readouterr().err


def test_kmeans_start_on_a_single_point_is_quiet():
    import warnings

    from emviz.em import GaussianMixture

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GaussianMixture(n_components=1, init="kmeans", max_iter=1, tol=0.0).fit(np.zeros((1, 1)))
