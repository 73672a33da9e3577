"""Benchmark: emviz vs the notebooks' ways of making the same animations, side by side in one run.

Four sections (``--only e2e,gifs,2d,3d``; all by default), every variant in a fresh subprocess so that
imports, caches and memory do not leak between them; ratios are printed against the hand-written way.

- **e2e**: the whole ``gallery/docs_1d.yaml`` (``python -m emviz render ... --quiet``: fit 1000 EM
  iterations, save the trace, three GIFs and a still grid) vs the docs notebook's whole pipeline in one
  process: a fresh ``tgmm.GaussianMixture(max_iter=1)`` refitted per step for 1000 steps on float32
  data, asking each step for the responsibilities (``_e_step``, all N kept) and a numpy/scipy
  log-likelihood, then its 50 x 50 log-likelihood grids one call per grid point, then its three GIFs
  with ``FuncAnimation`` + ``PillowWriter`` (its tqdm bars left out; tgmm's restyling of matplotlib at
  import undone, see :func:`child_notebook_e2e`). Without ``tgmm`` the steps are scikit-learn's
  ``GaussianMixture(max_iter=1)`` refitted per step (the output says which). Clock: the process's wall
  time, interpreter start and imports included, on both sides. The notebook makes no still; emviz's
  run also writes the still grid and the trace.
- **gifs**: per GIF of the docs notebook (components, responsibilities, loglik_contour) on one saved
  trace and the same frames: the notebook's drawing code vs ``emviz.render``.
- **2d**: the trace of ``gallery/old_faithful.yaml``; a plain per-frame redraw (clear the Axes, scatter
  coloured by responsibilities, 1- and 2-sigma ``Ellipse`` patches from the eigen-decomposition, the
  means; ``FuncAnimation`` + ``PillowWriter``) vs ``emviz.render(trace, panels=["ellipses"])`` at the
  same size, dpi and frames. emviz also draws the means' paths, the data in grey and a legend.
- **3d**: the trace of ``gallery/cloud_3d.yaml``; a plain per-frame redraw of a 3D Axes (scatter
  coloured by responsibilities, ``plot_wireframe`` ellipsoids, means, the camera turned each frame) vs
  ``emviz.render(trace, panels=[{"cloud3d": ...}])`` with 1 and with 2 frame workers.

Measures:

- frames/s: scheduled frames / wall time of the rendering call (the notebook/plain way: figure set-up
  + ``save``; emviz: ``render()``, including panel set-up such as the log-likelihood surfaces, which the
  ``gifs`` notebook variant computes before its clock starts, and starting frame workers). Imports and
  loading the trace are outside both clocks (not in ``e2e``, which times whole processes).
- peak memory: the highest total RSS of the variant's process tree (sampled from /proc every 0.1 s,
  workers included), or the largest single process's exact peak (``VmHWM``) when that is higher;
  for ``gifs`` also the increase over the RSS right after imports ("render MB": what rendering itself
  holds, e.g. the frames PillowWriter keeps in memory).

Usage::

    python scripts/bench_render.py                      # everything (several minutes on 2 cores)
    python scripts/bench_render.py --quick              # smoke run: 30 EM steps, 12 frames per GIF
    python scripts/bench_render.py --only 2d,3d
    python scripts/bench_render.py --only gifs --gifs components --variants notebook,emviz,emviz-w2
    python scripts/bench_render.py --max-frames 40      # fewer frames for every gifs/2d/3d variant

Not a test: the numbers depend on the machine, and on what else runs on it (the load average is printed
at the start and the end); compare ratios measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
GALLERY = REPO / "gallery"
SECTIONS = ("e2e", "gifs", "2d", "3d")

GIFS = ("components", "responsibilities", "loglik_contour")
#: The notebook's figure sizes (inches, at dpi 100).
NOTEBOOK_SIZE = {"components": (12, 6), "responsibilities": (12, 6), "loglik_contour": (18, 5)}
#: name -> (workers, size): "notebook" size is the notebook's pixels, "default" emviz's own.
EMVIZ_VARIANTS = {
    "emviz": (1, "notebook"),
    "emviz-w2": (2, "notebook"),
    "emviz-small": (1, "default"),
    "emviz-small-w2": (2, "default"),
}
SCHEDULE = {"dense": 100, "every": 10}
#: Interval of the process-tree RSS sampling (the exact per-process peaks come from getrusage).
SAMPLE_SECONDS = 0.1
TARGETS = "targets: >= 8x frames/s, <= 0.5x bytes, <= 0.3x peak memory"

#: End to end: the docs notebook's EM steps (and emviz's max_iter), full and with --quick.
E2E_STEPS, QUICK_E2E_STEPS = 1000, 30
#: Frames per GIF/scene with --quick (unless --max-frames is given).
QUICK_FRAMES = 12
#: The 2D and 3D scenes: config, figure inches, dpi, frames per second, variants.
SCENES = {
    "2d": {"config": "old_faithful.yaml", "size": (7.0, 5.0), "dpi": 80, "fps": 6,
           "variants": ("plain-2d", "emviz-2d")},
    "3d": {"config": "cloud_3d.yaml", "size": (7.0, 6.0), "dpi": 80, "fps": 8, "rotate_degrees": 120.0,
           "variants": ("plain-3d", "emviz-3d-w1", "emviz-3d-w2")},
}
#: Component colours of the plain 2D/3D ways (matplotlib's default cycle).
PLAIN_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
#: The gifs section's targets per emviz variant: (measure, result key, direction, target ratio emviz / notebook);
#: "up": a rate, higher is better; "down": a cost, lower is better.
GIF_TARGETS = (("frames/s", "fps", "up", 8.0), ("GIF bytes", "bytes", "down", 0.5),
               ("peak memory", "peak_mb", "down", 0.3))


# ---------------------------------------------------------------------- traces
def build_trace(path: Path):
    """Fit the notebook's data (1000 EM iterations, tol=0) and save the trace; reuse a saved one."""
    import numpy as np

    from emviz import Mixture, Trace

    if path.exists():
        return Trace.load(path)
    truth = Mixture.from_stds(np.array([2000, 1000, 3000]) / 6000, [[-2.0], [2.0], [6.0]], [2.0, 1.0, 3.0])
    X, labels = truth.sample([2000, 1000, 3000], seed=0)
    init = Mixture.from_stds([0.33, 0.33, 0.33], [[9.9], [10.0], [10.1]], [2.5, 2.5, 2.5])
    try:
        from emviz import GaussianMixture, Recorder
    except ImportError as exc:  # the fitter is not there yet
        raise SystemExit(f"bench_render: cannot build the trace without emviz.GaussianMixture/Recorder ({exc})")
    fitter = GaussianMixture(n_components=3, init=init, max_iter=1000, tol=0)
    trace = Recorder(fitter, resp_points=500, progress=False).run(X, truth=truth, labels=labels)
    trace.save(path)
    return trace


