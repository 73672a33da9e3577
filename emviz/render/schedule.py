"""Schedules: which EM iterations become frames.

A schedule is written in a config as

- ``"all"``: every iteration 0..T;
- a list of iterations, e.g. ``[0, 1, 2, 5, 10]``;
- a mapping: ``{dense: n, every: k}`` (every iteration up to n, then every k-th: the docs notebook's
  0..100, 110, 120, ...), ``{every: k}``, ``{log: n}`` (n log-spaced iterations), ``{iterations: [...]}``,
  each optionally with ``max_frames: m``.

Whatever the form, the first (0) and the last (T) iteration are always shown, and the result is sorted
and unique. :func:`parse_schedule` checks the form once; :meth:`Schedule.iterations` resolves it for a
trace with T iterations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emviz.errors import InputError, did_you_mean

__all__ = ["Schedule", "parse_schedule", "schedule_iterations", "check_iterations", "DEFAULT_SCHEDULE"]

_KINDS = ("all", "dense", "every", "log", "iterations")
_KEYS = ("dense", "every", "log", "iterations", "max_frames")


@dataclass(frozen=True)
class Schedule:
    """A validated schedule; :meth:`iterations` turns it into frame iterations for a given T.

    Parameters
    ----------
    kind : {"all", "dense", "every", "log", "iterations"}
    dense : int, optional
        For ``"dense"``: show every iteration up to this one.
    every : int, optional
        For ``"dense"`` and ``"every"``: after that, show every k-th iteration (multiples of k).
    log : int, optional
        For ``"log"``: how many iterations to show, log-spaced.
    explicit : tuple of int, optional
        For ``"iterations"``.
    max_frames : int, optional
        Thin the result evenly to at most this many frames (first and last kept).
    """

    kind: str = "all"
    dense: int | None = None
    every: int | None = None
    log: int | None = None
    explicit: tuple[int, ...] | None = None
    max_frames: int | None = None

    def iterations(self, n_iter: int) -> list[int]:
        """The iterations to draw for a trace whose last iteration is ``n_iter`` (= T).

        Returns
        -------
        list of int
            Sorted, unique, starting with 0 and ending with T.
        """
        n_iter = _int(n_iter, "n_iter", minimum=0)
        if self.kind == "all":
            picked = list(range(n_iter + 1))
        elif self.kind == "dense":
            tail_start = (self.dense // self.every + 1) * self.every
            picked = list(range(min(self.dense, n_iter) + 1)) + list(range(tail_start, n_iter + 1, self.every))
        elif self.kind == "every":
            picked = list(range(0, n_iter + 1, self.every))
        elif self.kind == "log":
            picked = _log_spaced(self.log, n_iter)
        else:
            picked = check_iterations(self.explicit, n_iter, field="schedule")
        picked = sorted({0, n_iter, *picked})
        if self.max_frames is not None and len(picked) > self.max_frames:
            keep = np.round(np.linspace(0, len(picked) - 1, self.max_frames)).astype(int)
            picked = [picked[i] for i in keep]
        return picked

    def to_config(self):
        """The config form this schedule was parsed from (round-trips through :func:`parse_schedule`)."""
        if self.kind == "all" and self.max_frames is None:
            return "all"
        if self.kind == "iterations" and self.max_frames is None:
            return list(self.explicit)
        out = {"dense": self.dense, "every": self.every, "log": self.log, "max_frames": self.max_frames,
               "iterations": list(self.explicit) if self.explicit is not None else None}
        if self.kind == "all":
            out["every"] = 1
        return {k: v for k, v in out.items() if v is not None}


#: The docs notebook's choice: every iteration up to 100, then every 10th.
DEFAULT_SCHEDULE = Schedule(kind="dense", dense=100, every=10)


def _int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise InputError(f"{name}: must be an integer, got {value!r}")
    if value < minimum:
        raise InputError(f"{name}: must be >= {minimum}, got {value}")
    return int(value)


def check_iterations(values, n_iter: int, field: str = "iterations") -> list[int]:
    """Validate explicit iterations against a trace with iterations 0..``n_iter``.

    Raises
    ------
    InputError
        For a non-integer, a negative iteration, or one beyond T (the message names both).
    """
    out = []
    for i, value in enumerate(values):
        t = _int(value, f"{field}[{i}]", minimum=0)
        if t > n_iter:
            raise InputError(
                f"{field}[{i}]: iteration {t} is beyond the trace, which has iterations 0..{n_iter} (T={n_iter})"
            )
        out.append(t)
    return out


def _log_spaced(count: int, n_iter: int) -> list[int]:
    """``count`` unique integers in 0..n_iter, 0 and n_iter included, log-spaced from 1 to n_iter.

    Where rounding would repeat an integer the step is 1 instead, and the ratio for the rest is
    recomputed, so the result has exactly ``min(count, n_iter + 1)`` entries.
    """
    if count >= n_iter + 1:
        return list(range(n_iter + 1))
    out = [0.0, 1.0]
    while len(out) < count:
        remaining = count - len(out)
        ratio = (n_iter / out[-1]) ** (1.0 / remaining)
        nxt = out[-1] * ratio
        out.append(nxt if nxt - out[-1] >= 1.0 else out[-1] + 1.0)
    picked = [int(round(v)) for v in out[:count]]
    picked[-1] = n_iter
    return picked


def parse_schedule(spec=None) -> Schedule:
    """Check a schedule written in a config and return a :class:`Schedule`.

    Parameters
    ----------
    spec : None, "all", list of int, mapping or Schedule
        ``None`` gives :data:`DEFAULT_SCHEDULE`.

    Raises
    ------
    InputError
        Naming the offending key (``schedule.every: must be >= 1, got 0``).
    """
    if spec is None:
        return DEFAULT_SCHEDULE
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str):
        if spec != "all":
            raise InputError(f"schedule: unknown schedule {spec!r}; use \"all\", a list of iterations or a mapping")
        return Schedule(kind="all")
    if isinstance(spec, (list, tuple, np.ndarray)):
        return Schedule(kind="iterations", explicit=_explicit(spec))
    if not isinstance(spec, dict):
        raise InputError(f"schedule: must be \"all\", a list of iterations or a mapping, got {type(spec).__name__}")
    return _parse_mapping(spec)


def _explicit(values) -> tuple[int, ...]:
    values = list(values)
    if not values:
        raise InputError("schedule: the list of iterations is empty")
    return tuple(_int(v, f"schedule[{i}]", minimum=0) for i, v in enumerate(values))


def _parse_mapping(spec: dict) -> Schedule:
    for key in spec:
        if key not in _KEYS:
            raise InputError(
                f"schedule: unknown key {key!r}{did_you_mean(key, _KEYS)}; keys are {', '.join(_KEYS)}"
            )
    max_frames = spec.get("max_frames")
    if max_frames is not None:
        max_frames = _int(max_frames, "schedule.max_frames", minimum=2)
    given = {k for k in ("dense", "every", "log", "iterations") if spec.get(k) is not None}
    if given == {"dense", "every"}:
        return Schedule(kind="dense", dense=_int(spec["dense"], "schedule.dense", 0),
                        every=_int(spec["every"], "schedule.every", 1), max_frames=max_frames)
    if given == {"every"}:
        every = _int(spec["every"], "schedule.every", 1)
        return Schedule(kind="all" if every == 1 else "every", every=None if every == 1 else every,
                        max_frames=max_frames)
    if given == {"log"}:
        return Schedule(kind="log", log=_int(spec["log"], "schedule.log", 2), max_frames=max_frames)
    if given == {"iterations"}:
        if isinstance(spec["iterations"], (str, bytes)) or not hasattr(spec["iterations"], "__iter__"):
            raise InputError(f"schedule.iterations: must be a list of integers, got {spec['iterations']!r}")
        return Schedule(kind="iterations", explicit=_explicit(spec["iterations"]), max_frames=max_frames)
    if given == {"dense"}:
        raise InputError("schedule.dense: needs schedule.every (show every k-th iteration after the dense part)")
    if not given:
        return Schedule(kind="all", max_frames=max_frames)
    raise InputError(
        f"schedule: {', '.join(sorted(given))} cannot be combined; use one of "
        "{dense, every}, {every}, {log} or {iterations}"
    )


def schedule_iterations(spec, n_iter: int) -> list[int]:
    """Shortcut: ``parse_schedule(spec).iterations(n_iter)``."""
    return parse_schedule(spec).iterations(n_iter)

