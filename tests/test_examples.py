"""The example configs in examples/configs/ stay true: each says what it shows in its first line and passes
every check ``render --dry-run`` makes (config, data, panels against the data, output locations), with
no fitting and no rendering."""

from pathlib import Path

import pytest

from emviz.pipeline import prepare

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "configs"
CONFIGS = sorted(EXAMPLES.glob("*.yaml"))


def test_there_are_examples():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_example_passes_the_dry_run_checks(config, tmp_path):
    first = config.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ") and len(first) > 20, "the first line says what the example shows"
    plan = prepare(config, out=tmp_path / "out")
    assert plan.targets and all(t.parent == tmp_path / "out" for t in plan.targets)
    assert plan.describe().startswith(f"emviz plan for {config}")
    assert not (tmp_path / "out").exists()