def build_config_trace(config: Path, path: Path):
    """Fit a gallery config's model to its data (as ``python -m emviz render`` would) and save the trace;
    reuse a saved one."""
    from emviz import Trace
    from emviz.pipeline import fit, prepare

    if path.exists():
        return Trace.load(path)
    plan = prepare(config, out=path.parent)
    (trace,) = fit(plan, progress=False).values()
    trace.save(path)
    return trace


def frame_iterations(trace, max_frames: int | None, schedule=SCHEDULE) -> list[int]:
    from emviz.render.schedule import schedule_iterations

    its = schedule_iterations(schedule, trace.n_iter)
    # Fewer frames for a quick run, still ending on the last iteration (emviz always shows it).
    return its[: max_frames - 1] + its[-1:] if max_frames and max_frames < len(its) else its


# ---------------------------------------------------------------------- children: helpers
def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _hwm_mb(pid="self") -> float:
    """A process's exact peak RSS since its exec (``VmHWM``), in MB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # a script, not library code
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------------- children: the docs notebook
def child_notebook(gif: str, trace_path: Path, output: Path, max_frames: int | None) -> dict:
    """The notebook's code for one GIF, on the trace's arrays (pyplot, FuncAnimation, PillowWriter)."""
    plt = _pyplot()
    from matplotlib.animation import PillowWriter

    from emviz.trace import Trace

    trace = Trace.load(trace_path)
    frame_indices = frame_iterations(trace, max_frames)
    h = SimpleNamespace(data=trace.X[:, 0], data_sample=trace.resp_X[:, 0], resp_at=lambda f: trace.resp[f],
                        means=trace.means[:, :, 0], stds=trace.stds[:, :, 0], taus=trace.weights,
                        loglik=trace.log_likelihood, steps=trace.n_iter)
    surfaces = _notebook_surfaces(h.data, h.means, h.stds, h.taus) if gif == "loglik_contour" else None
    baseline = _rss_mb()
    start = time.perf_counter()
    notebook_gif(gif, output, frame_indices, h, surfaces, PillowWriter(fps=10))
    plt.close("all")
    seconds = time.perf_counter() - start
    return {"frames": len(frame_indices), "seconds": seconds, "baseline_mb": baseline}


def notebook_gif(gif: str, output: Path, frame_indices: list[int], h, surfaces, writer):
    """Draw and save one of the notebook's GIFs as the notebook does; return the animation.

    ``h`` holds the notebook's histories: ``data`` (N,), ``data_sample`` (500,), ``resp_at(frame)``
    (responsibilities of the sampled points, (500, 3)), ``means``/``stds``/``taus`` (T+1, 3), ``loglik``
    (T+1,), ``steps`` (T). ``surfaces``: ``(mean_range, std_range, grids)`` for the contour GIF.
    """
    import matplotlib.animation as animation
    import matplotlib.pyplot as plt
    import numpy as np
    from scipy.stats import norm

    data = h.data
    means_history, stds_history, taus_history = h.means, h.stds, h.taus
    log_likelihoods, actual_steps = h.loglik, h.steps
    real_means, real_stds, cluster_sizes = [-2, 2, 6], [2, 1, 3], [2000, 1000, 3000]
    true_taus = [s / sum(cluster_sizes) for s in cluster_sizes]
    colors = ["r", "b", "g"]
    if gif == "components":
        x = np.linspace(min(data), max(data), 1000)
        fig, ax = plt.subplots(figsize=(12, 6), dpi=100)
        ax.hist(data, bins=30, density=True, alpha=0.6, color="gray", label="Data histogram")
        gaussian_real = np.zeros_like(x)
        for i, (m, s, tau, c) in enumerate(zip(real_means, real_stds, true_taus, colors)):
            ax.plot(x, tau * norm.pdf(x, m, s), color=c, linestyle="--", linewidth=2, alpha=0.7,
                    label=f"True Gaussian {i + 1}")
            gaussian_real += tau * norm.pdf(x, m, s)
        ax.plot(x, gaussian_real, "k--", linewidth=2.5, alpha=0.7, label="True GMM")
        lines = [ax.plot([], [], color=c, linewidth=2, label=f"Estimated Gaussian {i + 1}")[0]
                 for i, c in enumerate(colors)]
        gmm_line, = ax.plot([], [], "k-", linewidth=2.5, label="Estimated GMM")
        ax.set_xlabel("Value", fontsize=12)
        ax.set_ylabel("Density", fontsize=12)
        ax.set_title("EM Algorithm: Evolution of Gaussian Components", fontsize=14, fontweight="bold")
        ax.legend(loc="upper right", fontsize=9)
        ax.set_xlim(min(data), max(data))
        ax.set_ylim(0, 0.15)
        text = ax.text(0.02, 0.95, "", transform=ax.transAxes, fontsize=12, verticalalignment="top",
                       bbox=dict(boxstyle="round", facecolor="wheat", alpha=0.5))

        def init():
            for line in lines:
                line.set_data([], [])
            gmm_line.set_data([], [])
            text.set_text("")
            return lines + [gmm_line, text]

        def animate(frame_idx):
            frame = frame_indices[frame_idx]
            est = np.zeros_like(x)
            for i in range(3):
                y = taus_history[frame, i] * norm.pdf(x, means_history[frame, i], stds_history[frame, i])
                lines[i].set_data(x, y)
                est += y
            gmm_line.set_data(x, est)
            text.set_text(f"Iteration: {frame}/{actual_steps}\nLog-likelihood: {log_likelihoods[frame]:.2f}")
            return lines + [gmm_line, text]
    elif gif == "responsibilities":
        data_sample = h.data_sample
        fig, ax = plt.subplots(figsize=(12, 6), dpi=100)
        scatters = [ax.scatter([], [], c=c, alpha=0.6, s=20, marker="o", label=f"Cluster {i + 1}")
                    for i, c in enumerate(colors)]
        ax.set_xlabel("Value", fontsize=12)
        ax.set_ylabel("Responsibility", fontsize=12)
        ax.set_title("EM Algorithm: Evolution of Responsibilities", fontsize=14, fontweight="bold")
        ax.legend(loc="upper right", fontsize=10)
        ax.set_xlim(min(data), max(data))
        ax.set_ylim(-0.05, 1.05)
        ax.grid(True, alpha=0.3)
        text = ax.text(0.02, 0.95, "", transform=ax.transAxes, fontsize=12, verticalalignment="top",
                       bbox=dict(boxstyle="round", facecolor="wheat", alpha=0.5))

        def init():
            for sc in scatters:
                sc.set_offsets(np.empty((0, 2)))
            text.set_text("")
            return scatters + [text]

        def animate(frame_idx):
            frame = frame_indices[frame_idx]
            r = h.resp_at(frame)
            for i in range(3):
                scatters[i].set_offsets(np.column_stack([data_sample, r[:, i]]))
            text.set_text(f"Iteration: {frame}/{actual_steps}\nLog-likelihood: {log_likelihoods[frame]:.2f}")
            return scatters + [text]
    else:
        fig, init, animate = _notebook_contour(surfaces, means_history, stds_history, real_means, real_stds,
                                               frame_indices, log_likelihoods, actual_steps)
    anim = animation.FuncAnimation(fig, animate, init_func=init, frames=range(len(frame_indices)),
                                   interval=100, blit=True, repeat=True)
    anim.save(output, writer=writer)
    plt.close(fig)
    return anim


def _notebook_surfaces(data, means_history, stds_history, taus_history):
    """The notebook's three 50x50 log-likelihood grids (same formula, vectorised; not timed)."""
    import numpy as np
    from scipy.stats import norm

    mean_range = np.linspace(min(data), max(data), 50)
    std_range = np.linspace(0.01, 5, 50)
    surfaces = []
    for comp in range(3):
        surface = np.zeros((50, 50))
        others = [k for k in range(3) if k != comp]
        rest = sum(taus_history[-1, k] * norm.pdf(data, means_history[-1, k], stds_history[-1, k]) for k in others)
        for j, s in enumerate(std_range):
            own = taus_history[-1, comp] * norm.pdf(data[None, :], mean_range[:, None], s)
            surface[j] = np.sum(np.log(own + rest[None, :] + 1e-10), axis=1)
        surfaces.append(surface)
    return mean_range, std_range, surfaces


