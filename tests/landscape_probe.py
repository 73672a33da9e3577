"""A frame-worker initialiser that records, per worker process, how many landscape evaluations it runs
and whether it imports torch (for tests/test_landscape_render.py).

Workers are spawned: they import this module by name (tests/ is on the path they inherit) and run
:func:`counting_worker_init` instead of the frame module's own initialiser, which it then calls.
"""

import os
import sys

import emviz.surface
from emviz.render import frames

#: Environment variable naming the folder the workers write their records to.
FOLDER = "EMVIZ_TEST_PROBE_DIR"


def _record(line: str) -> None:
    with open(os.path.join(os.environ[FOLDER], f"{os.getpid()}.txt"), "a", encoding="utf-8") as f:
        f.write(line + "\n")


def counting_worker_init(spec) -> None:
    """Count every call of the surface module's evaluation (each grid or height evaluation makes one),
    and note after each chunk whether torch is imported; then initialise the worker as usual."""
    evaluate = emviz.surface._evaluation_path

    def counted(*args, **kwargs):
        _record("evaluation")
        return evaluate(*args, **kwargs)

    render = frames._worker_render

    def render_and_note(iterations):
        out = render(iterations)
        _record(f"chunk torch={'torch' in sys.modules}")
        return out

    emviz.surface._evaluation_path = counted
    # The parent pickles the task function by name; the worker looks the name up when it unpickles a task.
    frames._worker_render = render_and_note
    _record("started")
    frames._worker_init(spec)


def records(folder) -> dict[str, list[str]]:
    """pid -> the lines that worker wrote."""
    return {name: open(os.path.join(folder, name), encoding="utf-8").read().split("\n")[:-1]
            for name in sorted(os.listdir(folder))}
