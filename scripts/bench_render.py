"""Benchmark: the docs notebook's way of making its three GIFs vs emviz, on the same trace and frames.

The notebook draws each GIF with ``FuncAnimation`` + ``PillowWriter(fps=10)`` on a pyplot figure; emviz
renders the same iterations with ``emviz.render.render``. Each variant runs in a fresh subprocess, so
imports, caches and memory do not leak between them, and this script prints frames per second, GIF
bytes and peak memory side by side, with ratios against the notebook.

- frames/s: scheduled frames / wall time of the rendering call (the notebook: figure set-up + ``save``;
  emviz: ``render()``, including panel set-up such as the log-likelihood surfaces, which the notebook
  variant computes before its clock starts). Imports and loading the trace are outside both clocks.
- peak memory: the highest total RSS of the variant's process tree (sampled from /proc,
  workers included), and the increase over the RSS right after imports ("render MB": what rendering
  itself holds, e.g. the frames PillowWriter keeps in memory). The sampling is every 0.1 s; the
  single process's exact peak (``ru_maxrss``) is used when it is higher.

Usage::

    python scripts/bench_render.py                      # all three GIFs, notebook vs emviz
    python scripts/bench_render.py --gifs components --variants notebook,emviz,emviz-small,emviz-w2
    python scripts/bench_render.py --max-frames 40      # quicker, fewer frames for every variant

Not a test: the numbers depend on the machine; compare ratios measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

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


# ---------------------------------------------------------------------- the trace
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


def frame_iterations(trace, max_frames: int | None) -> list[int]:
    from emviz.render.schedule import schedule_iterations

    its = schedule_iterations(SCHEDULE, trace.n_iter)
    # Fewer frames for a quick run, still ending on the last iteration (emviz always shows it).
    return its[: max_frames - 1] + its[-1:] if max_frames and max_frames < len(its) else its


# ---------------------------------------------------------------------- children
def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child_notebook(gif: str, trace_path: Path, output: Path, max_frames: int | None) -> dict:
    """The notebook's code for one GIF, on the trace's arrays (pyplot, FuncAnimation, PillowWriter)."""
    import matplotlib

    matplotlib.use("Agg")  # a script, not library code
    import matplotlib.animation as animation
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.animation import PillowWriter
    from scipy.stats import norm

    from emviz.trace import Trace

    trace = Trace.load(trace_path)
    frame_indices = frame_iterations(trace, max_frames)
    data = trace.X[:, 0]
    means_history, stds_history = trace.means[:, :, 0], trace.stds[:, :, 0]
    taus_history, log_likelihoods, actual_steps = trace.weights, trace.log_likelihood, trace.n_iter
    real_means, real_stds, cluster_sizes = [-2, 2, 6], [2, 1, 3], [2000, 1000, 3000]
    true_taus = [s / sum(cluster_sizes) for s in cluster_sizes]
    colors = ["r", "b", "g"]
    surfaces = _notebook_surfaces(data, means_history, stds_history, taus_history) if gif == "loglik_contour" else None
    baseline = _rss_mb()
    start = time.perf_counter()
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
        data_sample = trace.resp_X[:, 0]
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
            r = trace.resp[frame]
            for i in range(3):
                scatters[i].set_offsets(np.column_stack([data_sample, r[:, i]]))
            text.set_text(f"Iteration: {frame}/{actual_steps}\nLog-likelihood: {log_likelihoods[frame]:.2f}")
            return scatters + [text]
    else:
        fig, init, animate = _notebook_contour(surfaces, means_history, stds_history, real_means, real_stds,
                                               frame_indices, log_likelihoods, actual_steps)
    anim = animation.FuncAnimation(fig, animate, init_func=init, frames=range(len(frame_indices)),
                                   interval=100, blit=True, repeat=True)
    anim.save(output, writer=PillowWriter(fps=10))
    plt.close(fig)
    seconds = time.perf_counter() - start
    return {"frames": len(frame_indices), "seconds": seconds, "baseline_mb": baseline}


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


def child_emviz(gif: str, trace_path: Path, output: Path, max_frames: int | None, workers: int, size: str) -> dict:
    import emviz.writers  # noqa: F401  (imports outside the clock, like the notebook's)
    from emviz.render import render
    from emviz.render.scene import load_builtin_panels
    from emviz.trace import Trace

    load_builtin_panels()
    if gif == "loglik_contour":
        import emviz.surface  # noqa: F401  (torch, imported lazily by the panel: an import, so unclocked)
    trace = Trace.load(trace_path)
    its = frame_iterations(trace, max_frames)
    style = {"size": NOTEBOOK_SIZE[gif], "dpi": 100} if size == "notebook" else None
    baseline = _rss_mb()
    start = time.perf_counter()
    render(trace, [gif], output, fps=10, schedule=its, hold_last=0, style=style, workers=workers, progress=False)
    return {"frames": len(its), "seconds": time.perf_counter() - start, "baseline_mb": baseline}


def run_child(args) -> None:
    output = Path(args.output)
    if args.child == "notebook":
        result = child_notebook(args.gif, Path(args.trace), output, args.max_frames)
    else:
        workers, size = EMVIZ_VARIANTS[args.child]
        result = child_emviz(args.gif, Path(args.trace), output, args.max_frames, workers, size)
    result["bytes"] = output.stat().st_size
    result["self_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["children_maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    Path(args.result).write_text(json.dumps(result))


# ---------------------------------------------------------------------- parent
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


def _tree_rss_mb(pid: int) -> float:
    total = 0
    for p in _descendants(pid):
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1])
        except OSError:
            pass
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(variant: str, gif: str, trace_path: Path, out_dir: Path, max_frames: int | None) -> dict:
    """Run one variant in a fresh interpreter; sample its process tree's RSS while it runs."""
    output = out_dir / f"{gif}.{variant}.gif"
    result_path = out_dir / f"{gif}.{variant}.json"
    cmd = [sys.executable, __file__, "--child", variant, "--gif", gif, "--trace", str(trace_path),
           "--output", str(output), "--result", str(result_path)]
    if max_frames:
        cmd += ["--max-frames", str(max_frames)]
    proc = subprocess.Popen(cmd)
    peak = [0.0]

    def sample():
        # Not too often: waking up on a 2-core machine preempts the variant, and torch's spinning
        # OpenMP threads (the landscapes) then slow down several-fold.
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if proc.wait() != 0:
        raise SystemExit(f"bench_render: {variant} / {gif} failed (exit {proc.returncode})")
    sampler.join()
    result = json.loads(result_path.read_text())
    result["peak_mb"] = max(peak[0], result["self_maxrss_mb"])
    result["render_mb"] = result["peak_mb"] - result["baseline_mb"]
    result["fps"] = result["frames"] / result["seconds"]
    return result