def _notebook_contour(surfaces, means_history, stds_history, real_means, real_stds, frame_indices,
                      log_likelihoods, actual_steps):
    import matplotlib.pyplot as plt
    import numpy as np

    mean_range, std_range, grids = surfaces
    fig, axs = plt.subplots(1, 3, figsize=(18, 5), dpi=100)
    fig.suptitle("EM Algorithm: Parameter Evolution on Log-Likelihood Surface", fontsize=14, fontweight="bold")
    paths, current_points = [], []
    for idx, (ax, grid) in enumerate(zip(axs, grids)):
        cs = ax.contourf(mean_range, std_range, grid, levels=20, cmap="viridis", alpha=0.7)
        fig.colorbar(cs, ax=ax).ax.set_ylabel("Log-Likelihood", fontsize=9)
        ax.scatter(real_means[idx], real_stds[idx], color="red", s=100, marker="o", edgecolors="white",
                   linewidths=2, label="True parameters", zorder=5)
        ax.scatter(means_history[0, idx], stds_history[0, idx], color="white", s=150, marker="*",
                   edgecolors="black", linewidths=2, label="Initial parameters", zorder=5)
        paths.append(ax.plot([], [], "magenta", linewidth=2, label="EM trajectory", zorder=4)[0])
        current_points.append(ax.scatter([], [], color="cyan", s=100, marker="o", edgecolors="black",
                                         linewidths=2, label="Current parameters", zorder=6))
        ax.set_title(f"Component {idx + 1}", fontsize=12, fontweight="bold")
        ax.set_xlabel("Mean", fontsize=10)
        ax.set_ylabel("Standard Deviation", fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(True, alpha=0.3)
    text = fig.text(0.5, 0.02, "", ha="center", fontsize=12, bbox=dict(boxstyle="round", facecolor="wheat", alpha=0.5))

    def init():
        for path in paths:
            path.set_data([], [])
        for pt in current_points:
            pt.set_offsets(np.empty((0, 2)))
        text.set_text("")
        return paths + current_points + [text]

    def animate(frame_idx):
        frame = frame_indices[frame_idx]
        for idx in range(3):
            paths[idx].set_data(means_history[: frame + 1, idx], stds_history[: frame + 1, idx])
            current_points[idx].set_offsets([[means_history[frame, idx], stds_history[frame, idx]]])
        text.set_text(f"Iteration: {frame}/{actual_steps} | Log-likelihood: {log_likelihoods[frame]:.2f}")
        return paths + current_points + [text]

    return fig, init, animate


# ---------------------------------------------------------------------- children: the notebook's whole pipeline
def child_notebook_e2e(out_dir: Path, n_steps: int) -> dict:
    """The docs notebook from its imports to its third GIF, in this process (timed by the parent)."""
    import warnings

    import matplotlib
    import numpy as np
    import torch
    from matplotlib.animation import PillowWriter
    from scipy.stats import norm

    plt = _pyplot()
    from emviz.mixture import Mixture  # the data only: numpy's legacy stream, as np.random.seed(0) + normal

    with matplotlib.rc_context():
        # The notebook imports tgmm first thing. The tgmm installed here (0.4.3) restyles matplotlib at
        # import (49 rcParams: savefig.dpi 400, a theme), which would save the notebook's 12 x 6 in,
        # dpi=100 figures as 4800 x 2400 px GIFs: 16x the pixels of its figures and of emviz's, and
        # several times slower than the notebook's own log. rc_context undoes it, so that both sides
        # draw the same pixels with matplotlib's defaults.
        before = dict(matplotlib.rcParams)
        try:
            import tgmm  # noqa: F401
        except ImportError:
            tgmm = None
        rc_changed = sorted(k for k, v in matplotlib.rcParams.items() if before.get(k) != v)

    laps = {}
    lap = time.perf_counter()
    X, _ = Mixture.from_stds([2 / 6, 1 / 6, 3 / 6], [[-2.0], [2.0], [6.0]], [2.0, 1.0, 3.0]).sample(
        [2000, 1000, 3000], seed=0)
    data = X[:, 0]
    X_1d = torch.tensor(data, dtype=torch.float32).reshape(-1, 1)
    initial_means = torch.tensor([[9.9], [10.0], [10.1]], dtype=torch.float32)
    initial_covariances = torch.tensor([[[2.5**2]], [[2.5**2]], [[2.5**2]]], dtype=torch.float32)
    initial_weights = torch.tensor([0.33, 0.33, 0.33], dtype=torch.float32)

    def log_likelihood(data, means_np, stds_np, taus_np):
        likelihood = np.zeros((data.shape[0], len(means_np)))
        for i in range(len(means_np)):
            likelihood[:, i] = norm.pdf(data, means_np[i], stds_np[i])
        return np.sum(np.log(np.dot(likelihood, taus_np) + 1e-10))

    means_history = np.zeros((n_steps + 1, 3))
    stds_history = np.zeros((n_steps + 1, 3))
    taus_history = np.zeros((n_steps + 1, 3))
    means_history[0] = initial_means.squeeze().numpy()
    stds_history[0] = [2.5, 2.5, 2.5]
    taus_history[0] = initial_weights.numpy()
    warnings.filterwarnings("ignore", message=".*EM did not converge.*")
    if tgmm is not None:
        backend = f"tgmm {getattr(tgmm, '__version__', '')} refit per step".replace("  ", " ")
        step_fn, responsibilities_history = _tgmm_steps(X_1d, initial_means, initial_covariances, initial_weights)
    else:
        backend = "scikit-learn GaussianMixture(max_iter=1) refit per step (tgmm not importable)"
        step_fn, responsibilities_history = _sklearn_steps(X_1d.numpy(), means_history[0], stds_history[0],
                                                           taus_history[0])
    log_likelihoods = [log_likelihood(data, means_history[0], stds_history[0], taus_history[0])]
    actual_steps = 0
    for step in range(n_steps):
        means, stds, taus, r, converged = step_fn(means_history[step], stds_history[step], taus_history[step])
        means_history[step + 1], stds_history[step + 1], taus_history[step + 1] = means, stds, taus
        responsibilities_history.append(r)
        log_likelihoods.append(log_likelihood(data, means, stds, taus))
        actual_steps = step + 1
        if converged:
            break
    means_history = means_history[: actual_steps + 1]
    stds_history = stds_history[: actual_steps + 1]
    taus_history = taus_history[: actual_steps + 1]
    frame_indices = list(range(min(101, len(means_history))))
    if len(means_history) > 101:
        frame_indices.extend(range(110, len(means_history), 10))
    laps["fit"], lap = time.perf_counter() - lap, time.perf_counter()

    sample_indices = np.linspace(0, len(data) - 1, 500, dtype=int)
    h = SimpleNamespace(data=data, data_sample=data[sample_indices],
                        resp_at=lambda frame: responsibilities_history[frame][sample_indices],
                        means=means_history, stds=stds_history, taus=taus_history, loglik=log_likelihoods,
                        steps=actual_steps)
    # The notebook keeps its animations and its last writer (with every frame) in globals.
    kept = {}
    for gif in GIFS:
        surfaces = None
        if gif == "loglik_contour":
            surfaces = _notebook_surfaces_loop(data, means_history, stds_history, taus_history, log_likelihood)
            laps["surfaces"], lap = time.perf_counter() - lap, time.perf_counter()
        kept["writer"] = PillowWriter(fps=10)
        kept[gif] = notebook_gif(gif, out_dir / f"{gif}.gif", frame_indices, h, surfaces, kept["writer"])
        laps[gif], lap = time.perf_counter() - lap, time.perf_counter()
    plt.close("all")
    return {"backend": backend, "steps": actual_steps, "frames": len(frame_indices), "laps": laps,
            "final_loglik": float(log_likelihoods[-1]), "rc_changed": rc_changed}


def _tgmm_steps(X_1d, initial_means, initial_covariances, initial_weights):
    """One notebook step with tgmm: a fresh one-iteration model, its parameters, its ``_e_step``."""
    import numpy as np
    import torch
    from tgmm import GaussianMixture

    gmm_init = GaussianMixture(n_features=1, n_components=3, covariance_type="full", init_means=initial_means,
                               init_covariances=initial_covariances, init_weights=initial_weights, device="cpu")
    gmm_init._allocate_parameters(X_1d, set_random_state=False)
    r_init, _ = gmm_init._e_step(X_1d)

    def step(means, stds, taus):
        gmm_step = GaussianMixture(
            n_features=1, n_components=3, covariance_type="full",
            init_means=torch.tensor(means.reshape(-1, 1), dtype=torch.float32),
            init_covariances=torch.tensor([[[stds[i] ** 2]] for i in range(3)], dtype=torch.float32),
            init_weights=torch.tensor(taus, dtype=torch.float32), device="cpu", max_iter=1)
        gmm_step.fit(X_1d)
        new = (gmm_step.means_.squeeze().cpu().numpy(), torch.sqrt(gmm_step.covariances_[:, 0, 0]).cpu().numpy(),
               gmm_step.weights_.cpu().numpy())
        r, _ = gmm_step._e_step(X_1d)
        return (*new, r.cpu().numpy(), bool(gmm_step.converged_))

    return step, [np.asarray(r_init.cpu().numpy())]


def _sklearn_steps(X, means0, stds0, taus0):
    """The same step with scikit-learn: ``GaussianMixture(max_iter=1)`` from the current parameters."""
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # expected with max_iter=1, as tgmm's

    def step(means, stds, taus):
        gm = GaussianMixture(3, covariance_type="full", max_iter=1, tol=0, weights_init=taus / taus.sum(),
                             means_init=means.reshape(-1, 1), precisions_init=(1.0 / stds**2).reshape(-1, 1, 1))
        gm.fit(X)
        r = gm.predict_proba(X).astype(np.float32)
        return gm.means_[:, 0], np.sqrt(gm.covariances_[:, 0, 0]), gm.weights_, r, False

    # The initial responsibilities (tgmm's ``_e_step`` of the start in the notebook), in closed form.
    from scipy.stats import norm

    weighted = taus0 * norm.pdf(X, means0, stds0)  # (N, 3)
    return step, [(weighted / weighted.sum(axis=1, keepdims=True)).astype(np.float32)]


def _notebook_surfaces_loop(data, means_history, stds_history, taus_history, log_likelihood):
    """The notebook's three 50x50 grids as it computes them: one log-likelihood call per grid point."""
    import numpy as np

    mean_range = np.linspace(min(data), max(data), 50)
    std_range = np.linspace(0.01, 5, 50)
    surfaces = []
    for comp_idx in range(3):
        ll_surface = np.zeros((len(std_range), len(mean_range)))
        for i, m in enumerate(mean_range):
            for j, s in enumerate(std_range):
                test_means = means_history[-1].copy()
                test_stds = stds_history[-1].copy()
                test_means[comp_idx] = m
                test_stds[comp_idx] = s
                ll_surface[j, i] = log_likelihood(data, test_means, test_stds, taus_history[-1])
        surfaces.append(ll_surface)
    return mean_range, std_range, surfaces


# ---------------------------------------------------------------------- children: plain 2D / 3D redraws
def _plain_colors(trace):
    import numpy as np
    from matplotlib.colors import to_rgb

    return np.array([to_rgb(PLAIN_COLORS[k % len(PLAIN_COLORS)]) for k in range(trace.n_components)])


def child_plain_2d(trace_path: Path, output: Path, max_frames: int | None) -> dict:
    """The lecture notes' way: clear the Axes and draw everything again, every frame."""
    plt = _pyplot()
    import matplotlib.animation as animation
    import numpy as np
    from matplotlib.animation import PillowWriter
    from matplotlib.patches import Ellipse

    from emviz.trace import Trace

    scene = SCENES["2d"]
    trace = Trace.load(trace_path)
    its = frame_iterations(trace, max_frames, "all")
    baseline = _rss_mb()
    start = time.perf_counter()
    colors = _plain_colors(trace)
    pts, X = trace.resp_X, trace.X
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0))
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    fig, ax = plt.subplots(figsize=scene["size"], dpi=scene["dpi"])

    def draw(i):
        t = its[i]
        ax.clear()
        ax.scatter(pts[:, 0], pts[:, 1], c=np.clip(trace.resp[t] @ colors, 0, 1), s=30, alpha=0.8, edgecolors="none")
        for k in range(trace.n_components):
            mean, cov = trace.means[t, k], trace.covariances[t, k]
            values, vectors = np.linalg.eigh(cov)
            angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
            for n_std, lw in ((1, 2.2), (2, 1.3)):
                ax.add_patch(Ellipse(mean, 2 * n_std * np.sqrt(values[1]), 2 * n_std * np.sqrt(values[0]),
                                     angle=angle, fill=False, edgecolor=colors[k], lw=lw))
            ax.plot(mean[0], mean[1], "o", ms=10, mfc=colors[k], mec="k", mew=1.5)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_aspect("equal")
        ax.set_xlabel("eruptions (standardised)")
        ax.set_ylabel("waiting (standardised)")
        ax.set_title(f"Iteration {t}, log-likelihood {trace.log_likelihood[t]:.2f}")

    anim = animation.FuncAnimation(fig, draw, frames=len(its), interval=1000 / scene["fps"], blit=False)
    anim.save(output, writer=PillowWriter(fps=scene["fps"]))
    plt.close(fig)
    return {"frames": len(its), "seconds": time.perf_counter() - start, "baseline_mb": baseline}


