r"""Beamer slides: the ``.tex`` snippet, its folder of frames, pdflatex compiling a slide that inputs it,
and what is left on disk after success, a re-run and a failure.

The pdflatex tests are skipped only off CI when pdflatex, beamer or the animate package is missing; with
``CI`` set a missing one fails (``.ci/run`` installs Debian's ``texlive-latex-extra``).
"""

import os
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

import emviz
from emviz.cli import main
from emviz.errors import InputError
from emviz.writers import BeamerWriter
from emviz.writers.beamer import frame_rate, timeline

STYLE = {"size": [3.2, 2.0], "dpi": 60}
README = Path(__file__).resolve().parents[1] / "README.md"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def pdflatex():
    exe, kpsewhich = shutil.which("pdflatex"), shutil.which("kpsewhich")
    problem = None if exe and kpsewhich else "no pdflatex (apt-get install texlive-latex-extra)"
    for name in ("beamer.cls", "animate.sty"):
        if problem is None and not subprocess.run([kpsewhich, name], capture_output=True, text=True).stdout.strip():
            problem = f"LaTeX has no {name} (apt-get install texlive-latex-extra)"
    if problem is not None:
        if _in_ci():
            pytest.fail(f"CI is set but the beamer tests cannot compile: {problem}")
        pytest.skip(problem)
    return exe


@pytest.fixture(scope="module")
def trace():
    """Three EM iterations on 100 1D points: with schedule "all", 4 frames."""
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(-2, 1, (60, 1)), rng.normal(2, 0.5, (40, 1))]
    gm = emviz.GaussianMixture(n_components=2, max_iter=3, tol=0.0, seed=0)
    return emviz.Recorder(gm, progress=False).run(X)


def render(trace, path, **options):
    settings = {"panels": ["components"], "fps": 4, "hold_last": 1.0, "schedule": "all", "style": STYLE,
                "progress": False, **options}
    return emviz.render(trace, path=path, **settings)


def listing(directory):
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def readme_slide() -> str:
    """The beamer document of the README's section on slides."""
    text = README.read_text()
    section = text[text.index("## Slides in LaTeX (beamer)"):]
    return re.search(r"```latex\n(.*?)```", section, flags=re.S)[1]


def compile_slide(pdflatex, directory, inputs, *, name="main"):
    """Compile the README's beamer document, inputting ``inputs`` and uncompressed (the frames' objects
    are then plain text); return (PDF bytes, log)."""
    document = readme_slide()
    assert r"\input{slides/em}" in document
    document = document.replace(r"\input{slides/em}", rf"\input{{{inputs}}}")
    (directory / f"{name}.tex").write_text("\\pdfcompresslevel=0 \\pdfobjcompresslevel=0\n" + document)
    result = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=directory,
                            capture_output=True, text=True, timeout=120)
    log = (directory / f"{name}.log").read_text(errors="replace")
    assert result.returncode == 0, log[-2000:]
    return (directory / f"{name}.pdf").read_bytes(), log


def embedded_pdfs(pdf: bytes) -> list[str]:
    """The files pdfTeX embedded as PDF pages (Form XObjects name their file)."""
    return sorted(set(re.findall(rb"/PTEX\.FileName \((.*?)\)", pdf)))


# -- the snippet and its frames --------------------------------------------------------------------


