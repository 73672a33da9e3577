"""Property test: small random configs either render or are refused with one line; none crashes.

Hypothesis draws configs over the dimension (1 to 3), the number of components (1 to 4), the
covariance type, a named or explicit initialisation, every schedule form (with ``max_frames``
sometimes), the panels that fit the dimension and tiny sizes and resolutions, and renders each
in-process. A config either renders, and its GIF decodes with exactly the frames its schedule asks
for (``parse_schedule(spec).iterations(T)``, with tol 0 so that T is max_iter), or exits 2 with
one ``emviz: error: ...`` line (K larger than N, a schedule beyond max_iter, a frame too small for
its panels, ...). Exit 1 (a failure of emviz) or anything else fails the test.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from emviz.cli import main
from emviz.render.schedule import parse_schedule
from emviz.trace import Trace

#: Panels that draw data of each dimension; loglik_contour gets a coarse grid to stay fast.
PANELS = {
    1: ["components", "responsibilities", {"loglik_contour": {"grid": 10, "levels": 6}}],
    2: ["ellipses", "responsibilities", {"loglik_contour": {"grid": 10, "levels": 6}}],
    3: ["cloud3d", "responsibilities"],
}
COVARIANCE_TYPES = ["full", "diag", "spherical", "tied"]
#: Crashes in code this test's owners do not own, each pinned by a strict xfail test that says where
#: (tests/test_bad_inputs.py, "found elsewhere"); a drawn config that hits one counts as such, not as
#: a new failure. Delete the entry with its xfail test when the bug is fixed.
KNOWN_CRASHES: dict[str, str] = {}
INIT_NAMES = ["kmeans", "kmeans++", "random", "random_from_data"]

coordinate = st.floats(-5, 5, allow_nan=False).map(lambda x: round(x, 2))
spread = st.floats(0.2, 3, allow_nan=False).map(lambda x: round(x, 2))


@st.composite
def mixtures(draw, d: int):
    """A ``data.mixture`` spec of dimension ``d``: 1 to 3 components, a few points each."""
    k = draw(st.integers(1, 3))
    spec = {"means": [[draw(coordinate) for _ in range(d)] for _ in range(k)],
            "stds": [draw(spread) for _ in range(k)]}
    if draw(st.booleans()):
        spec["sizes"] = draw(st.lists(st.integers(0, 25), min_size=k, max_size=k).filter(lambda s: sum(s) > 0))
    else:
        spec["n_samples"] = draw(st.integers(1, 60))
    return spec


@st.composite
def inits(draw, k: int, d: int, covariance_type: str):
    """A named initialisation, or explicit means and stds (and sometimes weights) for K components.

    The stds mostly fit the covariance type (one matrix for tied, one number per component for
    spherical); now and then they do not, which must be refused with one line.
    """
    if draw(st.booleans()):
        return draw(st.sampled_from(INIT_NAMES))
    init = {"means": [[draw(coordinate) for _ in range(d)] for _ in range(k)]}
    fitting = draw(st.integers(0, 9)) > 0
    if fitting and covariance_type == "tied":
        init["stds"] = [[draw(spread) for _ in range(d)]] * k
    elif (fitting and covariance_type == "spherical") or draw(st.booleans()):
        init["stds"] = [draw(spread) for _ in range(k)]
    else:
        init["stds"] = [[draw(spread) for _ in range(d)] for _ in range(k)]
    if draw(st.booleans()):
        raw = draw(st.lists(st.integers(1, 9), min_size=k, max_size=k))
        init["weights"] = [w / sum(raw) for w in raw]
    return init


@st.composite
def schedules(draw, max_iter: int):
    """Every schedule form; explicit iterations may reach max_iter + 1 (refused, exit 2)."""
    iterations = st.lists(st.integers(0, max_iter + 1), min_size=1, max_size=5, unique=True).map(sorted)
    form = draw(st.sampled_from(["default", "all", "list", "dense", "every", "log", "iterations"]))
    if form == "default":
        return None
    if form == "all":
        return "all"
    if form == "list":
        return draw(iterations)
    spec = {"dense": {"dense": draw(st.integers(0, 5)), "every": draw(st.integers(1, 4))},
            "every": {"every": draw(st.integers(1, 4))},
            "log": {"log": draw(st.integers(2, 6))},
            "iterations": {"iterations": draw(iterations)}}[form]
    if draw(st.booleans()):
        spec["max_frames"] = draw(st.integers(2, 6))
    return spec


@st.composite
def configs(draw):
    d = draw(st.integers(1, 3))
    k = draw(st.integers(1, 4))
    max_iter = draw(st.integers(1, 8))
    covariance_type = draw(st.sampled_from(COVARIANCE_TYPES))
    model = {"n_components": k, "covariance_type": covariance_type,
             "init": draw(inits(k, d, covariance_type)), "max_iter": max_iter, "tol": 0.0, "seed": draw(st.integers(0, 3)),
             "reg_covar": 1e-3}
    panels = draw(st.lists(st.sampled_from(range(len(PANELS[d]))), min_size=1, max_size=2, unique=True))
    style = {"dpi": draw(st.sampled_from([25, 30, 35])), "font_size": 6}
    if draw(st.booleans()):
        style["size"] = [draw(st.sampled_from([2.5, 3.0, 4.0])), draw(st.sampled_from([2.0, 2.5]))]
    return {
        "data": {"mixture": draw(mixtures(d)), "seed": draw(st.integers(0, 3))},
        "model": model,
        "record": {"resp_points": 20, "save": "trace.npz"},
        "frames": {"schedule": draw(schedules(max_iter)), "fps": 10, "hold_last": 0.0},
        "style": style,
        "outputs": [{"path": "anim.gif", "panels": [PANELS[d][i] for i in panels]}],
    }


@settings(max_examples=60, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(config=configs())
def test_a_random_config_renders_or_is_refused_with_one_line(config):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["render", str(path), "--out", str(folder / "out"), "--quiet"])
        err = err.getvalue()
        known = [why for message, why in KNOWN_CRASHES.items() if code == 1 and message in err]
        if known:
            event(f"known bug: {known[0]}")
            return
        event(f"exit {code}" + (f": {err.split(': ')[-2][:40]}" if code == 2 else ""))
        assert code in (0, 2), f"exit {code}: {err}"
        if code == 2:
            assert len(err.splitlines()) == 1 and err.startswith("emviz: error: "), err
            written = sorted(p.name for p in (folder / "out").iterdir()) if (folder / "out").exists() else []
            # Checks run before the fit; the few only rendering can make (a frame too small for its
            # panels) keep the finished fit's trace, and say so.
            assert written == [] or (written == ["trace.npz"] and "use render-trace" in err), (written, err)
            return
        trace = Trace.load(folder / "out" / "trace.npz")
        assert trace.n_iter == config["model"]["max_iter"]  # tol 0: every iteration runs
        expected = parse_schedule(config["frames"]["schedule"]).iterations(trace.n_iter)
        with Image.open(folder / "out" / "anim.gif") as gif:
            assert gif.n_frames == len(expected)
