"""Record every EM iteration of a fitter into a :class:`~emviz.trace.Trace`.

The recorder wraps any object with the step protocol (``initialize(X)``, ``step() -> StepResult``,
``evaluate() -> StepResult``, ``converged``, ``max_iter``): emviz's own :class:`~emviz.em.GaussianMixture`
or :class:`~emviz.em.sklearn_adapter.SklearnStepper`. Values stay on the fitter's device and are
copied to the host in bulk at the end, so recording adds no host synchronisation to the loop beyond
the fitter's own convergence test, and one device op per iteration.
"""

from __future__ import annotations

import contextlib
import platform
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm  # the text bar: tqdm.auto warns in a notebook without ipywidgets

from emviz.errors import InputError
from emviz.mixture import Mixture
from emviz.trace import Trace

__all__ = ["Recorder"]


class _Record:
    """The recorded iterations, kept on the fitter's device until one bulk copy at the end.

    A step's parameter tensors are fresh and never modified afterwards (the step protocol's promise),
    so recording keeps references to them; only the responsibilities, which live in a work buffer the
    next step overwrites, are copied, and only for the M recorded points. One device op per iteration.
    """

    _NAMES = ("weights", "means", "covariances", "log_likelihood", "log_resp", "empty")

    def __init__(self):
        self.rows: dict[str, list] = {name: [] for name in self._NAMES}
        self._take = None  # flat indices of the recorded points' entries of a (K, N) log_resp
        self._k = 0

    def record(self, t: int, result, resp_rows: torch.Tensor) -> None:
        rows = self.rows
        assert len(rows["weights"]) == t, "iterations are recorded in order"
        if self._take is None:
            self._k, n = result.log_resp.shape
            self._take = (torch.arange(self._k, device=resp_rows.device)[:, None] * n + resp_rows).reshape(-1)
        rows["weights"].append(result.weights)
        rows["means"].append(result.means)
        rows["covariances"].append(result.covariances)
        rows["log_likelihood"].append(result.log_likelihood)
        # (K * M,), a copy. torch.take with flat indices: index_select along dim 1 costs 3x as much.
        rows["log_resp"].append(torch.take(result.log_resp, self._take))
        rows["empty"].append(result.empty)

    def log_likelihood(self, t: int) -> float:
        return float(self.rows["log_likelihood"][t])

    def to_host(self, n: int) -> dict[str, np.ndarray]:
        """The first ``n`` iterations of every quantity as numpy arrays (one bulk copy each)."""
        rows = self.rows
        stack = lambda name: torch.stack(rows[name][:n]).to("cpu", torch.float64)
        out = {name: stack(name).numpy() for name in ("weights", "means", "covariances", "log_likelihood")}
        log_resp = torch.stack(rows["log_resp"][:n]).reshape(n, self._k, -1)  # (T, K, M)
        out["resp"] = torch.exp(log_resp).transpose(1, 2).to("cpu", torch.float32).numpy()
        out["empty"] = torch.stack(rows["empty"][:n]).cpu().numpy()
        return out