def test_snippet_frames_and_timeline(trace, tmp_path):
    path = render(trace, tmp_path / "slides" / "em.tex")
    assert path == tmp_path / "slides" / "em.tex"
    assert listing(tmp_path) == ["slides", "slides/em-frames", "slides/em-frames/frame-000.pdf",
                                 "slides/em-frames/frame-001.pdf", "slides/em-frames/frame-002.pdf",
                                 "slides/em-frames/frame-003.pdf", "slides/em-frames/timeline.txt", "slides/em.tex"]
    frames = [(tmp_path / f"slides/em-frames/frame-{i:03d}.pdf").read_bytes() for i in range(4)]
    for data in frames:
        # One vector page: paths and text, no image inside, no timestamps.
        assert data.startswith(b"%PDF-") and len(re.findall(rb"/Type /Page\b(?!s)", data)) == 1
        content = b"".join(zlib.decompress(m) for m in re.findall(rb"stream\n(.*?)\nendstream", data, flags=re.S))
        assert b" m\n" in content and b" l\n" in content and b" TJ" in content
        assert b"/Subtype /Image" not in data and b"CreationDate" not in data
    assert len(set(frames)) == 4  # each frame shows its own iteration
    # 4 fps: 250 ms a frame, the last held 1 s more (1250 ms: 0.8 frames per second).
    assert (tmp_path / "slides/em-frames/timeline.txt").read_text() == "::0\n::1\n::2\n:0.8:3\n"
    text = path.read_text()
    assert (r"\animategraphics[controls, loop, width=\linewidth, height=0.75\textheight, keepaspectratio, "
            r"timeline=\emvizdir em-frames/timeline.txt]") in text
    assert r"{4}{\emvizdir em-frames/frame-}{000}{003}}%" in text
    assert text.startswith("% Written by emviz: 4 frames (vector PDF) in em-frames/")


def test_equal_durations_need_no_timeline(trace, tmp_path):
    path = render(trace, tmp_path / "em.tex", fps=5, hold_last=0.0)
    assert listing(tmp_path) == ["em-frames", "em-frames/frame-000.pdf", "em-frames/frame-001.pdf",
                                 "em-frames/frame-002.pdf", "em-frames/frame-003.pdf", "em.tex"]
    text = path.read_text()
    assert "timeline" not in text and r"{5}{\emvizdir em-frames/frame-}{000}{003}}%" in text
    assert "each shown 0.2 s" in text


def test_rates_as_latex_reads_them():
    assert [frame_rate(d) for d in (100, 1250, 3000, 4e9)] == ["10", "0.8", "0.333333", "0.000001"]
    assert timeline(["10", "10", "0.5", "0.5", "10"]) == "::0\n::1\n:0.5:2\n::3\n:10:4\n"
    with pytest.raises(InputError, match="animate package"):
        frame_rate(0.01)


def test_frames_are_byte_identical_between_runs(trace, tmp_path):
    a = render(trace, tmp_path / "a" / "em.tex")
    b = render(trace, tmp_path / "b" / "em.tex")
    files = listing(a.parent)
    assert files == listing(b.parent) and len(files) == 7
    for name in files:
        if (a.parent / name).is_file():
            assert (a.parent / name).read_bytes() == (b.parent / name).read_bytes(), name


def test_many_markers_give_png_frames(trace, tmp_path, monkeypatch):
    import emviz.render.beamer as beamer

    monkeypatch.setattr(beamer, "MAX_VECTOR_MARKERS", 10)  # the responsibilities panel draws 100 points
    path = render(trace, tmp_path / "em.tex", panels=["responsibilities"], hold_last=0.0)
    assert listing(tmp_path) == ["em-frames", "em-frames/frame-000.png", "em-frames/frame-001.png",
                                 "em-frames/frame-002.png", "em-frames/frame-003.png", "em.tex"]
    from PIL import Image

    with Image.open(tmp_path / "em-frames/frame-003.png") as im:
        assert im.size == (round(3.2 * 60), round(2.0 * 60)) and im.mode == "RGB"
    assert "4 frames (PNG)" in path.read_text()


def test_3d_panels_are_raster(tmp_path):
    from emviz.render.beamer import raster_reason
    from emviz.render.scene import Scene

    rng = np.random.default_rng(1)
    X = np.r_[rng.normal(0, 1, (30, 3)), rng.normal(3, 1, (30, 3))]
    small = emviz.Recorder(emviz.GaussianMixture(n_components=2, max_iter=1, tol=0.0, seed=0), progress=False).run(X)
    assert raster_reason(Scene([{"cloud3d": {"mesh": [6, 4]}}], small, STYLE)) == "a 3D panel"
    assert raster_reason(Scene(["ellipses"], small, STYLE)) is None  # 60 points: vector


