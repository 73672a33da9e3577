"""Paths of general-purpose optimisers over two mixture parameters, to draw beside EM's.

The lecture picture: maximise the log-likelihood over two scalar parameters (say the means of two
components) with ``scipy.optimize.minimize`` from EM's starting point, record every iterate through
the per-iteration callback, and draw the paths on the same landscape as EM's. An optimiser that
steps where the likelihood is undefined (a standard deviation <= 0, a weight outside [0, 1]), produces
NaN, or runs off far outside the landscape is stopped there, and its path says so.

The log-likelihood is evaluated with :func:`emviz.surface.loglik_surface`, the same code as the
landscape the paths are drawn on.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from emviz.errors import InputError, did_you_mean
from emviz.mixture import Mixture

__all__ = ["OptimizerPath", "METHODS", "optimizer_paths"]

#: Methods of ``scipy.optimize.minimize`` that take a per-iteration callback and need no Hessian.
METHODS = ("BFGS", "L-BFGS-B", "Nelder-Mead", "Powell", "CG", "TNC", "SLSQP")


@dataclass(frozen=True)
class OptimizerPath:
    """The iterates of one optimiser.

    Attributes
    ----------
    method : str
    points : array of shape (n, 2)
        The start, then one point per optimiser iteration.
    log_likelihood : array of shape (n,)
        Total log-likelihood at each point (NaN where it is undefined).
    status : {"converged", "stopped", "failed", "diverged"}
        ``stopped``: the iteration limit; ``failed``: NaN or an undefined parameter; ``diverged``: left
        the region around the landscape.
    message : str
        One line for a legend, e.g. ``"BFGS (failed: std <= 0)"``.
    """

    method: str
    points: np.ndarray
    log_likelihood: np.ndarray
    status: str
    message: str


class _Stop(Exception):
    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def check_methods(methods) -> tuple[str, ...]:
    """The method names, or :class:`InputError` naming an unknown one."""
    out = []
    for name in methods:
        if name not in METHODS:
            raise InputError(f"unknown optimiser {name!r}{did_you_mean(name, METHODS)}; choose from {', '.join(METHODS)}")
        out.append(name)
    return tuple(out)


def optimizer_paths(X, mixture: Mixture, axes, start, methods=("BFGS", "Nelder-Mead", "L-BFGS-B"),
                    n_samples: int | None = None, max_iter: int = 200, box=None) -> list[OptimizerPath]:
    """Run each optimiser from ``start`` over the two parameters ``axes`` of ``mixture``.

    Parameters
    ----------
    X : array of shape (S, D)
    mixture : Mixture
        Holds every parameter but the two on the axes.
    axes : list of two (component, name) pairs
        As for :func:`emviz.surface.loglik_surface`.
    start : pair of float
    methods : sequence of str
        Names from :data:`METHODS`.
    n_samples : int, optional
        N when X is a sample of the data (the log-likelihood is scaled by N / S).
    max_iter : int
    box : ((a_lo, a_hi), (b_lo, b_hi)), optional
        The landscape's extent; an optimiser more than its own size outside it has diverged.
    """
    from scipy.optimize import minimize

    objective = _Objective(X, mixture, axes, n_samples)
    limits = None if box is None else _divergence_limits(box)
    paths = []
    for method in check_methods(methods):
        points = [np.asarray(start, dtype=np.float64)]

        def record(xk, *_):
            points.append(np.array(xk, dtype=np.float64))
            if not np.isfinite(objective.loglik(xk)):
                raise _Stop("failed", objective.reason(xk))
            if limits is not None and np.any((points[-1] < limits[:, 0]) | (points[-1] > limits[:, 1])):
                raise _Stop("diverged", "left the landscape")

        status, reason = "converged", ""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # NaN objective values and line-search warnings: reported below
                result = minimize(objective, points[0], method=method, callback=record,
                                  options={"maxiter": max_iter})
            if not result.success and not _precision_loss(result):
                status, reason = ("stopped", "iteration limit") if result.nit >= max_iter else ("failed", _short(result.message))
            if not np.isfinite(result.fun):
                status, reason = "failed", objective.reason(result.x)
        except _Stop as stop:
            status, reason = stop.status, stop.reason
        pts = np.stack(points)
        lls = np.array([objective.loglik(p) for p in pts])
        message = method if status == "converged" else f"{method} ({status}: {reason})" if reason else f"{method} ({status})"
        paths.append(OptimizerPath(method, pts, lls, status, message))
    return paths


class _Objective:
    """Negative total log-likelihood at (a, b), memoised; NaN where a parameter is out of its domain."""

    def __init__(self, X, mixture, axes, n_samples):
        from emviz.surface import parse_param

        self.X, self.mixture, self.axes, self.n_samples = X, mixture, axes, n_samples
        self.params = [parse_param(name, mixture.n_features, mixture.n_components) for _, name in axes]
        self.cache: dict[tuple[float, float], float] = {}

    def loglik(self, point) -> float:
        from emviz.surface import loglik_surface

        key = (float(point[0]), float(point[1]))
        if key not in self.cache:
            if self.reason(key):
                value = np.nan
            else:
                value = float(loglik_surface(self.X, self.mixture, self.axes, [key[0]], [key[1]],
                                             n_samples=self.n_samples)[0, 0])
            self.cache[key] = value
        return self.cache[key]

    def reason(self, point) -> str:
        """Why the log-likelihood is undefined at ``point`` ("" when it is defined)."""
        for value, param in zip(point, self.params):
            if not np.isfinite(value):
                return "NaN parameter"
            if param.kind == "std" and value <= 0:
                return "std <= 0"
            if param.kind == "weight" and not 0 <= value <= 1:
                return "weight outside [0, 1]"
        return "" if np.isfinite(self.cache.get((float(point[0]), float(point[1])), 0.0)) else "NaN log-likelihood"

    def __call__(self, point) -> float:
        return -self.loglik(point)


def _precision_loss(result) -> bool:
    """Whether BFGS or CG stopped at a stationary point, as far as rounding lets it tell.

    With finite-difference gradients of a log-likelihood of thousands of nats, the gradient's rounding
    noise is about the default tolerance (1e-5), so at the optimum the line search may find no better
    point and stop with "precision loss" instead of success: which of the two it reports depends on the
    last bits of the sums (numpy or torch, the order of the terms). Such a stop counts as converged when
    the gradient there is as small as a millionth of the objective (far from any tolerance elsewhere).
    """
    jac = np.asarray(getattr(result, "jac", np.nan), dtype=np.float64)
    return ("precision loss" in str(result.message) and bool(np.all(np.isfinite(jac)))
            and float(np.linalg.norm(jac)) <= 1e-6 * max(1.0, abs(float(result.fun))))


def _divergence_limits(box) -> np.ndarray:
    box = np.asarray(box, dtype=np.float64)
    span = box[:, 1] - box[:, 0]
    return np.stack([box[:, 0] - span, box[:, 1] + span], axis=1)


def _short(message) -> str:
    text = str(message).strip().rstrip(".")
    return text if len(text) <= 40 else text[:37] + "..."