class Recorder:
    """Run a fitter step by step and record t = 0..T into a Trace.

    Parameters
    ----------
    fitter : object with the step protocol
    resp_points : int
        Responsibilities are recorded for this many points, sampled once (seeded) from the shown data.
    show_points : int
        At most this many data points are kept in the trace (a seeded sample when N is larger).
    progress : bool
        Show a tqdm bar with the log-likelihood.
    label : str
        The bar's name (a run's name when several are fitted).
    seed : int
        Seeds the choice of shown and recorded points.
    checkpoint_seconds : float
        With ``save_path``, the trace so far is written at most this often during the fit, so an
        interrupted run can still be rendered up to its last completed iteration.
    """

    def __init__(self, fitter, resp_points: int = 2000, show_points: int = 20000, progress: bool = True,
                 seed: int = 0, checkpoint_seconds: float = 10.0, label: str = "EM"):
        for name, value in (("resp_points", resp_points), ("show_points", show_points)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"{name}: must be an integer >= 1, got {value!r}")
        self.fitter = fitter
        self.resp_points = int(resp_points)
        self.show_points = int(show_points)
        self.progress = progress
        self.label = str(label)
        self.seed = seed
        self.checkpoint_seconds = checkpoint_seconds

    def _sample_points(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the shown points (into X) and of the recorded ones (into the shown points)."""
        rng = np.random.default_rng(self.seed)
        show = np.arange(n) if n <= self.show_points else np.sort(rng.choice(n, self.show_points, replace=False))
        s = len(show)
        resp = np.arange(s) if s <= self.resp_points else np.sort(rng.choice(s, self.resp_points, replace=False))
        return show, resp

    @torch.inference_mode()
    def run(self, X, truth: Mixture | None = None, labels=None, meta: dict | None = None,
            save_path=None) -> Trace:
        """Fit X step by step and return the trace of iterations 0..T (None on a rank other than 0 of a
        data-parallel fit: rank 0 records).

        Parameters
        ----------
        X : array of shape (N, D)
        truth : Mixture, optional
            The mixture the data came from, kept in the trace for the renderers.
        labels : int array of shape (N,), optional
        meta : dict, optional
            Extra JSON-serialisable metadata (e.g. the config).
        save_path : path, optional
            Write the trace here when done, and checkpoints during the fit; on an interrupt (Ctrl-C or
            an exception) the iterations completed so far are written before the error propagates.
        """
        fitter = self.fitter
        started = time.perf_counter()
        fitter.initialize(X)
        n = getattr(fitter, "n_samples_", None) or len(X)
        show, resp_idx = self._sample_points(n)
        gather = getattr(fitter, "gather_rows", None)
        if gather is not None:  # the fitter's own copy; a collective when the rows are on several ranks
            shown, shown_labels = gather(show, labels)
        else:
            X = np.asarray(X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
            shown, shown_labels = X[show], None if labels is None else np.asarray(labels)[show]
        if not getattr(fitter, "is_root", True):
            return self._follow(fitter)
        watch = getattr(fitter, "watch", None)
        columns = show[resp_idx] if watch is None else watch(show[resp_idx], shown[resp_idx])
        device = getattr(fitter, "device", torch.device("cpu"))
        rows = torch.as_tensor(columns, device=device)
        buffers = _Record()
        context = dict(X=np.asarray(shown, dtype=np.float64), resp_index=resp_idx,
                       labels=None if shown_labels is None else np.asarray(shown_labels),
                       truth=truth, meta_base={**(meta or {}), "n_samples": n, "show_index_seed": self.seed})
        recorded = 0  # iterations whose parameters and log-likelihood are in the buffers
        last_save = time.perf_counter()
        # One intra-op thread for small CPU fits (the fitter says), restored however the loop ends.
        with contextlib.ExitStack() as stack:
            stack.enter_context(getattr(fitter, "threads", contextlib.nullcontext)())
            bar = stack.enter_context(tqdm(total=fitter.max_iter, desc=self.label, unit="it", disable=not self.progress,
                                           leave=False))
            try:
                converged = False
                for t in range(fitter.max_iter):
                    buffers.record(t, fitter.step(), rows)
                    recorded = t + 1
                    bar.update(1)
                    if fitter.converged:
                        converged = True
                        bar.total = recorded  # the bar ends full: EM is done, not stopped at 2%
                        bar.set_description(f"{self.label} (converged)", refresh=False)
                        break
                    if save_path is not None and time.perf_counter() - last_save > self.checkpoint_seconds:
                        self._save(save_path, buffers, recorded, context, fitter, started, converged=False, partial=True)
                        last_save = time.perf_counter()
                    if self.progress and t % 50 == 49:
                        bar.set_postfix_str(f"log-lik {buffers.log_likelihood(t):.2f}", refresh=False)
                buffers.record(recorded, fitter.evaluate(), rows)
                check = getattr(fitter, "check", None)
                if check is not None:
                    check()
                recorded += 1
                bar.set_postfix_str(f"log-lik {buffers.log_likelihood(recorded - 1):.2f}")
            except BaseException:
                if save_path is not None and recorded > 0:
                    self._save(save_path, buffers, recorded, context, fitter, started, converged=False, partial=True)
                raise
        trace = self._make_trace(buffers, recorded, context, fitter, started, converged)
        if save_path is not None:
            trace.save(save_path)
        return trace

    @staticmethod
    def _follow(fitter) -> None:
        """The loop of a rank other than 0 in a data-parallel fit: the same steps (each a collective),
        the same convergence test (on the same reduced numbers), nothing recorded. Returns None."""
        with getattr(fitter, "threads", contextlib.nullcontext)():
            for _ in range(fitter.max_iter):
                fitter.step()
                if fitter.converged:
                    break
            fitter.evaluate()
            fitter.check()
        return None

    def _make_trace(self, buffers, n_rows, context, fitter, started, converged, partial=False) -> Trace:
        host = buffers.to_host(n_rows)
        if partial:
            # The last recorded iteration's parameters are trusted only if they are finite.
            finite = np.isfinite(host["log_likelihood"]) & np.all(np.isfinite(host["means"]), axis=(1, 2))
            n_rows = int(np.argmin(finite)) if not finite.all() else n_rows
            host = {key: value[:n_rows] for key, value in host.items()}
        self._check_finite(host)
        events = [{"event": "empty_component", "iteration": int(t + 1), "component": int(c)}
                  for t, c in zip(*np.nonzero(host["empty"][: max(n_rows - 1, 0)]))]
        meta = {
            **context["meta_base"],
            "n_iter": n_rows - 1,
            "converged": bool(converged),
            "partial": bool(partial),
            "events": events,
            "fitter": repr(fitter),
            # With K, D and N it gives the number of free parameters (BIC, AIC: emviz.selection).
            "covariance_type": getattr(fitter, "covariance_type", None),
            "device": str(getattr(fitter, "device", "cpu")),
            "dtype": str(getattr(fitter, "dtype", "float64")).removeprefix("torch."),
            "seconds": round(time.perf_counter() - started, 6),
            "versions": {"emviz": _version(), "torch": str(torch.__version__), "numpy": np.__version__,
                         "python": platform.python_version()},
        }
        return Trace(
            weights=host["weights"], means=host["means"], covariances=host["covariances"],
            log_likelihood=host["log_likelihood"], resp_index=context["resp_index"], resp=host["resp"],
            X=context["X"], labels=context["labels"], truth=context["truth"], meta=meta,
        )

    @staticmethod
    def _check_finite(host: dict) -> None:
        for name in ("weights", "means", "covariances", "log_likelihood", "resp"):
            if not np.all(np.isfinite(host[name])):
                raise InputError(f"EM produced non-finite {name}; increase reg_covar or use dtype float64")

    def _save(self, path, buffers, n_rows, context, fitter, started, converged, partial) -> None:
        """Write the trace so far. A Ctrl-C while it is written is held, not lost: the file is finished
        first, then the interrupt is raised (during a periodic checkpoint; while saving after an
        interrupt or error, a second Ctrl-C is dropped, so that the first one's trace still lands)."""
        pending = []
        previous = signal.getsignal(signal.SIGINT)
        try:
            if previous is not None:  # None: a handler not installed from Python, left alone
                signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
        except ValueError:  # not the main thread
            previous = None
        try:
            trace = self._make_trace(buffers, n_rows, context, fitter, started, converged, partial=partial)
            if trace.n_iter >= 0:
                trace.save(Path(path))
        except InputError:
            pass  # nothing finite to save
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if pending and sys.exc_info()[0] is None:  # a periodic checkpoint: deliver the held Ctrl-C now
            if callable(previous):
                previous(signal.SIGINT, None)  # Python's default handler raises KeyboardInterrupt
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt


def _version() -> str:
    from emviz import __version__

    return __version__