# -- pdflatex --------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["slides/em", "em"])
def test_a_beamer_slide_that_inputs_the_snippet_has_the_frames(trace, tmp_path, pdflatex, where):
    """The README's document, with the snippet in a subfolder of the document's folder and beside it."""
    render(trace, tmp_path / f"{where}.tex")
    pdf, log = compile_slide(pdflatex, tmp_path, where)
    folder = f"./{where}-frames"
    assert embedded_pdfs(pdf) == [f"{folder}/frame-{i:03d}.pdf".encode() for i in range(4)]
    assert "4 frames built" in log  # animate, from the timeline
    # animate's JavaScript holds the frame rate of every frame: the timeline's, the last frame held.
    assert b"a0_nFpsAt=new Array(4,4,4,0.8)" in pdf and b"a0_fps=4" in pdf


def test_a_slide_in_another_folder_finds_png_frames(trace, tmp_path, pdflatex, monkeypatch):
    import emviz.render.beamer as beamer

    monkeypatch.setattr(beamer, "MAX_VECTOR_MARKERS", 10)
    render(trace, tmp_path / "figures" / "em.tex", panels=["responsibilities"], fps=2, hold_last=0.0)
    (tmp_path / "talk").mkdir()
    pdf, log = compile_slide(pdflatex, tmp_path / "talk", "../figures/em")
    # Each PNG frame is one image XObject of the frame's pixels; no timeline, one rate.
    assert len(re.findall(rb"/Subtype /Image\s*/Width 192\s*/Height 120", pdf)) == 4
    assert "../figures/em-frames/frame-003.png" in log and "timeline" not in log
    assert b"a0_fps=2" in pdf and b"a0_nFpsAt" not in pdf


# -- what is left on disk --------------------------------------------------------------------------


def test_a_rerun_replaces_every_frame(trace, tmp_path):
    render(trace, tmp_path / "em.tex")
    path = render(trace, tmp_path / "em.tex", schedule=None, iterations=[0], hold_last=0.0)  # 0 and T: 2 frames
    assert listing(tmp_path) == ["em-frames", "em-frames/frame-000.pdf", "em-frames/frame-001.pdf", "em.tex"]
    assert r"{000}{001}}%" in path.read_text()


def test_a_failure_leaves_the_older_slide_whole(trace, tmp_path):
    render(trace, tmp_path / "em.tex")
    before = {name: (tmp_path / name).read_bytes() for name in listing(tmp_path) if (tmp_path / name).is_file()}
    frame = np.zeros((20, 30, 3), np.uint8)
    with pytest.raises(RuntimeError, match="drawing failed"):
        with BeamerWriter(tmp_path / "em.tex", fps=3) as writer:
            writer.grab_frame(frame)
            writer.grab_frame(frame)
            raise RuntimeError("drawing failed")
    after = {name: (tmp_path / name).read_bytes() for name in listing(tmp_path) if (tmp_path / name).is_file()}
    assert after == before and listing(tmp_path) == sorted([*before, "em-frames"])


def test_a_failed_rename_of_the_snippet_puts_the_older_frames_back(trace, tmp_path, monkeypatch):
    render(trace, tmp_path / "em.tex")
    before = {name: (tmp_path / name).read_bytes() for name in listing(tmp_path) if (tmp_path / name).is_file()}
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith("em.tex"):
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        render(trace, tmp_path / "em.tex", iterations=[0], schedule=None)
    monkeypatch.setattr(os, "replace", real)
    after = {name: (tmp_path / name).read_bytes() for name in listing(tmp_path) if (tmp_path / name).is_file()}
    assert after == before and listing(tmp_path) == sorted([*before, "em-frames"])


def test_a_new_slide_that_fails_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        with BeamerWriter(tmp_path / "out" / "em.tex"):
            pass
    assert listing(tmp_path) == ["out"]