def child_plain_3d(trace_path: Path, output: Path, max_frames: int | None) -> dict:
    """The 3D notebook's way, animated: clear the 3D Axes, scatter, wireframe ellipsoids, means, camera."""
    plt = _pyplot()
    import matplotlib.animation as animation
    import numpy as np
    from matplotlib.animation import PillowWriter
    from mpl_toolkits.mplot3d import Axes3D  # noqa: F401

    from emviz.trace import Trace

    scene = SCENES["3d"]
    trace = Trace.load(trace_path)
    its = frame_iterations(trace, max_frames, "all")
    baseline = _rss_mb()
    start = time.perf_counter()
    colors = _plain_colors(trace)
    pts, X = trace.resp_X, trace.X
    lo, hi = X.min(axis=0), X.max(axis=0)
    # The same 16 x 10 unit-sphere mesh as emviz's default ellipsoids.
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 17), np.linspace(0, np.pi, 10))
    sphere = np.stack([np.sin(v) * np.cos(u), np.sin(v) * np.sin(u), np.cos(v)])  # (3, 10, 17)
    fig = plt.figure(figsize=scene["size"], dpi=scene["dpi"])
    ax = fig.add_subplot(111, projection="3d")

    def draw(i):
        t = its[i]
        ax.clear()
        ax.scatter(pts[:, 0], pts[:, 1], pts[:, 2], c=np.clip(trace.resp[t] @ colors, 0, 1), s=12, alpha=0.7)
        for k in range(trace.n_components):
            values, vectors = np.linalg.eigh(trace.covariances[t, k])
            xyz = np.tensordot(vectors * np.sqrt(values), sphere, axes=1) + trace.means[t, k][:, None, None]
            ax.plot_wireframe(xyz[0], xyz[1], xyz[2], color=colors[k], linewidth=0.6, alpha=0.5)
        means = trace.means[t]
        ax.scatter(means[:, 0], means[:, 1], means[:, 2], c=colors, s=80, edgecolors="k", depthshade=False)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_zlim(lo[2], hi[2])
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_zlabel("z")
        ax.view_init(elev=25, azim=-60 + scene["rotate_degrees"] * t / max(trace.n_iter, 1))
        ax.set_title(f"Iteration {t}, log-likelihood {trace.log_likelihood[t]:.2f}")

    anim = animation.FuncAnimation(fig, draw, frames=len(its), interval=1000 / scene["fps"], blit=False)
    anim.save(output, writer=PillowWriter(fps=scene["fps"]))
    plt.close(fig)
    return {"frames": len(its), "seconds": time.perf_counter() - start, "baseline_mb": baseline}


