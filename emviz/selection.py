"""Model selection from traces, in numpy: free parameters, BIC and AIC per iteration, and the value a run swept.

The criteria are scikit-learn's ``GaussianMixture.bic`` and ``aic``, evaluated at every recorded
iteration from the trace's total log-likelihood (that of the parameters at t, over all N points)::

    BIC_t = -2 log L_t + p log N,        AIC_t = -2 log L_t + 2 p,

with ``p`` the number of free parameters of a K-component mixture in D dimensions (scikit-learn's
``_n_parameters``): ``K - 1`` weights, ``K D`` means and the covariances' free entries,
``K D (D + 1) / 2`` (full), ``K D`` (diag), ``K`` (spherical) or ``D (D + 1) / 2`` (tied). At the
last iteration they are the fitted model's criteria; lower is better.

What the x axis of the ``model_selection`` panel shows comes from the traces too: a run of a config's
``runs: {sweep: ...}`` keeps ``meta["sweep"] = {"key", "value"}`` (see :func:`sweep_axis`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from emviz.errors import InputError

__all__ = ["COVARIANCE_TYPES", "n_parameters", "covariance_type", "criteria", "swept", "sweep_axis", "SweepAxis"]

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")


def n_parameters(covariance_type: str, n_components: int, n_features: int) -> int:
    """Free parameters of a Gaussian mixture, as scikit-learn's ``GaussianMixture._n_parameters``."""
    k, d = int(n_components), int(n_features)
    covariances = {"full": k * d * (d + 1) // 2, "diag": k * d, "spherical": k, "tied": d * (d + 1) // 2}
    if covariance_type not in covariances:
        raise InputError(f"covariance_type: must be one of {', '.join(COVARIANCE_TYPES)}, got {covariance_type!r}")
    return covariances[covariance_type] + k * d + k - 1


def covariance_type(trace) -> str | None:
    """The covariance type a trace was fitted with, or None when it does not say.

    Traces keep it in ``meta["covariance_type"]``; older ones only in the config they were fitted
    from (its model section, or the run's change to it) or in the fitter's description.
    """
    meta = trace.meta
    kind = meta.get("covariance_type")
    if kind in COVARIANCE_TYPES:
        return kind
    config = meta.get("config")
    if isinstance(config, dict):
        kind = (config.get("model") or {}).get("covariance_type")
        runs = config.get("runs")
        if isinstance(runs, list):
            for run in runs:
                if isinstance(run, dict) and run.get("name") == meta.get("run"):
                    kind = (run.get("model") or {}).get("covariance_type") or kind
        if kind in COVARIANCE_TYPES:
            return kind
    found = re.search(r"covariance_type='(\w+)'", str(meta.get("fitter", "")))
    return found[1] if found and found[1] in COVARIANCE_TYPES else None


def criteria(trace) -> dict:
    """BIC, AIC and the log-likelihood of every iteration of ``trace``, arrays of shape (T+1,).

    Returns
    -------
    dict
        ``bic``, ``aic``, ``loglik`` (arrays), ``n_parameters`` and ``n_samples`` (ints).

    Raises
    ------
    InputError
        When the trace does not say its covariance type (a fitter without ``covariance_type``).
    """
    kind = covariance_type(trace)
    if kind is None:
        raise InputError("the trace does not say its covariance type (meta['covariance_type']), which sets the "
                         "number of parameters in BIC and AIC")
    p = n_parameters(kind, trace.n_components, trace.n_features)
    n = trace.n_samples
    ll = np.asarray(trace.log_likelihood, dtype=np.float64)
    return {"bic": -2.0 * ll + p * math.log(n), "aic": -2.0 * ll + 2.0 * p, "loglik": ll,
            "n_parameters": p, "n_samples": n}


def swept(trace) -> tuple[str, object] | None:
    """(model key, value) a sweep's run was fitted with (``meta["sweep"]``), else None."""
    sweep = trace.meta.get("sweep")
    if isinstance(sweep, dict) and isinstance(sweep.get("key"), str) and "value" in sweep:
        return sweep["key"], sweep["value"]
    return None


@dataclass(frozen=True)
class SweepAxis:
    """Where each run goes on the model-selection panel's x axis.

    Attributes
    ----------
    key : str or None
        The model key swept (``n_components``, ``covariance_type``, ...); None: the runs by name.
    label : str
        The axis label.
    positions : dict
        Run name -> x position: the value itself for whole numbers, else 0, 1, 2, ... in run order.
    ticks : dict
        Run name -> its tick label (``3``, ``full``).
    numeric : bool
        Whether positions are the values (else categories).
    """

    key: str | None
    label: str
    positions: dict
    ticks: dict
    numeric: bool

    def order(self) -> list:
        """Run names left to right."""
        return sorted(self.positions, key=lambda name: self.positions[name])

    def choice(self, name) -> str:
        """How a run is named as a choice: ``K=3``, ``full``, or its name."""
        return f"K={self.ticks[name]}" if self.key == "n_components" else self.ticks[name]


_AXIS_LABELS = {"n_components": "K (components)", "covariance_type": "covariance type"}


def sweep_axis(runs: dict) -> SweepAxis:
    """The x axis for runs (name -> Trace): their swept value when every run is of the same sweep,
    else their K when the runs' K all differ, else the runs by name."""
    values = {name: swept(run) for name, run in runs.items()}
    keys = {v[0] for v in values.values() if v is not None}
    if None not in values.values() and len(keys) == 1:
        (key,) = keys
        chosen = {name: v[1] for name, v in values.items()}
    elif len(runs) > 1 and len({run.n_components for run in runs.values()}) == len(runs):
        key, chosen = "n_components", {name: run.n_components for name, run in runs.items()}
    else:
        names = {name: (name if name is not None else "fit") for name in runs}
        return SweepAxis(None, "run", {name: float(i) for i, name in enumerate(runs)}, names, False)
    numeric = all(isinstance(v, int) and not isinstance(v, bool) for v in chosen.values())
    if numeric:
        positions = {name: float(v) for name, v in chosen.items()}
        ticks = {name: str(v) for name, v in chosen.items()}
    else:
        positions = {name: float(i) for i, name in enumerate(runs)}
        ticks = {name: _tick(v, name) for name, v in chosen.items()}
    return SweepAxis(key, _AXIS_LABELS.get(key, key), positions, ticks, numeric)


def _tick(value, name) -> str:
    """A category's label: the value when it is short text or a number, else the run's name."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return str(name)
