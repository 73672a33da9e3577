"""Two throw-away panels and a config writer, shared by the config and CLI tests, so that those tests
do not depend on the built-in panels' options."""

import dataclasses
import textwrap
from typing import ClassVar

from emviz.render.panel import PANELS, Panel, register_panel

NAMES = ("_t1d", "_t2d")


@dataclasses.dataclass
class Fake1D(Panel):
    dims: ClassVar = (1,)
    bins: int = 10


@dataclasses.dataclass
class Fake2D(Panel):
    dims: ClassVar = (2,)


def register() -> None:
    for name, cls in zip(NAMES, (Fake1D, Fake2D)):
        if name not in PANELS:
            register_panel(name)(cls)


def unregister() -> None:
    for name in NAMES:
        PANELS._items.pop(name, None)


def write(directory, text, name="config.yaml"):
    """Write a dedented config ``text`` to ``directory / name``; return the path."""
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path
