"""The README's Python API example runs as written, also when EM stops after a few iterations."""

import re
from pathlib import Path

import numpy as np
import pytest

from emviz.data import load_bundled

README = Path(__file__).resolve().parents[1] / "README.md"


def api_example() -> str:
    text = README.read_text()
    section = text[text.index("## The Python API"):]
    return re.search(r"```python\n(.*?)```", section, flags=re.S)[1]


@pytest.mark.parametrize("max_iter", [200, 3])
def test_the_api_example_runs(tmp_path, monkeypatch, max_iter):
    code = api_example()
    # The last line renders the 1000-iteration docs config: the CLI tests cover that path.
    lines = [line for line in code.splitlines() if not line.startswith("emviz.run(")]
    code = "\n".join(lines).replace("max_iter=200", f"max_iter={max_iter}")
    faithful = load_bundled("old_faithful")
    np.savetxt(tmp_path / "data.csv", faithful.X, delimiter=",", header="eruptions,waiting", comments="")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    trace = namespace["trace"]
    assert trace.n_iter <= max_iter
    assert (tmp_path / "fit.gif").read_bytes()[:6] == b"GIF89a"
    assert (tmp_path / "slides.pdf").read_bytes()[:5] == b"%PDF-"


def test_the_big_data_config_is_valid_and_plans_a_mapped_fit(tmp_path):
    """The "Big data and many GPUs" config, on a small stand-in big.npy, passes the checks and plans a
    memory-mapped fit (the float32 data streamed, never read whole)."""
    from emviz.pipeline import prepare
    from emviz.rows import NpyRows

    text = README.read_text()
    section = text[text.index("## Big data and many GPUs"):]
    block = re.search(r"```yaml\n(.*?)```", section, flags=re.S)[1]
    assert block.startswith("# big.yaml")
    (tmp_path / "big.yaml").write_text(block.replace("data: {file: big.npy}", "data: {file: big.npy, mmap: true}"))
    np.save(tmp_path / "big.npy", np.random.default_rng(0).normal(size=(500, 2)).astype(np.float32))
    plan = prepare(tmp_path / "big.yaml", out=tmp_path / "out", device="cpu")
    assert isinstance(plan.dataset.X, NpyRows) and plan.fitter.dtype.itemsize == 4
    assert "torchrun --standalone --nproc-per-node" in section and "--rdzv-endpoint" in section
