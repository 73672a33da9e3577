"""Error types that separate a user's mistake from a failure of emviz itself.

The command line maps :class:`InputError` to exit code 2 with one line on stderr; anything else is a
failure while running (exit code 1).
"""

from __future__ import annotations

import difflib

__all__ = ["InputError", "did_you_mean"]


class InputError(ValueError):
    """Bad input from the user: a config, a data file, a trace file or an argument.

    The message names what is wrong and where (a dotted config path, a file name, an argument).
    """


def did_you_mean(name: str, choices) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