# ---------------------------------------------------------------------- children: emviz
def _emviz_imports(gif: str | None = None, three_d: bool = False):
    """emviz's render imports, outside the clock like the notebook's."""
    import emviz.writers  # noqa: F401
    from emviz.render.scene import load_builtin_panels

    load_builtin_panels()
    if gif == "loglik_contour":
        import emviz.surface  # noqa: F401  (numpy landscapes, imported lazily by the panel: an import, so unclocked)
    if three_d:
        from mpl_toolkits.mplot3d import Axes3D  # noqa: F401


def child_emviz(gif: str, trace_path: Path, output: Path, max_frames: int | None, workers: int, size: str) -> dict:
    from emviz.render import render
    from emviz.trace import Trace

    _emviz_imports(gif)
    trace = Trace.load(trace_path)
    its = frame_iterations(trace, max_frames)
    style = {"size": NOTEBOOK_SIZE[gif], "dpi": 100} if size == "notebook" else None
    baseline = _rss_mb()
    start = time.perf_counter()
    render(trace, [gif], output, fps=10, schedule=its, hold_last=0, style=style, workers=workers, progress=False)
    return {"frames": len(its), "seconds": time.perf_counter() - start, "baseline_mb": baseline}


def child_emviz_scene(section: str, trace_path: Path, output: Path, max_frames: int | None, workers: int) -> dict:
    from emviz.render import render
    from emviz.trace import Trace

    scene = SCENES[section]
    _emviz_imports(three_d=section == "3d")
    trace = Trace.load(trace_path)
    its = frame_iterations(trace, max_frames, "all")
    panels = ["ellipses"] if section == "2d" else [{"cloud3d": {"rotate_degrees": scene["rotate_degrees"]}}]
    baseline = _rss_mb()
    start = time.perf_counter()
    render(trace, panels, output, fps=scene["fps"], schedule=its, hold_last=0,
           style={"size": scene["size"], "dpi": scene["dpi"]}, workers=workers, progress=False)
    return {"frames": len(its), "seconds": time.perf_counter() - start, "baseline_mb": baseline}