def print_table(rows: list[tuple[str, str, dict]]) -> None:
    head = (f"{'gif':<17} {'variant':<15} {'frames':>6} {'seconds':>8} {'frames/s':>9} {'bytes':>10} "
            f"{'peak MB':>8} {'render MB':>9} | {'x fps':>6} {'x bytes':>7} {'x peak':>6} {'x render':>8}")
    print(head)
    print("-" * len(head))
    base = {}
    for gif, variant, r in rows:
        if variant == "notebook":
            base[gif] = r
        b = base.get(gif)
        ratios = ""
        if b is not None and variant != "notebook":
            ratios = (f"{r['fps'] / b['fps']:>6.1f} {r['bytes'] / b['bytes']:>7.2f} "
                      f"{r['peak_mb'] / b['peak_mb']:>6.2f} {r['render_mb'] / max(b['render_mb'], 1e-9):>8.2f}")
        print(f"{gif:<17} {variant:<15} {r['frames']:>6} {r['seconds']:>8.2f} {r['fps']:>9.1f} {r['bytes']:>10,} "
              f"{r['peak_mb']:>8.0f} {r['render_mb']:>9.0f} | {ratios}")
    print(TARGETS)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gifs", default=",".join(GIFS), help="comma-separated, from " + ", ".join(GIFS))
    parser.add_argument("--variants", default="notebook,emviz,emviz-small",
                        help="comma-separated, from notebook, " + ", ".join(EMVIZ_VARIANTS))
    parser.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "emviz_bench"),
                        help="folder for the trace, GIFs and results (default: a folder in the temp dir)")
    parser.add_argument("--max-frames", type=int, default=None, help="use only the first N scheduled frames")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--gif", help=argparse.SUPPRESS)
    parser.add_argument("--trace", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        run_child(args)
        return
    gifs = [g for g in args.gifs.split(",") if g]
    variants = [v for v in args.variants.split(",") if v]
    for name in gifs + variants:
        if name not in GIFS and name != "notebook" and name not in EMVIZ_VARIANTS:
            raise SystemExit(f"bench_render: unknown gif or variant {name!r}")
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    trace_path = out_dir / "trace.npz"
    t0 = time.perf_counter()
    trace = build_trace(trace_path)
    print(f"trace: {trace!r}, final log-likelihood {trace.log_likelihood[-1]:.2f} "
          f"({time.perf_counter() - t0:.1f} s); {len(frame_iterations(trace, args.max_frames))} frames; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    for gif in gifs:
        for variant in (["notebook"] if "notebook" in variants else []) + [v for v in variants if v != "notebook"]:
            rows.append((gif, variant, measure(variant, gif, trace_path, out_dir, args.max_frames)))
            r = rows[-1][2]
            print(f"  {gif} / {variant}: {r['fps']:.1f} frames/s, {r['bytes']:,} bytes, {r['peak_mb']:.0f} MB peak",
                  flush=True)
    print()
    print_table(rows)
    # Other processes on the machine slow every variant; a high load makes the ratios unreliable.
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
