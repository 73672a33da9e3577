"""What a frame shows: a whole EM iteration, or one of its two moves (half-steps).

An EM iteration is two moves. The E-step recolours the points: from the parameters of iteration t it
computes the responsibilities of iteration t. The M-step moves the components: from those
responsibilities it computes the parameters of iteration t + 1. A trace holds both (iteration t's
parameters and the responsibilities they give), so either move can be drawn without refitting.

A :class:`Frame` names what a frame shows:

===============  ======================  ============================  ======================
frame            parameters shown        responsibilities (colours)    cursor on the curves
===============  ======================  ============================  ======================
``Frame(t)``     t                       t                             t
``Frame(t, E)``  t                       t                             t
``Frame(t, M)``  t + 1                   t (still those of the E-step)  t + 1/2
===============  ======================  ============================  ======================

So from ``M(t-1)`` to ``E(t)`` the parameters hold still and the colours change (the E-step), and
from ``E(t)`` to ``M(t)`` the colours hold still and the components move (the M-step). ``E(t)``
shows what the whole frame ``Frame(t)`` shows; only the title differs (it names the half). The
last iteration T has no M-step after it (there are no parameters T + 1): it gets its E-step frame
only, so n scheduled iterations give ``2n - 1`` half-step frames.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PHASES",
    "Frame",
    "as_frame",
    "frame_label",
    "half_step_frames",
    "n_frames",
    "show_frame",
    "whole_frames",
]

#: The two halves of an iteration, in order.
PHASES = ("E", "M")
_MIDDOT = "\u00b7"


@dataclass(frozen=True)
class Frame:
    """What one frame shows: iteration ``t`` whole (``phase=None``) or its ``"E"`` or ``"M"`` step.

    Frozen and hashable (frames are keys of the palette's kept frames) and picklable (frames travel
    to worker processes).
    """

    t: int
    phase: str | None = None

    def __post_init__(self):
        if isinstance(self.t, bool) or not hasattr(self.t, "__index__") or int(self.t) < 0:
            raise ValueError(f"Frame: t must be an iteration >= 0, got {self.t!r}")
        object.__setattr__(self, "t", int(self.t))
        if self.phase not in (None, *PHASES):
            raise ValueError(f"Frame: phase must be None, 'E' or 'M', got {self.phase!r}")

    @property
    def params(self) -> int:
        """The iteration whose parameters (means, covariances, weights) the frame shows."""
        return self.t + 1 if self.phase == "M" else self.t

    @property
    def resp(self) -> int:
        """The iteration whose responsibilities (the points' colours) the frame shows."""
        return self.t

    @property
    def position(self) -> float:
        """Where the frame sits on the iteration axis: ``t``, or ``t + 0.5`` on an M-step (the move under way)."""
        return self.t + 0.5 if self.phase == "M" else float(self.t)

    @property
    def step_name(self) -> str:
        """``"E-step"``, ``"M-step"`` or ``""`` for a whole iteration."""
        return f"{self.phase}-step" if self.phase else ""

    def at_most(self, n_iter: int) -> Frame:
        """The frame a run with iterations 0..``n_iter`` shows: itself, or, past its end, its last
        iteration's E-step (a run that stopped earlier rests there; it has no M-step after it)."""
        if self.params <= n_iter:
            return self
        return Frame(n_iter, "E" if self.phase else None)


def as_frame(value) -> Frame:
    """A :class:`Frame` from a Frame or an iteration (an int: the whole iteration)."""
    if isinstance(value, Frame):
        return value
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"a frame is an iteration (int) or a Frame, got {type(value).__name__}")
    return Frame(int(value))


def whole_frames(iterations) -> list[Frame]:
    """One whole-iteration frame per iteration."""
    return [Frame(int(t)) for t in iterations]


def half_step_frames(iterations, n_iter: int) -> list[Frame]:
    """``E(t), M(t)`` for every iteration ``t`` in order, ``E(T)`` only for ``t = n_iter`` (= T)."""
    frames = []
    for t in iterations:
        frames.append(Frame(int(t), "E"))
        if int(t) < n_iter:
            frames.append(Frame(int(t), "M"))
    return frames


def n_frames(n_iterations: int, half_steps: bool, includes_last: bool = True) -> int:
    """Frames of ``n_iterations`` scheduled iterations: ``2n - 1`` with half-steps when T is among
    them (it has no M-step), ``2n`` when it is not, ``n`` without half-steps."""
    if not half_steps or n_iterations == 0:
        return n_iterations
    return 2 * n_iterations - (1 if includes_last else 0)


def frame_label(frame) -> str:
    """A frame's caption: ``"Iteration 3"`` or ``"Iteration 3 · E-step"``."""
    frame = as_frame(frame)
    return f"Iteration {frame.t}" + (f" {_MIDDOT} {frame.step_name}" if frame.phase else "")


def show_frame(panel, frame: Frame) -> list:
    """Have ``panel`` show ``frame``; return what its update returns.

    A whole iteration is ``panel.update(t)``, as always. A half-step goes to ``panel.update_frame(frame)``
    (:class:`emviz.render.panel.Panel` has a default); a panel without that method gets
    ``update(frame.params)``.
    """
    if frame.phase is None:
        return panel.update(frame.t)
    update_frame = getattr(panel, "update_frame", None)
    if update_frame is None:
        return panel.update(frame.params)
    return update_frame(frame)