def run_child(args) -> None:
    output = Path(args.output)
    if args.child == "notebook-e2e":
        result = child_notebook_e2e(output, args.steps)
        result["bytes"] = sum((output / f"{gif}.gif").stat().st_size for gif in GIFS)
    else:
        if args.child == "notebook":
            result = child_notebook(args.gif, Path(args.trace), output, args.max_frames)
        elif args.child in EMVIZ_VARIANTS:
            workers, size = EMVIZ_VARIANTS[args.child]
            result = child_emviz(args.gif, Path(args.trace), output, args.max_frames, workers, size)
        elif args.child in ("plain-2d", "plain-3d"):
            child = child_plain_2d if args.child == "plain-2d" else child_plain_3d
            result = child(Path(args.trace), output, args.max_frames)
        elif args.child in ("emviz-2d", "emviz-3d-w1", "emviz-3d-w2"):
            section, workers = args.child.split("-")[1], 2 if args.child.endswith("w2") else 1
            result = child_emviz_scene(section, Path(args.trace), output, args.max_frames, workers)
        else:
            raise SystemExit(f"bench_render: unknown child {args.child!r}")
        result["bytes"] = output.stat().st_size
    # VmHWM, not ru_maxrss: a child started by a big parent inherits the parent's peak in ru_maxrss
    # (exec keeps the high-water mark of the memory it replaces), VmHWM counts from the exec.
    result["self_hwm_mb"] = _hwm_mb("self")
    Path(args.result).write_text(json.dumps(result))