def test_a_frames_folder_with_other_files_is_refused(trace, tmp_path):
    (tmp_path / "em-frames").mkdir()
    (tmp_path / "em-frames" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"holds other files \(notes\.txt\)"):
        render(trace, tmp_path / "em.tex")
    assert listing(tmp_path) == ["em-frames", "em-frames/notes.txt"]


def test_writer_rules(tmp_path):
    from matplotlib.figure import Figure

    with pytest.raises(ValueError, match="same way"):
        with BeamerWriter(tmp_path / "em.tex") as writer:
            writer.grab_figure(Figure(figsize=(2, 1)))
            writer.grab_frame(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="same size"):
        with BeamerWriter(tmp_path / "em.tex") as writer:
            writer.grab_figure(Figure(figsize=(2, 1)))
            writer.grab_figure(Figure(figsize=(2, 1.5)))
    with pytest.raises(InputError, match=r"letters, digits.*'em v2\.tex'"):
        BeamerWriter(tmp_path / "em v2.tex")
    with pytest.raises(InputError, match="a .tex file"):
        BeamerWriter(tmp_path / "em.gif")
    assert listing(tmp_path) == []


# -- the command line ------------------------------------------------------------------------------

CONFIG = """\
data:
  mixture: {means: [[-2.0], [2.0]], stds: [1.0, 0.5], sizes: [60, 40]}
model: {n_components: 2, max_iter: 3, tol: 0.0}
frames: {schedule: all, fps: 4, hold_last: 1.0}
style: {size: [3.2, 2.0], dpi: 60}
outputs:
  - path: slides/em
    format: beamer
    panels: [components]
"""


def test_the_cli_renders_a_slide(tmp_path, pdflatex, capsys, monkeypatch):
    # `python -m emviz render cfg.yaml --out out`, in this process (a fresh interpreter costs seconds).
    (tmp_path / "cfg.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    assert main(["render", "cfg.yaml", "--out", "out", "--quiet"]) == 0, capsys.readouterr().err
    out = tmp_path / "out"
    assert listing(out) == ["slides", "slides/em-frames"] + [f"slides/em-frames/frame-{i:03d}.pdf" for i in range(4)] \
        + ["slides/em-frames/timeline.txt", "slides/em.tex"]
    pdf, _ = compile_slide(pdflatex, out, "slides/em")
    assert len(embedded_pdfs(pdf)) == 4


@pytest.mark.parametrize("change, message", [
    (("path: slides/em\n", "path: slides/em.gif\n"),
     "cfg.yaml:8: outputs[0].format: beamer writes .tex files, but path 'slides/em.gif' ends in .gif"),
    (("path: slides/em\n    format: beamer\n", "path: slides/em v2.tex\n"),
     "cfg.yaml:7: outputs[0].path: a .tex output's name goes into LaTeX file names"),
    (("    panels: [components]\n", "    panels: [components]\n  - path: slides/em-frames/x.gif\n    panels: [components]\n"),
     "cfg.yaml:10: outputs[1].path: "),
])
def test_cli_errors_are_one_line(tmp_path, capsys, change, message):
    (tmp_path / "cfg.yaml").write_text(CONFIG.replace(*change))
    code = main(["render", str(tmp_path / "cfg.yaml"), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert message in err.replace(str(tmp_path) + os.sep, "")
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_frames_folder_of_other_files(tmp_path, capsys):
    (tmp_path / "cfg.yaml").write_text(CONFIG)
    (tmp_path / "out/slides/em-frames").mkdir(parents=True)
    (tmp_path / "out/slides/em-frames/talk.tex").write_text("mine")
    code = main(["render", str(tmp_path / "cfg.yaml"), "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "outputs[0].path:" in err and "(the folder of" in err and "talk.tex" in err
    assert listing(tmp_path / "out") == ["slides", "slides/em-frames", "slides/em-frames/talk.tex"]