# ---------------------------------------------------------------------- parent: running and sampling
def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def _tree_rss_mb(pid: int, hwm: dict | None = None) -> float:
    """Total RSS of ``pid`` and its descendants, in MB; also records each one's ``VmHWM`` in ``hwm``."""
    total = 0
    for p in _descendants(pid):
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1])
        except OSError:
            pass
        if hwm is not None:
            hwm[p] = max(hwm.get(p, 0.0), _hwm_mb(p))
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_measured(cmd: list[str], what: str) -> dict:
    """Run ``cmd`` from the repository root; its wall time and peak memory.

    Peak memory: the highest total RSS of the process tree (sampled), or the highest exact peak of one
    process in it (its ``VmHWM``, read at every sample) when that is higher. Not ``ru_maxrss``: it
    carries this (big) parent's peak into the child. The child is waited for without being reaped
    (``WNOWAIT``) until the sampler has stopped, so that the sampler never reads a recycled pid.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO)
    peak = [0.0]
    hwm: dict = {}
    done = threading.Event()

    def sample():
        # Not too often: waking up on a 2-core machine preempts the variant, and torch's spinning
        # OpenMP threads (the landscapes) then slow down several-fold.
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid, hwm))
            done.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    exited = False
    try:
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        exited = True
        seconds = time.perf_counter() - start
    finally:
        done.set()
        sampler.join()
        if not exited:  # interrupted: stop the child this script started
            proc.kill()
    if proc.wait() != 0:
        raise SystemExit(f"bench_render: {what} failed (exit {proc.returncode})")
    largest = max(hwm.values(), default=0.0)
    return {"wall_seconds": seconds, "tree_peak_mb": peak[0], "largest_mb": largest, "peak_mb": max(peak[0], largest)}


def measure(variant: str, gif: str, trace_path: Path, out_dir: Path, max_frames: int | None) -> dict:
    """Run one variant in a fresh interpreter; sample its process tree's RSS while it runs.

    ``gif`` is one of :data:`GIFS`, or ``"2d"``/``"3d"`` for the scenes (the file names' prefix).
    """
    output = out_dir / f"{gif}.{variant}.gif"
    result_path = out_dir / f"{gif}.{variant}.json"
    cmd = [sys.executable, __file__, "--child", variant, "--gif", gif, "--trace", str(trace_path),
           "--output", str(output), "--result", str(result_path)]
    if max_frames:
        cmd += ["--max-frames", str(max_frames)]
    run = run_measured(cmd, f"{variant} / {gif}")
    result = json.loads(result_path.read_text())
    result["peak_mb"] = max(run["peak_mb"], result["self_hwm_mb"])
    result["render_mb"] = result["peak_mb"] - result["baseline_mb"]
    result["fps"] = result["frames"] / result["seconds"]
    return result


# ---------------------------------------------------------------------- sections
def section_e2e(out_dir: Path, quick: bool) -> dict:
    """The notebook's whole pipeline vs ``python -m emviz render gallery/docs_1d.yaml``."""
    steps = QUICK_E2E_STEPS if quick else E2E_STEPS
    print(f"\n[e2e] the docs notebook's whole pipeline vs python -m emviz render gallery/docs_1d.yaml "
          f"({steps} EM steps)", flush=True)
    nb_dir = Path(tempfile.mkdtemp(prefix="e2e_notebook_", dir=out_dir))
    result_path = out_dir / "e2e.notebook.json"
    nb = run_measured([sys.executable, __file__, "--child", "notebook-e2e", "--steps", str(steps),
                       "--output", str(nb_dir), "--result", str(result_path)], "the notebook's pipeline")
    nb.update(json.loads(result_path.read_text()))
    laps = ", ".join(f"{k} {v:.1f} s" for k, v in nb["laps"].items())
    if nb["rc_changed"]:
        print(f"  note: importing tgmm changed {len(nb['rc_changed'])} matplotlib rcParams (savefig.dpi among "
              "them); undone, so the notebook's GIFs have its figures' pixels, as emviz's do", flush=True)
    print(f"  notebook ({nb['backend']}, {nb['steps']} steps, {nb['frames']} frames per GIF): "
          f"{nb['wall_seconds']:.1f} s, {nb['peak_mb']:.0f} MB peak; {laps}", flush=True)
    ev_dir = Path(tempfile.mkdtemp(prefix="e2e_emviz_", dir=out_dir))
    cmd = [sys.executable, "-m", "emviz", "render", str(GALLERY / "docs_1d.yaml"), "--out", str(ev_dir), "--quiet"]
    if quick:  # the still's iterations (0, 10, 100, 1000) must not exceed max_iter
        cmd += ["--set", f"model.max_iter={steps}", "--set", f"outputs.3.iterations=[0,10,20,{steps}]"]
    ev = run_measured(cmd, "python -m emviz render gallery/docs_1d.yaml")
    ev["bytes"] = sum(p.stat().st_size for p in ev_dir.glob("*.gif"))
    print(f"  emviz:    {ev['wall_seconds']:.1f} s, {ev['peak_mb']:.0f} MB peak "
          f"(process tree {ev['tree_peak_mb']:.0f} MB, largest process {ev['largest_mb']:.0f} MB)", flush=True)
    print(f"  ratios:   {nb['wall_seconds'] / ev['wall_seconds']:.1f}x faster, "
          f"{ev['peak_mb'] / nb['peak_mb']:.2f}x the peak memory, {ev['bytes'] / nb['bytes']:.2f}x the GIF bytes "
          "(targets >= 10x, <= 0.3x)", flush=True)
    return {"notebook": nb, "emviz": ev}


def section_gifs(trace_path: Path, out_dir: Path, gifs, variants, max_frames) -> list:
    trace = build_trace(trace_path)
    print(f"\n[gifs] the docs notebook's three GIFs vs emviz.render, on one trace: {trace!r}, "
          f"{len(frame_iterations(trace, max_frames))} frames", flush=True)
    rows = []
    for gif in gifs:
        for variant in (["notebook"] if "notebook" in variants else []) + [v for v in variants if v != "notebook"]:
            rows.append((gif, variant, measure(variant, gif, trace_path, out_dir, max_frames)))
            r = rows[-1][2]
            print(f"  {gif} / {variant}: {r['fps']:.1f} frames/s, {r['bytes']:,} bytes, {r['peak_mb']:.0f} MB peak",
                  flush=True)
    print()
    print_table(rows)
    return rows


def section_scene(section: str, out_dir: Path, max_frames) -> list:
    scene = SCENES[section]
    trace_path = out_dir / f"{Path(scene['config']).stem}_trace.npz"
    trace = build_config_trace(GALLERY / scene["config"], trace_path)
    n = len(frame_iterations(trace, max_frames, "all"))
    w, h = scene["size"]
    print(f"\n[{section}] gallery/{scene['config']}: plain per-frame redraw vs emviz.render, {n} frames at "
          f"{w * scene['dpi']:.0f}x{h * scene['dpi']:.0f} px; trace {trace!r}", flush=True)
    rows = []
    for variant in scene["variants"]:
        rows.append((section, variant, measure(variant, section, trace_path, out_dir, max_frames)))
        r = rows[-1][2]
        print(f"  {variant}: {r['fps']:.1f} frames/s, {r['bytes']:,} bytes, {r['peak_mb']:.0f} MB peak", flush=True)
    print()
    print_table(rows, baseline=scene["variants"][0], label="scene")
    return rows


def print_table(rows: list[tuple[str, str, dict]], baseline: str = "notebook", label: str = "gif") -> None:
    head = (f"{label:<17} {'variant':<15} {'frames':>6} {'seconds':>8} {'frames/s':>9} {'bytes':>10} "
            f"{'peak MB':>8} {'render MB':>9} | {'x fps':>6} {'x bytes':>7} {'x peak':>6} {'x render':>8}")
    print(head)
    print("-" * len(head))
    base = {}
    for gif, variant, r in rows:
        if variant == baseline:
            base[gif] = r
        b = base.get(gif)
        ratios = ""
        if b is not None and variant != baseline:
            ratios = (f"{r['fps'] / b['fps']:>6.1f} {r['bytes'] / b['bytes']:>7.2f} "
                      f"{r['peak_mb'] / b['peak_mb']:>6.2f} {r['render_mb'] / max(b['render_mb'], 1e-9):>8.2f}")
        print(f"{gif:<17} {variant:<15} {r['frames']:>6} {r['seconds']:>8.2f} {r['fps']:>9.1f} {r['bytes']:>10,} "
              f"{r['peak_mb']:>8.0f} {r['render_mb']:>9.0f} | {ratios}")
    if baseline == "notebook":
        print(TARGETS)


# ---------------------------------------------------------------------- summary
def _verdict(ratio: float, target: float | None, direction: str) -> str:
    if target is None:
        return ""
    ok = ratio >= target if direction == "up" else ratio <= target
    return "PASS" if ok else "MISS"


def summary_rows(results: dict) -> list[tuple[str, str, float, float | None, str]]:
    """(section, measure, ratio, target, direction) for every ratio measured."""
    out = []
    if "e2e" in results:
        nb, ev = results["e2e"]["notebook"], results["e2e"]["emviz"]
        out.append(("e2e", "wall time: notebook / emviz", nb["wall_seconds"] / ev["wall_seconds"], 10.0, "up"))
        out.append(("e2e", "peak memory: emviz / notebook", ev["peak_mb"] / nb["peak_mb"], 0.3, "down"))
        out.append(("e2e", "GIF bytes: emviz / notebook", ev["bytes"] / nb["bytes"], None, "down"))
    for section, rows in (("gifs", results.get("gifs", [])), ("2d", results.get("2d", [])),
                          ("3d", results.get("3d", []))):
        baseline = "notebook" if section == "gifs" else SCENES[section]["variants"][0]
        base = {gif: r for gif, variant, r in rows if variant == baseline}
        for gif, variant, r in rows:
            b = base.get(gif)
            if variant == baseline or b is None:
                continue
            name = f"{gif} {variant}" if section == "gifs" else variant
            if section == "gifs":
                for what, key, direction, target in GIF_TARGETS:
                    out.append((section, f"{name} {what}", r[key] / b[key], target, direction))
                continue
            target = {"emviz-2d": 4.0, "emviz-3d-w2": 1.8}.get(variant)
            out.append((section, f"{name} frames/s", r["fps"] / b["fps"], target, "up"))
            out.append((section, f"{name} GIF bytes", r["bytes"] / b["bytes"], None, "down"))
    return out


def print_summary(results: dict, load_start, load_end, quick: bool = False) -> None:
    rows = summary_rows(results)
    print("\nsummary: emviz against the notebook's / the plain way, ratios measured side by side in this run")
    if quick:
        print("(few frames, --quick or --max-frames: set-up costs dominate; the targets are for the full run)")
    head = f"{'section':<8} {'measure':<52} {'ratio':>8} {'target':>8}  "
    print(head)
    print("-" * (len(head) + 4))
    for section, what, ratio, target, direction in rows:
        shown = "" if target is None else (">= " if direction == "up" else "<= ") + f"{target:g}x"
        print(f"{section:<8} {what:<52} {ratio:>7.2f}x {shown:>8}  {_verdict(ratio, target, direction)}")
    fmt = ", ".join
    print(f"load average (1, 5, 15 min) at the start: {fmt(f'{x:.2f}' for x in load_start)}; "
          f"at the end: {fmt(f'{x:.2f}' for x in load_end)}; {os.cpu_count()} CPUs")
    if max(load_start[0], load_end[0]) > 0.5:
        # Other processes on the machine slow every variant; the ones that use two processes (the emviz
        # CLI's auto workers, emviz-3d-w2) most: on a loaded 2-core machine they have no second core.
        print("note: the machine was not idle; ratios, above all those of the 2-worker variants, are skewed")


# ---------------------------------------------------------------------- main
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help="comma-separated sections, from " + ", ".join(SECTIONS))
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_E2E_STEPS} EM steps end to end, {QUICK_FRAMES} frames per GIF/scene")
    parser.add_argument("--gifs", default=",".join(GIFS), help="gifs section: comma-separated, from " + ", ".join(GIFS))
    parser.add_argument("--variants", default="notebook,emviz,emviz-small",
                        help="gifs section: comma-separated, from notebook, " + ", ".join(EMVIZ_VARIANTS))
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "emviz_bench"),
                        help="folder for the traces, GIFs and results (default: a folder in the temp dir)")
    parser.add_argument("--max-frames", type=int, default=None,
                        help="gifs/2d/3d: use only the first N scheduled frames (and the last)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--gif", help=argparse.SUPPRESS)
    parser.add_argument("--trace", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=E2E_STEPS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args)
        return
    sections = [s for s in args.only.split(",") if s]
    gifs = [g for g in args.gifs.split(",") if g]
    variants = [v for v in args.variants.split(",") if v]
    for name in sections:
        if name not in SECTIONS:
            raise SystemExit(f"bench_render: unknown section {name!r} (choose from {', '.join(SECTIONS)})")
    for name in gifs + variants:
        if name not in GIFS and name != "notebook" and name not in EMVIZ_VARIANTS:
            raise SystemExit(f"bench_render: unknown gif or variant {name!r}")
    if args.max_frames is not None and args.max_frames < 2:
        raise SystemExit("bench_render: --max-frames must be at least 2 (the first frames and the last)")
    max_frames = args.max_frames if args.max_frames else (QUICK_FRAMES if args.quick else None)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    import torch

    print(f"bench_render: sections {', '.join(sections)}{' (quick)' if args.quick else ''}; python "
          f"{sys.version.split()[0]}, torch {torch.__version__} ({torch.get_num_threads()} threads); {os.cpu_count()} "
          f"CPUs, load average {', '.join(f'{x:.2f}' for x in load_start)}; output in {out_dir}", flush=True)
    results = {}
    # The traces first, so that fitting in this process does not overlap any measured variant.
    if "gifs" in sections:
        build_trace(out_dir / "trace.npz")
    for section in ("2d", "3d"):
        if section in sections:
            build_config_trace(GALLERY / SCENES[section]["config"],
                               out_dir / f"{Path(SCENES[section]['config']).stem}_trace.npz")
    if "e2e" in sections:
        results["e2e"] = section_e2e(out_dir, args.quick)
    if "gifs" in sections:
        results["gifs"] = section_gifs(out_dir / "trace.npz", out_dir, gifs, variants, max_frames)
    for section in ("2d", "3d"):
        if section in sections:
            results[section] = section_scene(section, out_dir, max_frames)
    print_summary(results, load_start, os.getloadavg(), quick=args.quick or bool(args.max_frames))


if __name__ == "__main__":
    main()
